"""Differential fuzzing: the compiled decoder, its pure-Python twin and the spec-literal
oracle (``oracle.py``) must agree on random streams cut into random chunks.

The streams are random bytes drawn mostly from the tokens an event stream is made of
(field names, colons, spaces, every line end, a BOM, NUL, digits, invalid and split UTF-8)
so that the search reaches the parser's corners, not just its error paths.

Each property runs ``FASTSSE_FUZZ_EXAMPLES`` examples (default 200: a few seconds); set
it higher for a long run, e.g. ``FASTSSE_FUZZ_EXAMPLES=200000 pytest tests/test_fuzz.py``.
Inputs that ever found a difference are kept in ``fuzz_seeds.py`` and replayed here
under every chunking on every run.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, List, Optional, Tuple

import pytest
from _chunking import chunkings
from fuzz_seeds import JSONL_SEEDS, LIMIT_SEEDS, SSE_SEEDS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import parse_jsonl, parse_sse

import fastsse

EXAMPLES = int(os.environ.get("FASTSSE_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # nothing written to the tree; what is found goes into fuzz_seeds.py
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SSE_TOKENS = [
    b"data",
    b"data:",
    b"data: ",
    b"event:",
    b"id:",
    b"id: ",
    b"retry:",
    b"retry: ",
    b":",
    b" ",
    b"\n",
    b"\r",
    b"\r\n",
    b"\n\n",
    b"\xef\xbb\xbf",
    b"\x00",
    b"0",
    b"123",
    b"18446744073709551616",
    b"x",
    b"\xc3\xa9",
    b"\xc3",
    b"\xa9",
    b"\xff",
    b"\xe2\x80\xa8",  # U+2028: data, not a line end
    b"\x0b\x0c\x1c\x85",
    b"[DONE]",
]

JSONL_TOKENS = [
    b"{",
    b"}",
    b'"a"',
    b":",
    b"1",
    b",",
    b" ",
    b"\t",
    b"\n",
    b"\r",
    b"\r\n",
    b"\xef\xbb\xbf",
    b"\xff",
    b"\xe2\x80\xa8",
    b"null",
]


def streams(tokens: List[bytes]) -> Any:
    token = st.one_of(st.sampled_from(tokens), st.binary(min_size=1, max_size=4))
    return st.lists(token, max_size=60).map(b"".join)


@st.composite
def cut(draw: Any, data: bytes) -> List[bytes]:
    """``data`` split at random offsets (every piece non-empty)."""
    if not data:
        return []
    points = draw(st.lists(st.integers(1, max(1, len(data) - 1)), max_size=12, unique=True))
    edges = [0, *sorted(p for p in points if p < len(data)), len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:])]


@st.composite
def stream_and_chunks(draw: Any, tokens: List[bytes]) -> Tuple[bytes, List[bytes]]:
    data = draw(streams(tokens))
    return data, draw(cut(data))


@pytest.fixture(scope="module")
def backends(compiled_wanted: bool) -> List[Any]:
    modules = [importlib.import_module("fastsse._decoder_py")]
    if compiled_wanted:
        modules.append(importlib.import_module("fastsse._decoder"))
    return modules


def sse_outcome(module: Any, chunks: List[bytes], **limits: int) -> Tuple[Any, ...]:
    decoder = module.SSEDecoder(**limits)
    events: List[Any] = []
    error: Optional[BaseException] = None
    try:
        for chunk in chunks:
            events.extend(decoder.feed(chunk))
        events.extend(decoder.flush())
    except fastsse.LimitExceeded as exc:
        error = exc
    summary = [(ev.event, ev.data, ev.id, ev.retry) for ev in events]
    fault = None if error is None else (type(error), error.limit, error.size)
    return summary, decoder.last_event_id, decoder.retry, decoder.dispatched, fault


def record_bytes(module: Any, chunks: List[bytes]) -> List[Tuple[bytes, int, int]]:
    decoder = module.JSONLDecoder()
    records: List[Any] = []
    for chunk in chunks:
        records.extend(decoder.feed(chunk))
    records.extend(decoder.flush())
    # Records compare by their bytes: invalid UTF-8 must survive as it came.
    return [(r.__reduce__()[1][0], r.line, r.offset) for r in records]


def assert_sse_agrees(backends: List[Any], data: bytes, chunks: List[bytes]) -> None:
    expected = parse_sse(data)
    want = (
        [tuple(ev) for ev in expected.events],
        expected.last_event_id,
        expected.reconnection_time,
        len(expected.events),
        None,
    )
    for module in backends:
        assert sse_outcome(module, chunks) == want, (module.__name__, data, chunks)


def assert_jsonl_agrees(backends: List[Any], data: bytes, chunks: List[bytes]) -> None:
    want = [tuple(r) for r in parse_jsonl(data)]
    for module in backends:
        assert record_bytes(module, chunks) == want, (module.__name__, data, chunks)


@FUZZ
@given(stream_and_chunks(SSE_TOKENS))
def test_sse_backends_and_oracle_agree(backends, case):
    data, chunks = case
    assert_sse_agrees(backends, data, chunks)


@FUZZ
@given(stream_and_chunks(JSONL_TOKENS))
def test_jsonl_backends_and_oracle_agree(backends, case):
    data, chunks = case
    assert_jsonl_agrees(backends, data, chunks)


@FUZZ
@given(
    stream_and_chunks(SSE_TOKENS),
    st.integers(1, 12),
    st.integers(1, 12),
)
def test_sse_backends_agree_under_tight_limits(backends, case, max_line, max_event):
    # No oracle has limits: the backends must agree on the events before the fault,
    # on the fault itself, and on everything after it.
    _, chunks = case
    outcomes = {
        module.__name__: sse_outcome(
            module, chunks, max_line_size=max_line, max_event_size=max_event
        )
        for module in backends
    }
    assert len(set(map(repr, outcomes.values()))) == 1, (chunks, max_line, max_event, outcomes)


@FUZZ
@given(stream_and_chunks(SSE_TOKENS), stream_and_chunks(SSE_TOKENS))
def test_sse_backends_agree_across_a_flush(backends, first, second):
    # A reconnection: the next body fed to the same decoder after flush().
    outcomes = []
    for module in backends:
        decoder = module.SSEDecoder()
        events: List[Any] = []
        for chunk in first[1]:
            events.extend(decoder.feed(chunk))
        decoder.flush()
        discarded = decoder.discarded
        for chunk in second[1]:
            events.extend(decoder.feed(chunk))
        decoder.flush()
        outcomes.append(
            (
                [(ev.event, ev.data, ev.id, ev.retry) for ev in events],
                discarded,
                decoder.discarded,
                decoder.last_event_id,
                decoder.retry,
                decoder.dispatched,
            )
        )
    assert all(outcome == outcomes[0] for outcome in outcomes), (first, second)
    # The second body alone, resumed with the first one's last event ID and retry, is
    # what the oracle says of it.
    alone = parse_sse(second[0])
    resumed_id = parse_sse(first[0]).last_event_id
    tail = outcomes[0][0][len(parse_sse(first[0]).events) :]
    assert [ev[1] for ev in tail] == [ev[1] for ev in alone.events]
    if not any(b"id" in piece for piece in second[1]):
        assert all(ev[2] == resumed_id for ev in tail)


# -------------------------------------------------- seeds: inputs that found something


@pytest.mark.parametrize("data", SSE_SEEDS)
def test_sse_seeds(backends, data):
    for _name, chunks in chunkings(data, splits=10):
        assert_sse_agrees(backends, data, chunks)


@pytest.mark.parametrize("data", JSONL_SEEDS)
def test_jsonl_seeds(backends, data):
    for _name, chunks in chunkings(data, splits=10):
        assert_jsonl_agrees(backends, data, chunks)


@pytest.mark.parametrize("data, max_line, max_event", LIMIT_SEEDS)
def test_limit_seeds(backends, data, max_line, max_event):
    for name, chunks in chunkings(data, splits=10):
        outcomes = [
            sse_outcome(module, chunks, max_line_size=max_line, max_event_size=max_event)
            for module in backends
        ]
        assert all(repr(o) == repr(outcomes[0]) for o in outcomes), (name, outcomes)
