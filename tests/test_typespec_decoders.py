"""fastsse.integrations.typespec without I/O: its decoders and event classes, both backends.

Every stream is fed whole, one byte at a time and in random splits, through
``iter_events`` and ``aiter_events``; the results must not depend on the chunking.
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any, AsyncIterator, Iterator, List, Optional, Tuple

import pytest

import fastsse
from fastsse.integrations import typespec

Row = Tuple[str, str, str, Optional[int]]


def _splits(body: bytes) -> Iterator[List[bytes]]:
    yield [body]
    yield [body[i : i + 1] for i in range(len(body))]
    rng = random.Random(len(body))
    for _ in range(5):
        cuts = sorted(rng.sample(range(1, len(body)), min(len(body) - 1, 4)))
        yield [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)])]


def _rows(events: Any) -> List[Row]:
    return [(e.event, e.data, e.id, e.retry) for e in events]


async def _agen(chunks: List[bytes], closed: List[bool]) -> AsyncIterator[bytes]:
    try:
        for chunk in chunks:
            yield chunk
    finally:
        closed.append(True)


def _async_events(decoder: Any, chunks: List[bytes]) -> Tuple[List[Any], bool]:
    closed: List[bool] = []

    async def run() -> List[Any]:
        return [event async for event in decoder.aiter_events(_agen(chunks, closed))]

    return asyncio.run(run()), bool(closed)


SSE_CASES = {
    "fields": (
        b"event: a\nid: 1\ndata: x\ndata: y\n\n: comment\n\ndata\n\nid: 2\nevent: b\ndata: z\n\n",
        [("a", "x\ny", "1", None), ("message", "", "1", None), ("b", "z", "2", None)],
    ),
    # The reconnection time persists from the field on, in every later event.
    "retry_persists": (
        b"retry: 5\n\ndata: a\n\nretry: 7\ndata: b\n\ndata: c\n\n",
        [("message", "a", "", 5), ("message", "b", "", 7), ("message", "c", "", 7)],
    ),
    "retry_must_be_digits": (
        b"retry: +5\nretry: 1_0\nretry:  6\ndata: a\n\n",
        [("message", "a", "", None)],
    ),
    "bom_cr_only_and_crlf": (
        b"\xef\xbb\xbfdata: a\r\rdata: b\r\n\r\ndata: c\n\r\n",
        [("message", "a", "", None), ("message", "b", "", None), ("message", "c", "", None)],
    ),
    "dataless_blocks_dispatch_nothing": (
        b"event: x\n\nid: 3\n\nretry: 9\n\ndata: a\n\n",
        [("message", "a", "3", 9)],
    ),
    "id_with_nul_ignored": (b"id: 1\n\nid: a\x00b\ndata: x\n\n", [("message", "x", "1", None)]),
    "unicode_and_bad_bytes": (
        "data: wörld \u2028 \u0085 🦀\n\n".encode() + b"data: \xff!\n\n",
        [("message", "wörld \u2028 \u0085 🦀", "", None), ("message", "\ufffd!", "", None)],
    ),
    "unterminated_event_discarded": (b"data: a\n\ndata: b", [("message", "a", "", None)]),
}


@pytest.mark.parametrize("name", list(SSE_CASES))
def test_sse_iter_events(backend: str, name: str) -> None:
    body, expected = SSE_CASES[name]
    for chunks in _splits(body):
        events = list(typespec.SSEDecoder(backend=backend).iter_events(iter(chunks)))
        assert all(type(e) is typespec.ServerSentEvent for e in events)
        assert _rows(events) == expected, chunks


@pytest.mark.parametrize("name", list(SSE_CASES))
def test_sse_aiter_events_closes_its_source(backend: str, name: str) -> None:
    body, expected = SSE_CASES[name]
    for chunks in _splits(body):
        events, closed = _async_events(typespec.AsyncSSEDecoder(backend=backend), chunks)
        assert _rows(events) == expected and closed


def test_retry_after_an_event_in_the_same_chunk(backend: str) -> None:
    body = b"data: a\n\nretry: 9\n\ndata: b\n\n"
    expected = [("message", "a", "", None), ("message", "b", "", 9)]
    for chunks in _splits(body):
        assert _rows(typespec.SSEDecoder(backend=backend).iter_events(iter(chunks))) == expected
    # Declared difference: a Stream gives each event the retry in force once its chunk
    # was decoded, so here the first event already carries the later value.
    stream = typespec.Stream(
        response=_Response([body]),
        deserialization_callback=lambda r, e: e,
        decoder=typespec.SSEDecoder(backend=backend),
    )
    assert _rows(stream) == [("message", "a", "", 9), ("message", "b", "", 9)]
    stream = typespec.Stream(
        response=_Response([body[:9], body[9:]]),
        deserialization_callback=lambda r, e: e,
        decoder=typespec.SSEDecoder(backend=backend),
    )
    assert _rows(stream) == expected


def test_each_iteration_starts_a_new_stream(backend: str) -> None:
    decoder = typespec.SSEDecoder(backend=backend)
    assert _rows(decoder.iter_events(iter([b"id: 1\nretry: 5\ndata: a\n\n"]))) == [
        ("message", "a", "1", 5)
    ]
    assert _rows(decoder.iter_events(iter([b"data: b\n\n"]))) == [("message", "b", "", None)]


def test_limits_raise_after_the_events_before(backend: str) -> None:
    events: List[Any] = []
    decoder = typespec.SSEDecoder(backend=backend)
    big = b"data: " + b"x" * (fastsse.DEFAULT_MAX_LINE_SIZE + 1)
    with pytest.raises(fastsse.LineTooLong):
        for event in decoder.iter_events(iter([b"data: a\n\n", big])):
            events.append(event)
    assert _rows(events) == [("message", "a", "", None)]


JSONL_CASES = {
    "records": (b'{"n": 1}\n{"n": 2}\n', [{"n": 1}, {"n": 2}]),
    "crlf_and_final_line": (b'{"n": 1}\r\n{"n": 2}', [{"n": 1}, {"n": 2}]),
    # Declared difference: blank lines are skipped, and a leading BOM is tolerated.
    "blank_lines_and_bom": (b'\xef\xbb\xbf{"n": 1}\n\n  \n{"n": 2}\n', [{"n": 1}, {"n": 2}]),
    "separators_in_strings": ('{"s": "a\u2028b\u0085c"}\n'.encode(), [{"s": "a\u2028b\u0085c"}]),
}


@pytest.mark.parametrize("name", list(JSONL_CASES))
def test_jsonl_iter_and_aiter_events(backend: str, name: str) -> None:
    body, expected = JSONL_CASES[name]
    for chunks in _splits(body):
        events = list(typespec.JSONLDecoder(backend=backend).iter_events(iter(chunks)))
        assert all(type(e) is typespec.JSONLEvent for e in events)
        assert [e.json() for e in events] == expected
        assert [json.loads(e.data) for e in events] == expected
        async_events, closed = _async_events(typespec.AsyncJSONLDecoder(backend=backend), chunks)
        assert [e.json() for e in async_events] == expected and closed


def test_server_sent_event_contract() -> None:
    event = typespec.ServerSentEvent(event="e", data='{"a": 1}', id="7", retry=10)
    assert (event.event, event.data, event.id, event.retry) == ("e", '{"a": 1}', "7", 10)
    assert repr(event) == "ServerSentEvent(event='e', data='{\"a\": 1}', id='7', retry=10)"
    assert event == typespec.ServerSentEvent(event="e", data='{"a": 1}', id="7", retry=10)
    assert event != typespec.ServerSentEvent(event="e", data='{"a": 1}', id="8", retry=10)
    assert event.json() == {"a": 1}
    default = typespec.ServerSentEvent()
    assert (default.event, default.data, default.id, default.retry) == ("message", "", "", None)
    with pytest.raises(TypeError):
        typespec.ServerSentEvent("e")  # type: ignore[misc]
    with pytest.raises(TypeError):
        hash(event)
    event.data = "changed"  # plain attributes, as the runtime's
    assert event.data == "changed"


def test_jsonl_event_contract() -> None:
    assert typespec.JSONLEvent().data is None
    record = typespec.JSONLEvent(data='{"a": [1]}')
    assert record.json() == {"a": [1]}
    with pytest.raises(json.JSONDecodeError):
        typespec.JSONLEvent(data="{").json()


def test_unknown_backend_fails_at_construction() -> None:
    with pytest.raises(ValueError):
        typespec.SSEDecoder(backend="nope")
    with pytest.raises(ValueError):
        typespec.JSONLDecoder(backend="nope")


class _Response:
    """A response of the minimal shape the runtime reads: headers, iter_bytes, close."""

    def __init__(self, chunks: List[bytes], content_type: Optional[str] = "text/event-stream"):
        self.headers = {"Content-Type": content_type} if content_type else {}
        self.status_code = 200
        self.chunks = chunks
        self.closed = False

    def iter_bytes(self) -> Iterator[bytes]:
        yield from self.chunks

    def close(self) -> None:
        self.closed = True


def test_stream_with_a_given_decoder_and_foreign_decoders(backend: str) -> None:
    response = _Response([b'{"n": 1}\n'], content_type="text/event-stream")
    stream = typespec.Stream(
        response=response,
        deserialization_callback=lambda r, e: e.json(),
        decoder=typespec.JSONLDecoder(backend=backend),
    )
    assert list(stream) == [{"n": 1}] and response.closed

    class Foreign:
        def iter_events(self, iter_bytes: Iterator[bytes]) -> Iterator[Any]:
            return iter(())

    with pytest.raises(TypeError, match="decoder must be"):
        typespec.Stream(
            response=_Response([]), deserialization_callback=lambda r, e: e, decoder=Foreign()
        )


def test_stream_last_event_id_and_retry_follow_the_events(backend: str) -> None:
    # Two events in one chunk: after the first, the stream reports the first's ID.
    response = _Response([b"id: 1\nretry: 20\ndata: a\n\nid: 2\ndata: b\n\n", b"id: 3\n\n"])
    stream = typespec.Stream(
        response=response,
        deserialization_callback=lambda r, e: e,
        decoder=typespec.SSEDecoder(backend=backend),
    )
    assert stream.last_event_id is None and stream.retry is None
    first = next(stream)
    assert (first.id, stream.last_event_id, stream.retry) == ("1", "1", 20)
    assert next(stream).id == "2" and stream.last_event_id == "2"
    with pytest.raises(StopIteration):
        next(stream)
    # At the body's end the stream's own ID, from an id-only block, is the last event ID.
    assert stream.last_event_id == "3" and response.closed


def _resumes() -> bool:
    try:
        fastsse.SSEDecoder(last_event_id="1")
    except TypeError:
        return False
    return True


needs_resume = pytest.mark.skipif(
    not _resumes(), reason="this build's fastsse.SSEDecoder has no last_event_id= yet"
)


@needs_resume
def test_sse_decoder_resumes_from_a_last_event_id(backend: str) -> None:
    body = b"data: a\n\nid: 6\ndata: b\n\n"
    expected = [("message", "a", "5", None), ("message", "b", "6", None)]
    for chunks in _splits(body):
        decoder = typespec.SSEDecoder(last_event_id="5", backend=backend)
        assert _rows(decoder.iter_events(iter(chunks))) == expected
        events, _ = _async_events(
            typespec.AsyncSSEDecoder(last_event_id="5", backend=backend), chunks
        )
        assert _rows(events) == expected


@needs_resume
def test_stream_resumes_from_a_last_event_id(backend: str) -> None:
    response = _Response([b"data: a\n\n"])
    stream = typespec.Stream(
        response=response,
        deserialization_callback=lambda r, e: e,
        decoder=typespec.SSEDecoder(last_event_id="5", backend=backend),
    )
    assert stream.last_event_id == "5"
    assert _rows(stream) == [("message", "a", "5", None)]
    assert stream.last_event_id == "5"
