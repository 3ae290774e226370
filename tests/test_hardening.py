"""The paths around the decoder, probed as a hostile user would, on both backends.

A failed decoder re-raises without accumulating anything and holds no buffers; a stream
raises a limit error right after the events before it, without reading on; the pure
decoder's working memory is bounded by the limits, not by the chunk; re-initialising a
live decoder is refused; the compiled decoder lets other threads run while it scans a
large chunk. Also the decoder interfaces the stream layer relies on: ``last_event_id=``,
``flush()`` starting a new stream, ``dispatched`` and ``error``.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import inspect
import sys
import threading
import time
import traceback
import tracemalloc
from typing import Any, Iterator, List

import pytest
from _chunking import chunkings, decode_all

import fastsse

MIB = 1024 * 1024


def compiled_or_skip(compiled_wanted: bool) -> Any:
    if not compiled_wanted:
        pytest.skip("compiled backend deselected (FASTSSE_NO_EXTENSIONS / --no-extensions)")
    return importlib.import_module("fastsse._decoder")


# ------------------------------------------------------------ retrying a failed decoder

FAILING = [
    ("sse-line", lambda impl: impl.SSEDecoder(max_line_size=8), b"x" * 16, b"data: y\n\n"),
    (
        "sse-event",
        lambda impl: impl.SSEDecoder(max_event_size=4),
        b"data: 12345\n",
        b"data: y\n\n",
    ),
    ("jsonl-line", lambda impl: impl.JSONLDecoder(max_line_size=8), b"x" * 16, b"1\n"),
]


@pytest.mark.parametrize("make, fault, good", [f[1:] for f in FAILING], ids=[f[0] for f in FAILING])
def test_retrying_a_failed_decoder_accumulates_nothing(impl, make, fault, good):
    decoder = make(impl)
    with pytest.raises(fastsse.LimitExceeded) as first:
        decoder.feed(fault)
    message = str(first.value)
    del first

    def retry(times: int) -> BaseException:
        last: Any = None
        for n in range(times):
            try:
                if n % 2:
                    decoder.flush()
                else:
                    decoder.feed(good)
            except fastsse.LimitExceeded as exc:
                last = exc
            else:
                raise AssertionError("a failed decoder accepted input")
        return last  # type: ignore[no-any-return]

    retry(100)  # warm-up: caches, free lists
    gc.collect()
    objects_before = len(gc.get_objects())
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        last = retry(20_000)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    objects_grown = len(gc.get_objects()) - objects_before
    # One raise's traceback, not twenty thousand; nothing kept per retry.
    assert len(traceback.extract_tb(last.__traceback__)) <= 3
    assert str(last) == message and type(last) is type(decoder.error)
    assert decoder.error is not None and decoder.error.__traceback__ is None
    assert grown < 64 * 1024, f"{grown} bytes kept by 20000 retries"
    assert objects_grown < 100, f"{objects_grown} objects kept by 20000 retries"


def test_each_raise_is_a_fresh_copy_of_the_recorded_error(impl):
    decoder = impl.SSEDecoder(max_line_size=8)
    with pytest.raises(fastsse.LineTooLong) as first:
        decoder.feed(b"x" * 16)
    raised = []
    for _ in range(3):
        try:
            decoder.feed(b"")
        except fastsse.LineTooLong as exc:
            raised.append(exc)
    recorded = decoder.error
    assert len({id(first.value), id(recorded), *map(id, raised)}) == 5
    for exc in raised:
        assert (exc.limit, exc.size, str(exc)) == (8, 16, str(first.value))
        assert exc.__cause__ is None and exc.__context__ is None


# ------------------------------------------------------- buffers released at the fault


def traced_now() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


@pytest.mark.parametrize("case", ["sse-pending-line", "sse-event-data", "jsonl-pending-line"])
def test_a_failed_decoder_releases_its_buffers(impl, case):
    tracemalloc.start()
    try:
        baseline = traced_now()
        if case == "sse-pending-line":
            decoder = impl.SSEDecoder(max_line_size=8 * MIB)
            chunks = [b"data: " + b"x" * (6 * MIB), b"x" * (3 * MIB)]
            error = fastsse.LineTooLong
        elif case == "sse-event-data":
            decoder = impl.SSEDecoder(max_event_size=8 * MIB)
            chunks = [b"data: " + b"x" * (3 * MIB) + b"\n" for _ in range(3)]
            error = fastsse.EventTooLarge
        else:
            decoder = impl.JSONLDecoder(max_line_size=8 * MIB)
            chunks = [b'"' + b"x" * (6 * MIB), b"x" * (3 * MIB)]
            error = fastsse.LineTooLong
        *held, last = chunks
        for chunk in held:
            assert decoder.feed(chunk) == []
        holding = traced_now() - baseline
        del chunk, held, chunks
        with pytest.raises(error):
            decoder.feed(last)
        del last
        after = traced_now() - baseline
    finally:
        tracemalloc.stop()
    assert holding > 5 * MIB  # the decoder did hold the stream's bytes
    assert after < MIB, f"the failed decoder still holds {after} bytes"
    assert decoder.error is not None and decoder.error.__traceback__ is None


# ---------------------------------------------- a stream raises without reading again


class ReadOnce:
    """A body whose first chunk is all there is: reading a second one fails the test
    (behind a stalled server, that read would block)."""

    def __init__(self, chunk: bytes) -> None:
        self.chunk = chunk
        self.reads = 0

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        self.reads += 1
        if self.reads > 1:
            raise AssertionError("the stream read another chunk after a limit error")
        return self.chunk

    def __aiter__(self) -> "ReadOnce":
        return self

    async def __anext__(self) -> bytes:
        return next(self)


SSE_FAULT = b"data: one\n\ndata: two\n\ndata: " + b"x" * 100 + b"\n\ndata: never\n\n"
JSONL_FAULT = b'"one"\n"two"\n"' + b"x" * 100 + b'"\n"never"\n'

# How the stream is set up decides which loop runs: the decoder module's compiled or
# twin StreamItems (plain, or a callback), or the stream's own loop (handlers).
LOOPS = {
    "plain": {},
    "callback": {"deserialization_callback": lambda response, payload: payload},
    "terminal": {"terminal_event": "[DONE]"},
    "handlers": {"error_event_names": ["error"]},
}


def stream_options(fmt: str, backend: str, loop: str) -> dict:
    decoder = (
        fastsse.SSEDecoder(backend, max_line_size=64)
        if fmt == "sse"
        else fastsse.JSONLDecoder(backend, max_line_size=64)
    )
    return dict(LOOPS[loop], decoder=decoder)


def item_text(item: Any) -> str:
    return item if isinstance(item, str) else item.json() if hasattr(item, "json") else item


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("fmt", ["sse", "jsonl"])
def test_stream_raises_the_limit_error_without_reading_again(backend, fmt, loop):
    body = ReadOnce(SSE_FAULT if fmt == "sse" else JSONL_FAULT)
    if fmt == "sse" and loop == "callback":
        body = ReadOnce(SSE_FAULT.replace(b"one", b'"one"').replace(b"two", b'"two"'))
    got: List[Any] = []
    with pytest.raises(fastsse.LineTooLong):
        for item in fastsse.Stream(body, **stream_options(fmt, backend, loop)):
            got.append(item_text(item) if loop == "callback" else item.data)
    assert [str(g).strip('"') for g in got] == ["one", "two"]
    assert body.reads == 1


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("fmt", ["sse", "jsonl"])
def test_async_stream_raises_the_limit_error_without_reading_again(backend, fmt, loop):
    body = ReadOnce(SSE_FAULT if fmt == "sse" else JSONL_FAULT)
    if fmt == "sse" and loop == "callback":
        body = ReadOnce(SSE_FAULT.replace(b"one", b'"one"').replace(b"two", b'"two"'))
    got: List[Any] = []

    async def main() -> None:
        async for item in fastsse.AsyncStream(body, **stream_options(fmt, backend, loop)):
            got.append(item_text(item) if loop == "callback" else item.data)

    with pytest.raises(fastsse.LineTooLong):
        asyncio.run(main())
    assert [str(g).strip('"') for g in got] == ["one", "two"]
    assert body.reads == 1


def test_stream_items_raise_the_error_right_after_the_batch(impl):
    decoder = impl.SSEDecoder(max_line_size=8)
    body = ReadOnce(b"data: 1\n\ndata: 123456789\n")
    items = impl.StreamItems(decoder, body, None, None, None, lambda: None)
    assert next(items).data == "1"
    with pytest.raises(fastsse.LineTooLong):
        next(items)
    assert body.reads == 1


def test_terminal_event_before_the_fault_ends_the_stream_cleanly(backend):
    body = ReadOnce(b"data: 1\n\ndata: [DONE]\n\ndata: " + b"x" * 100 + b"\n\n")
    stream = fastsse.Stream(
        body, decoder=fastsse.SSEDecoder(backend, max_line_size=64), terminal_event="[DONE]"
    )
    assert [ev.data for ev in stream] == ["1"]


# ----------------------------------------------------- working memory, not chunk size


def peak_while(feed: Any) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        feed()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    "fmt, pattern",
    [
        ("sse", b"\n"),
        ("sse", b"\r"),
        ("sse", b"\r\n"),
        ("jsonl", b"\n"),
    ],
    ids=["sse-lf", "sse-cr", "sse-crlf", "jsonl-lf"],
)
def test_a_huge_chunk_of_blank_lines_needs_little_memory(impl, fmt, pattern):
    chunk = pattern * (64 * MIB // len(pattern))
    decoder = impl.SSEDecoder() if fmt == "sse" else impl.JSONLDecoder()
    events: List[Any] = []
    peak = peak_while(lambda: events.extend(decoder.feed(chunk)))
    assert events == [] and decoder.flush() == []
    assert peak < MIB, f"feeding 64 MiB of {pattern!r} peaked at {peak / MIB:.1f} MiB"


@pytest.mark.parametrize("fmt", ["sse", "jsonl"])
def test_a_large_chunk_of_short_lines_is_decoded_line_by_line(impl, fmt):
    # 16 MiB of 1 KiB lines that yield nothing (comments; whitespace-only records):
    # splitting the chunk into its lines first would cost as much again.
    line = (b": " if fmt == "sse" else b" ") + b" " * 1000 + b"\n"
    chunk = line * (16 * MIB // len(line))
    decoder = impl.SSEDecoder() if fmt == "sse" else impl.JSONLDecoder()
    tail = b"data: end\n\n" if fmt == "sse" else b'"end"\n'
    events: List[Any] = []
    peak = peak_while(lambda: events.extend(decoder.feed(chunk)))
    events.extend(decoder.feed(tail))
    assert [ev.data for ev in events] == (["end"] if fmt == "sse" else ['"end"'])
    assert peak < MIB, f"peaked at {peak / MIB:.1f} MiB"
    if fmt == "jsonl":
        assert events[0].line == len(chunk) // len(line) + 1


def test_blank_line_runs_are_skipped_exactly(impl):
    # Runs of blank lines of every kind, an id committed by the first blank line of a
    # run, CR at a chunk's end paired with LF at the next one's start.
    data = (
        b"id: 1\ndata: a\n\n\n\r\n\r\r\n"
        + b"id: 2\n\r\r\r\r"
        + b"data: b\r\r\n\n\r"
        + b"\ndata: c\n\n"
    )
    expected = [("a", "1"), ("b", "2"), ("c", "2")]
    for name, chunks in chunkings(data, splits=20):
        events = decode_all(impl.SSEDecoder(), chunks)
        assert [(ev.data, ev.id) for ev in events] == expected, name
    jsonl = b"1\n\n\n\n2\r\n\r\n\n3\n\n"
    for name, chunks in chunkings(jsonl, splits=20):
        records = decode_all(impl.JSONLDecoder(), chunks)
        assert [(r.data, r.line, r.offset) for r in records] == [
            ("1", 1, 0),
            ("2", 5, 5),
            ("3", 8, 11),
        ], name


# ------------------------------------------------------------------------ re-init


@pytest.mark.parametrize("fmt", ["sse", "jsonl"])
def test_reinitialising_a_live_decoder_is_refused(impl, fmt):
    if fmt == "sse":
        decoder = impl.SSEDecoder(max_line_size=100)
        decoder.feed(b"data: pending\n")
        with pytest.raises(RuntimeError, match="already in use"):
            decoder.__init__()
        with pytest.raises(RuntimeError, match="already in use"):
            decoder.__init__(max_line_size=5, last_event_id="x")
        assert [ev.data for ev in decoder.feed(b"\n")] == ["pending"]
    else:
        decoder = impl.JSONLDecoder(max_line_size=100)
        decoder.feed(b'"pending"')
        with pytest.raises(RuntimeError, match="already in use"):
            decoder.__init__()
        assert [r.data for r in decoder.flush()] == ['"pending"']
    assert decoder.max_line_size == 100


# ------------------------------------------------------------------- the GIL


def other_thread_progress(feed: Any, attempts: int = 8) -> int:
    """How many iterations another thread made during ``feed()``: the most of
    ``attempts`` tries, stopping at the first that saw any."""
    stamps: List[float] = []
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            stamps.append(time.perf_counter())
            time.sleep(0.0001)  # gives the GIL back at once: no forced switch needed

    interval = sys.getswitchinterval()
    # Forced switches (the interpreter taking the GIL from a thread that holds it too
    # long) would let the thread run between the timestamps too; only a release by the
    # decoder can then let it run during feed().
    sys.setswitchinterval(5.0)
    thread = threading.Thread(target=spin)
    thread.start()
    best = 0
    try:
        time.sleep(0.01)
        for _ in range(attempts):
            start = time.perf_counter()
            feed()
            end = time.perf_counter()
            best = max(best, sum(1 for t in list(stamps) if start < t < end))
            if best:
                break
            time.sleep(0.005)
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(interval)
    return best


@pytest.mark.parametrize("case", ["sse-cr-only", "sse-long-line", "jsonl-long-line"])
def test_other_threads_run_during_a_large_feed(compiled_wanted, case):
    compiled = compiled_or_skip(compiled_wanted)
    size = 64 * MIB
    if case == "sse-cr-only":
        chunk = b"\r" * size
        make = compiled.SSEDecoder
    elif case == "sse-long-line":
        chunk = b":" + b"c" * size + b"\n"
        make = lambda: compiled.SSEDecoder(max_line_size=2 * size)  # noqa: E731
    else:
        chunk = b"x" * size  # the start of a long record: searched, then kept pending
        make = lambda: compiled.JSONLDecoder(max_line_size=2 * size)  # noqa: E731
    assert other_thread_progress(lambda: make().feed(chunk)) > 0


def test_small_chunks_keep_the_gil(compiled_wanted):
    # A chunk below the threshold is searched holding the GIL: no thread runs during it.
    compiled = compiled_or_skip(compiled_wanted)
    chunk = (b":" + b"c" * 1000 + b"\n") * 500
    decoder = compiled.SSEDecoder()
    assert other_thread_progress(lambda: decoder.feed(chunk), attempts=3) == 0


def test_feeding_one_decoder_from_two_threads_is_refused(compiled_wanted):
    # While one thread's feed() scans without the GIL, another thread's call on the same
    # decoder raises instead of touching its state.
    compiled = compiled_or_skip(compiled_wanted)
    decoder = compiled.SSEDecoder()
    chunk = b"\r" * (64 * MIB)
    refused: List[BaseException] = []
    stop = threading.Event()

    def poke() -> None:
        while not stop.is_set():
            try:
                decoder.feed(b"")
            except RuntimeError as exc:
                refused.append(exc)
            time.sleep(0.0001)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(5.0)
    thread = threading.Thread(target=poke)
    thread.start()
    try:
        for _ in range(8):
            assert decoder.feed(chunk) == []
            if refused:
                break
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(interval)
    assert refused and "another thread" in str(refused[0])
    assert [ev.data for ev in decoder.feed(b"data: ok\n\n")] == ["ok"]


# ------------------------------------------------------------ last_event_id=


def test_a_resumed_decoder_carries_the_last_event_id(backend):
    data = b"data: a\n\nid: 7\ndata: b\n\ndata: c\n\nid\ndata: d\n\n"
    for name, chunks in chunkings(data):
        decoder = fastsse.SSEDecoder(backend, last_event_id="41")
        assert decoder.last_event_id == "41"
        events = decode_all(decoder, chunks)
        assert [(ev.data, ev.id) for ev in events] == [
            ("a", "41"),
            ("b", "7"),
            ("c", "7"),
            ("d", ""),
        ], name
        assert decoder.last_event_id == ""


def test_a_resumed_decoder_keeps_its_id_through_blocks_that_set_none(impl):
    decoder = impl.SSEDecoder(last_event_id="é-1")
    assert decoder.feed(b": ping\n\nevent: x\n\nretry: 5\n\n") == []
    assert decoder.last_event_id == "é-1" and decoder.retry == 5
    [event] = decoder.feed(b"id: \xc3\xa9-1\ndata: same\n\n")
    assert event.id == "é-1"


@pytest.mark.parametrize(
    "value, error",
    [
        (None, TypeError),
        (b"1", TypeError),
        (1, TypeError),
        ("a\x00b", ValueError),
        ("a\nb", ValueError),
        ("a\rb", ValueError),
    ],
)
def test_last_event_id_is_validated(backend, value, error):
    with pytest.raises(error, match="last_event_id"):
        fastsse.SSEDecoder(backend, last_event_id=value)


def test_last_event_id_subclass_is_stored_as_str(impl):
    class Id(str):
        pass

    decoder = impl.SSEDecoder(last_event_id=Id("9"))
    assert type(decoder.last_event_id) is str
    assert type(decoder.feed(b"data: x\n\n")[0].id) is str


# ------------------------------------------------- flush() starts a new stream


def test_flush_starts_a_new_stream_keeping_the_id_and_retry(backend):
    first = b"\xef\xbb\xbfretry: 250\nid: 3\ndata: a\n\ndata: unfinished"
    second = b"\xef\xbb\xbfdata: b\n\nid: 4\ndata: c\n\n"
    for name, chunks in chunkings(second):
        decoder = fastsse.SSEDecoder(backend)
        events = decoder.feed(first)
        assert decoder.flush() == [] and decoder.discarded == len(b"data: unfinished")
        for chunk in chunks:
            events.extend(decoder.feed(chunk))
        assert [(ev.data, ev.id) for ev in events] == [("a", "3"), ("b", "3"), ("c", "4")], name
        assert decoder.retry == 250 and decoder.last_event_id == "4"


def test_flush_discards_the_pending_event_and_line(impl):
    decoder = impl.SSEDecoder()
    decoder.feed(b"event: half\nid: 9\ndata: lost\ndata: also lo")
    assert decoder.flush() == []
    # The uncommitted id, type and data are gone; a CR before the flush pairs with nothing.
    assert [(ev.event, ev.data, ev.id) for ev in decoder.feed(b"data: new\n\n")] == [
        ("message", "new", "")
    ]
    decoder.feed(b"data: x\r")
    decoder.flush()
    assert [ev.data for ev in decoder.feed(b"\ndata: y\n\n")] == ["y"]


def test_a_bom_split_over_chunks_after_flush_is_stripped(impl):
    decoder = impl.SSEDecoder()
    decoder.feed(b"data: a\n\n")
    decoder.flush()
    events = []
    for piece in (b"\xef", b"\xbb", b"\xbfdata: b\n\n"):
        events += decoder.feed(piece)
    assert [ev.data for ev in events] == ["b"]
    # Only at a stream's start: a BOM later in it is data.
    assert decoder.feed(b"\xef\xbb\xbfdata: c\n\n") == []


def test_jsonl_flush_returns_the_last_record_then_starts_anew(backend):
    second = b'\xef\xbb\xbf{"n": 3}\n{"n": 4}'
    for name, chunks in chunkings(second):
        decoder = fastsse.JSONLDecoder(backend)
        records = decoder.feed(b'{"n": 1}\n{"n": 2}')
        records += decoder.flush()
        for chunk in chunks:
            records += decoder.feed(chunk)
        records += decoder.flush()
        assert [(r.json()["n"], r.line, r.offset) for r in records] == [
            (1, 1, 0),
            (2, 2, 9),
            (3, 1, 3),
            (4, 2, 12),
        ], name


# ------------------------------------------------------------- dispatched and error


def test_dispatched_counts_what_feed_and_flush_returned(backend):
    data = b"data: 1\n\n: ping\n\nid: 2\n\ndata: 2\n\ndata: 3\n\n"
    for name, chunks in chunkings(data):
        decoder = fastsse.SSEDecoder(backend)
        assert decoder.dispatched == 0
        events = decode_all(decoder, chunks)
        assert decoder.dispatched == len(events) == 3, name
    jsonl = b"1\n\n2\n3"
    for name, chunks in chunkings(jsonl):
        decoder = fastsse.JSONLDecoder(backend)
        records = decode_all(decoder, chunks)
        assert decoder.dispatched == len(records) == 3, name


def test_dispatched_counts_the_events_before_a_fault(impl):
    decoder = impl.SSEDecoder(max_line_size=16)
    assert len(decoder.feed(b"data: 1\n\ndata: 2\n\n" + b"x" * 20)) == 2
    with pytest.raises(fastsse.LineTooLong):
        decoder.feed(b"data: 3\n\n")
    assert decoder.dispatched == 2


@pytest.mark.parametrize("callback", [None, lambda response, payload: payload])
def test_dispatched_counts_the_stream_loops_items(impl, callback):
    # One event per chunk, the shape the compiled loop decodes without the event state.
    chunks = [b"data: %d\n\n" % n for n in range(5)] + [b"data: 5\n\ndata: 6\n\n"]
    decoder = impl.SSEDecoder()
    items = list(impl.StreamItems(decoder, iter(chunks), callback, None, None, lambda: None))
    assert len(items) == decoder.dispatched == 7


def test_error_is_none_until_a_limit_ends_the_stream(impl):
    decoder = impl.SSEDecoder(max_event_size=4)
    assert decoder.error is None
    decoder.feed(b"data: 1234\n\n")
    assert decoder.error is None
    assert decoder.feed(b"data: ok\n\ndata: 12345\n") != []
    assert isinstance(decoder.error, fastsse.EventTooLarge)
    assert decoder.error.limit == 4 and decoder.error.size == 5
    jsonl = impl.JSONLDecoder(max_line_size=4)
    with pytest.raises(fastsse.LineTooLong):
        jsonl.feed(b"123456")
    assert isinstance(jsonl.error, fastsse.LineTooLong)
    jsonl = impl.JSONLDecoder(max_line_size=4)
    jsonl.feed(b"1234\r")  # at the end of what arrived, the CR of a CRLF may yet follow
    assert jsonl.error is None
    with pytest.raises(fastsse.LineTooLong):
        jsonl.flush()
    assert isinstance(jsonl.error, fastsse.LineTooLong)


def test_properties_are_read_only(impl):
    decoder = impl.SSEDecoder()
    for name in ("dispatched", "error", "last_event_id", "retry"):
        with pytest.raises(AttributeError):
            setattr(decoder, name, None)


# ------------------------------------------------------------- compiled docstrings

PUBLIC_CLASSES = [
    "ServerSentEvent",
    "JSONLEvent",
    "SSEDecoder",
    "JSONLDecoder",
    "StreamItems",
    "AsyncStreamItems",
    "GuardedItems",
]


def without_signature(doc: Any) -> str:
    # Cython embeds the signature as the docstring's first line.
    text = inspect.cleandoc(doc or "")
    first, _, rest = text.partition("\n\n")
    return rest if "(" in first and first.endswith(")") and rest else text


@pytest.mark.parametrize("name", PUBLIC_CLASSES)
def test_compiled_classes_have_the_twins_docstrings(compiled_wanted, name):
    compiled = compiled_or_skip(compiled_wanted)
    twin = importlib.import_module("fastsse._decoder_py")
    compiled_class, twin_class = getattr(compiled, name), getattr(twin, name)
    assert without_signature(compiled_class.__doc__) == inspect.cleandoc(twin_class.__doc__)
    members = [m for m in dir(twin_class) if not m.startswith("_")]
    assert members, name
    for member in members:
        twin_doc = inspect.getdoc(getattr(twin_class, member))
        assert twin_doc, f"{name}.{member} has no docstring"
        compiled_doc = without_signature(getattr(compiled_class, member).__doc__)
        assert compiled_doc == twin_doc, f"{name}.{member}"


# ------------------------------------- large chunks: the search cut at its GIL window

WINDOW = 64 * 1024  # the compiled decoder's first, GIL-held, part of a long search


@pytest.mark.parametrize("ending", [b"\n", b"\r", b"\r\n"], ids=["lf", "cr", "crlf"])
def test_large_chunks_find_line_ends_at_every_window_boundary(impl, ending):
    from oracle import parse_sse

    pieces = []
    for length in (WINDOW - 2, WINDOW - 1, WINDOW, WINDOW + 1, WINDOW + 2, 3 * WINDOW):
        pieces.append(b"data: " + b"x" * (length - 6) + ending + ending)
    for run in (WINDOW - 1, WINDOW, WINDOW + 1, 3 * WINDOW):
        pieces.append(b"id: %d\ndata: r\n" % run + ending * run)
    # A comment of over 1 MiB at the end keeps every search above the threshold.
    data = b"".join(pieces) + b":" + b"f" * (MIB + WINDOW) + ending + b"data: end" + ending * 2
    expected = [tuple(ev) for ev in parse_sse(data).events]
    assert len(expected) == 11
    cuts = [[data], [data[: len(data) // 3], data[len(data) // 3 :]], [data[:-1], data[-1:]]]
    for chunks in cuts:
        events = decode_all(impl.SSEDecoder(), chunks)
        assert [(ev.event, ev.data, ev.id, ev.retry) for ev in events] == expected


def test_large_jsonl_chunks_find_line_ends_at_every_window_boundary(impl):
    from oracle import parse_jsonl

    pieces = []
    for length in (WINDOW - 2, WINDOW - 1, WINDOW, WINDOW + 1, 3 * WINDOW):
        for ending in (b"\n", b"\r\n"):
            pieces.append(b'"' + b"x" * (length - 2) + b'"' + ending)
    for run in (WINDOW - 1, WINDOW, WINDOW + 1, 3 * WINDOW):
        pieces.append(b"%d\n" % run + b"\n" * run)
    data = b"".join(pieces) + b" " * (MIB + WINDOW) + b"\n1"
    expected = [(r.text, r.line, r.offset) for r in parse_jsonl(data)]
    assert len(expected) == 15
    for chunks in ([data], [data[: len(data) // 3], data[len(data) // 3 :]]):
        records = decode_all(impl.JSONLDecoder(), chunks)
        assert [(r.data.encode(), r.line, r.offset) for r in records] == expected


def test_the_compiled_modules_stub_names_the_twins_public_surface():
    import ast
    import pathlib

    twin = importlib.import_module("fastsse._decoder_py")
    stub = pathlib.Path(twin.__file__).with_name("_decoder.pyi")
    tree = ast.parse(stub.read_text(encoding="utf-8"))
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    for name in PUBLIC_CLASSES:
        assert name in classes, name
        declared = set()
        for cls in [classes[name]] + [
            classes[base.id] for base in classes[name].bases if isinstance(base, ast.Name)
        ]:
            declared |= {n.name for n in cls.body if isinstance(n, ast.FunctionDef)}
        public = {m for m in dir(getattr(twin, name)) if not m.startswith("_")}
        assert public <= declared, (name, public - declared)
