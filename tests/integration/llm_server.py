"""A server on 127.0.0.1 that speaks the openai and anthropic APIs' streaming formats.

Every POST (any path: ``/chat/completions``, ``/responses``, ``/completions``,
``/v1/messages``...) is answered with the :class:`Reply` named by the request body's
``model`` field, so a test picks a stream with ``create(model="<name>", ...)``. A stream is
sent with ``Transfer-Encoding: chunked``, one HTTP chunk per event, as the APIs flush per
token. The streams are built here, shaped after what the APIs send: see :data:`OPENAI`
and :data:`ANTHROPIC`.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple

__all__ = ["Reply", "LLMServer", "OPENAI", "ANTHROPIC", "sse", "data_event"]


class Reply:
    """What the server answers: a status, a content type and the body's chunks."""

    def __init__(
        self,
        chunks: List[bytes],
        *,
        status: int = 200,
        content_type: str = "text/event-stream",
        raises: Optional[str] = None,
    ) -> None:
        self.chunks = chunks
        self.status = status
        self.content_type = content_type
        #: the name of the exception both clients must raise (None: they end normally)
        self.raises = raises


def sse(name: Optional[str], payload: Any, line_end: str = "\n") -> bytes:
    """One SSE event: an ``event:`` line when named, then the payload as one ``data:`` line."""
    data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    head = f"event: {name}{line_end}" if name is not None else ""
    return f"{head}data: {data}{line_end}{line_end}".encode()


def data_event(payload: Any) -> bytes:
    return sse(None, payload)


# ------------------------------------------------------------------------------ openai

_CHAT_BASE = {
    "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
    "object": "chat.completion.chunk",
    "created": 1741569952,
    "model": "gpt-4.1-2025-04-14",
    "service_tier": "default",
    "system_fingerprint": "fp_b376dfbbd5",
}


def _chat(
    delta: Dict[str, Any],
    finish: Optional[str] = None,
    logprobs: Any = None,
    **extra: Any,
) -> Dict[str, Any]:
    choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
    return {**_CHAT_BASE, "choices": [choice], **extra}


def _chat_stream(*payloads: Any, done: bool = True) -> Reply:
    chunks = [data_event(p) for p in payloads]
    if done:
        chunks.append(b"data: [DONE]\n\n")
    return Reply(chunks)


_USAGE = {
    **_CHAT_BASE,
    "choices": [],
    "usage": {
        "prompt_tokens": 19,
        "completion_tokens": 10,
        "total_tokens": 29,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
}

_WORDS = ["Hello", "!", " How", " can", " I", " help", " you", " today", "?"]


def _text_chat() -> Reply:
    deltas = [_chat({"role": "assistant", "content": "", "refusal": None})]
    deltas += [_chat({"content": word}) for word in _WORDS]
    deltas.append(_chat({}, finish="stop"))
    deltas.append(_USAGE)
    return _chat_stream(*deltas)


def _tool_chat() -> Reply:
    def call(index: int, **fields: Any) -> Dict[str, Any]:
        return _chat({"tool_calls": [{"index": index, **fields}]})

    start = {"type": "function", "function": {"name": "get_weather", "arguments": ""}}
    parts = ['{"lo', "cation", '": "Par', "is, Fr", 'ance"}']
    payloads = [_chat({"role": "assistant", "content": None, "refusal": None})]
    payloads.append(call(0, id="call_DdmO9pD3xa9XTPNJ32zg2hcA", **start))
    payloads += [call(0, function={"arguments": part}) for part in parts]
    payloads.append(call(1, id="call_ABCDEF", **start))
    payloads.append(call(1, function={"arguments": '{"location": "Bogot\u00e1"}'}))
    payloads.append(_chat({}, finish="tool_calls"))
    return _chat_stream(*payloads)


def _refusal_chat() -> Reply:
    payloads = [_chat({"role": "assistant", "content": None, "refusal": ""})]
    payloads += [_chat({"refusal": part}) for part in ["I'm sorry", ", I can't", " help."]]
    payloads.append(_chat({}, finish="stop"))
    return _chat_stream(*payloads)


def _logprobs_chat() -> Reply:
    def token(text: str, logprob: float) -> Dict[str, Any]:
        top = [
            {"token": text, "logprob": logprob, "bytes": list(text.encode())},
            {"token": "x", "logprob": -5, "bytes": [120]},  # an int where a float is typed
        ]
        return {
            "token": text,
            "logprob": logprob,
            "bytes": list(text.encode()),
            "top_logprobs": top,
        }

    payloads = [
        _chat(
            {"content": word},
            logprobs={"content": [token(word, -0.25 * k)], "refusal": None},
        )
        for k, word in enumerate(_WORDS)
    ]
    payloads.append(_chat({}, finish="length"))
    return _chat_stream(*payloads)


def _null_chat() -> Reply:
    return _chat_stream(
        _chat({"role": "assistant", "content": None, "function_call": None, "tool_calls": None}),
        {**_CHAT_BASE, "choices": [], "usage": None},
        {**_CHAT_BASE, "system_fingerprint": None, "service_tier": None, "choices": []},
        _chat({"content": None}, finish="stop"),
    )


def _extra_fields_chat() -> Reply:
    return _chat_stream(
        _chat({"content": "a", "reasoning_content": "thinking..."}, provider="vllm"),
        _chat(
            {"content": "b", "annotations": [{"type": "url_citation", "url": "https://x"}]},
            obfuscation="Zk3",
            metadata={"trace": [1, 2.5, None, True]},
        ),
        {**_chat({"content": "c"}), "choices": [{"index": 0, "delta": {"content": "c"}, "x": 1}]},
        _chat({}, finish="stop", usage=None),
    )


def _unicode_chat() -> Reply:
    texts = [
        "line\u2028separator",
        "para\u2029graph",
        "next\u0085line",
        "emoji \U0001f600 and CJK \u4e2d\u6587",
        "controls \u000b\u000c",
        "escaped \\n newline and \\u2028",
    ]
    return _chat_stream(*[_chat({"content": text}) for text in texts], _chat({}, finish="stop"))


def _fallback_chat() -> Reply:
    # Payloads the SDK's models do not fit: each must come out as the SDK builds it.
    return _chat_stream(
        _chat({"content": "a"}, finish="future_reason"),  # an enum value not yet known
        _chat({"role": "critic", "content": "b"}),
        {k: v for k, v in _chat({"content": "c"}).items() if k != "created"},  # missing field
        {**_chat({"content": "d"}), "created": "1741569952"},  # a string where an int is typed
        {**_chat({"content": "e"}), "choices": [{"index": 0.0, "delta": {"content": "e"}}]},
        {**_chat({"content": 5})},  # a number where a string is typed
        {**_chat({"content": "f"}), "choices": None},
        {**_CHAT_BASE, "choices": [{"index": 0, "delta": "not an object"}]},
        {"unexpected": "shape"},
        [1, 2, 3],
        json.dumps("a bare string"),
        {**_chat({"content": "g"}), "created": 2**70},  # past 64 bits: orjson refuses it
        _chat({}, finish="stop"),
    )


def _framing_chat() -> Reply:
    chunks = [
        b": keep-alive\n\n",
        sse(None, _chat({"content": "crlf"}), line_end="\r\n"),
        sse(None, _chat({"content": "cr"}), line_end="\r"),
        b": comment\r\n" + sse(None, _chat({"content": "after a comment"})),
        # one event split over two chunks, and two events in one chunk
        data_event(_chat({"content": "split"}))[:40],
        data_event(_chat({"content": "split"}))[40:],
        data_event(_chat({"content": "x"})) + data_event(_chat({"content": "y"})),
        b"data: [DONE]\n\n",
    ]
    return Reply(chunks)


def _error_chat() -> Reply:
    error = {"message": "The server had an error processing your request.", "type": "server_error"}
    return Reply(
        [data_event(_chat({"content": "partial"})), data_event({"error": error})],
        raises="APIError",
    )


def _error_without_message_chat() -> Reply:
    return Reply(
        [data_event(_chat({"content": "partial"})), data_event({"error": {"code": 500}})],
        raises="APIError",
    )


def _bad_json_chat() -> Reply:
    return Reply(
        [data_event(_chat({"content": "ok"})), b"data: {not json\n\n"],
        raises="JSONDecodeError",
    )


def _no_done_chat() -> Reply:
    return _chat_stream(_chat({"content": "a"}), _chat({}, finish="stop"), done=False)


def _status(code: int, error_type: str, message: str) -> Reply:
    body = {"error": {"message": message, "type": error_type, "param": None, "code": None}}
    return Reply(
        [json.dumps(body).encode()],
        status=code,
        content_type="application/json",
        raises="APIStatusError",
    )


def _completion(text: str, finish: Optional[str] = None) -> Dict[str, Any]:
    return {
        "id": "cmpl-7mLSqnGy6Bf9Cr6K8C3d2F2mLlQnB",
        "object": "text_completion",
        "created": 1691781304,
        "model": "gpt-3.5-turbo-instruct",
        "system_fingerprint": None,
        "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}],
    }


def _completions() -> Reply:
    payloads = [_completion(word) for word in _WORDS] + [_completion("", "stop")]
    return _chat_stream(*payloads)


def _response(status: str, output: List[Any]) -> Dict[str, Any]:
    return {
        "id": "resp_67ccd2bed1ec8190b14f964abc054267",
        "object": "response",
        "created_at": 1741476542,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": "gpt-4.1-2025-04-14",
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": None,
        "user": None,
        "metadata": {},
    }


def _responses() -> Reply:
    item_id = "msg_67ccd2bf17f0819081ff3bb2cf6508e6"
    message = {
        "id": item_id,
        "type": "message",
        "status": "in_progress",
        "role": "assistant",
        "content": [],
    }
    part = {"type": "output_text", "text": "", "annotations": []}
    events: List[Tuple[str, Dict[str, Any]]] = [
        ("response.created", {"response": _response("in_progress", [])}),
        ("response.in_progress", {"response": _response("in_progress", [])}),
        ("response.output_item.added", {"output_index": 0, "item": message}),
        (
            "response.content_part.added",
            {"item_id": item_id, "output_index": 0, "content_index": 0, "part": part},
        ),
    ]
    for word in _WORDS + ["\u2028", "\u2029"]:
        delta = {"item_id": item_id, "output_index": 0, "content_index": 0, "delta": word}
        events.append(("response.output_text.delta", {**delta, "logprobs": []}))
    text = "".join(_WORDS)
    events.append(
        (
            "response.output_text.done",
            {"item_id": item_id, "output_index": 0, "content_index": 0, "text": text},
        )
    )
    events.append(("response.future_event", {"detail": "not yet in the SDK"}))
    done_message = {
        **message,
        "status": "completed",
        "content": [{**part, "text": text}],
    }
    completed = _response("completed", [done_message])
    completed["usage"] = {
        "input_tokens": 37,
        "output_tokens": 11,
        "total_tokens": 48,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens_details": {"reasoning_tokens": 0},
    }
    events.append(("response.completed", {"response": completed}))
    chunks = [
        sse(name, {"type": name, "sequence_number": k, **payload})
        for k, (name, payload) in enumerate(events)
    ]
    return Reply(chunks)


def _responses_error() -> Reply:
    created = {"type": "response.created", "sequence_number": 0}
    created["response"] = _response("in_progress", [])
    error = {"type": "error", "sequence_number": 1, "code": "server_error", "message": "boom"}
    error["param"] = None
    error["error"] = {"type": "server_error", "message": "boom"}
    return Reply(
        [sse("response.created", created), sse("error", error)],
        raises="APIError",
    )


OPENAI: Dict[str, Reply] = {
    "chat-text": _text_chat(),
    "chat-tools": _tool_chat(),
    "chat-refusal": _refusal_chat(),
    "chat-logprobs": _logprobs_chat(),
    "chat-null": _null_chat(),
    "chat-extra-fields": _extra_fields_chat(),
    "chat-unicode": _unicode_chat(),
    "chat-fallback": _fallback_chat(),
    "chat-framing": _framing_chat(),
    "chat-no-done": _no_done_chat(),
    "chat-error": _error_chat(),
    "chat-error-without-message": _error_without_message_chat(),
    "chat-bad-json": _bad_json_chat(),
    "http-400": _status(400, "invalid_request_error", "Invalid 'messages': empty array."),
    "http-401": _status(401, "invalid_request_error", "Incorrect API key provided."),
    "http-429": _status(429, "rate_limit_error", "Rate limit reached."),
    "http-500": _status(500, "server_error", "The server had an error."),
    "http-503-text": Reply(
        [b"upstream connect error"], status=503, content_type="text/plain", raises="APIStatusError"
    ),
    "completions": _completions(),
    "responses": _responses(),
    "responses-error": _responses_error(),
}


# --------------------------------------------------------------------------- anthropic

_MESSAGE = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "content": [],
    "model": "claude-sonnet-4-5-20250929",
    "stop_reason": None,
    "stop_sequence": None,
    "usage": {
        "input_tokens": 25,
        "output_tokens": 1,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "service_tier": "standard",
    },
}


def _named(*events: Tuple[str, Dict[str, Any]], raises: Optional[str] = None) -> Reply:
    return Reply([sse(name, {"type": name, **payload}) for name, payload in events], raises=raises)


def _start(message: Optional[Dict[str, Any]] = None) -> Tuple[str, Dict[str, Any]]:
    return ("message_start", {"message": message or _MESSAGE})


def _block(index: int, block: Dict[str, Any]) -> Tuple[str, Dict[str, Any]]:
    return ("content_block_start", {"index": index, "content_block": block})


def _delta(index: int, delta: Dict[str, Any]) -> Tuple[str, Dict[str, Any]]:
    return ("content_block_delta", {"index": index, "delta": delta})


def _stop_block(index: int) -> Tuple[str, Dict[str, Any]]:
    return ("content_block_stop", {"index": index})


def _message_delta(stop_reason: str = "end_turn") -> Tuple[str, Dict[str, Any]]:
    usage = {"output_tokens": 15}
    return (
        "message_delta",
        {"delta": {"stop_reason": stop_reason, "stop_sequence": None}, "usage": usage},
    )


_PING = ("ping", {})
_STOP = ("message_stop", {})


def _text_message(words: List[str]) -> Reply:
    return _named(
        _start(),
        _block(0, {"type": "text", "text": ""}),
        _PING,
        *[_delta(0, {"type": "text_delta", "text": word}) for word in words],
        _stop_block(0),
        _message_delta(),
        _STOP,
    )


def _tool_message() -> Reply:
    parts = ['{"location": "San', " Francisco, C", 'A", "unit": "fah', 'renheit"}']
    return _named(
        _start(),
        _block(0, {"type": "text", "text": ""}),
        _delta(0, {"type": "text_delta", "text": "Let me check the weather."}),
        _stop_block(0),
        _block(
            1,
            {
                "type": "tool_use",
                "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
                "name": "get_weather",
                "input": {},
            },
        ),
        _delta(1, {"type": "input_json_delta", "partial_json": ""}),
        *[_delta(1, {"type": "input_json_delta", "partial_json": part}) for part in parts],
        _stop_block(1),
        _message_delta("tool_use"),
        _STOP,
    )


def _thinking_message() -> Reply:
    return _named(
        _start(),
        _block(0, {"type": "thinking", "thinking": "", "signature": ""}),
        _delta(0, {"type": "thinking_delta", "thinking": "Let me solve this step by step"}),
        _delta(0, {"type": "thinking_delta", "thinking": ":\n\n1. First break down 27 * 453"}),
        _delta(0, {"type": "signature_delta", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3h"}),
        _stop_block(0),
        _block(1, {"type": "text", "text": ""}),
        _delta(1, {"type": "text_delta", "text": "27 * 453 = 12,231"}),
        _stop_block(1),
        _message_delta(),
        _STOP,
    )


def _odd_message() -> Reply:
    # Payloads the SDK's models do not fit, unknown names, extra fields, unnamed events.
    chunks = [
        sse("message_start", {"type": "message_start", "message": {**_MESSAGE, "extra": [1]}}),
        sse(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        data_event(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "unnamed: skipped"},
            }
        ),
        sse(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "x", "extra": True},
            },
        ),
        sse(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "future_delta", "value": 1},
            },
        ),
        sse(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": "0",
                "delta": {"type": "text_delta", "text": "y"},
            },
        ),
        # The delta's tag missing, not a string, or naming a variant the rest does not fit.
        *[
            sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
            for delta in (
                {"text": "no tag"},
                {"type": 1, "text": "a number for a tag"},
                {"type": None, "text": "null for a tag"},
                {"type": "input_json_delta", "text": "the fields of text_delta"},
                "not an object",
                {
                    "type": "citations_delta",
                    "citation": {
                        "type": "char_location",
                        "cited_text": "cited",
                        "document_index": 0,
                        "document_title": None,
                        "start_char_index": 0,
                        "end_char_index": 5,
                    },
                },
                {"type": "citations_delta", "citation": {"type": "future_location"}},
            )
        ],
        sse("future_event", {"type": "future_event", "detail": {"a": 1}}),
        b"event: ping\ndata: \n\n",
        b"event: content_block_delta\ndata: \n\n",
        sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
        sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "future_reason", "stop_sequence": None},
                "usage": {"output_tokens": 2**70},
            },
        ),
        sse("message_stop", {"type": "message_stop"}),
    ]
    return Reply(chunks)


def _error_message() -> Reply:
    error = ("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}})
    return _named(
        _start(),
        _block(0, {"type": "text", "text": ""}),
        _delta(0, {"type": "text_delta", "text": "partial"}),
        error,
        raises="APIStatusError",
    )


def _error_text_message() -> Reply:
    return Reply(
        [
            sse("message_start", {"type": "message_start", "message": _MESSAGE}),
            b"event: error\ndata: not json\n\n",
        ],
        raises="APIStatusError",
    )


def _anthropic_status(code: int, error_type: str, message: str) -> Reply:
    body = {"type": "error", "error": {"type": error_type, "message": message}}
    return Reply(
        [json.dumps(body).encode()],
        status=code,
        content_type="application/json",
        raises="APIStatusError",
    )


ANTHROPIC: Dict[str, Reply] = {
    "text": _text_message(["Hello", "!", " How", " can", " I", " help", "?"]),
    "unicode": _text_message(["a\u2028b", "c\u2029d", "e\u0085f", "\U0001f600", "\\n"]),
    "tools": _tool_message(),
    "thinking": _thinking_message(),
    "odd": _odd_message(),
    "error-event": _error_message(),
    "error-event-text": _error_text_message(),
    "http-400": _anthropic_status(400, "invalid_request_error", "max_tokens: Field required"),
    "http-529": _anthropic_status(529, "overloaded_error", "Overloaded"),
    "http-500": _anthropic_status(500, "api_error", "Internal server error"),
}


# ------------------------------------------------------------------------------ server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_HTTPServer"

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        reply = self.server.replies.get(str(body.get("model")))
        if reply is None:
            reply = Reply([b'{"error": {"message": "no such stream"}}'], status=404)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in reply.chunks:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    replies: Dict[str, Reply]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client leaving early (a loop left at its first item) is what some tests do.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LLMServer:
    """Serves ``replies`` (name -> :class:`Reply`) on 127.0.0.1 from a background thread."""

    def __init__(self, replies: Dict[str, Reply]) -> None:
        self._server = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._server.replies = replies
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, name: str, reply: Reply) -> None:
        self._server.replies[name] = reply

    def start(self) -> "LLMServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
