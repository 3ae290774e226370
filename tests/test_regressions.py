"""Regression tests: one named test per defect listed in DESIGN.md sections 6 and 7.

Every decoder test runs on both backends (the ``impl`` fixture) and, unless it feeds
megabytes, under every chunking of ``_chunking.chunkings`` (whole, bytewise, random).
Multi-megabyte inputs use sized chunkings (``big_chunkings``: whole, 64 KiB, 1 KiB and
random 1..4096-byte pieces), since feeding 5 MiB one byte per call would only measure
call overhead; the bytewise behaviour is covered by the small inputs.

Section 6, defects of the prototype:
- ``SSEDecoder.event`` attribute shadows the dispatch method
    -> test_event_field_sets_type_without_breaking_dispatch, test_field_names_are_case_sensitive
- ``json`` never imported -> test_json_method_parses_sse_and_jsonl_events
- JSONL never dispatches (waits for a blank line)
    -> test_jsonl_dispatches_each_record_at_its_line_feed
- ``str.splitlines()`` breaks events on U+2028/U+0085 and friends
    -> test_unicode_line_separators_are_data, test_unicode_line_separators_are_data_in_jsonl
- dispatch on every blank line: ``: ping`` calls the JSON callback on ""
    -> test_keepalive_comment_dispatches_nothing,
       test_keepalive_never_reaches_deserialization_callback
- ``break`` on the terminal event leaves only the inner loop
    -> test_terminal_event_stops_everything_after_done
- ``data += line`` per piece is quadratic
    -> test_linear_time_on_multi_megabyte_line, test_linear_time_on_event_of_many_data_lines
- block detection by ``endswith`` misses mixed line endings (``\\n\\r\\n``)
    -> test_mixed_line_endings_dispatch_each_event_promptly
- no BOM handling -> test_bom_at_stream_start_keeps_first_event,
    test_bom_after_stream_start_is_data, test_jsonl_bom_at_stream_start_is_skipped
- strict UTF-8 decode kills the stream on one bad byte
    -> test_invalid_utf8_is_replaced_not_fatal
- unterminated content silently dropped
    -> test_jsonl_final_record_without_line_feed_is_delivered_by_flush,
       test_sse_unterminated_event_is_discarded_at_end_of_stream (the spec's rule, by design)

Section 7, bugs users hit in peer libraries:
- after an ``id:``, every blank line dispatches an empty event
    -> test_blank_lines_after_id_dispatch_nothing
- ``event:``-only and ``id:``-only blocks dispatched
    -> test_id_only_event_only_retry_only_blocks_dispatch_nothing,
       test_id_is_committed_by_a_block_that_dispatches_nothing,
       test_empty_data_field_still_dispatches (the spec's counterpart: not over-suppressed)
- BOM at stream start loses the first event -> test_bom_at_stream_start_keeps_first_event
- one invalid UTF-8 byte ends the stream -> test_invalid_utf8_is_replaced_not_fatal
- ``retry`` parsed with ``int()`` -> test_retry_rejects_plus_space_underscore_and_non_ascii_digits,
    test_retry_accepts_ascii_digits_only
- CR-only server's events arrive one chunk late
    -> test_cr_only_server_events_arrive_without_waiting_for_next_chunk,
       test_crlf_events_arrive_without_waiting_for_the_final_lf
- CRLF split across chunks splits an event -> test_crlf_split_across_chunks_is_one_line_end
- quadratic time on multi-megabyte lines -> test_linear_time_on_multi_megabyte_line
- hard line limits break large tool results -> test_large_tool_result_over_1mib_is_accepted
- JSONL: CRLF split across chunks and blank lines crash -> test_jsonl_crlf_split_and_blank_lines,
    test_jsonl_lone_cr_is_not_a_record_end
- abandoned streams leave connections open -> test_stream_closes_source_when_abandoned
"""

from __future__ import annotations

import functools
import json
import random
import time
from typing import Any, Iterator, List, Sequence, Tuple

import orjson
import pytest
from _chunking import chunkings, decode_all

import fastsse

KiB = 1024
MiB = 1024 * 1024


# ------------------------------------------------------------------------------ helpers


def summary(ev: Any) -> Tuple[str, str, str, Any]:
    return (ev.event, ev.data, ev.id, ev.retry)


def sse_runs(impl: Any, data: bytes, **limits: int) -> Iterator[Tuple[str, Any, List[Tuple]]]:
    """Decode ``data`` under every chunking; yield (chunking name, decoder, event summaries)."""
    for name, chunks in chunkings(data):
        decoder = impl.SSEDecoder(**limits)
        yield name, decoder, [summary(ev) for ev in decode_all(decoder, chunks)]


def assert_sse_events(impl: Any, data: bytes, expected: Sequence[Tuple]) -> None:
    for name, _, got in sse_runs(impl, data):
        assert got == list(expected), f"chunking {name}"


def jsonl_runs(impl: Any, data: bytes) -> Iterator[Tuple[str, List[Any]]]:
    for name, chunks in chunkings(data):
        yield name, decode_all(impl.JSONLDecoder(), chunks)


def dispatch_index(block: bytes) -> int:
    """Index in ``block`` of the byte whose arrival completes it (the blank line's end).

    For a CRLF blank line that is the CR: the LF after it must not be waited for.
    """
    return len(block) - (2 if block.endswith(b"\r\n") else 1)


def assert_each_event_returned_by_feed_of_its_last_byte(
    decoder: Any, blocks: Sequence[bytes], chunks: Sequence[bytes], name: str
) -> None:
    """Every block's event must come out of the feed() call holding its dispatching byte."""
    due = []
    offset = 0
    for block in blocks:
        due.append(offset + dispatch_index(block))
        offset += len(block)
    returned_at = []  # (chunk start, chunk end) per event, in order
    start = 0
    for chunk in chunks:
        end = start + len(chunk)
        returned_at.extend((start, end) for _ in decoder.feed(chunk))
        start = end
    assert decoder.flush() == [], f"chunking {name}: events held back until flush()"
    assert len(returned_at) == len(due), f"chunking {name}"
    for i, (index, (lo, hi)) in enumerate(zip(due, returned_at)):
        assert lo <= index < hi, (
            f"chunking {name}: event {i} completed at byte {index} "
            f"but was returned by the feed() of bytes [{lo}, {hi})"
        )


def big_chunkings(data: bytes) -> Iterator[Tuple[str, List[bytes]]]:
    yield "whole", [data]
    for size in (64 * KiB, KiB):
        yield f"{size}-byte", [data[i : i + size] for i in range(0, len(data), size)]
    rng = random.Random(7)
    pieces, i = [], 0
    while i < len(data):
        n = rng.randint(1, 4096)
        pieces.append(data[i : i + n])
        i += n
    yield "random-1..4096", pieces


class ClosableSource:
    """A response-like object: ``iter_bytes()``, ``headers`` and a counted ``close()``."""

    def __init__(self, chunks: Sequence[bytes], content_type: str = "text/event-stream") -> None:
        self.headers = {"content-type": content_type}
        self._chunks = list(chunks)
        self.close_calls = 0

    def iter_bytes(self) -> Iterator[bytes]:
        yield from self._chunks

    def close(self) -> None:
        self.close_calls += 1


# --------------------------------------------------------------- section 6: the prototype


def test_event_field_sets_type_without_breaking_dispatch(impl):
    # The prototype stored the event type in the attribute that named its dispatch method,
    # so the first "event:" field broke every later dispatch.
    data = (
        b"event: first\ndata: 1\n\nevent: second\ndata: 2\n\ndata: 3\n\nevent: first\ndata: 4\n\n"
    )
    assert_sse_events(
        impl,
        data,
        [
            ("first", "1", "", None),
            ("second", "2", "", None),
            ("message", "3", "", None),
            ("first", "4", "", None),
        ],
    )


def test_field_names_are_case_sensitive(impl):
    data = b"Event: nope\nDATA: nope\nId: nope\nRetry: 5\ndata: kept\n\n"
    for name, decoder, got in sse_runs(impl, data):
        assert got == [("message", "kept", "", None)], f"chunking {name}"
        assert decoder.last_event_id == "" and decoder.retry is None, f"chunking {name}"


def test_json_method_parses_sse_and_jsonl_events(impl):
    sse = impl.SSEDecoder().feed(b'data: {"a": [1, 2.5, null, "x"]}\n\n')
    assert [ev.json() for ev in sse] == [{"a": [1, 2.5, None, "x"]}]
    jsonl = decode_all(impl.JSONLDecoder(), [b'{"b": true}\n[1]\n"s"\n3\n'])
    assert [ev.json() for ev in jsonl] == [{"b": True}, [1], "s", 3]


def test_jsonl_dispatches_each_record_at_its_line_feed(impl):
    # The prototype waited for a blank line that JSON Lines never sends.
    records = [b'{"n": 1}\n', b'{"n": 2}\n', b'{"n": 3}\n']
    data = b"".join(records)
    for name, chunks in chunkings(data):
        decoder = impl.JSONLDecoder()
        due = []
        offset = 0
        for record in records:
            offset += len(record)
            due.append(offset - 1)  # the LF
        got = []
        start = 0
        for chunk in chunks:
            end = start + len(chunk)
            for ev in decoder.feed(chunk):
                got.append(ev.json())
                assert start <= due[len(got) - 1] < end, f"chunking {name}: record {len(got)} late"
            start = end
        assert decoder.flush() == [], f"chunking {name}"
        assert got == [{"n": 1}, {"n": 2}, {"n": 3}], f"chunking {name}"


SEPARATORS = "a\u2028b\u2029c\u0085d"
CONTROL_DATA = b"v\x0bw\x0cx\x1cy\x1dz\x1e!"  # VT, FF, FS, GS, RS: str.splitlines breaks on all


def test_unicode_line_separators_are_data(impl):
    payload = json.dumps({"text": SEPARATORS}, ensure_ascii=False).encode()
    data = b"data: " + payload + b"\n\n" + b"data: " + CONTROL_DATA + b"\n\n"
    for name, chunks in chunkings(data):
        events = decode_all(impl.SSEDecoder(), chunks)
        assert [ev.data for ev in events] == [payload.decode(), CONTROL_DATA.decode()], name
        assert events[0].json() == {"text": SEPARATORS}, name


def test_unicode_line_separators_are_data_in_jsonl(impl):
    payload = json.dumps({"text": SEPARATORS}, ensure_ascii=False).encode()
    data = payload + b"\n" + b'"' + CONTROL_DATA + b'"\n'
    for name, records in jsonl_runs(impl, data):
        assert [r.data for r in records] == [payload.decode(), '"' + CONTROL_DATA.decode() + '"'], (
            name
        )
        assert [r.line for r in records] == [1, 2], name
        assert records[0].json() == {"text": SEPARATORS}, name


def test_keepalive_comment_dispatches_nothing(impl):
    data = (
        b": ping\n\n" * 3 + b":\n\n" + b": ping\r\n\r\n" + b"data: x\n\n" + b": ping\r\r" + b"\n\n"
    )
    assert_sse_events(impl, data, [("message", "x", "", None)])


def test_empty_data_field_still_dispatches(impl):
    # The counterpart of the keep-alive rule: a "data" field, even empty, makes the data
    # buffer non-empty, so the spec dispatches an event with empty data.
    assert_sse_events(
        impl,
        b"data\n\ndata:\n\ndata:\ndata:\n\n",
        [("message", "", "", None), ("message", "", "", None), ("message", "\n", "", None)],
    )


def test_keepalive_never_reaches_deserialization_callback(backend):
    calls = []

    def callback(response, obj):
        calls.append(obj)
        return obj["n"]

    chunks = [b": ping\n\n", b'data: {"n": 1}\n\n', b": ping\n\n", b"\n\n", b'data: {"n": 2}\n\n']
    stream = fastsse.Stream(
        chunks, format="sse", decoder=backend, deserialization_callback=callback
    )
    assert list(stream) == [1, 2]
    assert calls == [{"n": 1}, {"n": 2}]


def test_terminal_event_stops_everything_after_done(backend):
    data = (
        b'data: {"n": 1}\n\n'
        b'data: {"n": 2}\n\n'
        b"data: [DONE]\n\n"
        b'data: {"n": 3}\n\n'
        b"event: late\ndata: 4\n\n"
    )
    for name, chunks in chunkings(data):
        calls = []
        closed = []

        def source(chunks=chunks):
            try:
                yield from chunks
            finally:
                closed.append(True)

        def callback(response, obj):
            calls.append(obj)
            return obj

        stream = fastsse.Stream(
            source(),
            format="sse",
            decoder=backend,
            terminal_event="[DONE]",
            deserialization_callback=callback,
        )
        items = list(stream)
        assert items == [{"n": 1}, {"n": 2}], f"chunking {name}"
        assert calls == [{"n": 1}, {"n": 2}], f"chunking {name}: callback saw [DONE] or later"
        assert closed == [True], f"chunking {name}: source left open"


@functools.lru_cache(maxsize=None)
def huge_line_stream(fmt: str) -> Tuple[bytes, Tuple[bytes, ...], Tuple[bytes, ...]]:
    """A 4 MiB line, and that line cut into 1 KiB chunks and into 1..8-byte chunks."""
    payload = b"x" * (4 * MiB)
    data = b"data: " + payload + b"\n\n" if fmt == "sse" else payload + b"\n"
    kib = tuple(data[i : i + KiB] for i in range(0, len(data), KiB))
    tiny = []
    i = size = 0
    while i < len(data):
        size = size % 8 + 1
        tiny.append(data[i : i + size])
        i += size
    return data, kib, tuple(tiny)


def best_time(make_decoder: Any, chunks: Sequence[bytes], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        decoder = make_decoder()
        start = time.perf_counter()
        events = decode_all(decoder, chunks)
        best = min(best, time.perf_counter() - start)
        assert len(events) == 1 and len(events[0].data) == 4 * MiB
    return best


@pytest.mark.parametrize("fmt", ["sse", "jsonl"])
def test_linear_time_on_multi_megabyte_line(impl, fmt):
    # Quadratic buffering (re-copying or re-searching the pending line per chunk) costs
    # gigabytes of copying here: seconds, not milliseconds. The bounds are loose on
    # purpose; speed claims live in the benchmarks.
    data, kib_chunks, tiny_chunks = huge_line_stream(fmt)
    make = impl.SSEDecoder if fmt == "sse" else impl.JSONLDecoder
    whole = best_time(make, [data], runs=3)
    in_kib = best_time(make, kib_chunks, runs=3)
    # The floor absorbs timer noise when feeding whole takes well under a millisecond.
    assert in_kib < max(20 * whole, 0.05), f"1 KiB chunks {in_kib:.3f}s vs whole {whole:.4f}s"
    assert in_kib < 5
    in_tiny = best_time(make, tiny_chunks, runs=1)
    assert in_tiny < 5, f"{len(tiny_chunks)} chunks of 1..8 bytes took {in_tiny:.2f}s"


def test_linear_time_on_event_of_many_data_lines(impl):
    # One 4 MiB event made of 256 Ki data lines: joining per piece must not be quadratic.
    line = b"data: " + b"y" * 15 + b"\n"
    count = 256 * KiB
    data = line * count + b"\n"
    kib_chunks = [data[i : i + KiB] for i in range(0, len(data), KiB)]
    for chunks in ([data], kib_chunks):
        decoder = impl.SSEDecoder()
        start = time.perf_counter()
        events = decode_all(decoder, chunks)
        elapsed = time.perf_counter() - start
        assert elapsed < 5, f"{len(chunks)} chunks took {elapsed:.2f}s"
        assert len(events) == 1
        assert len(events[0].data) == count * 16 - 1


def test_mixed_line_endings_dispatch_each_event_promptly(impl):
    # LF then CRLF, CRLF then LF, CR then CRLF, LF then CR: each pair ends one block.
    blocks = [b"data: a\n\r\n", b"data: b\r\n\n", b"data: c\r\r\n", b"data: d\n\r"]
    data = b"".join(blocks)
    assert_sse_events(impl, data, [("message", x, "", None) for x in "abcd"])
    for name, chunks in chunkings(data):
        assert_each_event_returned_by_feed_of_its_last_byte(impl.SSEDecoder(), blocks, chunks, name)


BOM = b"\xef\xbb\xbf"


def test_bom_at_stream_start_keeps_first_event(impl):
    assert_sse_events(
        impl,
        BOM + b"data: first\n\ndata: second\n\n",
        [("message", "first", "", None), ("message", "second", "", None)],
    )
    # The BOM directly followed by a field other than data, and by a CR line end.
    assert_sse_events(impl, BOM + b"event: e\rdata: 1\r\r", [("e", "1", "", None)])


def test_bom_after_stream_start_is_data(impl):
    # Only one BOM at the very start is stripped: a second one is part of the first
    # line's field name ("\ufeffdata"), an unknown field, so nothing is dispatched.
    assert_sse_events(impl, BOM + BOM + b"data: lost\n\n", [])
    assert_sse_events(impl, b"data: a\n\n" + BOM + b"data: lost\n\n", [("message", "a", "", None)])
    assert_sse_events(impl, b"data: " + BOM + b"kept\n\n", [("message", "\ufeffkept", "", None)])


def test_jsonl_bom_at_stream_start_is_skipped(impl):
    data = BOM + b'{"a": 1}\n{"b": 2}\n'
    for name, records in jsonl_runs(impl, data):
        assert [r.json() for r in records] == [{"a": 1}, {"b": 2}], name
        assert [(r.line, r.offset) for r in records] == [(1, 3), (2, 12)], name


def test_invalid_utf8_is_replaced_not_fatal(impl):
    data = (
        b"data: a\xffb\n\n"
        # truncated 3-byte and 4-byte sequences: one U+FFFD each (maximal subpart);
        # C0 AF is two invalid bytes: two U+FFFD
        b"data: \xe2\x82c\xf0\x9f\x98d\xc0\xafe\n\n"
        b"event: \xfe\nid: \xff1\ndata: ok\n\n"
        # valid multi-byte characters, split byte by byte under the bytewise chunking
        b"data: \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\n\n"
    )
    assert_sse_events(
        impl,
        data,
        [
            ("message", "a\ufffdb", "", None),
            ("message", "\ufffdc\ufffdd\ufffd\ufffde", "", None),
            ("\ufffd", "ok", "\ufffd1", None),
            ("message", "\u00e9\u20ac\U0001f600", "\ufffd1", None),
        ],
    )


def test_jsonl_final_record_without_line_feed_is_delivered_by_flush(impl):
    data = b'{"a": 1}\n{"b": 2}'
    for name, chunks in chunkings(data):
        decoder = impl.JSONLDecoder()
        fed = [r for chunk in chunks for r in decoder.feed(chunk)]
        flushed = decoder.flush()
        assert [r.json() for r in fed] == [{"a": 1}], name
        assert [(r.json(), r.line, r.offset) for r in flushed] == [({"b": 2}, 2, 9)], name


def test_sse_unterminated_event_is_discarded_at_end_of_stream(impl):
    # WHATWG: an event not ended by a blank line is discarded at end of stream; the
    # decoder must not deliver it, and must not deliver it merged into anything later.
    for tail in (b"data: partial\n", b"data: partial", b"data: partial\r", b"data: partial\r\n"):
        data = b"data: a\n\n" + tail
        for name, chunks in chunkings(data):
            decoder = impl.SSEDecoder()
            fed = [summary(ev) for chunk in chunks for ev in decoder.feed(chunk)]
            assert fed == [("message", "a", "", None)], (tail, name)
            assert decoder.flush() == [], (tail, name)


# ------------------------------------------------------------- section 7: peer libraries


def test_blank_lines_after_id_dispatch_nothing(impl):
    data = b"id: 1\ndata: a\n\n\n\n\n\r\n\r\n\r\r: keep-alive\n\ndata: b\n\n\n\n"
    for name, decoder, got in sse_runs(impl, data):
        assert got == [("message", "a", "1", None), ("message", "b", "1", None)], name
        assert decoder.last_event_id == "1", name


def test_id_only_event_only_retry_only_blocks_dispatch_nothing(impl):
    data = (
        b"id: 42\n\n"
        b"event: update\n\n"
        b"retry: 3000\n\n"
        b"id: 43\nevent: x\nretry: 10\n\n"
        b"data: payload\n\n"
    )
    for name, decoder, got in sse_runs(impl, data):
        # The id blocks still commit the last event ID, and the event type and the
        # block's retry do not leak into the next event.
        assert got == [("message", "payload", "43", None)], name
        assert decoder.last_event_id == "43", name
        assert decoder.retry == 10, name


def test_id_is_committed_by_a_block_that_dispatches_nothing(impl):
    for name, decoder, got in sse_runs(impl, b"id: 7\n\n"):
        assert got == [] and decoder.last_event_id == "7", name
    # An empty id resets the last event ID; an id containing NUL is ignored.
    data = b"id: 7\n\nid\n\ndata: a\n\nid: 8\x009\n\ndata: b\n\n"
    for name, decoder, got in sse_runs(impl, data):
        assert got == [("message", "a", "", None), ("message", "b", "", None)], name
        assert decoder.last_event_id == "", name


BAD_RETRY_VALUES = [
    b"+5",
    b"  5",  # the field parser strips one space: the value is " 5"
    b"1_0",
    b"5 ",
    b"\t5",
    b"-5",
    b"5.0",
    b"0x10",
    b"1e3",
    b"",
    "\uff15".encode(),  # FULLWIDTH DIGIT FIVE
    "\u0665".encode(),  # ARABIC-INDIC DIGIT FIVE
    "\u00b2".encode(),  # SUPERSCRIPT TWO (str.isdigit() is true for it)
    "1\u0660".encode(),  # an ASCII digit then ARABIC-INDIC DIGIT ZERO
]


@pytest.mark.parametrize("value", BAD_RETRY_VALUES, ids=lambda v: repr(v))
def test_retry_rejects_plus_space_underscore_and_non_ascii_digits(impl, value):
    data = b"retry:" + value + b"\ndata: x\n\n"
    for name, decoder, got in sse_runs(impl, data):
        assert got == [("message", "x", "", None)], name
        assert decoder.retry is None, name
    # An invalid value does not undo an earlier valid one.
    data = b"retry: 250\n\nretry:" + value + b"\ndata: x\n\n"
    for name, decoder, got in sse_runs(impl, data):
        assert got == [("message", "x", "", None)], name
        assert decoder.retry == 250, name


@pytest.mark.parametrize(
    "field, expected",
    [
        (b"retry: 5", 5),
        (b"retry:5", 5),
        (b"retry: 007", 7),
        (b"retry: 0", 0),
        (b"retry:1000", 1000),
    ],
)
def test_retry_accepts_ascii_digits_only(impl, field, expected):
    data = field + b"\ndata: x\n\ndata: y\n\n"
    for name, decoder, got in sse_runs(impl, data):
        # The event carries the retry of its own block only.
        assert got == [("message", "x", "", expected), ("message", "y", "", None)], name
        assert decoder.retry == expected, name


def test_cr_only_server_events_arrive_without_waiting_for_next_chunk(impl):
    blocks = [
        b"data: a\r\r",
        b": comment\revent: e\rid: 1\rdata: b\rdata: c\r\r",
        b"retry: 5\rdata: d\r\r",
    ]
    data = b"".join(blocks)
    assert_sse_events(
        impl,
        data,
        [("message", "a", "", None), ("e", "b\nc", "1", None), ("message", "d", "1", 5)],
    )
    for name, chunks in chunkings(data):
        assert_each_event_returned_by_feed_of_its_last_byte(impl.SSEDecoder(), blocks, chunks, name)
    # The plainest case: a chunk that ends with the event's CR CR returns it at once.
    decoder = impl.SSEDecoder()
    assert [ev.data for ev in decoder.feed(b"data: now\r\r")] == ["now"]


def test_crlf_events_arrive_without_waiting_for_the_final_lf(impl):
    blocks = [b"data: a\r\n\r\n", b"data: b\r\ndata: c\r\n\r\n"]
    for name, chunks in chunkings(b"".join(blocks)):
        assert_each_event_returned_by_feed_of_its_last_byte(impl.SSEDecoder(), blocks, chunks, name)


def test_crlf_split_across_chunks_is_one_line_end(impl):
    # Each CRLF below is cut between CR and LF; an empty chunk between them must not
    # make the LF a second line end (which would dispatch "a" alone).
    explicit = [
        [b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"],
        [b"data: a\r", b"", b"\n", b"data: b\r", b"", b"\n\r", b"", b"\n"],
        [b"data: a\r", b"\n", b"data: b\r\n", b"\r", b"\ndata: c\r\n\r\n"],
    ]
    expected = [
        [("message", "a\nb", "", None)],
        [("message", "a\nb", "", None)],
        [("message", "a\nb", "", None), ("message", "c", "", None)],
    ]
    for chunks, want in zip(explicit, expected):
        assert [summary(ev) for ev in decode_all(impl.SSEDecoder(), chunks)] == want, chunks
    assert_sse_events(
        impl,
        b"data: a\r\ndata: b\r\n\r\nid: 3\r\ndata: c\r\n\r\n",
        [("message", "a\nb", "", None), ("message", "c", "3", None)],
    )


@pytest.mark.parametrize("fmt", ["sse", "jsonl"])
def test_large_tool_result_over_1mib_is_accepted(impl, fmt):
    # aiohttp's readline stops at 128 KiB and some clients default to 1 MiB; a tool
    # result or a base64 image of several MiB must pass with the default limits.
    value = "z" * (5 * MiB)
    payload = orjson.dumps({"tool_result": value})
    if fmt == "sse":
        data = b"data: " + payload + b"\n\ndata: next\n\n"
        make = impl.SSEDecoder
    else:
        data = payload + b"\n" + b'"next"\n'
        make = impl.JSONLDecoder
    for name, chunks in big_chunkings(data):
        events = decode_all(make(), chunks)
        assert len(events) == 2, name
        assert events[0].json() == {"tool_result": value}, name
        assert events[1].data == ('"next"' if fmt == "jsonl" else "next"), name


def test_jsonl_crlf_split_and_blank_lines(impl):
    data = b'{"a": 1}\r\n\r\n\n   \n{"b": 2}\r\n\t \r\n{"c": 3}\r\n\n'
    for name, records in jsonl_runs(impl, data):
        assert [r.json() for r in records] == [{"a": 1}, {"b": 2}, {"c": 3}], name
        # The CR is dropped from the data, and blank lines still count as lines.
        assert [r.data for r in records] == ['{"a": 1}', '{"b": 2}', '{"c": 3}'], name
        assert [(r.line, r.offset) for r in records] == [(1, 0), (5, 17), (7, 31)], name
    # Explicit cuts between CR and LF, with an empty chunk in between.
    chunks = [b'{"a": 1}\r', b"\n\r", b"", b"\n", b'{"b": 2}\r', b"\n"]
    assert [r.json() for r in decode_all(impl.JSONLDecoder(), chunks)] == [{"a": 1}, {"b": 2}]


def test_jsonl_lone_cr_is_not_a_record_end(impl):
    for name, records in jsonl_runs(impl, b'{"a": 1}\r{"b": 2}\n'):
        assert [r.data for r in records] == ['{"a": 1}\r{"b": 2}'], name


def test_stream_closes_source_when_abandoned(backend):
    closed = []

    def endless():
        # A server that never stops streaming: only closing ends it.
        try:
            n = 0
            while True:
                yield b"data: %d\n\n" % n
                n += 1
        finally:
            closed.append(True)

    # The stream is kept referenced, so it is leaving the loop that must close the
    # source, not the stream's garbage collection.
    stream = fastsse.Stream(endless(), format="sse", decoder=backend)
    for event in stream:
        if event.data == "3":
            break
    assert closed == [True]

    response = ClosableSource([b"data: 1\n\n", b"data: 2\n\n", b"data: 3\n\n"])
    stream = fastsse.Stream(response, decoder=backend)
    for _ in stream:
        break
    assert response.close_calls == 1


# The standard discards an unterminated event; fastsse says so instead of staying silent.


@pytest.mark.parametrize(
    ("stream", "discarded"),
    [
        (b"data: a\n\n", 0),
        (b"data: a\n\nevent: x\nid: 7\n", 0),  # no data: nothing would have been dispatched
        (b"data: a\n\ndata: lost\n", len(b"lost\n")),
        (b"data: a\n\ndata: lo", len(b"data: lo")),
        (b"data: a\ndata: b\n", len(b"a\nb\n")),
        (b"data\n", 1),  # an empty data line still makes an event
        (b"\xef\xbb", 2),
    ],
)
def test_flush_reports_the_discarded_unterminated_event(impl, stream, discarded):
    for name, chunks in chunkings(stream):
        decoder = impl.SSEDecoder()
        for chunk in chunks:
            decoder.feed(chunk)
        assert decoder.flush() == []
        assert decoder.discarded == discarded, name


def test_stream_logs_a_warning_when_the_stream_ends_inside_an_event(backend, caplog):
    stream = fastsse.Stream([b"data: 1\n\ndata: cut off"], format="sse", decoder=backend)
    with caplog.at_level("WARNING", logger="fastsse"):
        assert [event.data for event in stream] == ["1"]
    assert len(caplog.records) == 1
    assert "ended inside an event" in caplog.records[0].getMessage()
    assert f"{len(b'data: cut off')} bytes" in caplog.records[0].getMessage()


def test_stream_ending_between_events_logs_nothing(backend, caplog):
    stream = fastsse.Stream([b"data: 1\n\n: bye\n"], format="sse", decoder=backend)
    with caplog.at_level("WARNING", logger="fastsse"):
        assert [event.data for event in stream] == ["1"]
    assert caplog.records == []


def test_linear_time_on_lines_ended_by_cr_alone(impl):
    # 1 MiB of short CR-ended lines, no LF: a search for LF from each line's start to
    # the chunk's end would scan tens of gigabytes here. The SSE2 and the memchr search
    # (.ci/run builds both) must each find every line end once.
    block = b"data: x\r\r"
    cr_only = block * (MiB // len(block))
    lf_only = cr_only.replace(b"\r", b"\n")
    cr_time = best_time_of(impl.SSEDecoder, cr_only)
    lf_time = best_time_of(impl.SSEDecoder, lf_only)
    assert cr_time < max(20 * lf_time, 0.05), f"CR-ended {cr_time:.3f}s vs LF-ended {lf_time:.4f}s"


def best_time_of(make_decoder, data: bytes, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        decoder = make_decoder()
        start = time.perf_counter()
        events = decoder.feed(data)
        best = min(best, time.perf_counter() - start)
        assert len(events) == len(data) // 9
    return best
