"""Benchmark fastsse against the reference prototype, the peers and the limits, and check
the speed targets of issue 4.

    python bench/compare.py [--quick] [--runs N] [--png PATH] [--markdown PATH] [--no-fail]

For each corpus of ``bench/corpora.py``, in this one process, every decoder decodes the
same chunk lists: fastsse compiled (``[c]``) and pure Python (``[py]``), directly and
through ``fastsse.Stream``; the reference (the proposal's prototype, ``reference.py``);
the peers (``peers.py``); and the limits, ``orjson.loads`` alone, a C ``memchr`` scan,
and the floor of fastsse's API (below). Before timing, one pass of each is checked
against the corpus (the ``check`` column): the events it was made of (parse), or its
payloads parsed by orjson (json). The timing is interleaved: each run times every case
once, in an order rotated from run to run, and a case's figure is the median of its
runs. A run is a few passes over the corpus timed together with ``time.perf_counter``,
gc off. A timed loop does its case's work and nothing else: it does not count events.

Modes: ``parse`` reads every event's ``data``. ``json`` parses every event's JSON the
way that decoder's users do (the ``json by`` column) and reads ``data`` only when that
fails, which it does once, on the end marker ``[DONE]``, where the loop stops; the
``Stream`` rows do what those classes do. ``scan`` is memchr counting LFs. Events/s
counts dispatched events (parse, scan) or parsed JSON values (json); MB/s counts the
stream's bytes (for ``orjson alone`` too, so its rate reads as a stream's).

The floor rows (4 KiB chunks, corpora with JSON; ``api_floor.pyx``) give the least any
decoder with fastsse's API can cost next to ``orjson alone``: ``located events`` makes,
per chunk, one event object per payload, each with its payload as a new bytes object,
from positions found in advance (no line search, no fields, no state), and calls each
one's ``json()``; ``located payloads`` makes the bare bytes objects alone and calls
``orjson.loads`` on each. A decoder that must find its events cannot beat the first.
``located spans`` is a design fastsse does not take, for comparison: event objects that
point into the chunk instead of holding a copy, their ``json()`` parsing through one
reused buffer (each event the application keeps would keep its whole chunk alive).
``Stream, payloads cut`` (one event per chunk, OpenAI) iterates chunks known to be
``b"data: " + payload + b"\n\n"``, and for each one cuts the payload out at those
offsets, parses it and calls the callback, as ``fastsse.Stream`` with a callback does:
the least such a Stream can cost, with no decoding.

Then the targets are checked (PASS/FAIL with the measured figure; the memory target
decodes a 1 GB stream in a child process), a bar chart of the headline comparison is
written, and the exit status is 1 if a target failed, unless ``--no-fail``.
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib.metadata
import json
import math
import os
import platform
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import corpora
import orjson
import peers
import reference

import fastsse
from fastsse import _backend

BENCH = Path(__file__).resolve().parent
DEFAULT_PNG = BENCH / "results" / "openai_4kib.png"

COMPILED = "fastsse[c]"
PYTHON = "fastsse[py]"
FASTSSE_BACKENDS = ((COMPILED, "fast"), (PYTHON, "python"))
REFERENCE = "reference"  # parse: the prototype Stream's loop without its JSON step
REFERENCE_STREAM = "reference Stream"  # json: the prototype Stream itself
ORJSON = "orjson alone"
MEMCHR = "memchr (C)"
# The floor of the API (api_floor.pyx), on the chunking of the orjson-relative targets.
FLOOR_EVENTS = "floor: located events (C)"
FLOOR_PAYLOADS = "floor: located payloads (C)"
FLOOR_SPANS = "floor: located spans (C)"  # events pointing into the chunk: a design not taken
FLOOR_CHUNKING = "4 KiB"
FLOOR_STREAM = "floor: Stream, payloads cut (C)"  # one event per chunk
HEADLINE = ("openai", "4 KiB")  # the corpus and chunking of the chart
MODES = ("parse", "json", "scan")

MEMORY_STREAM_BYTES = 10**9
MEMORY_LIMIT_BYTES = 50 * 10**6

Events = List[Tuple[Optional[str], str]]


@dataclass(frozen=True)
class Settings:
    runs: int
    scale: float  # corpus sizes, relative to corpora.py's defaults
    run_seconds: float  # a run repeats passes until it lasts about this long


FULL = Settings(runs=5, scale=1.0, run_seconds=0.1)
QUICK = Settings(runs=3, scale=0.25, run_seconds=0.015)


# --- the timed loops -------------------------------------------------------------------
# Each takes a chunk list and returns what it counted, which is checked. A decoder's loop
# is the one its users write: fastsse's feed() loop, the peers' iterators.


def _fastsse_decoder(backend: str, format: str) -> Any:
    return fastsse.SSEDecoder(backend) if format == "sse" else fastsse.JSONLDecoder(backend)


# The timed loops do each case's work and nothing else: no counting per event, whose int
# objects (past 256) would cost every case an allocation per event. What a loop yields is
# checked, untimed, by the function after it.


def fastsse_parse(backend: str, format: str, chunks: List[bytes]) -> None:
    decoder = _fastsse_decoder(backend, format)
    for chunk in chunks:
        for event in decoder.feed(chunk):
            event.data  # reading it makes the text
    for event in decoder.flush():
        event.data


def fastsse_events(backend: str, format: str, chunks: List[bytes]) -> Events:
    decoder = _fastsse_decoder(backend, format)
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    events.extend(decoder.flush())
    return [(getattr(event, "event", None), event.data) for event in events]


def fastsse_json(backend: str, format: str, terminal: Optional[str], chunks: List[bytes]) -> None:
    decoder = _fastsse_decoder(backend, format)
    for chunk in chunks:
        for event in decoder.feed(chunk):
            try:
                event.json()
            except ValueError:
                if event.data == terminal:
                    return
                raise
    for event in decoder.flush():
        event.json()


def fastsse_values(
    backend: str, format: str, terminal: Optional[str], chunks: List[bytes]
) -> List[Any]:
    decoder = _fastsse_decoder(backend, format)
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    events.extend(decoder.flush())
    return _json_until(terminal, events, lambda event: event.json())


def _fastsse_stream(
    backend: str, format: str, chunks: List[bytes], **options: Any
) -> fastsse.Stream:
    """``fastsse.Stream`` on the response object the reference reads."""
    return fastsse.Stream(
        reference.ChunkPipelineResponse(chunks, format), decoder=backend, **options
    )


def fastsse_stream_parse(backend: str, format: str, chunks: List[bytes]) -> None:
    for event in _fastsse_stream(backend, format, chunks):
        event.data


def fastsse_stream_events(backend: str, format: str, chunks: List[bytes]) -> Events:
    return [
        (getattr(event, "event", None), event.data)
        for event in _fastsse_stream(backend, format, chunks)
    ]


def _fastsse_json_stream(
    backend: str, format: str, terminal: Optional[str], chunks: List[bytes]
) -> fastsse.Stream:
    """``fastsse.Stream`` yielding each event's JSON, as the reference's ``Stream`` does."""
    return _fastsse_stream(
        backend,
        format,
        chunks,
        deserialization_callback=lambda response, payload: payload,
        terminal_event=terminal,
    )


def fastsse_stream_json(
    backend: str, format: str, terminal: Optional[str], chunks: List[bytes]
) -> None:
    for _ in _fastsse_json_stream(backend, format, terminal, chunks):
        pass


def fastsse_stream_values(
    backend: str, format: str, terminal: Optional[str], chunks: List[bytes]
) -> List[Any]:
    return list(_fastsse_json_stream(backend, format, terminal, chunks))


def reference_parse(format: str, chunks: List[bytes]) -> None:
    for event in reference.iter_events(chunks, format):
        event.data


def reference_events(format: str, chunks: List[bytes]) -> Events:
    named = format == "sse"
    return [
        ((event.event or "message") if named else None, event.data)
        for event in reference.iter_events(chunks, format)
    ]


def reference_stream(format: str, terminal: Optional[str], chunks: List[bytes]) -> None:
    for _ in reference.stream(chunks, format, terminal):
        pass


def reference_values(format: str, terminal: Optional[str], chunks: List[bytes]) -> List[Any]:
    return list(reference.stream(chunks, format, terminal))


def peer_parse(peer: peers.Peer, chunks: List[bytes]) -> None:
    for event in peer.events(chunks):
        event.data


def peer_events(peer: peers.Peer, chunks: List[bytes]) -> Events:
    return [(peer.event_name(event), event.data) for event in peer.events(chunks)]


def peer_json(peer: peers.Peer, terminal: Optional[str], chunks: List[bytes]) -> None:
    if peer.json_values is not None:
        for _ in peer.json_values(chunks):
            pass
        return
    loads = peer.loads
    for event in peer.events(chunks):
        try:
            if loads is None:
                event.json()
            else:
                loads(event.data)
        except ValueError:
            if event.data == terminal:
                return
            raise


def peer_values(peer: peers.Peer, terminal: Optional[str], chunks: List[bytes]) -> List[Any]:
    if peer.json_values is not None:
        return list(peer.json_values(chunks))
    loads = peer.loads
    return _json_until(
        terminal,
        peer.events(chunks),
        (lambda event: event.json()) if loads is None else (lambda event: loads(event.data)),
    )


def _json_until(
    terminal: Optional[str], events: Iterable[Any], json_of: Callable[[Any], Any]
) -> List[Any]:
    values = []
    for event in events:
        if terminal is not None and event.data == terminal:
            break
        values.append(json_of(event))
    return values


Located = List[Tuple[bytes, List[Tuple[int, int]]]]


def locate_payloads(corpus: corpora.Corpus, chunks: List[bytes]) -> Located:
    """For the floor of the API: per chunk, the JSON payloads of the events it completes,
    laid end to end, and where each one is (a payload split across chunks counts in the
    chunk that completes it)."""
    decoder = _fastsse_decoder("python", corpus.format)
    terminal = corpus.terminal
    located: Located = []
    for chunk in chunks + [b""]:
        events = decoder.feed(chunk) if chunk else decoder.flush()
        payloads = [
            event.data.encode("utf-8")
            for event in events
            if terminal is None or event.data != terminal
        ]
        spans, offset = [], 0
        for payload in payloads:
            spans.append((offset, offset + len(payload)))
            offset += len(payload)
        located.append((b"".join(payloads), spans))
    return located


def floor_json(make: str, module: Any, located: Located) -> None:
    """``ev.json()`` on the events of ``api_floor.located_events`` (or ``located_spans``):
    the API, no decoding."""
    located_events = getattr(module, make)
    for blob, spans in located:
        for event in located_events(blob, spans):
            event.json()


def floor_values(make: str, module: Any, located: Located) -> List[Any]:
    located_events = getattr(module, make)
    return [event.json() for blob, spans in located for event in located_events(blob, spans)]


def floor_payloads_json(module: Any, located: Located) -> None:
    """``orjson.loads`` on the bare payloads of ``api_floor.located_payloads``."""
    located_payloads = module.located_payloads
    loads = orjson.loads
    for blob, spans in located:
        for payload in located_payloads(blob, spans):
            loads(payload)


def floor_payloads_values(module: Any, located: Located) -> List[Any]:
    return [
        orjson.loads(payload)
        for blob, spans in located
        for payload in module.located_payloads(blob, spans)
    ]


def _cut_payloads(module: Any, terminal: str, chunks: List[bytes]) -> Iterator[Any]:
    return module.CutPayloads(chunks, lambda response, payload: payload, None, terminal)


def floor_stream_json(module: Any, terminal: str, chunks: List[bytes]) -> None:
    """``api_floor.CutPayloads``: a Stream's work with a callback, minus the decoding."""
    for _ in _cut_payloads(module, terminal, chunks):
        pass


def floor_stream_values(module: Any, terminal: str, chunks: List[bytes]) -> List[Any]:
    return list(_cut_payloads(module, terminal, chunks))


def one_data_line_each(chunks: List[bytes]) -> bool:
    """Whether every chunk is ``b"data: " + payload + b"\n\n"``, as CutPayloads needs."""
    return all(
        chunk.startswith(b"data: ")
        and chunk.find(b"\n") == len(chunk) - 2
        and chunk.endswith(b"\n\n")
        and b"\r" not in chunk
        for chunk in chunks
    )


# --- what is measured ---------------------------------------------------------------------


@dataclass(frozen=True)
class Contender:
    """A decoder in a mode, before it meets a chunk list: ``run`` is timed; ``events``
    (parse) or ``values`` (json) gives what it decodes, for the check."""

    decoder: str
    mode: str
    json_by: str
    run: Callable[[List[bytes]], None]
    events: Optional[Callable[[List[bytes]], Events]] = None
    values: Optional[Callable[[List[bytes]], List[Any]]] = None
    chunking: Optional[str] = None  # only this chunking, when set


@dataclass
class Case:
    """One row: a decoder in a mode on one chunking of a corpus, and its timings."""

    decoder: str
    mode: str
    json_by: str
    chunking: str
    run: Callable[[], Any]
    units: int  # events (parse, scan) or JSON values (json): the events/s numerator
    events: Optional[Callable[[], Events]] = None
    values: Optional[Callable[[], List[Any]]] = None
    expected: Optional[int] = None  # what run() returns, for a case with neither of those
    check: str = ""
    passes: int = 1
    seconds: List[float] = field(default_factory=list)  # per pass, one entry per run

    @property
    def median(self) -> float:
        ordered = sorted(self.seconds)
        middle = len(ordered) // 2
        return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2

    def events_per_second(self) -> float:
        return self.units / self.median

    def speed_ratio(self, other: "Case") -> float:
        """This case's events/s over ``other``'s, the median of the ratios within each run:
        the two were timed moments apart, so a machine slower in one run cancels out."""
        ratios = sorted(
            (self.units / mine) / (other.units / theirs)
            for mine, theirs in zip(self.seconds, other.seconds)
        )
        middle = len(ratios) // 2
        return ratios[middle] if len(ratios) % 2 else (ratios[middle - 1] + ratios[middle]) / 2


def contenders(corpus: corpora.Corpus, compiled: bool) -> List[Contender]:
    """Every decoder and mode that runs on ``corpus``, in the order of the table."""
    fmt, terminal = corpus.format, corpus.terminal
    with_json = "json" in corpus.modes
    found: List[Contender] = []
    for label, backend in FASTSSE_BACKENDS:
        if backend == "fast" and not compiled:
            continue
        found.append(
            Contender(
                label,
                "parse",
                "",
                partial(fastsse_parse, backend, fmt),
                events=partial(fastsse_events, backend, fmt),
            )
        )
        # Through Stream with one event per chunk, where what Stream adds per event counts.
        found.append(
            Contender(
                f"{label} Stream",
                "parse",
                "",
                partial(fastsse_stream_parse, backend, fmt),
                events=partial(fastsse_stream_events, backend, fmt),
                chunking="event",
            )
        )
        if with_json:
            found.append(
                Contender(
                    label,
                    "json",
                    "ev.json(): orjson",
                    partial(fastsse_json, backend, fmt, terminal),
                    values=partial(fastsse_values, backend, fmt, terminal),
                )
            )
            found.append(
                Contender(
                    f"{label} Stream",
                    "json",
                    "ev.json(): orjson",
                    partial(fastsse_stream_json, backend, fmt, terminal),
                    values=partial(fastsse_stream_values, backend, fmt, terminal),
                    chunking="event",
                )
            )
    found.append(
        Contender(
            REFERENCE,
            "parse",
            "",
            partial(reference_parse, fmt),
            events=partial(reference_events, fmt),
        )
    )
    if with_json:
        found.append(
            Contender(
                REFERENCE_STREAM,
                "json",
                "ev.json(): json",
                partial(reference_stream, fmt, terminal),
                values=partial(reference_values, fmt, terminal),
            )
        )
    for peer in peers.available_peers(fmt)[0]:
        if peer.events is not None:
            found.append(
                Contender(
                    peer.name,
                    "parse",
                    "",
                    partial(peer_parse, peer),
                    events=partial(peer_events, peer),
                )
            )
        if with_json:
            found.append(
                Contender(
                    peer.name,
                    "json",
                    peer.json_via,
                    partial(peer_json, peer, terminal),
                    values=partial(peer_values, peer, terminal),
                )
            )
    return found


def build_cases(
    corpus: corpora.Corpus, compiled: bool, memchr: peers.MemchrScan, floor: peers.ApiFloor
) -> List[Case]:
    cases: List[Case] = []
    payloads = len(corpus.payloads)
    for chunking in corpus.chunkings:
        chunks = corpus.chunks(chunking)
        for contender in contenders(corpus, compiled):
            if contender.chunking not in (None, chunking):
                continue
            cases.append(
                Case(
                    contender.decoder,
                    contender.mode,
                    contender.json_by,
                    chunking,
                    run=partial(contender.run, chunks),
                    units=payloads if contender.mode == "json" else corpus.events,
                    events=partial(contender.events, chunks) if contender.events else None,
                    values=partial(contender.values, chunks) if contender.values else None,
                )
            )
        if memchr.available:
            cases.append(
                Case(
                    MEMCHR,
                    "scan",
                    "",
                    chunking,
                    run=partial(memchr, chunks),
                    units=corpus.events,
                    expected=corpus.body.count(b"\n"),
                )
            )
        if (
            floor.available
            and "json" in corpus.modes
            and chunking == "event"
            and corpus.terminal is not None
            and one_data_line_each(chunks)
        ):
            cases.append(
                Case(
                    FLOOR_STREAM,
                    "json",
                    "orjson",
                    chunking,
                    run=partial(floor_stream_json, floor.module, corpus.terminal, chunks),
                    units=payloads,
                    values=partial(floor_stream_values, floor.module, corpus.terminal, chunks),
                )
            )
        if floor.available and "json" in corpus.modes and chunking == FLOOR_CHUNKING:
            located = locate_payloads(corpus, chunks)
            for decoder, run, values in (
                (
                    FLOOR_EVENTS,
                    partial(floor_json, "located_events"),
                    partial(floor_values, "located_events"),
                ),
                (
                    FLOOR_SPANS,
                    partial(floor_json, "located_spans"),
                    partial(floor_values, "located_spans"),
                ),
                (FLOOR_PAYLOADS, floor_payloads_json, floor_payloads_values),
            ):
                cases.append(
                    Case(
                        decoder,
                        "json",
                        "orjson",
                        chunking,
                        run=partial(run, floor.module, located),
                        units=payloads,
                        values=partial(values, floor.module, located),
                    )
                )
    if "json" in corpus.modes:
        cases.append(
            Case(
                ORJSON,
                "json",
                "orjson.loads",
                "-",
                run=partial(peers.orjson_alone, corpus.payloads),
                units=payloads,
                expected=payloads,
            )
        )
    return cases


def check_case(case: Case, corpus: corpora.Corpus, values: Callable[[], List[Any]]) -> None:
    """One untimed pass: does the decoder see what the corpus holds? Sets ``case.check``.
    ``values()`` is the corpus's JSON values, parsed with orjson."""
    try:
        if case.events is not None:
            case.check = describe_mismatch(case.events(), corpus.expected)
        elif case.values is not None:
            case.check = describe_mismatch(case.values(), values(), "values")
        else:
            counted = case.run()
            case.check = "ok" if counted == case.expected else f"{counted:,} of {case.expected:,}"
    except Exception as exc:  # a peer failing on a corpus is a finding, not a crash of ours
        case.check = f"error: {type(exc).__name__}: {exc}"[:60]


def describe_mismatch(seen: List[Any], expected: List[Any], what: str = "events") -> str:
    if seen == expected:
        return "ok"
    if len(seen) != len(expected):
        return f"{len(seen):,} {what}, not {len(expected):,}"
    differing = [index for index, (got, want) in enumerate(zip(seen, expected)) if got != want]
    return f"{len(differing):,} {what} differ (first #{differing[0]})"


def time_passes(run: Callable[[], Any], passes: int) -> float:
    """Seconds per pass of ``passes`` passes of ``run``, the garbage collector off."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(passes):
            run()
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    return elapsed / passes


def measure(cases: List[Case], settings: Settings) -> None:
    """Warm up and calibrate each checked case, then time them all, interleaved, runs times."""
    working = [case for case in cases if case.check == "ok"]
    # The corpus and the imported libraries are a few hundred thousand objects that each
    # collection before a timed run would walk (0.1 s a time here): freeze them.
    gc.collect()
    gc.freeze()
    try:
        for case in working:
            one_pass = time_passes(case.run, 1)
            case.passes = max(1, math.ceil(settings.run_seconds / max(one_pass, 1e-6)))
        for run in range(settings.runs):
            # Rotate the order so no case always runs right after the same other one.
            start = (run * len(working)) // settings.runs
            for case in working[start:] + working[:start]:
                case.seconds.append(time_passes(case.run, case.passes))
    finally:
        gc.unfreeze()


# --- results and tables -------------------------------------------------------------------

COLUMNS = (
    "decoder",
    "mode",
    "json by",
    "chunks",
    "events/s",
    "MB/s",
    "vs ref",
    "vs orjson",
    "check",
)
NUMERIC = {4, 5, 6, 7}


def _ratio(value: Optional[float]) -> str:
    if value is None:
        return ""
    return f"{value:.2f}x" if value < 10 else f"{value:.1f}x"


@dataclass
class Result:
    corpus: corpora.Corpus
    cases: List[Case]

    def find(self, decoder: str, mode: str, chunking: str) -> Optional[Case]:
        """The measured case, or ``None``."""
        for case in self.cases:
            if (case.decoder, case.mode, case.chunking) == (
                decoder,
                mode,
                chunking,
            ) and case.seconds:
                return case
        return None

    def rate(self, decoder: str, mode: str, chunking: str) -> Optional[float]:
        case = self.find(decoder, mode, chunking)
        return case.events_per_second() if case else None

    def megabytes_per_second(self, case: Case) -> float:
        return len(self.corpus.body) / case.median / 1e6

    def baseline(self, case: Case) -> Optional[Case]:
        """What "vs ref" compares ``case`` with."""
        if case.mode == "scan":
            return None
        return self.find(
            REFERENCE if case.mode == "parse" else REFERENCE_STREAM, case.mode, case.chunking
        )

    def ordered(self) -> List[Case]:
        """The cases grouped by chunking, then mode, otherwise in the order they were made."""
        chunkings = list(self.corpus.chunkings) + ["-"]
        return sorted(
            self.cases, key=lambda case: (chunkings.index(case.chunking), MODES.index(case.mode))
        )

    def rows(self) -> List[List[str]]:
        orjson = self.find(ORJSON, "json", "-")
        rows = []
        for case in self.ordered():
            head = [case.decoder, case.mode, case.json_by, case.chunking]
            if not case.seconds:
                rows.append(head + ["-", "-", "", "", case.check])
                continue
            baseline = self.baseline(case)
            versus_orjson = orjson if case.mode == "json" and case.decoder != ORJSON else None
            rows.append(
                head
                + [
                    f"{case.events_per_second():,.0f}",
                    f"{self.megabytes_per_second(case):,.1f}",
                    _ratio(case.speed_ratio(baseline) if baseline else None),
                    _ratio(case.speed_ratio(versus_orjson) if versus_orjson else None),
                    case.check,
                ]
            )
        return rows

    def heading(self) -> str:
        corpus = self.corpus
        size = len(corpus.body)
        return (
            f"{corpus.name}: {corpus.description}; {corpus.events:,} event{'s' * (corpus.events != 1)}, "
            f"{size / 1e6:,.1f} MB, {size / corpus.events:,.0f} B per event"
        )


def text_table(rows: List[List[str]]) -> List[str]:
    """Aligned columns, a blank line between chunking-and-mode groups."""
    widths = [max(len(COLUMNS[i]), *(len(row[i]) for row in rows)) for i in range(len(COLUMNS))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(widths[i]) if i in NUMERIC else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ).rstrip()

    out = [line(COLUMNS), line(["-" * width for width in widths])]
    for previous, row in zip([None] + rows[:-1], rows):
        if previous is not None and (previous[3], previous[1]) != (row[3], row[1]):
            out.append("")
        out.append(line(row))
    return out


def markdown_table(rows: List[List[str]]) -> List[str]:
    rule = "|" + "|".join("---:" if i in NUMERIC else "---" for i in range(len(COLUMNS))) + "|"
    out = ["| " + " | ".join(COLUMNS) + " |", rule]
    out.extend("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows)
    return out


def long_line_summary(result: Result) -> str:
    """Time in 1 KiB chunks over time in 64 KiB chunks, per decoder: linear ones stay near 1."""
    parts = []
    for case in result.cases:
        big = result.find(case.decoder, case.mode, "64 KiB")
        if case.chunking == "1 KiB" and case.seconds and big is not None:
            parts.append(f"{case.decoder} {big.speed_ratio(case):.2f}x")
    return "time in 1 KiB chunks / time in 64 KiB chunks: " + ", ".join(parts)


def machine_facts() -> Dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = []
    for distribution in ("orjson", "openai", "anthropic", "httpx-sse", "httpx", "sseclient-py"):
        try:
            versions.append(f"{distribution} {importlib.metadata.version(distribution)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{distribution} (not installed)")
    return {
        "CPU": cpu,
        "cores": f"{os.cpu_count()} cores ({usable} usable)",
        "OS": platform.platform(),
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "fastsse": f"{fastsse.__version__}, IMPLEMENTATION={fastsse.IMPLEMENTATION}",
        "libraries": ", ".join(versions),
    }


# --- targets --------------------------------------------------------------------------------


@dataclass
class Target:
    title: str
    measured: str
    passed: bool


def check_targets(results: Dict[str, Result], memory: Dict[str, Any]) -> List[Target]:
    targets: List[Target] = []

    def case(corpus: str, decoder: str, mode: str, chunking: str) -> Optional[Case]:
        result = results.get(corpus)
        return result.find(decoder, mode, chunking) if result else None

    def at_least(
        title: str,
        measured: Optional[Case],
        versus: Optional[Case],
        minimum: float,
        versus_name: str,
        percent: bool = False,
        context: str = "",
    ) -> None:
        if measured is None or versus is None:
            targets.append(Target(title, "not measured", False))
            return
        ratio = measured.speed_ratio(versus)
        shown = f"{ratio:.1%} of {versus_name}" if percent else f"{ratio:.2f}x {versus_name}"
        targets.append(Target(title, shown + context, ratio >= minimum))

    def floors(corpus: str) -> str:
        # Where the API itself stands against orjson alone, in this run.
        orjson_case = case(corpus, ORJSON, "json", "-")
        found = [
            (name, case(corpus, name, "json", FLOOR_CHUNKING))
            for name in (FLOOR_EVENTS, FLOOR_SPANS, FLOOR_PAYLOADS)
        ]
        shown = [
            f"{name} {floor.speed_ratio(orjson_case):.1%}"
            for name, floor in found
            if floor and orjson_case
        ]
        return f" (in this run, {'; '.join(shown)})" if shown else ""

    def stream_floor() -> str:
        floor, versus = (
            case("openai", FLOOR_STREAM, "json", "event"),
            case("openai", REFERENCE_STREAM, "json", "event"),
        )
        return (
            f" (in this run, {FLOOR_STREAM} {floor.speed_ratio(versus):.2f}x)"
            if floor and versus
            else ""
        )

    at_least(
        "compiled, parse only, OpenAI, 4 KiB: >= 10x the reference",
        case("openai", COMPILED, "parse", "4 KiB"),
        case("openai", REFERENCE, "parse", "4 KiB"),
        10,
        "the reference",
    )
    at_least(
        "compiled, parse + json, OpenAI, 4 KiB: >= 90% of orjson alone (events/s)",
        case("openai", COMPILED, "json", "4 KiB"),
        case("openai", ORJSON, "json", "-"),
        0.9,
        "orjson alone",
        percent=True,
        context=floors("openai"),
    )
    title = "compiled, 32 KiB events, parse only, 4 KiB: >= 2 GB/s"
    large = results.get("large")
    large_case = large.find(COMPILED, "parse", "4 KiB") if large else None
    if large is None or large_case is None:
        targets.append(Target(title, "not measured", False))
    else:
        gigabytes = large.megabytes_per_second(large_case) / 1000
        targets.append(Target(title, f"{gigabytes:.2f} GB/s", gigabytes >= 2))
    at_least(
        "compiled, one event per chunk, through Stream, parse + json, OpenAI: >= 5x the reference Stream",
        case("openai", f"{COMPILED} Stream", "json", "event"),
        case("openai", REFERENCE_STREAM, "json", "event"),
        5,
        "the reference Stream",
        context=stream_floor(),
    )
    at_least(
        "compiled, JSONL, parse + json, 4 KiB: >= 90% of orjson alone (events/s)",
        case("jsonl", COMPILED, "json", "4 KiB"),
        case("jsonl", ORJSON, "json", "-"),
        0.9,
        "orjson alone",
        percent=True,
        context=floors("jsonl"),
    )
    title = "compiled, one 1 MiB line, parse only: time in 1 KiB chunks <= 2x time in 64 KiB chunks"
    line = results.get("long line")
    small = line.find(COMPILED, "parse", "1 KiB") if line else None
    big = line.find(COMPILED, "parse", "64 KiB") if line else None
    if small is None or big is None:
        targets.append(Target(title, "not measured", False))
    else:
        factor = big.speed_ratio(small)  # the same bytes: the ratio of the times
        shown = f"{factor:.2f}x ({small.median * 1e3:.3f} ms vs {big.median * 1e3:.3f} ms)"
        targets.append(Target(title, shown, factor <= 2))
    at_least(
        "pure-Python twin, parse only, OpenAI, 4 KiB: >= 1.5x the reference",
        case("openai", PYTHON, "parse", "4 KiB"),
        case("openai", REFERENCE, "parse", "4 KiB"),
        1.5,
        "the reference",
    )
    title = f"memory: decoding a {MEMORY_STREAM_BYTES / 1e9:g} GB stream, peak RSS growth < 50 MB"
    if "error" in memory:
        targets.append(Target(title, memory["error"], False))
    else:
        growth = memory["peak_growth_bytes"]
        shown = (
            f"{growth / 1e6:.1f} MB (peak RSS {memory['peak_bytes'] / 1e6:.1f} MB; "
            f"{memory['stream_bytes'] / 1e9:.3f} GB, {memory['events']:,} events in "
            f"{memory['seconds']:.1f} s, {memory['implementation']}; {memory['how']})"
        )
        targets.append(
            Target(
                title,
                shown,
                growth < MEMORY_LIMIT_BYTES and memory["stream_bytes"] >= MEMORY_STREAM_BYTES,
            )
        )
    return targets


def run_memory_probe(total: int) -> Dict[str, Any]:
    """``memory_probe.py`` in a child process, so nothing this process holds counts."""
    command = [sys.executable, str(BENCH / "memory_probe.py"), str(total)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        return {"error": f"the probe failed: {result.stderr.strip()[-300:]}"}
    return json.loads(result.stdout)


# --- the chart ------------------------------------------------------------------------------


def write_chart(result: Result, facts: Dict[str, str], path: Path) -> str:
    """A bar chart of events/s on the headline chunking; returns what to tell the user."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        return f"no chart: {exc} (pip install -r bench/requirements.txt)"
    chunking = HEADLINE[1]
    # One line per decoder; the reference's json bar is its Stream.
    names: List[str] = []
    for case in result.cases:
        name = REFERENCE if case.decoder == REFERENCE_STREAM else case.decoder
        if case.chunking in (chunking, "-") and case.seconds and name not in names:
            names.append(name)
    parse_rates = [
        result.rate(name, "parse", chunking) or result.rate(name, "scan", chunking) or 0
        for name in names
    ]
    json_rates = []
    for name in names:
        json_name = REFERENCE_STREAM if name == REFERENCE else name
        json_rates.append(
            result.rate(json_name, "json", chunking) or result.rate(json_name, "json", "-") or 0
        )
    labels = [f"{name}\n(json: its Stream)" if name == REFERENCE else name for name in names]

    figure, axes = plt.subplots(figsize=(10, 0.55 * len(names) + 2.2), dpi=120)
    height = 0.38
    positions = range(len(names))
    series = (
        (parse_rates, -height / 2, "parse only (every ev.data read; memchr: LF scan)", "#4C72B0"),
        (json_rates, height / 2, "parse + JSON (each decoder's usual way)", "#DD8452"),
    )
    for rates, offset, label, colour in series:
        bars = axes.barh([p + offset for p in positions], rates, height, label=label, color=colour)
        for bar in bars:
            if bar.get_width() > 0:
                axes.text(
                    bar.get_width() * 1.05,
                    bar.get_y() + bar.get_height() / 2,
                    f"{bar.get_width():,.0f}",
                    va="center",
                    fontsize=8,
                )
    axes.set_yticks(list(positions))
    axes.set_yticklabels(labels)
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.set_xlim(right=max(parse_rates + json_rates) * 6)  # room for the labels
    axes.set_xlabel("events per second (log scale, higher is better)")
    axes.set_title(
        f"{result.corpus.description}, {chunking} chunks\n"
        f"{facts['CPU']}, {facts['cores']}, {facts['Python']}, fastsse {facts['fastsse']}",
        fontsize=9,
    )
    axes.legend(loc="lower right", fontsize=8)
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return f"chart: {path}"


# --- the command ----------------------------------------------------------------------------


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python bench/compare.py",
        description="Benchmark fastsse against the reference, the peers and the limits, and "
        "check the speed targets (exit status 1 if one fails).",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller corpora, fewer runs (about 30 s)"
    )
    parser.add_argument(
        "--runs",
        type=int,
        help="timed runs per case, of which the median counts "
        f"(default {FULL.runs}, --quick {QUICK.runs})",
    )
    parser.add_argument(
        "--png",
        type=Path,
        default=DEFAULT_PNG,
        help=f"where to write the chart (default {DEFAULT_PNG.relative_to(BENCH.parent)})",
    )
    parser.add_argument(
        "--markdown", type=Path, help="also write the results as Markdown to this file"
    )
    parser.add_argument("--no-fail", action="store_true", help="report failed targets, but exit 0")
    arguments = parser.parse_args(argv)
    if arguments.runs is not None and arguments.runs < 1:
        parser.error("--runs must be at least 1")
    return arguments


def main(argv: Sequence[str]) -> int:
    arguments = parse_arguments(argv)
    settings = QUICK if arguments.quick else FULL
    if arguments.runs is not None:
        settings = Settings(arguments.runs, settings.scale, settings.run_seconds)
    began = time.perf_counter()
    command = " ".join(["python bench/compare.py", *argv])
    markdown: List[str] = []

    def say(line: str = "") -> None:
        print(line, flush=True)

    facts = machine_facts()
    say(f"fastsse benchmarks: {command}")
    for key, value in facts.items():
        say(f"  {key + ':':11}{value}")
    markdown += [f"Command: `{command}`", ""] + [
        f"- **{key}**: {value}" for key, value in facts.items()
    ]
    compiled = _backend.compiled is not None
    if not compiled:
        say(f"  the compiled decoder does not load: no {COMPILED} rows, and its targets fail")
    memchr = peers.MemchrScan()
    if not memchr.available:
        say(f"  no {MEMCHR} rows: {memchr.reason}")
    floor = peers.ApiFloor()
    if not floor.available:
        say(f"  no floor rows: {floor.reason}")
    for format in ("sse", "jsonl"):
        for name, why in peers.available_peers(format)[1]:
            say(f"  no {name} rows ({format}): {why}")
    notes = [
        "parse = every ev.data read; json = each event's JSON parsed as its users do (json by), "
        "ev.data read only where that fails ([DONE], the end); Stream rows do what Stream does; "
        "scan = memchr counting LFs.",
        "events/s counts events (parse, scan) or JSON values (json); MB/s the stream's bytes; "
        f"vs ref: against {REFERENCE} (parse) or {REFERENCE_STREAM} (json); check: the decoder's "
        "events (parse) or JSON values (json) against the corpus's.",
        "floor: the API with no decoding, in C: payloads located in advance, made into event objects "
        "whose json() is called (located events; located spans: events pointing into the chunk, a design "
        "not taken), or into bare bytes given to orjson.loads (located payloads); "
        "for one event per chunk, each payload cut from its chunk at known offsets, parsed, and given to "
        "the callback (Stream, payloads cut).",
        f"median of {settings.runs} runs per case; a run is a few passes over the corpus, gc off; "
        "the decoders interleaved.",
    ]
    for note in notes:
        say(textwrap.fill(note, 100, initial_indent="  ", subsequent_indent="    "))
    markdown += [""] + notes

    results: Dict[str, Result] = {}
    try:
        for name in corpora.CORPORA:
            corpus = corpora.build(name, settings.scale)
            cases = build_cases(corpus, compiled, memchr, floor)
            values = functools.lru_cache(maxsize=None)(
                lambda: [orjson.loads(payload) for payload in corpus.payloads]
            )
            for case in cases:
                check_case(case, corpus, values)
            measure(cases, settings)
            result = results[name] = Result(corpus, cases)
            rows = result.rows()
            say()
            say(result.heading())
            for line in text_table(rows):
                say(f"  {line}".rstrip())
            markdown += ["", f"### {result.heading()}", ""] + markdown_table(rows)
            if name == "long line":
                summary = long_line_summary(result)
                say(f"  {summary}")
                markdown += ["", summary]
    finally:
        memchr.close()
        floor.close()

    say()
    say(f"memory: decoding a {MEMORY_STREAM_BYTES / 1e9:g} GB stream in a child process")
    targets = check_targets(results, run_memory_probe(MEMORY_STREAM_BYTES))
    say()
    say("targets (issue 4):")
    markdown += ["", "### Targets", ""]
    for target in targets:
        verdict = "PASS" if target.passed else "FAIL"
        say(f"  {verdict}  {target.title}: {target.measured}")
        markdown.append(f"- **{verdict}** {target.title}: {target.measured}")

    say()
    if HEADLINE[0] in results:
        say(write_chart(results[HEADLINE[0]], facts, arguments.png))
    if arguments.markdown is not None:
        arguments.markdown.parent.mkdir(parents=True, exist_ok=True)
        arguments.markdown.write_text("\n".join(markdown) + "\n", encoding="utf-8")
        say(f"markdown: {arguments.markdown}")
    failed = sum(not target.passed for target in targets)
    say(
        f"{len(targets) - failed} of {len(targets)} targets met, in {time.perf_counter() - began:.0f} s"
    )
    return 1 if failed and not arguments.no_fail else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
