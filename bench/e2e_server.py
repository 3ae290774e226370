"""The end-to-end benchmark's server: pre-built SSE bodies on 127.0.0.1, one event per chunk.

Run by ``bench/e2e.py`` as a separate process (so its CPU time is not the client's):
``python bench/e2e_server.py EVENTS`` prints its port on one line, then serves until its
stdin closes. Any method and path under ``/openai/`` gets ``EVENTS`` OpenAI
``chat.completion.chunk`` events and ``data: [DONE]``; under ``/anthropic/``, a Messages
API stream with ``EVENTS`` ``content_block_delta`` events between ``message_start`` and
``message_stop``. Each event is written as its own HTTP chunk, as the APIs flush per token.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List

WORDS = ["Hello", "!", " How", " can", " I", " help", " you", " today", "?", " \u2028"]


def openai_events(n: int) -> List[bytes]:
    """``n`` chat.completion.chunk events as the API sends them (about 300 bytes each)."""
    base = {
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion.chunk",
        "created": 1741569952,
        "model": "gpt-4.1-2025-04-14",
        "service_tier": "default",
        "system_fingerprint": "fp_b376dfbbd5",
    }
    events = []
    for k in range(n):
        delta = {"content": WORDS[k % len(WORDS)]}
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}
        payload = json.dumps({**base, "choices": [choice], "obfuscation": "x" * (k % 7)})
        events.append(f"data: {payload}\n\n".encode())
    return events + [b"data: [DONE]\n\n"]


def anthropic_events(n: int) -> List[bytes]:
    """A Messages API stream with ``n`` text deltas (one ``ping`` after the block starts)."""
    message = {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": "claude-sonnet-4-5-20250929",
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 25, "output_tokens": 1},
    }

    def event(name: str, **payload: Any) -> bytes:
        return f"event: {name}\ndata: {json.dumps({'type': name, **payload})}\n\n".encode()

    events = [
        event("message_start", message=message),
        event("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        event("ping"),
    ]
    for k in range(n):
        delta = {"type": "text_delta", "text": WORDS[k % len(WORDS)]}
        events.append(event("content_block_delta", index=0, delta=delta))
    events.append(event("content_block_stop", index=0))
    stop = {"stop_reason": "end_turn", "stop_sequence": None}
    events.append(event("message_delta", delta=stop, usage={"output_tokens": n}))
    events.append(event("message_stop"))
    return events


def _framed(events: List[bytes]) -> List[bytes]:
    return [b"%x\r\n%s\r\n" % (len(event), event) for event in events] + [b"0\r\n\r\n"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        api = self.path.strip("/").split("/", 1)[0]
        chunks = self.server.bodies.get(api)
        if chunks is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        write = self.wfile.write
        for chunk in chunks:
            write(chunk)

    do_GET = _serve
    do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    bodies: Dict[str, List[bytes]]

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def main() -> None:
    events = int(sys.argv[1])
    server = _Server(("127.0.0.1", 0), _Handler)
    server.bodies = {
        "openai": _framed(openai_events(events)),
        "anthropic": _framed(anthropic_events(events)),
    }
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()  # until the benchmark closes the pipe (or exits)
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
