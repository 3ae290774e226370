"""Event handling (add_callback, EventHandler), error events, response errors and the
async stream's exit paths, on in-memory sources. Real HTTP clients are in integration/."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from typing import Any, List

import pytest

import fastsse
from fastsse._handlers import event_type_of, handler_method_name

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

NAMED = (
    b'event: user.message\ndata: {"text": "hi"}\n\n'
    b'data: {"type": "response.delta", "delta": "a"}\n\n'
    b'data: {"kind": "usermessage"}\n\n'
    b"data: plain text\n\n"
    b"event: userConnect\ndata: {}\n\n"
)


@pytest.fixture
def anyio_backend():
    return "asyncio"


class ClosableChunks:
    """An iterable of bytes that records being closed, with an optional HTTP status."""

    def __init__(
        self, chunks: List[bytes], status_code: int = 200, content_type: str = "text/event-stream"
    ):
        self._chunks = chunks
        self.status_code = status_code
        self.headers = {"content-type": content_type}
        self.closed = 0

    def iter_bytes(self):
        yield from self._chunks

    def close(self):
        self.closed += 1


class AsyncClosableChunks(ClosableChunks):
    def __init__(self, *args: Any, delay: float = 0.0, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._delay = delay

    async def aiter_bytes(self):
        for chunk in self._chunks:
            await asyncio.sleep(self._delay)
            yield chunk

    async def aclose(self):
        self.closed += 1


@pytest.mark.parametrize(
    ("event_type", "method"),
    [
        ("message", "on_message"),
        ("user.message", "on_user_message"),
        ("content_block_delta", "on_content_block_delta"),
        ("response.output_text.delta", "on_response_output_text_delta"),
        ("userConnect", "on_user_connect"),
        ("UserDisconnect", "on_user_disconnect"),
        ("user-left", "on_user_left"),
        ("usermessage", "on_usermessage"),
    ],
)
def test_event_types_map_to_handler_method_names(event_type, method):
    assert handler_method_name(event_type) == method


def test_event_type_is_the_sse_name_then_the_json_discriminator(backend):
    events = fastsse.SSEDecoder(backend).feed(NAMED)
    assert [event_type_of(event) for event in events] == [
        "user.message",
        "response.delta",
        "usermessage",
        "message",
        "userConnect",
    ]


def test_callbacks_get_items_by_type_and_wildcard_gets_all(backend):
    source = ClosableChunks([NAMED])
    stream = fastsse.Stream(source, decoder=backend)
    seen: List[Any] = []
    stream.add_callback("user.message", lambda item: seen.append(("named", item.data)))
    stream.add_callback("usermessage", lambda item: seen.append(("kind", item.data)))
    stream.add_callback("*", lambda item: seen.append(("any", item.event)))
    assert stream.run() is None
    assert seen == [
        ("named", '{"text": "hi"}'),
        ("any", "user.message"),
        ("any", "message"),
        ("kind", '{"kind": "usermessage"}'),
        ("any", "message"),
        ("any", "message"),
        ("any", "userConnect"),
    ]
    assert source.closed == 1


def test_callbacks_fire_however_the_stream_is_driven(backend):
    seen: List[str] = []
    stream = fastsse.Stream([NAMED], format="sse", decoder=backend)
    stream.add_callback("*", lambda item: seen.append(item.event))
    items = list(stream.iter_events())
    assert len(items) == len(seen) == 5


def test_add_callback_rejects_bad_arguments():
    stream = fastsse.Stream([b""], format="sse")
    with pytest.raises(TypeError):
        stream.add_callback(1, print)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        stream.add_callback("x", "not callable")  # type: ignore[arg-type]


class RecordingHandler(fastsse.EventHandler):
    def __init__(self) -> None:
        self.calls: List[str] = []

    def on_event(self, item: Any) -> None:
        self.calls.append("event")

    def on_user_message(self, item: Any) -> None:
        self.calls.append("user_message:" + item["text"])

    def on_user_connect(self, item: Any) -> None:
        self.calls.append("user_connect")

    def on_unhandled_event(self, item: Any) -> None:
        self.calls.append("unhandled")


def test_event_handler_methods_are_called_by_type_with_fallbacks(backend):
    handler = RecordingHandler()
    body = NAMED.replace(b"data: plain text\n\n", b"")
    stream = fastsse.Stream(
        [body],
        format="sse",
        decoder=backend,
        event_handler=handler,
        deserialization_callback=lambda response, payload: payload,
    )
    stream.run()
    assert handler.calls == [
        "event",
        "user_message:hi",
        "event",
        "unhandled",
        "event",
        "unhandled",
        "event",
        "user_connect",
    ]


def test_an_event_named_event_does_not_call_on_event_twice(backend):
    handler = RecordingHandler()
    fastsse.Stream(
        [b"event: event\ndata: x\n\n"], format="sse", decoder=backend, event_handler=handler
    ).run()
    assert handler.calls == ["event", "unhandled"]


def test_stream_refuses_an_async_handler():
    with pytest.raises(TypeError, match="AsyncStream"):
        fastsse.Stream([b""], format="sse", event_handler=fastsse.AsyncEventHandler())


def test_heterogeneous_example_turns_each_kind_into_its_model(capsys):
    spec = importlib.util.spec_from_file_location(
        "heterogeneous_events", EXAMPLES / "heterogeneous_events.py"
    )
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = example  # dataclasses look their module up there
    try:
        spec.loader.exec_module(example)
    finally:
        del sys.modules[spec.name]
    events = example.main()
    assert [type(event).__name__ for event in events] == [
        "UserConnect",
        "UserMessage",
        "UserDisconnect",
    ]
    assert events[1] == example.UserMessage(username="ada", time="10:01", text="hello")
    assert capsys.readouterr().out.splitlines() == [
        "message from ada: hello",
        "ada joined",
        "ada: hello",
        "(no handler for userdisconnect)",
    ]


def test_error_event_raises_with_its_payload_after_earlier_events(backend):
    source = ClosableChunks(
        [b'data: 1\n\nevent: error\ndata: {"type": "overloaded"}\n\ndata: 2\n\n']
    )
    stream = fastsse.Stream(source, decoder=backend, error_event_names={"error"})
    seen = []
    with pytest.raises(fastsse.EventError) as raised:
        for event in stream:
            seen.append(event.data)
    assert seen == ["1"]
    assert raised.value.payload == {"type": "overloaded"}
    assert raised.value.event.event == "error"
    assert "'error' event" in str(raised.value)
    assert source.closed == 1


def test_error_event_payload_is_text_when_not_json(backend):
    stream = fastsse.Stream(
        [b"event: error\ndata: boom\n\n"],
        format="sse",
        decoder=backend,
        error_event_names=["error"],
    )
    with pytest.raises(fastsse.EventError) as raised:
        list(stream)
    assert raised.value.payload == "boom"


def test_names_must_be_a_collection_not_a_string():
    with pytest.raises(TypeError):
        fastsse.Stream([b""], format="sse", error_event_names="error")  # type: ignore[arg-type]


def test_non_2xx_response_raises_response_error_with_body_excerpt():
    body = b'{"error": "overloaded"}' + b"x" * 10000
    source = ClosableChunks(
        [body[:5000], body[5000:]], status_code=529, content_type="application/json"
    )
    stream = fastsse.Stream(source)
    with pytest.raises(fastsse.ResponseError) as raised:
        next(iter(stream))
    error = raised.value
    assert error.status_code == 529
    assert error.body == body[: fastsse.ResponseError.BODY_EXCERPT]
    assert "HTTP 529" in str(error) and "overloaded" in str(error)
    assert error.response is source
    assert source.closed == 1


# --------------------------------------------------------------------------- AsyncStream


@pytest.mark.anyio
async def test_async_stream_with_async_handler_callbacks_and_deserializer(backend):
    calls: List[str] = []

    class Handler(fastsse.AsyncEventHandler):
        async def on_user_message(self, item: Any) -> None:
            calls.append("handler:" + item["text"])

    async def deserialize(response: Any, payload: Any) -> Any:
        return payload

    async def on_any(item: Any) -> None:
        calls.append("any")

    source = AsyncClosableChunks([NAMED.split(b"data: plain")[0]])
    stream = fastsse.AsyncStream(
        source, decoder=backend, event_handler=Handler(), deserialization_callback=deserialize
    )
    stream.add_callback("*", on_any)
    stream.add_callback("usermessage", lambda item: calls.append("sync:" + item["kind"]))
    await stream.run()
    assert calls == ["any", "handler:hi", "any", "sync:usermessage", "any"]
    assert source.closed == 1


@pytest.mark.anyio
async def test_async_stream_break_closes_the_source(backend):
    source = AsyncClosableChunks([b"data: %d\n\n" % i for i in range(100)])
    stream = fastsse.AsyncStream(source, decoder=backend)
    async for event in stream:
        if event.data == "3":
            break
    for _ in range(3):  # asyncio closes a dropped async generator on its next turns
        await asyncio.sleep(0)
    assert source.closed == 1 and stream.closed


@pytest.mark.anyio
async def test_async_stream_cancellation_closes_the_source(backend):
    source = AsyncClosableChunks([b"data: 1\n\n", b"data: 2\n\n"], delay=30)
    stream = fastsse.AsyncStream(source, decoder=backend)

    async def consume() -> None:
        async for _ in stream:
            pass

    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(consume(), 0.2)
    assert source.closed == 1 and stream.closed


@pytest.mark.anyio
async def test_async_stream_terminal_event_and_names(backend):
    source = AsyncClosableChunks([b"data: 1\n\nevent: stop\ndata: 2\n\ndata: 3\n\n"])
    stream = fastsse.AsyncStream(source, decoder=backend, terminal_event_names={"stop"})
    assert [event.data async for event in stream] == ["1", "2"]
    assert source.closed == 1
    source = AsyncClosableChunks([b"data: 1\n\ndata: [DONE]\n\ndata: 3\n\n"])
    stream = fastsse.AsyncStream(source, decoder=backend, terminal_event="[DONE]")
    async with stream:
        assert [event.data async for event in stream] == ["1"]
    assert source.closed == 1


@pytest.mark.anyio
async def test_async_stream_unknown_content_type_closes_then_raises_on_first_iteration():
    source = AsyncClosableChunks([b"<html>"], content_type="text/html")
    stream = fastsse.AsyncStream(source)
    with pytest.raises(fastsse.FormatError):
        async for _ in stream:
            pass
    assert source.closed == 1


@pytest.mark.anyio
async def test_async_stream_takes_async_generators_and_sync_iterables(backend):
    async def body():
        yield b"data: a\n"
        yield b"\n{"

    assert [e.data async for e in fastsse.AsyncStream(body(), format="sse", decoder=backend)] == [
        "a"
    ]
    records = [
        e.json()
        async for e in fastsse.AsyncStream([b'{"a": 1}\n', b"[2]"], format="jsonl", decoder=backend)
    ]
    assert records == [{"a": 1}, [2]]


@pytest.mark.anyio
async def test_async_stream_response_error():
    source = AsyncClosableChunks([b"busy"], status_code=503, content_type="text/plain")
    with pytest.raises(fastsse.ResponseError) as raised:
        async with fastsse.AsyncStream(source) as stream:
            async for _ in stream:
                pass
    assert raised.value.status_code == 503 and raised.value.body == b"busy"
    assert source.closed == 1
