"""``fastsse.Stream`` over the plain-Python source protocols, on both backends.

The sources are small fakes of the shapes real clients have (``iter_bytes()`` plus
``headers``; azure-core's ``PipelineResponse`` with ``http_response``), lists and
generators of bytes, and binary files. Real HTTP clients are tested elsewhere. Each
test checks what is yielded and that the source is closed on every exit path.
"""

from __future__ import annotations

import gc
import importlib
import io
import weakref
from typing import Any, Iterator, List, Optional, Sequence

import pytest
from _chunking import chunkings

import fastsse

SSE_DATA = b'id: 1\ndata: {"n": 1}\n\n: ping\n\nevent: update\ndata: {"n": 2}\n\ndata: {"n": 3}\n\n'
SSE_EXPECTED = [
    ("message", '{"n": 1}', "1"),
    ("update", '{"n": 2}', "1"),
    ("message", '{"n": 3}', "1"),
]
JSONL_DATA = b'{"n": 1}\n\n{"n": 2}\r\n{"n": 3}'
JSONL_EXPECTED = [{"n": 1}, {"n": 2}, {"n": 3}]


def sse_summary(events: Sequence[Any]) -> List[tuple]:
    return [(ev.event, ev.data, ev.id) for ev in events]


class FakeResponse:
    """The httpx / azure-core ``HttpResponse`` shape: ``iter_bytes()``, ``headers``, ``close()``."""

    def __init__(
        self,
        chunks: Sequence[bytes],
        content_type: Optional[str] = "text/event-stream",
        headers: Optional[dict] = None,
        fail_after: Optional[int] = None,
    ) -> None:
        if headers is None:
            headers = {} if content_type is None else {"content-type": content_type}
        self.headers = headers
        self._chunks = list(chunks)
        self._fail_after = fail_after
        self.chunks_read = 0
        self.close_calls = 0
        self.body_iterator_closed = False

    def iter_bytes(self) -> Iterator[bytes]:
        try:
            for chunk in self._chunks:
                if self._fail_after is not None and self.chunks_read == self._fail_after:
                    raise ConnectionResetError("peer went away")
                self.chunks_read += 1
                yield chunk
        finally:
            self.body_iterator_closed = True

    def close(self) -> None:
        self.close_calls += 1


class FakePipelineResponse:
    """azure-core's ``PipelineResponse`` shape: the HTTP response is ``http_response``."""

    def __init__(self, http_response: FakeResponse) -> None:
        self.http_request = object()
        self.http_response = http_response
        self.context: dict = {}


class ClosableChunks:
    """An iterable of bytes with ``close()`` and no headers."""

    def __init__(self, chunks: Sequence[bytes]) -> None:
        self._chunks = list(chunks)
        self.close_calls = 0

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._chunks)

    def close(self) -> None:
        self.close_calls += 1


def tracked_generator(chunks: Sequence[bytes], log: list) -> Iterator[bytes]:
    try:
        for chunk in chunks:
            yield chunk
    finally:
        log.append("closed")


# ------------------------------------------------------------------------------ sources


def test_list_of_chunks(backend):
    for name, chunks in chunkings(SSE_DATA):
        events = list(fastsse.Stream(chunks, format="sse", decoder=backend))
        assert sse_summary(events) == SSE_EXPECTED, f"chunking {name}"
    for name, chunks in chunkings(JSONL_DATA):
        records = list(fastsse.Stream(chunks, format="jsonl", decoder=backend))
        assert [r.json() for r in records] == JSONL_EXPECTED, f"chunking {name}"


def test_bytearray_and_memoryview_chunks(backend):
    half = len(SSE_DATA) // 2
    chunks = [bytearray(SSE_DATA[:half]), memoryview(SSE_DATA[half:])]
    assert sse_summary(fastsse.Stream(chunks, format="sse", decoder=backend)) == SSE_EXPECTED


def test_generator_is_read_and_closed(backend):
    for name, chunks in chunkings(SSE_DATA):
        log: list = []
        stream = fastsse.Stream(tracked_generator(chunks, log), format="sse", decoder=backend)
        assert sse_summary(stream) == SSE_EXPECTED, f"chunking {name}"
        assert log == ["closed"] and stream.closed, f"chunking {name}"


def test_iter_bytes_response_with_headers(backend):
    for name, chunks in chunkings(SSE_DATA):
        response = FakeResponse(chunks)
        stream = fastsse.Stream(response, decoder=backend)
        assert stream.response is response
        assert sse_summary(stream) == SSE_EXPECTED, f"chunking {name}"
        assert response.close_calls == 1 and stream.closed, f"chunking {name}"


def test_events_are_yielded_before_later_chunks_are_read(backend):
    # A live stream must hand over each event as its chunk arrives, never read ahead.
    response = FakeResponse([b"data: a\n\n", b"data: b\n\n", b"data: c\n\n"])
    stream = fastsse.Stream(response, decoder=backend)
    assert next(stream).data == "a" and response.chunks_read == 1
    assert next(stream).data == "b" and response.chunks_read == 2
    stream.close()


def test_bytesio(backend):
    source = io.BytesIO(SSE_DATA)
    stream = fastsse.Stream(source, format="sse", decoder=backend)
    assert sse_summary(stream) == SSE_EXPECTED
    assert source.closed
    source = io.BytesIO(JSONL_DATA)
    stream = fastsse.Stream(source, format="jsonl", decoder=backend)
    assert [r.json() for r in stream] == JSONL_EXPECTED
    assert source.closed


def test_real_binary_file(backend, tmp_path):
    path = tmp_path / "events.txt"
    # Several read sizes' worth, so the file is read in more than one chunk.
    path.write_bytes(SSE_DATA * 3000)
    with open(path, "rb") as source:
        stream = fastsse.Stream(source, format="sse", decoder=backend)
        events = list(stream)
        assert source.closed
    assert len(events) == 3 * 3000
    assert sse_summary(events[:3]) == SSE_EXPECTED and sse_summary(events[-3:]) == SSE_EXPECTED
    path.write_bytes(JSONL_DATA)
    with open(path, "rb") as source:
        stream = fastsse.Stream(source, format="jsonl", decoder=backend)
        assert [r.json() for r in stream] == JSONL_EXPECTED
        assert source.closed


def test_unbuffered_file_without_read1(backend, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(JSONL_DATA)
    with open(path, "rb", buffering=0) as source:
        assert not hasattr(source, "read1")
        stream = fastsse.Stream(source, format="jsonl", decoder=backend)
        assert [r.json() for r in stream] == JSONL_EXPECTED
        assert source.closed


def test_pipeline_response(backend):
    http_response = FakeResponse([SSE_DATA])
    pipeline = FakePipelineResponse(http_response)
    seen = []

    def callback(response, obj):
        seen.append(response)
        return obj["n"]

    stream = fastsse.Stream(pipeline, deserialization_callback=callback, decoder=backend)
    assert stream.response is pipeline
    assert list(stream) == [1, 2, 3]
    # The callback gets what the caller passed in, not the inner HTTP response.
    assert all(response is pipeline for response in seen) and len(seen) == 3
    assert http_response.close_calls == 1


def test_deserialization_callback_receives_the_original_response(backend):
    response = FakeResponse([SSE_DATA])
    items = list(
        fastsse.Stream(response, decoder=backend, deserialization_callback=lambda r, obj: (r, obj))
    )
    assert [obj for _, obj in items] == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert all(r is response for r, _ in items)
    records = list(
        fastsse.Stream(
            FakeResponse([JSONL_DATA], "application/jsonl"),
            decoder=backend,
            deserialization_callback=lambda r, obj: obj["n"] * 10,
        )
    )
    assert records == [10, 20, 30]


# ------------------------------------------------------------------------- terminators


DONE_DATA = b'data: {"n": 1}\n\ndata: [DONE]\n\ndata: {"n": 2}\n\n'


def test_terminal_event_is_not_yielded_and_ends_the_stream(backend):
    for name, chunks in chunkings(DONE_DATA):
        calls = []
        response = FakeResponse(chunks)

        def callback(r, obj):
            calls.append(obj)
            return obj

        stream = fastsse.Stream(
            response, decoder=backend, terminal_event="[DONE]", deserialization_callback=callback
        )
        items = list(stream)
        assert items == [{"n": 1}] and calls == [{"n": 1}], f"chunking {name}"
        assert response.close_calls == 1 and response.body_iterator_closed, f"chunking {name}"
    events = list(
        fastsse.Stream([DONE_DATA], format="sse", decoder=backend, terminal_event="[DONE]")
    )
    assert [ev.data for ev in events] == ['{"n": 1}']


def test_terminal_event_matches_data_exactly(backend):
    data = (
        b"data: [DONE] \n\ndata:  [DONE]\n\nevent: [DONE]\ndata: x\n\ndata: [DONE]\n\ndata: y\n\n"
    )
    events = list(fastsse.Stream([data], format="sse", decoder=backend, terminal_event="[DONE]"))
    assert [ev.data for ev in events] == ["[DONE] ", " [DONE]", "x"]


def test_terminal_event_names_are_yielded_then_end_the_stream(backend):
    data = (
        b"event: message_start\ndata: {}\n\n"
        b"event: ping\ndata: {}\n\n"
        b'event: content_block_delta\ndata: {"d": 1}\n\n'
        b"event: message_stop\ndata: {}\n\n"
        b"event: late\ndata: {}\n\n"
    )
    for name, chunks in chunkings(data):
        response = FakeResponse(chunks)
        stream = fastsse.Stream(
            response, decoder=backend, terminal_event_names={"message_stop", "error"}
        )
        events = list(stream)
        assert [ev.event for ev in events] == [
            "message_start",
            "ping",
            "content_block_delta",
            "message_stop",
        ], f"chunking {name}"
        assert response.close_calls == 1, f"chunking {name}"
    calls = []
    items = list(
        fastsse.Stream(
            FakeResponse([data]),
            decoder=backend,
            terminal_event_names=["message_stop"],
            deserialization_callback=lambda r, obj: calls.append(obj) or obj,
        )
    )
    assert items == [{}, {}, {"d": 1}, {}] and len(calls) == 4


# ----------------------------------------------------------------------------- decoders


def test_decoder_backend_name_picks_the_backend(backend, impl):
    stream = fastsse.Stream([SSE_DATA], format="sse", decoder=backend)
    assert type(stream.decoder) is impl.SSEDecoder
    assert sse_summary(stream) == SSE_EXPECTED
    stream = fastsse.Stream(FakeResponse([JSONL_DATA], "application/x-ndjson"), decoder=backend)
    assert type(stream.decoder) is impl.JSONLDecoder
    assert [r.json() for r in stream] == JSONL_EXPECTED


def test_decoder_auto_is_the_default():
    auto = "fastsse._decoder" if fastsse.IMPLEMENTATION == "cython" else "fastsse._decoder_py"
    stream = fastsse.Stream([SSE_DATA], format="sse")
    assert type(stream.decoder) is importlib.import_module(auto).SSEDecoder
    assert sse_summary(stream) == SSE_EXPECTED


def test_decoder_instance_is_used_and_keeps_its_state(backend):
    decoder = fastsse.SSEDecoder(backend, max_line_size=1024)
    # No headers and no format: the instance says what it decodes.
    stream = fastsse.Stream([SSE_DATA + b"retry: 1500\n\n"], decoder=decoder)
    assert stream.decoder is decoder
    assert sse_summary(stream) == SSE_EXPECTED
    assert decoder.last_event_id == "1" and decoder.retry == 1500
    jsonl = fastsse.JSONLDecoder(backend)
    # The instance wins over a Content-Type that says otherwise.
    stream = fastsse.Stream(FakeResponse([JSONL_DATA], "text/event-stream"), decoder=jsonl)
    assert stream.decoder is jsonl
    assert [r.json() for r in stream] == JSONL_EXPECTED


def test_decoder_instance_conflicting_with_format_raises_and_closes(backend):
    response = FakeResponse([SSE_DATA])
    with pytest.raises(fastsse.FormatError, match="jsonl"):
        fastsse.Stream(response, decoder=fastsse.SSEDecoder(backend), format="jsonl")
    assert response.close_calls == 1


@pytest.mark.parametrize("decoder, error", [("nope", ValueError), (42, TypeError)])
def test_bad_decoder_argument_raises_and_closes(decoder, error):
    response = FakeResponse([SSE_DATA])
    with pytest.raises(error):
        fastsse.Stream(response, decoder=decoder)
    assert response.close_calls == 1


# ------------------------------------------------------------------------------ formats


@pytest.mark.parametrize(
    "content_type, fmt",
    [
        ("text/event-stream", "sse"),
        ("text/event-stream; charset=utf-8", "sse"),
        ("Text/Event-Stream;Charset=UTF-8", "sse"),
        ("  TEXT/EVENT-STREAM  ", "sse"),
        ("application/jsonl", "jsonl"),
        ("application/jsonl; charset=utf-8", "jsonl"),
        ("application/x-ndjson", "jsonl"),
        ("Application/X-NDJSON", "jsonl"),
        ("application/x-jsonlines", "jsonl"),
        ("APPLICATION/X-JSONLINES ; charset=utf-8", "jsonl"),
    ],
)
def test_content_type_detection(backend, content_type, fmt):
    data, expected_type = (
        (SSE_DATA, fastsse.SSEDecoder) if fmt == "sse" else (JSONL_DATA, fastsse.JSONLDecoder)
    )
    stream = fastsse.Stream(FakeResponse([data], content_type), decoder=backend)
    assert isinstance(stream.decoder, expected_type)
    if fmt == "sse":
        assert sse_summary(stream) == SSE_EXPECTED
    else:
        assert [r.json() for r in stream] == JSONL_EXPECTED


@pytest.mark.parametrize("header_name", ["content-type", "Content-Type"])
def test_content_type_header_in_a_plain_dict(backend, header_name):
    response = FakeResponse([SSE_DATA], headers={header_name: "text/event-stream"})
    assert sse_summary(fastsse.Stream(response, decoder=backend)) == SSE_EXPECTED


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "text/plain", "text/event-streams", "application/octet-stream", "jsonl"],
)
def test_unknown_content_type_raises_and_closes(backend, content_type):
    response = FakeResponse([SSE_DATA], content_type)
    with pytest.raises(fastsse.FormatError) as info:
        fastsse.Stream(response, decoder=backend)
    assert content_type in str(info.value) and "format=" in str(info.value)
    assert isinstance(info.value, fastsse.StreamError)
    assert response.close_calls == 1 and response.chunks_read == 0


@pytest.mark.parametrize(
    "headers", [{}, {"content-type": ""}, {"x-other": "text/event-stream"}], ids=repr
)
def test_missing_content_type_raises_and_closes(backend, headers):
    response = FakeResponse([SSE_DATA], headers=headers)
    with pytest.raises(fastsse.FormatError, match="Content-Type") as info:
        fastsse.Stream(response, decoder=backend)
    assert "format=" in str(info.value)
    assert response.close_calls == 1


def test_source_without_headers_needs_a_format(backend):
    source = ClosableChunks([SSE_DATA])
    with pytest.raises(fastsse.FormatError, match="format=") as info:
        fastsse.Stream(source, decoder=backend)
    assert "headers" in str(info.value)
    assert source.close_calls == 1
    with pytest.raises(fastsse.FormatError):
        fastsse.Stream([SSE_DATA], decoder=backend)


def test_format_overrides_content_type(backend):
    stream = fastsse.Stream(
        FakeResponse([JSONL_DATA], "text/event-stream"), format="jsonl", decoder=backend
    )
    assert [r.json() for r in stream] == JSONL_EXPECTED
    stream = fastsse.Stream(
        FakeResponse([SSE_DATA], "application/octet-stream"), format="sse", decoder=backend
    )
    assert sse_summary(stream) == SSE_EXPECTED
    stream = fastsse.Stream(FakeResponse([SSE_DATA], None), format="sse", decoder=backend)
    assert sse_summary(stream) == SSE_EXPECTED


@pytest.mark.parametrize("fmt", ["json", "SSE", "ndjson", ""])
def test_invalid_format_raises_and_closes(backend, fmt):
    response = FakeResponse([SSE_DATA])
    with pytest.raises(fastsse.FormatError):
        fastsse.Stream(response, format=fmt, decoder=backend)
    assert response.close_calls == 1


# ------------------------------------------------------------------------------ closing


def test_close_is_idempotent_and_ends_iteration(backend):
    response = FakeResponse([b"data: a\n\n", b"data: b\n\n"])
    stream = fastsse.Stream(response, decoder=backend)
    assert next(stream).data == "a"
    stream.close()
    stream.close()
    assert stream.closed and response.close_calls == 1
    assert response.body_iterator_closed
    assert list(stream) == []
    with pytest.raises(StopIteration):
        next(stream)
    assert response.close_calls == 1


def test_close_before_iteration_reads_nothing(backend):
    response = FakeResponse([SSE_DATA])
    stream = fastsse.Stream(response, decoder=backend)
    stream.close()
    assert list(stream) == [] and response.chunks_read == 0 and response.close_calls == 1


def test_context_manager_closes(backend):
    response = FakeResponse([b"data: a\n\n", b"data: b\n\n"])
    with fastsse.Stream(response, decoder=backend) as stream:
        assert isinstance(stream, fastsse.Stream)
        assert next(stream).data == "a"
        assert response.close_calls == 0
    assert response.close_calls == 1 and stream.closed
    response = FakeResponse([b"data: a\n\n"])
    with pytest.raises(KeyError):
        with fastsse.Stream(response, decoder=backend):
            raise KeyError("body failed")
    assert response.close_calls == 1


def test_break_closes_at_once(backend):
    response = FakeResponse([b"data: a\n\n", b"data: b\n\n", b"data: c\n\n"])
    stream = fastsse.Stream(response, decoder=backend)
    for event in stream:
        assert event.data == "a"
        break
    # No gc.collect(): leaving the loop itself must release the connection.
    assert response.close_calls == 1 and response.body_iterator_closed
    assert response.chunks_read == 1


def test_break_closes_pipeline_response_at_once(backend):
    http_response = FakeResponse([b"data: a\n\n", b"data: b\n\n"])
    stream = fastsse.Stream(FakePipelineResponse(http_response), decoder=backend)
    for _ in stream:
        break
    assert http_response.close_calls == 1


def test_close_inside_the_loop_stops_it(backend):
    response = FakeResponse([b"data: a\n\n", b"data: b\n\n", b"data: c\n\n"])
    stream = fastsse.Stream(response, decoder=backend)
    seen = []
    for event in stream:
        seen.append(event.data)
        stream.close()
    assert seen == ["a"] and response.close_calls == 1


def test_exception_in_loop_body_closes(backend):
    response = FakeResponse([b"data: a\n\n", b"data: b\n\n"])
    stream = fastsse.Stream(response, decoder=backend)
    with pytest.raises(RuntimeError, match="consumer"):
        for _ in stream:
            raise RuntimeError("consumer failed")
    assert response.close_calls == 1 and response.body_iterator_closed


def test_exception_in_callback_propagates_and_closes(backend):
    response = FakeResponse([b'data: {"n": 1}\n\ndata: not json\n\ndata: {"n": 2}\n\n'])
    items = []
    stream = fastsse.Stream(response, decoder=backend, deserialization_callback=lambda r, o: o)
    with pytest.raises(fastsse.JSONDecodeError):
        for item in stream:
            items.append(item)
    assert items == [{"n": 1}] and response.close_calls == 1


@pytest.mark.parametrize("fmt", ["sse", "jsonl"])
def test_decoder_error_propagates_after_earlier_events_and_closes(backend, fmt):
    if fmt == "sse":
        data = b"data: one\n\ndata: two\n\ndata: " + b"x" * 100 + b"\n\ndata: never\n\n"
        make = lambda: fastsse.SSEDecoder(backend, max_line_size=64)  # noqa: E731
        expected = ["one", "two"]
    else:
        data = b'"one"\n"two"\n"' + b"x" * 100 + b'"\n"never"\n'
        make = lambda: fastsse.JSONLDecoder(backend, max_line_size=64)  # noqa: E731
        expected = ['"one"', '"two"']
    for name, chunks in chunkings(data):
        response = FakeResponse(chunks)
        got = []
        stream = fastsse.Stream(response, decoder=make())
        with pytest.raises(fastsse.LineTooLong):
            for event in stream:
                got.append(event.data)
        assert got == expected, f"chunking {name}"
        assert response.close_calls == 1, f"chunking {name}"


def test_source_error_propagates_after_earlier_events_and_closes(backend):
    response = FakeResponse([b"data: a\n\n", b"data: b\n\n", b"data: c\n\n"], fail_after=2)
    got = []
    stream = fastsse.Stream(response, decoder=backend)
    with pytest.raises(ConnectionResetError):
        for event in stream:
            got.append(event.data)
    assert got == ["a", "b"] and response.close_calls == 1


def test_garbage_collection_closes(backend):
    response = FakeResponse([b"data: a\n\n", b"data: b\n\n"])
    stream = fastsse.Stream(response, decoder=backend)
    assert next(stream).data == "a"
    alive = weakref.ref(stream)
    del stream
    gc.collect()
    assert alive() is None, "the stream was not collected"
    assert response.close_calls == 1
    # Never iterated at all.
    response = FakeResponse([b"data: a\n\n"])
    fastsse.Stream(response, decoder=backend)
    gc.collect()
    assert response.close_calls == 1


def test_return_from_inside_the_loop_closes(backend):
    response = FakeResponse([b"data: a\n\n", b"data: b\n\n"])
    stream = fastsse.Stream(response, decoder=backend)

    def first_event() -> str:
        # The loop's iterator is dropped when this frame returns mid-iteration.
        for event in stream:
            return event.data
        raise AssertionError("no event")

    assert first_event() == "a"
    assert response.close_calls == 1


def test_next_works(backend):
    response = FakeResponse([b"data: a\n\ndata: b\n", b"\n"])
    stream = fastsse.Stream(response, decoder=backend)
    assert [next(stream).data, next(stream).data] == ["a", "b"]
    with pytest.raises(StopIteration):
        next(stream)
    assert response.close_calls == 1 and stream.closed


def test_normal_end_closes_once(backend):
    response = FakeResponse([SSE_DATA])
    stream = fastsse.Stream(response, decoder=backend)
    assert len(list(stream)) == 3
    stream.close()
    with stream:
        pass
    assert response.close_calls == 1
