"""Ordinary synchronous code against fastsse's public API, as a user writes it.

mypy --strict and pyright (strict) check this file in CI: each line that a type checker
rejected here would be rejected in users' code too. ``assert_type`` pins what the
checkers infer, and the file also runs (tests/test_typing_usage.py), so it stays true.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional

import fastsse

if TYPE_CHECKING:
    from typing_extensions import assert_type
else:

    def assert_type(value, expected_type):
        return value


SSE_BODY = b'retry: 3000\nid: 7\nevent: delta\ndata: {"text": "hi"}\n\ndata: [DONE]\n\n'
JSONL_BODY = b'{"n": 1}\n{"n": 2}\n'


def chunks(body: bytes, size: int = 5) -> Iterator[bytes]:
    """A stand-in for a response body: what an HTTP client's iter_bytes() yields."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def decoders() -> None:
    decoder = fastsse.SSEDecoder()
    python_decoder = fastsse.SSEDecoder("python", max_line_size=1 << 20, max_event_size=1 << 22)
    assert_type(decoder, fastsse.SSEDecoder)
    events: List[fastsse.ServerSentEvent] = []
    for chunk in chunks(SSE_BODY):
        events.extend(decoder.feed(chunk))
        python_decoder.feed(chunk)
    events.extend(decoder.flush())
    last_event_id: str = decoder.last_event_id
    retry: Optional[int] = decoder.retry
    assert (last_event_id, retry) == ("7", 3000)

    first = events[0]
    assert_type(first.data, str)
    assert_type(first.event, str)
    assert_type(first.id, str)
    assert_type(first.retry, Optional[int])
    payload: Any = first.json()
    assert payload == {"text": "hi"} and first.event == "delta"

    records = fastsse.JSONLDecoder().feed(JSONL_BODY)
    assert_type(records, List[fastsse.JSONLEvent])
    # None only for a record built by hand; a decoder always locates its records.
    line: Optional[int] = records[1].line
    offset: Optional[int] = records[1].offset
    assert (line, offset, records[1].json()) == (2, 9, {"n": 2})

    generic: fastsse.Decoder = fastsse.JSONLDecoder()
    assert generic.feed(b"1\n")[0].json() == 1


def streams() -> None:
    # The README's first loop, with no annotation: the items are events.
    names: List[str] = []
    for event in fastsse.Stream(chunks(SSE_BODY), format="sse"):
        names.append(event.event)
    assert names == ["delta", "message"]

    with fastsse.Stream(chunks(SSE_BODY), format="sse", terminal_event="[DONE]") as stream:
        texts = [event.json()["text"] for event in stream]
    assert texts == ["hi"]


def callbacks() -> None:
    def text_of(response: object, chunk: Dict[str, Any]) -> str:
        return str(chunk["text"])

    stream = fastsse.Stream(
        chunks(SSE_BODY),
        format="sse",
        deserialization_callback=text_of,
        terminal_event="[DONE]",
    )
    # The callback's return type binds the stream's item type.
    for text in stream:
        assert_type(text, str)
        assert text.upper() == "HI"


class Printer(fastsse.EventHandler):
    def __init__(self) -> None:
        self.seen: List[str] = []

    def on_event(self, item: Any) -> None:
        self.seen.append("any")

    def on_delta(self, item: Any) -> None:
        self.seen.append("delta")


def handlers() -> None:
    printer = Printer()
    stream = fastsse.Stream(
        chunks(SSE_BODY), format="sse", terminal_event="[DONE]", event_handler=printer
    )
    counted: List[int] = []
    stream.add_callback("*", lambda item: counted.append(1))
    stream.run()
    assert printer.seen == ["any", "delta"] and counted == [1]


def errors() -> None:
    small = fastsse.SSEDecoder(max_line_size=10)
    try:
        for _ in fastsse.Stream(chunks(b"data: " + b"x" * 100), format="sse", decoder=small):
            pass
    except fastsse.LineTooLong as exc:
        limit: int = exc.limit
        size: int = exc.size
        assert limit == 10 and size > limit
    else:
        raise AssertionError("a line over max_line_size was decoded")
    try:
        fastsse.SSEDecoder().feed(b"data: {\n\n")[0].json()
    except fastsse.JSONDecodeError as exc:
        position: int = exc.pos
        record_line: Optional[int] = exc.line
        assert position >= 0 and record_line is None
    else:
        raise AssertionError("invalid JSON was parsed")
    lost = fastsse.ConnectionLost("cut", last_event_id="7", events_delivered=3)
    resume_from: str = lost.last_event_id
    delivered: int = lost.events_delivered
    assert (resume_from, delivered) == ("7", 3)
    refused = fastsse.ResponseError(503, "Service Unavailable", b"try later")
    status: int = refused.status_code
    body: bytes = refused.body
    assert status == 503 and body == b"try later" and isinstance(refused, fastsse.StreamError)


def main() -> None:
    decoders()
    streams()
    callbacks()
    handlers()
    errors()


if __name__ == "__main__":
    main()
