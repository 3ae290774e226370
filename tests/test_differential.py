"""Differential fuzzing: compiled decoder == pure-Python twin == spec-literal oracle.

Hypothesis builds hostile streams from fragments chosen to hit every rule a decoder can
get wrong (line endings split across chunks, BOMs, NULs, look-alike line separators,
invalid and truncated UTF-8, retry values ``int()`` would accept), cuts them at random
points, and checks each backend against ``tests/oracle.py``.

The ``backend`` fixture runs each property twice: "py" checks the twin against the
oracle; "c" checks the compiled decoder and the twin against the oracle in the same
examples. With the compiled backend deselected (FASTSSE_NO_EXTENSIONS,
``--no-extensions``) the "c" leg is reported as skipped, never dropped silently.

Examples are not derandomized: every run explores new streams, and a failure prints
the falsifying example plus a ``@reproduce_failure`` blob, so a CI failure can be
replayed from its log alone.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Dict, List, Sequence, Tuple

import orjson
import pytest
from _chunking import bytewise, decode_all, whole
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from oracle import parse_jsonl, parse_sse

import fastsse

# Sized for the whole file (both legs) to take about 30 s on 2 cores; the oracle and
# the data generation, not the decoders, are most of that. An example costs ~2 ms for
# SSE and ~3 ms for JSONL (JSON value generation).
SSE_SETTINGS = settings(
    max_examples=1500,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
JSONL_SETTINGS = settings(SSE_SETTINGS, max_examples=1000)

# --------------------------------------------------------------------------- helpers


def modules_under_test(backend: str) -> List[Tuple[str, Any]]:
    """(label, module) pairs compared with the oracle for this leg of the suite."""
    twin = ("python twin", importlib.import_module("fastsse._decoder_py"))
    if backend == "fast":
        return [("compiled", importlib.import_module("fastsse._decoder")), twin]
    return [twin]


@st.composite
def chunked(
    draw: Callable[..., Any], streams: st.SearchStrategy[bytes]
) -> Tuple[bytes, List[bytes]]:
    """A stream and a random chunking of it (repeated cut points give empty chunks)."""
    stream = draw(streams)
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    bounds = [0, *cuts, len(stream)]
    chunks = [stream[start:end] for start, end in zip(bounds, bounds[1:])]
    # feed() accepts any bytes-like object; a view or bytearray must decode the same.
    chunk_type = draw(st.sampled_from([bytes, bytearray, memoryview]))
    return stream, [chunk_type(chunk) for chunk in chunks]


def prefixes_after_each_chunk(chunks: Sequence[bytes]) -> List[bytes]:
    prefixes = []
    seen = b""
    for chunk in chunks:
        seen += bytes(chunk)
        prefixes.append(seen)
    return prefixes


def mismatch_report(stream: bytes, chunks: Sequence[bytes], outcomes: Dict[str, Any]) -> str:
    lines = [f"stream {stream!r}", f"chunks {[bytes(c) for c in chunks]!r}"]
    lines += [f"  {label:12} {outcome!r}" for label, outcome in outcomes.items()]
    return "\n".join(lines)


# ------------------------------------------------------------------------------- SSE

DATA_FIELDS = [b"data", b"data:", b"data: ", b"data:  ", b"data:x", b"data: [DONE]"]
OTHER_FIELDS = [
    b"Data:",
    b"data :",
    b"datax:",
    b" data:",
    b"\xef\xbb\xbfdata:",
    b"event:",
    b"event: ",
    b"event: ping",
    b"event:\xff",
    b"event",
    b"id:",
    b"id: ",
    b"id: 1",
    b"id:2",
    b"id:\x00",
    b"id: a\x00b",
    b"id:\xe2\x82",
    b"id",
    b"retry:",
    b"retry: ",
    b"retry:0",
    b"retry: 1000",
    b"retry:1000",
    b"retry:+5",
    b"retry: 5",
    b"retry:5 ",
    b"retry:-1",
    b"retry:1_0",
    b"retry:1e3",
    b"retry:\xd9\xa3",
    b"retry",
    b"retry:00000000000000000000000042",
    b"retry:99999999999999999999999",
    b"retry:18446744073709551615",
    b"retry:018446744073709551615",
    b"retry:18446744073709551616",
    b":",
    b": comment",
    b": ping",
    b"",
]
SSE_TEXT = [
    b" ",
    b"x",
    b":",
    b"\t",
    b'{"a":1}',
    b"[DONE]",
    b"\x00",
    "\u2028".encode(),
    "\u2029".encode(),
    "\u0085".encode(),
    b"\x0b",
    b"\x0c",
    b"\x1c",
    b"\xef\xbb\xbf",
    b"\xef\xbb",
    b"\xff",
    b"\xe2\x82",
    b"\xf0\x9f\x98\x80",
    b"\xc3\xa9",
    b"\xed\xa0\x80",
]
LINE_ENDINGS = [b"\r", b"\n", b"\r\n"]

sse_lines = st.builds(
    lambda field, text, ending: field + b"".join(text) + ending,
    st.sampled_from(DATA_FIELDS) | st.sampled_from(OTHER_FIELDS),
    st.lists(st.sampled_from(SSE_TEXT), max_size=3),
    st.sampled_from(LINE_ENDINGS),
)
# A block is lines then a line ending that (usually) makes a blank line; "\r" + "\n" is
# one CRLF instead, which is exactly the ambiguity a decoder must get right.
sse_blocks = st.builds(
    lambda lines, ending: b"".join(lines) + ending,
    st.lists(sse_lines, min_size=1, max_size=4),
    st.sampled_from(LINE_ENDINGS),
)
# Loose fragments between blocks: anything the vocabulary has, or a few random bytes.
sse_fragments = st.one_of(
    st.sampled_from(DATA_FIELDS + OTHER_FIELDS + SSE_TEXT + LINE_ENDINGS),
    st.binary(max_size=3),
)
sse_streams = st.builds(
    lambda head, parts, tail: head + b"".join(parts) + tail,
    st.sampled_from([b"", b"", b"\xef\xbb\xbf", b"\xef\xbb\xbf\xef\xbb\xbf", b"\xef\xbb", b"\r\n"]),
    st.lists(st.one_of(sse_blocks, sse_blocks, sse_fragments), max_size=8),
    # An unterminated final block, sometimes: it must be discarded.
    st.just(b"") | sse_lines.map(lambda line: line.rstrip(b"\r\n")) | sse_fragments,
)


def with_examples(*samples: Tuple[bytes, List[bytes]]) -> Callable[[Any], Any]:
    """Cases every run must check, whatever hypothesis draws: each (stream, chunks)."""

    def decorate(test: Any) -> Any:
        for stream, chunks in samples:
            assert b"".join(chunks) == stream
            test = example(sample=(stream, chunks))(test)
        return test

    return decorate


SSE_EXAMPLES = with_examples(
    # CR ends a chunk, then a lone CR (a blank line, dispatch now), then an LF that is
    # not a line of its own; an empty chunk between a CR and its LF.
    (
        b"data: a\r\r\ndata: b\r\n\r\n",
        [b"data: a\r", b"\r", b"\ndata: b\r", b"", b"\n\r\n"],
    ),
    # The stream-start BOM split across chunks, then a second BOM that is not stripped.
    (
        b"\xef\xbb\xbf\xef\xbb\xbfdata:1\n\ndata:2\n\n",
        [b"\xef", b"\xbb", b"\xbf\xef\xbb", b"\xbfdata:1\n\ndata:2\n\n"],
    ),
    # retry one past 2**64-1 split mid-number; U+2028 split mid-character; a lone 0x85.
    (
        b"id: 1\nretry:18446744073709551616\n\nretry:18446744073709551615\ndata:\xe2\x80\xa8\x85\n\n",
        [
            b"id: 1\nretry:1844674407370955161",
            b"6\n\nretry:18446744073709551615\ndata:\xe2",
            b"\x80\xa8\x85\n\n",
        ],
    ),
    # retry values int() would take; an id with NUL; an unterminated final event.
    (
        b"retry:+5\nretry:\xd9\xa3\nretry: 5\nid:\x00\ndata\n\ndata:x",
        [b"retry:+5\nretry:\xd9\xa3\nretry: 5\nid:\x00\ndata\n\ndata:x"],
    ),
)


def sse_snapshot(events: List[Any], decoder: Any) -> Tuple[Any, ...]:
    return (
        [(ev.event, ev.data, ev.id, ev.retry) for ev in events],
        decoder.last_event_id,
        decoder.retry,
    )


def sse_oracle_snapshot(stream: bytes) -> Tuple[Any, ...]:
    outcome = parse_sse(stream)
    return (outcome.events, outcome.last_event_id, outcome.reconnection_time)


@SSE_SETTINGS
@given(sample=chunked(sse_streams))
@SSE_EXAMPLES
def test_sse_backends_match_oracle(backend, sample):
    stream, chunks = sample
    expected = sse_oracle_snapshot(stream)
    outcomes: Dict[str, Any] = {"oracle": expected}
    for label, module in modules_under_test(backend):
        for chunking_name, pieces in (
            ("whole", whole(stream)),
            ("bytewise", bytewise(stream)),
            ("random", chunks),
        ):
            decoder = module.SSEDecoder()
            outcomes[f"{label} {chunking_name}"] = sse_snapshot(
                decode_all(decoder, pieces), decoder
            )
    assert all(outcome == expected for outcome in outcomes.values()), mismatch_report(
        stream, chunks, outcomes
    )


@SSE_SETTINGS
@given(sample=chunked(sse_streams))
@SSE_EXAMPLES
def test_sse_events_arrive_as_soon_as_their_blank_line_does(backend, sample):
    """After each chunk, the decoder has dispatched exactly what the oracle finds in the
    bytes so far: no event held back for the next chunk (a CR-ended blank line included),
    none dispatched early."""
    stream, chunks = sample
    for label, module in modules_under_test(backend):
        decoder = module.SSEDecoder()
        events: List[Any] = []
        for prefix, chunk in zip(prefixes_after_each_chunk(chunks), chunks):
            events.extend(decoder.feed(chunk))
            expected = sse_oracle_snapshot(prefix)
            actual = sse_snapshot(events, decoder)
            assert actual == expected, mismatch_report(
                prefix, chunks, {"oracle": expected, label: actual}
            )


# ----------------------------------------------------------------------------- JSONL

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=6,
)
# orjson renders JSON with raw U+2028 / U+0085 and the like inside strings: data, not line ends.
valid_records = json_values.map(orjson.dumps)
invalid_records = st.sampled_from(
    [
        b"{",
        b"}",
        b"[1,]",
        b'{"a":}',
        b"NaN",
        b"Infinity",
        b"nul",
        b"tru",
        b"01",
        b"1.",
        b".5",
        b'"a\tb"',
        b'"\x01"',
        b"'a'",
        b'{"a":1}{"b":2}',
        b"1 2",
        b'"\xff"',
        b'"\xe2\x82"',
        b"\xef\xbb\xbf1",
        b"\x00",
        b'"\xed\xa0\x80"',
        b"\x0b1",
        b"\x0c",
        "\u00a01".encode(),
    ]
)
blank_records = st.sampled_from([b"", b" ", b"\t", b"\r", b" \t \r", b"\r\r"])
jsonl_records = st.one_of(valid_records, invalid_records, blank_records, st.binary(max_size=4))
jsonl_padding = st.sampled_from([b"", b"", b" ", b"\t", b"\r", b" \r"])
jsonl_line_endings = st.sampled_from([b"\n", b"\n", b"\r\n", b"\r", b"\r\r\n"])


@st.composite
def jsonl_streams(draw: Callable[..., Any]) -> bytes:
    lines = draw(
        st.lists(
            st.tuples(jsonl_padding, jsonl_records, jsonl_padding, jsonl_line_endings), max_size=12
        )
    )
    stream = b"".join(b"".join(parts) for parts in lines)
    head = draw(
        st.sampled_from([b"", b"", b"\xef\xbb\xbf", b"\xef\xbb", b"\xef\xbb\xbf\xef\xbb\xbf"])
    )
    # A final line without LF, sometimes: it is a record too.
    tail = draw(st.just(b"") | st.tuples(jsonl_padding, jsonl_records, jsonl_padding).map(b"".join))
    return head + stream + tail


JSONL_EXAMPLES = with_examples(
    # BOM and CRLF split across chunks, blank and whitespace lines, a CR kept inside a
    # line, invalid JSON, invalid UTF-8, a final record without LF.
    (
        b'\xef\xbb\xbf{"a":1}\r\n\r\n \t\n[1,]\r\r\n"\xff"\n2',
        [b"\xef\xbb", b'\xbf{"a":1}\r', b"\n\r\n \t\n[1,]\r\r", b'\n"\xff"\n2'],
    ),
    # U+2028 split mid-character; a lone CR is not a record end.
    (b'"\xe2\x80\xa8"\r1\n', [b'"\xe2\x80', b'\xa8"\r1\n']),
    # A final line without LF that ends in CR: only a CR right before an LF belongs to
    # the line ending (DESIGN.md section 3), so this CR is part of the record.
    (b"1\n2\r", [b"1\n2\r"]),
)


def jsonl_snapshot(events: List[Any]) -> List[Tuple[Any, ...]]:
    # .data raises for invalid UTF-8; the exact bytes are compared by event equality below.
    snapshot = []
    for ev in events:
        try:
            text: Any = ev.data
        except fastsse.JSONDecodeError as exc:
            text = ("invalid UTF-8", exc.line, exc.offset)
        snapshot.append((text, ev.line, ev.offset))
    return snapshot


def jsonl_oracle_snapshot(records: List[Any]) -> List[Tuple[Any, ...]]:
    snapshot = []
    for record in records:
        try:
            text: Any = record.text.decode("utf-8")
        except UnicodeDecodeError:
            text = ("invalid UTF-8", record.line, record.offset)
        snapshot.append((text, record.line, record.offset))
    return snapshot


def check_json_matches_orjson(event: Any, raw: bytes, line: int) -> None:
    try:
        expected = orjson.loads(raw)
    except orjson.JSONDecodeError:
        with pytest.raises(fastsse.JSONDecodeError) as caught:
            event.json()
        assert caught.value.line == line, (
            f"JSONDecodeError.line {caught.value.line}, record on line {line}"
        )
    else:
        assert event.json() == expected, f"json() of {raw!r}"


@JSONL_SETTINGS
@given(sample=chunked(jsonl_streams()))
@JSONL_EXAMPLES
def test_jsonl_backends_match_oracle(backend, sample):
    stream, chunks = sample
    records = parse_jsonl(stream)
    expected = jsonl_oracle_snapshot(records)
    outcomes: Dict[str, Any] = {"oracle": expected}
    decoded: Dict[str, List[Any]] = {}
    for label, module in modules_under_test(backend):
        for chunking_name, pieces in (
            ("whole", whole(stream)),
            ("bytewise", bytewise(stream)),
            ("random", chunks),
        ):
            events = decode_all(module.JSONLDecoder(), pieces)
            decoded[f"{label} {chunking_name}"] = events
            outcomes[f"{label} {chunking_name}"] = jsonl_snapshot(events)
    assert all(outcome == expected for outcome in outcomes.values()), mismatch_report(
        stream, chunks, outcomes
    )

    for label, _ in modules_under_test(backend):
        events = decoded[f"{label} random"]
        # Byte-exact, invalid UTF-8 included: an event equals one built from the oracle's bytes.
        # fastsse.JSONLEvent: both backends return the one public class of the process.
        assert events == [fastsse.JSONLEvent(r.text, r.line, r.offset) for r in records], label
        for event, record in zip(events, records):
            check_json_matches_orjson(event, record.text, record.line)


@JSONL_SETTINGS
@given(sample=chunked(jsonl_streams()))
@JSONL_EXAMPLES
def test_jsonl_records_arrive_as_soon_as_their_lf_does(backend, sample):
    """After each chunk, exactly the records whose LF has arrived have been returned."""
    stream, chunks = sample
    for label, module in modules_under_test(backend):
        decoder = module.JSONLDecoder()
        events: List[Any] = []
        for prefix, chunk in zip(prefixes_after_each_chunk(chunks), chunks):
            events.extend(decoder.feed(chunk))
            expected = jsonl_oracle_snapshot(parse_jsonl(prefix, at_end_of_stream=False))
            actual = jsonl_snapshot(events)
            assert actual == expected, mismatch_report(
                prefix, chunks, {"oracle": expected, label: actual}
            )


# ----------------------------------------------------------------------- stream loop
# StreamItems and AsyncStreamItems are the loops Stream and AsyncStream run for most
# streams: the compiled ones compare the terminal event's data as bytes and parse JSON
# from C, the twin's do both as the text says. All must give what the oracle's events give.

LOOP_SETTINGS = settings(SSE_SETTINGS, max_examples=500)
TERMINALS = st.sampled_from([None, "[DONE]", "x", "1", "\ufffd", "\ud800", "", " "])


def wrap(response: Any, payload: Any) -> Tuple[str, Any, Any]:
    return ("item", response, payload)


async def awrap(response: Any, payload: Any) -> Tuple[str, Any, Any]:
    return ("item", response, payload)


async def async_chunks(chunks: Sequence[Any]) -> Any:
    for chunk in chunks:
        yield chunk


def run_without_a_loop(coroutine: Any) -> Any:
    # The async loop's chunks and callbacks never suspend, so no event loop is needed.
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("the coroutine suspended")


def stream_loop_outcome(
    module: Any, decoder: Any, chunks: Sequence[Any], callback: Any, terminal: Any
) -> Tuple[Any, ...]:
    """(items, the error that ended them or None, on_end calls)."""
    ends: List[bool] = []
    items = module.StreamItems(
        decoder, iter(chunks), callback, "response", terminal, lambda: ends.append(True)
    )
    seen: List[Any] = []
    error = None
    try:
        for item in items:
            seen.append(item)
    except fastsse.JSONDecodeError:
        error = "JSONDecodeError"
    return seen, error, len(ends)


def async_stream_loop_outcome(
    module: Any, decoder: Any, chunks: Sequence[Any], callback: Any, terminal: Any
) -> Tuple[Any, ...]:
    """As stream_loop_outcome, for AsyncStreamItems, with the callback as a coroutine function."""
    ends: List[bool] = []
    callback = awrap if callback is wrap else callback
    items = module.AsyncStreamItems(
        decoder,
        async_chunks(chunks),
        callback,
        callback is awrap,
        "response",
        terminal,
        lambda: ends.append(True),
    )

    async def collect() -> Tuple[Any, ...]:
        seen: List[Any] = []
        error = None
        try:
            async for item in items:
                seen.append(item)
        except fastsse.JSONDecodeError:
            error = "JSONDecodeError"
        return seen, error, len(ends)

    return run_without_a_loop(collect())  # type: ignore[no-any-return]


def expected_sse_loop(stream: bytes, callback: Any, terminal: Any) -> Tuple[Any, ...]:
    seen: List[Any] = []
    for event, data, id, retry in parse_sse(stream).events:
        if terminal is not None and data == terminal:
            return seen, None
        if callback is None:
            seen.append((event, data, id, retry))
            continue
        try:
            seen.append(callback("response", orjson.loads(data)))
        except orjson.JSONDecodeError:
            return seen, "JSONDecodeError"
    return seen, None


def expected_jsonl_loop(stream: bytes, callback: Any, terminal: Any) -> Tuple[Any, ...]:
    seen: List[Any] = []
    for record in parse_jsonl(stream):
        try:
            text = record.text.decode("utf-8")
        except UnicodeDecodeError:
            if terminal is None and callback is None:
                seen.append(fastsse.JSONLEvent(record.text, record.line, record.offset))
                continue
            return seen, "JSONDecodeError"  # from .data (the terminal check) or json()
        if terminal is not None and text == terminal:
            return seen, None
        if callback is None:
            seen.append(fastsse.JSONLEvent(record.text, record.line, record.offset))
            continue
        try:
            seen.append(callback("response", orjson.loads(record.text)))
        except orjson.JSONDecodeError:
            return seen, "JSONDecodeError"
    return seen, None


def check_stream_loops(
    backend: str,
    decoder_name: str,
    sample: Tuple[bytes, List[Any]],
    callback: Any,
    terminal: Any,
    expected: Tuple[Any, ...],
    summary: Callable[[List[Any]], List[Any]],
) -> None:
    """Every loop of every module under test gives ``expected``, calls on_end alike, and
    leaves its SSE decoder with the same ``last_event_id`` and ``retry`` (a stream shows
    them): the oracle's, when the loop read the whole stream."""
    stream, chunks = sample
    outcomes: Dict[str, Any] = {"oracle": expected}
    ends = set()
    states: Dict[str, Any] = {}
    for label, module in modules_under_test(backend):
        for kind, run in (("", stream_loop_outcome), (" async", async_stream_loop_outcome)):
            decoder = getattr(module, decoder_name)()
            items, error, end_calls = run(module, decoder, chunks, callback, terminal)
            outcomes[label + kind] = (summary(items), error)
            ends.add(end_calls)
            states[label + kind] = (
                getattr(decoder, "last_event_id", None),
                getattr(decoder, "retry", None),
            )
    assert all(outcome == expected for outcome in outcomes.values()), mismatch_report(
        stream, chunks, outcomes
    )
    assert len(ends) == 1, f"on_end called {ends} times"
    if decoder_name == "SSEDecoder" and terminal is None and expected[1] is None:
        oracle = parse_sse(stream)
        states["oracle"] = (oracle.last_event_id, oracle.reconnection_time)
    assert len(set(states.values())) == 1, mismatch_report(stream, chunks, states)


@LOOP_SETTINGS
@given(sample=chunked(sse_streams), terminal=TERMINALS, callback=st.sampled_from([None, wrap]))
@example(
    sample=(b"data: \xff\n\ndata: 1\n\n", [b"data: \xff\n\ndata: 1\n\n"]),
    terminal="\ufffd",
    callback=wrap,
)
@example(
    sample=(b"data: [DONE]\n\ndata: 1\n\n", [b"data: [DON", b"E]\n\ndata: 1\n\n"]),
    terminal="[DONE]",
    callback=None,
)
def test_sse_stream_loops_match_oracle(backend, sample, terminal, callback):
    stream = sample[0]

    def summary(items: List[Any]) -> List[Any]:
        return items if callback else [(ev.event, ev.data, ev.id, ev.retry) for ev in items]

    expected = expected_sse_loop(stream, callback, terminal)
    check_stream_loops(backend, "SSEDecoder", sample, callback, terminal, expected, summary)


# Chunks that are one whole event each ("data:", a value, LF LF), the shape a compiled
# loop with a callback takes without its general scanner, mixed with chunks that leave
# the decoder inside an event or mid-line, where it must not.
whole_event_chunks = st.builds(
    lambda field, text, ending: field + b"".join(text) + ending,
    st.sampled_from(
        [
            b"data:",
            b"data: ",
            b"data:  ",
            b"data: [DONE]",
            b"data:1",
            b"data: 1",
            b'data: {"a":[1]}',
        ]
    ),
    st.lists(st.sampled_from(SSE_TEXT + [b"\r", b"\n"]), max_size=3),
    st.sampled_from([b"\n\n", b"\n\n", b"\r\n\n", b"\n\r\n", b"\n"]),
)
# Chunks after which the decoder is not between events (or, for the stream's first
# chunk, has yet to see whether a BOM starts it).
state_chunks = st.sampled_from(
    [
        b"data: x\n",
        b"data: 1\n",
        b"data:\n",
        b"event: e\n",
        b"id: 1\n",
        b"id\n",
        b"retry: 5\n",
        b"da",
        b"data: 1",
        b"data: 1\r",
        b"\r",
        b"\n",
        b"\xef\xbb\xbf",
        b"\xef\xbb",
        b": c\n",
    ]
)
whole_event_streams = st.lists(
    st.tuples(
        st.just(b"") | state_chunks | sse_lines | sse_blocks | sse_fragments, whole_event_chunks
    ),
    max_size=6,
).map(lambda pairs: [chunk for pair in pairs for chunk in pair])


@LOOP_SETTINGS
@given(parts=whole_event_streams, terminal=TERMINALS, callback=st.sampled_from([None, wrap]))
@example(
    parts=[b"data: 1\n\n", b"event: e\n", b"data: 2\n\n", b"id: 7\n", b"data: 3\n\n"],
    terminal=None,
    callback=wrap,
)
@example(
    parts=[b"\xef\xbb\xbfdata: 1\n\n", b"data: 2\n\n", b"retry: 5\n", b"data: 3\n\n"],
    terminal=None,
    callback=wrap,
)
@example(
    parts=[b"data: 1\r", b"\n\n", b"data: 2\n\n", b"da", b"ta: 3\n\n", b"data: 4\n\n"],
    terminal="4",
    callback=wrap,
)
@example(parts=[b"data:\n\n"], terminal="", callback=wrap)
@example(
    parts=[b"data: \xff\n\n", b"data: [DONE]\n\n", b"data: 1\n\n"], terminal="[DONE]", callback=wrap
)
@example(parts=[b"data: 1\n\n", b"\xef\xbb\xbf", b"data: 2\n\n"], terminal=None, callback=wrap)
@example(parts=[b"id: 7\n", b"data: 1\n\n"], terminal=None, callback=wrap)
def test_sse_stream_loops_over_whole_event_chunks_match_oracle(backend, parts, terminal, callback):
    stream = b"".join(parts)

    def summary(items: List[Any]) -> List[Any]:
        return items if callback else [(ev.event, ev.data, ev.id, ev.retry) for ev in items]

    expected = expected_sse_loop(stream, callback, terminal)
    check_stream_loops(
        backend, "SSEDecoder", (stream, parts), callback, terminal, expected, summary
    )


@LOOP_SETTINGS
@given(sample=chunked(jsonl_streams()), terminal=TERMINALS, callback=st.sampled_from([None, wrap]))
@example(sample=(b'"\xff"\n1\n', [b'"\xff"\n1\n']), terminal="1", callback=None)
@example(sample=(b'"\xff"\n1\n', [b'"\xff"\n1\n']), terminal="1", callback=wrap)
def test_jsonl_stream_loops_match_oracle(backend, sample, terminal, callback):
    stream = sample[0]
    expected = expected_jsonl_loop(stream, callback, terminal)
    check_stream_loops(backend, "JSONLDecoder", sample, callback, terminal, expected, list)
