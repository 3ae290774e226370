"""Size limits, the typed errors, JSON strictness and backend selection errors.

Limits (DESIGN.md section 4): a line or event exactly at its limit passes, one byte
over raises, under every chunking and on both backends; every event completed before
the fault is delivered; the decoder stays failed; pending memory never exceeds the limit.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from typing import Any, List, Sequence

import orjson
import pytest
from _chunking import chunkings, decode_all, decode_until_error

import fastsse

LINE_LIMIT = 32
EVENT_LIMIT = 20

ENDINGS = {"lf": b"\n", "cr": b"\r", "crlf": b"\r\n"}

BEFORE = b"data: one\n\nid: 2\ndata: two\n\n"
BEFORE_EVENTS = [("message", "one", ""), ("message", "two", "2")]
AFTER = b"data: after\n\n"


def summaries(events: Sequence[Any]) -> List[tuple]:
    return [(ev.event, ev.data, ev.id) for ev in events]


def data_line(size: int) -> bytes:
    """An SSE ``data:`` line (without its line end) of exactly ``size`` bytes."""
    return b"data: " + b"x" * (size - len(b"data: "))


def assert_fault(impl_decoder: Any, data: bytes, error: type, expected_events: list, **limits: int):
    for name, chunks in chunkings(data):
        decoder = impl_decoder(**limits)
        events, exc = decode_until_error(decoder, chunks)
        assert isinstance(exc, error), f"chunking {name}: {exc!r}"
        assert summaries(events) == expected_events, f"chunking {name}"
        assert exc.limit == next(iter(limits.values())), f"chunking {name}"
        assert exc.size > exc.limit, f"chunking {name}"


# ------------------------------------------------------------------------ SSE line limit


@pytest.mark.parametrize("ending", ENDINGS)
def test_sse_line_exactly_at_max_line_size_passes(impl, ending):
    end = ENDINGS[ending]
    line = data_line(LINE_LIMIT)
    data = BEFORE + line + end + b": " + b"c" * (LINE_LIMIT - 2) + end + end + AFTER
    for name, chunks in chunkings(data):
        events = decode_all(impl.SSEDecoder(max_line_size=LINE_LIMIT), chunks)
        assert summaries(events) == BEFORE_EVENTS + [
            ("message", "x" * (LINE_LIMIT - 6), "2"),
            ("message", "after", "2"),
        ], f"chunking {name}"


@pytest.mark.parametrize("ending", ENDINGS)
@pytest.mark.parametrize("kind", ["data", "comment", "unknown-field"])
def test_sse_line_one_byte_over_max_line_size_raises(impl, ending, kind):
    end = ENDINGS[ending]
    over = {
        "data": data_line(LINE_LIMIT + 1),
        "comment": b":" + b"c" * LINE_LIMIT,
        "unknown-field": b"x" * (LINE_LIMIT + 1),
    }[kind]
    data = BEFORE + over + end + end + AFTER
    assert_fault(
        impl.SSEDecoder, data, fastsse.LineTooLong, BEFORE_EVENTS, max_line_size=LINE_LIMIT
    )


def test_sse_unterminated_line_over_the_limit_raises_instead_of_being_dropped(impl):
    # The stream ends inside an over-long line: it must raise, not vanish at flush().
    data = BEFORE + data_line(LINE_LIMIT + 1)
    assert_fault(
        impl.SSEDecoder, data, fastsse.LineTooLong, BEFORE_EVENTS, max_line_size=LINE_LIMIT
    )
    # At the limit, the unterminated line is discarded quietly, as the spec says.
    for name, chunks in chunkings(BEFORE + data_line(LINE_LIMIT)):
        events = decode_all(impl.SSEDecoder(max_line_size=LINE_LIMIT), chunks)
        assert summaries(events) == BEFORE_EVENTS, f"chunking {name}"


# ----------------------------------------------------------------------- SSE event limit


@pytest.mark.parametrize(
    "block",
    [
        b"data: " + b"e" * EVENT_LIMIT + b"\n",
        b"data: " + b"a" * 9 + b"\ndata: " + b"b" * 10 + b"\n",  # 9 + LF + 10
        b"data:\n" * (EVENT_LIMIT + 1),  # 21 empty lines join into 20 LFs
    ],
    ids=["one-line", "two-lines", "empty-lines"],
)
def test_sse_event_exactly_at_max_event_size_passes(impl, block):
    data = BEFORE + block + b"\n" + AFTER
    for name, chunks in chunkings(data):
        events = decode_all(impl.SSEDecoder(max_event_size=EVENT_LIMIT), chunks)
        assert len(events) == 4, f"chunking {name}"
        assert len(events[2].data.encode()) == EVENT_LIMIT, f"chunking {name}"
        assert summaries([events[0], events[1], events[3]]) == BEFORE_EVENTS + [
            ("message", "after", "2")
        ], f"chunking {name}"


@pytest.mark.parametrize(
    "block",
    [
        b"data: " + b"e" * (EVENT_LIMIT + 1) + b"\n",
        b"data: " + b"a" * 10 + b"\ndata: " + b"b" * 10 + b"\n",
        b"data:\n" * (EVENT_LIMIT + 2),
        # over the limit before the blank line: the fault does not wait for dispatch
        b"data: " + b"a" * 15 + b"\ndata: " + b"b" * 15 + b"\nid: 9\n",
    ],
    ids=["one-line", "two-lines", "empty-lines", "no-blank-line"],
)
def test_sse_event_one_byte_over_max_event_size_raises(impl, block):
    data = BEFORE + block + b"\n" + AFTER
    assert_fault(
        impl.SSEDecoder, data, fastsse.EventTooLarge, BEFORE_EVENTS, max_event_size=EVENT_LIMIT
    )


def test_event_limit_counts_data_only(impl):
    # Long event, id and comment lines do not count towards max_event_size.
    block = b"event: " + b"t" * 40 + b"\nid: " + b"i" * 40 + b"\n: " + b"c" * 40 + b"\ndata: d\n\n"
    for name, chunks in chunkings(block):
        events = decode_all(impl.SSEDecoder(max_event_size=EVENT_LIMIT), chunks)
        assert summaries(events) == [("t" * 40, "d", "i" * 40)], f"chunking {name}"


# ---------------------------------------------------------------------- JSONL line limit


JSONL_BEFORE = b'{"n": 1}\n\n{"n": 2}\n'


def jsonl_record(size: int) -> bytes:
    """A valid JSON string record of exactly ``size`` bytes."""
    return b'"' + b"j" * (size - 2) + b'"'


def test_jsonl_line_exactly_at_max_line_size_passes(impl):
    record = jsonl_record(LINE_LIMIT)
    for tail in (record + b"\n" + b"3\n", record + b"\n3", b"3\n" + record):
        data = JSONL_BEFORE + tail
        for name, chunks in chunkings(data):
            records = decode_all(impl.JSONLDecoder(max_line_size=LINE_LIMIT), chunks)
            values = [r.json() for r in records]
            assert sorted(values[2:], key=str) == [3, "j" * (LINE_LIMIT - 2)], (tail, name)
            assert values[:2] == [{"n": 1}, {"n": 2}], (tail, name)


def test_jsonl_crlf_line_end_does_not_count_towards_max_line_size(impl):
    # The CR of a CRLF is part of the line end, as in SSE: a record of exactly the limit
    # passes with CRLF as with LF, even though the CR waits in the buffer for its LF.
    at_limit = jsonl_record(LINE_LIMIT)
    data = JSONL_BEFORE + at_limit + b"\r\n" + b"3\r\n"
    for name, chunks in chunkings(data):
        records = decode_all(impl.JSONLDecoder(max_line_size=LINE_LIMIT), chunks)
        assert [r.data for r in records[2:]] == [at_limit.decode(), "3"], f"chunking {name}"
    over = JSONL_BEFORE + jsonl_record(LINE_LIMIT + 1) + b"\r\n" + b"3\n"
    for name, chunks in chunkings(over):
        records, exc = decode_until_error(impl.JSONLDecoder(max_line_size=LINE_LIMIT), chunks)
        assert isinstance(exc, fastsse.LineTooLong), f"chunking {name}: {exc!r}"
        assert [r.json() for r in records] == [{"n": 1}, {"n": 2}], f"chunking {name}"
    # At end of stream no LF can follow, so a final CR is data and counts.
    final_cr = JSONL_BEFORE + at_limit + b"\r"
    for name, chunks in chunkings(final_cr):
        records, exc = decode_until_error(impl.JSONLDecoder(max_line_size=LINE_LIMIT), chunks)
        assert isinstance(exc, fastsse.LineTooLong), f"chunking {name}: {exc!r}"
        assert [r.json() for r in records] == [{"n": 1}, {"n": 2}], f"chunking {name}"


@pytest.mark.parametrize("terminated", [True, False], ids=["lf", "unterminated"])
def test_jsonl_line_one_byte_over_max_line_size_raises(impl, terminated):
    data = JSONL_BEFORE + jsonl_record(LINE_LIMIT + 1) + (b"\n" + b"3\n" if terminated else b"")
    for name, chunks in chunkings(data):
        decoder = impl.JSONLDecoder(max_line_size=LINE_LIMIT)
        records, exc = decode_until_error(decoder, chunks)
        assert isinstance(exc, fastsse.LineTooLong), f"chunking {name}: {exc!r}"
        assert exc.limit == LINE_LIMIT and exc.size > LINE_LIMIT, f"chunking {name}"
        assert [r.json() for r in records] == [{"n": 1}, {"n": 2}], f"chunking {name}"


# ------------------------------------------------------- delivery order and failed state


def test_events_before_the_fault_come_from_feed_and_the_next_call_raises(impl):
    decoder = impl.SSEDecoder(max_line_size=LINE_LIMIT)
    # One chunk completes two events, then overflows: the events first, the error next.
    events = decoder.feed(BEFORE + data_line(LINE_LIMIT + 1) + b"\n\n" + AFTER)
    assert summaries(events) == BEFORE_EVENTS
    with pytest.raises(fastsse.LineTooLong):
        decoder.feed(b"")
    jsonl = impl.JSONLDecoder(max_line_size=LINE_LIMIT)
    records = jsonl.feed(JSONL_BEFORE + jsonl_record(LINE_LIMIT + 1) + b"\n")
    assert [r.json() for r in records] == [{"n": 1}, {"n": 2}]
    with pytest.raises(fastsse.LineTooLong):
        jsonl.flush()


@pytest.mark.parametrize(
    "make, data, error, good",
    [
        (
            lambda impl: impl.SSEDecoder(max_line_size=LINE_LIMIT),
            data_line(LINE_LIMIT + 1) + b"\n",
            fastsse.LineTooLong,
            b"data: ok\n\n",
        ),
        (
            lambda impl: impl.SSEDecoder(max_event_size=EVENT_LIMIT),
            b"data: " + b"e" * (EVENT_LIMIT + 1) + b"\n",
            fastsse.EventTooLarge,
            b"data: ok\n\n",
        ),
        (
            lambda impl: impl.JSONLDecoder(max_line_size=LINE_LIMIT),
            jsonl_record(LINE_LIMIT + 1) + b"\n",
            fastsse.LineTooLong,
            b"1\n",
        ),
    ],
    ids=["sse-line", "sse-event", "jsonl-line"],
)
def test_decoder_stays_failed_after_a_limit_error(impl, make, data, error, good):
    # Well-formed input after the fault must not revive the decoder.
    decoder = make(impl)
    with pytest.raises(error) as first:
        decoder.feed(data)
    for call in (
        lambda: decoder.feed(good),
        decoder.flush,
        lambda: decoder.feed(good),
        decoder.flush,
    ):
        with pytest.raises(error) as again:
            call()
        assert str(again.value) == str(first.value)


@pytest.mark.parametrize("chunk_size", [1, 7, 100, 1000, 3000])
@pytest.mark.parametrize("fmt", ["sse", "jsonl"])
def test_pending_line_never_grows_past_the_limit(impl, fmt, chunk_size):
    # Ten times the limit of one line, no line end: the decoder must raise in the very
    # feed() that takes its pending bytes over the limit, so it never holds more.
    limit = 1024
    line = (b"data: " if fmt == "sse" else b"") + b"L" * (10 * limit)
    decoder = (
        impl.SSEDecoder(max_line_size=limit)
        if fmt == "sse"
        else impl.JSONLDecoder(max_line_size=limit)
    )
    fed = 0
    for start in range(0, len(line), chunk_size):
        chunk = line[start : start + chunk_size]
        if fed + len(chunk) <= limit:
            assert decoder.feed(chunk) == []
            fed += len(chunk)
            continue
        with pytest.raises(fastsse.LineTooLong):
            decoder.feed(chunk)
        break
    else:
        pytest.fail("the line never exceeded the limit")
    with pytest.raises(fastsse.LineTooLong):
        decoder.feed(b"\n\n")


@pytest.mark.parametrize("lines_per_chunk", [1, 3, 50])
def test_event_data_never_grows_past_the_limit(impl, lines_per_chunk):
    # Many short data lines, no blank line: the data buffer must raise as soon as the
    # line that takes it over the limit ends (each line adds 9 bytes plus an LF).
    limit = 1000
    line = b"data: " + b"d" * 9 + b"\n"
    decoder = impl.SSEDecoder(max_event_size=limit)
    lines_done = 0
    for _ in range(10 * limit // 10):
        chunk = line * lines_per_chunk
        size_after = 10 * (lines_done + lines_per_chunk) - 1
        if size_after <= limit:
            assert decoder.feed(chunk) == []
            lines_done += lines_per_chunk
            continue
        with pytest.raises(fastsse.EventTooLarge) as info:
            decoder.feed(chunk)
        assert info.value.size <= limit + 10
        break
    else:
        pytest.fail("the event never exceeded the limit")


# ------------------------------------------------------------------- limit arguments


@pytest.mark.parametrize("value", [0, -1, 1.5, True, False, "64", None, sys.maxsize + 1])
def test_invalid_limit_arguments_raise_value_error(impl, value):
    with pytest.raises(ValueError):
        impl.SSEDecoder(max_line_size=value)
    with pytest.raises(ValueError):
        impl.SSEDecoder(max_event_size=value)
    with pytest.raises(ValueError):
        impl.JSONLDecoder(max_line_size=value)


@pytest.mark.parametrize("value", [0, -1, 1.5, True])
def test_invalid_limit_arguments_raise_value_error_through_public_classes(backend, value):
    with pytest.raises(ValueError, match="max_line_size"):
        fastsse.SSEDecoder(backend, max_line_size=value)
    with pytest.raises(ValueError, match="max_event_size"):
        fastsse.SSEDecoder(backend, max_event_size=value)
    with pytest.raises(ValueError, match="max_line_size"):
        fastsse.JSONLDecoder(backend, max_line_size=value)


def test_limits_are_reported_and_defaults_are_generous(impl):
    decoder = impl.SSEDecoder(max_line_size=123, max_event_size=456)
    assert (decoder.max_line_size, decoder.max_event_size) == (123, 456)
    assert impl.JSONLDecoder(max_line_size=789).max_line_size == 789
    # 1 MiB defaults are a bug users hit on real payloads (DESIGN.md section 7).
    assert fastsse.DEFAULT_MAX_LINE_SIZE >= 16 * 1024 * 1024
    assert fastsse.DEFAULT_MAX_EVENT_SIZE >= 16 * 1024 * 1024
    assert impl.SSEDecoder().max_line_size == fastsse.DEFAULT_MAX_LINE_SIZE
    assert impl.SSEDecoder().max_event_size == fastsse.DEFAULT_MAX_EVENT_SIZE
    assert impl.JSONLDecoder().max_line_size == fastsse.DEFAULT_MAX_LINE_SIZE


def test_limit_errors_are_typed_and_say_what_to_do(impl):
    with pytest.raises(fastsse.LineTooLong) as line:
        impl.SSEDecoder(max_line_size=8).feed(b"x" * 9)
    with pytest.raises(fastsse.EventTooLarge) as event:
        impl.SSEDecoder(max_event_size=8).feed(b"data: " + b"x" * 9 + b"\n")
    for info, knob in ((line, "max_line_size"), (event, "max_event_size")):
        exc = info.value
        assert isinstance(exc, fastsse.LimitExceeded)
        assert isinstance(exc, fastsse.StreamError)
        assert exc.limit == 8 and exc.size == 9
        assert knob in str(exc)
    assert not issubclass(fastsse.LineTooLong, fastsse.EventTooLarge)
    assert not issubclass(fastsse.EventTooLarge, fastsse.LineTooLong)


# ------------------------------------------------------------------------- JSON errors


def test_sse_json_error_is_every_json_error_type(impl):
    (event,) = impl.SSEDecoder().feed(b'data: {"a": \n\n')
    with pytest.raises(fastsse.JSONDecodeError) as info:
        event.json()
    exc = info.value
    for base in (
        orjson.JSONDecodeError,
        json.JSONDecodeError,
        ValueError,
        fastsse.DecodeError,
        fastsse.StreamError,
    ):
        assert isinstance(exc, base), base
    assert exc.line is None and exc.offset is None
    assert "not valid JSON" in str(exc)
    # Code written against the json module's exception keeps catching it.
    try:
        event.json()
    except json.JSONDecodeError as caught:
        assert caught.doc == '{"a": '
    else:
        pytest.fail("no error")


def test_jsonl_json_error_names_the_record_line_and_byte_offset(impl):
    data = b'{"ok": 1}\n\r\n  \n{"bad": }\n{"ok": 2}\n'
    for name, chunks in chunkings(data):
        records = decode_all(impl.JSONLDecoder(), chunks)
        assert [r.line for r in records] == [1, 4, 5], f"chunking {name}"
        # A bad record does not stop the stream: records after it are delivered too.
        assert records[0].json() == {"ok": 1} and records[2].json() == {"ok": 2}
        with pytest.raises(fastsse.JSONDecodeError) as info:
            records[1].json()
        exc = info.value
        assert (exc.line, exc.offset) == (4, 15), f"chunking {name}"
        assert "line 4" in str(exc) and "byte 15" in str(exc), str(exc)
        assert isinstance(exc, orjson.JSONDecodeError) and isinstance(exc, json.JSONDecodeError)
        assert isinstance(exc, ValueError)


def test_jsonl_invalid_utf8_raises_from_data_and_json(impl):
    data = b'"ok"\n{"s": "a\xffb"}\n'
    for name, chunks in chunkings(data):
        records = decode_all(impl.JSONLDecoder(), chunks)
        assert len(records) == 2, f"chunking {name}"
        bad = records[1]
        for read in (lambda: bad.data, bad.json):
            with pytest.raises(fastsse.JSONDecodeError) as info:
                read()
            exc = info.value
            assert (exc.line, exc.offset) == (2, 5), f"chunking {name}"
            assert "UTF-8" in str(exc) and "line 2" in str(exc), str(exc)
            assert isinstance(exc, ValueError)


@pytest.mark.parametrize(
    "payload",
    [
        b'{"s": "x\xffy"}',  # inside a string: replaced, still valid JSON
        b'{"s": "\xe2\x82"}',
        b'["\xc0\xaf"]',
        b'{"a": 1}\xff',  # outside a string: invalid either way
        b"\xff",
    ],
)
def test_sse_invalid_utf8_is_replaced_and_json_matches_data(impl, payload):
    for name, chunks in chunkings(b"data: " + payload + b"\n\n"):
        (event,) = decode_all(impl.SSEDecoder(), chunks)
        assert event.data == payload.decode("utf-8", "replace"), f"chunking {name}"
        try:
            expected = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            with pytest.raises(fastsse.JSONDecodeError):
                event.json()
        else:
            assert event.json() == expected, f"chunking {name}"


NOT_JSON = [
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b'{"a": NaN}',
    b'["tab\there"]',
    b'"nul\x00"',
    b'"bell\x07"',
    b"[1,]",
    b"{'a': 1}",
]


@pytest.mark.parametrize("payload", NOT_JSON, ids=repr)
def test_json_is_strict(impl, payload):
    (event,) = impl.SSEDecoder().feed(b"data: " + payload + b"\n\n")
    with pytest.raises(fastsse.JSONDecodeError):
        event.json()
    (record,) = impl.JSONLDecoder().feed(payload + b"\n")
    with pytest.raises(fastsse.JSONDecodeError) as info:
        record.json()
    assert info.value.line == 1


# ----------------------------------------------------------------------- backend errors


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that imports the same fastsse as this process."""
    environment = dict(os.environ)
    environment.update(env)
    environment["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_fast_backend_unavailable_names_the_environment_variable():
    result = run_python(
        f"""
        import fastsse
        assert fastsse.__file__ == {fastsse.__file__!r}, fastsse.__file__
        assert fastsse.IMPLEMENTATION == "python", fastsse.IMPLEMENTATION
        for make in (fastsse.SSEDecoder, fastsse.JSONLDecoder):
            try:
                make(backend="fast")
            except fastsse.BackendUnavailable as exc:
                assert isinstance(exc, fastsse.StreamError) and isinstance(exc, ImportError)
                assert "FASTSSE_NO_EXTENSIONS" in str(exc), str(exc)
                print("raised:", exc)
            else:
                raise SystemExit("backend='fast' did not raise")
        try:
            fastsse.Stream([b"data: x\\n\\n"], format="sse", decoder="fast")
        except fastsse.BackendUnavailable:
            print("stream raised")
        """,
        FASTSSE_NO_EXTENSIONS="1",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("raised: ") == 2
    assert "stream raised" in result.stdout


@pytest.mark.parametrize("name", ["cython", "c", "Fast", "", None, 1])
def test_unknown_backend_name_raises_value_error(name):
    for make in (fastsse.SSEDecoder, fastsse.JSONLDecoder):
        with pytest.raises(ValueError, match="backend"):
            make(backend=name)


# ---------------------------------------------------------------------- pickling errors


def roundtrip(exc: BaseException) -> BaseException:
    again = pickle.loads(pickle.dumps(exc))
    assert type(again) is type(exc)
    assert str(again) == str(exc)
    return again


def test_limit_errors_pickle_round_trip(impl):
    for decoder, data in (
        (impl.SSEDecoder(max_line_size=8), b"x" * 20),
        (impl.SSEDecoder(max_event_size=8), b"data: " + b"x" * 9 + b"\n"),
        (impl.JSONLDecoder(max_line_size=8), b"x" * 20),
    ):
        with pytest.raises(fastsse.LimitExceeded) as info:
            decoder.feed(data)
        again = roundtrip(info.value)
        assert (again.limit, again.size) == (info.value.limit, info.value.size)


def test_json_errors_pickle_round_trip(impl):
    (event,) = impl.SSEDecoder().feed(b"data: {bad\n\n")
    (record,) = impl.JSONLDecoder().feed(b"1\n{bad\n")[1:]
    (invalid,) = impl.JSONLDecoder().feed(b'"\xff"\n')
    for fails in (event.json, record.json, invalid.json):
        with pytest.raises(fastsse.JSONDecodeError) as info:
            fails()
        exc = info.value
        again = roundtrip(exc)
        assert (again.msg, again.doc, again.pos) == (exc.msg, exc.doc, exc.pos)
        assert (again.line, again.offset) == (exc.line, exc.offset)
    assert record.line == 2


def test_other_errors_pickle_round_trip():
    for exc in (
        fastsse.StreamError("base"),
        fastsse.DecodeError("decode"),
        fastsse.FormatError("no Content-Type"),
        fastsse.BackendUnavailable('backend="fast" needs FASTSSE_NO_EXTENSIONS unset'),
    ):
        roundtrip(exc)
    with pytest.raises(ValueError) as info:
        fastsse.SSEDecoder(backend="nope")
    roundtrip(info.value)
