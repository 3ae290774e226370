"""Where the time goes between ``orjson.loads`` alone and decoding plus ``ev.json()``.

    python bench/json_overhead.py [--runs N]

The targets "parse + json >= 90% of orjson alone" (OpenAI and JSON Lines corpora, 4 KiB
chunks) leave the decoder about 10% of orjson's time per event. This splits the time of
the compiled decoder's loop into parts, each timed on its own, interleaved with the
others, median of the runs, in ns per event:

- ``orjson alone``: ``orjson.loads(payload)`` over the corpus's payloads, made once;
- ``orjson on a fresh copy``: ``orjson.loads(payload + b" ")``, one new bytes object per
  payload (trailing whitespace is valid JSON), made by Python's ``+`` (so the operator's
  cost is in it too; a decoder's copy in C is cheaper);
- ``feed() alone``: the decoder over the chunks, events dropped unread;
- ``ev.json() on decoded events``: the JSON of events decoded beforehand;
- ``feed() + ev.json()``: what the target measures.

90% of orjson's rate leaves the decoder 11% of orjson's time per event for everything
it does: find the line ends, copy each event's data out of the chunk, make the event,
and answer the ``json()`` call. ``feed() alone`` plus what ``ev.json()`` costs over
``orjson.loads`` already add up to more, and measured together they cost more than
their sum (see the control below).

The same split for the target "one event per chunk through Stream >= 5x the reference
Stream" (OpenAI corpus, each chunk one event, a callback returning the JSON, ending at
``[DONE]``): orjson alone, orjson plus the callback call, the same on each payload cut
out of its chunk by a slice at known offsets (no decoder, only Python's slice: a
reference point, not a floor, since a loop in C copies for less), fastsse's loop with no
callback (decoding only), ``fastsse.Stream`` as the target measures it, the same
through ``fastsse.AsyncStream`` (chunks from an async generator, in an asyncio loop),
and the reference's ``Stream``.

Last, a control with no decoder at all: ``orjson.loads`` and an unrelated step (a regex
search, or ``bytes.decode``) per payload, alone and interleaved. The interleaved time
exceeds the sum of the two: work done between orjson calls makes the pair cost more
than their parts (they share the CPU's caches and branch predictors), whatever that
work is, and a decoder's per-event work is such work.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import re
import statistics
import sys
import time
from typing import Any, Callable, Dict, List

import corpora
import orjson
import reference

import fastsse


def parts(corpus: corpora.Corpus) -> Dict[str, Callable[[], None]]:
    chunks = corpus.chunks("4 KiB")
    make = fastsse.SSEDecoder if corpus.format == "sse" else fastsse.JSONLDecoder
    decoder = make("fast")
    events = [event for chunk in chunks for event in decoder.feed(chunk)] + decoder.flush()
    if corpus.terminal is not None:
        events = [event for event in events if event.data != corpus.terminal]
    payloads = corpus.payloads
    loads = orjson.loads

    def orjson_alone() -> None:
        for payload in payloads:
            loads(payload)

    def orjson_fresh_copy() -> None:
        for payload in payloads:
            loads(payload + b" ")

    def feed_alone() -> None:
        decoder = make("fast")
        for chunk in chunks:
            decoder.feed(chunk)

    def json_on_decoded() -> None:
        for event in events:
            event.json()

    def feed_and_json() -> None:
        decoder = make("fast")
        for chunk in chunks:
            for event in decoder.feed(chunk):
                try:
                    event.json()
                except ValueError:  # the end marker
                    pass

    return {
        "orjson alone": orjson_alone,
        "orjson on a fresh copy": orjson_fresh_copy,
        "feed() alone": feed_alone,
        "ev.json() on decoded events": json_on_decoded,
        "feed() + ev.json()": feed_and_json,
    }


def stream_parts(corpus: corpora.Corpus) -> Dict[str, Callable[[], None]]:
    chunks = corpus.chunks("event")
    payloads = corpus.payloads
    loads = orjson.loads

    def callback(response: object, payload: object) -> object:
        return payload

    def orjson_alone() -> None:
        for payload in payloads:
            loads(payload)

    def orjson_and_callback() -> None:
        for payload in payloads:
            callback(None, loads(payload))

    json_chunks = [chunk for chunk in chunks if chunk[6:-2] != corpus.terminal.encode()]

    def sliced_without_decoder() -> None:
        # Each chunk is one "data: <payload>\n\n" line: its payload is cut out where it
        # is known to be. Copying the payload out is all a decoder must do; this does
        # nothing else (no line-end search, no field, no terminal check).
        for chunk in json_chunks:
            callback(None, loads(chunk[6:-2]))

    def decoding_only() -> None:
        for _ in fastsse.Stream(
            reference.ChunkPipelineResponse(chunks, "sse"), terminal_event=corpus.terminal
        ):
            pass

    def fastsse_stream() -> None:
        for _ in fastsse.Stream(
            reference.ChunkPipelineResponse(chunks, "sse"),
            deserialization_callback=callback,
            terminal_event=corpus.terminal,
        ):
            pass

    async def async_chunks() -> Any:
        for chunk in chunks:
            yield chunk

    async def async_items() -> None:
        async for _ in fastsse.AsyncStream(
            async_chunks(),
            format="sse",
            deserialization_callback=callback,
            terminal_event=corpus.terminal,
        ):
            pass

    loop = asyncio.new_event_loop()

    def fastsse_async_stream() -> None:
        loop.run_until_complete(async_items())

    def reference_stream() -> None:
        for _ in reference.stream(chunks, "sse", corpus.terminal):
            pass

    return {
        "orjson alone": orjson_alone,
        "orjson + callback": orjson_and_callback,
        "orjson + callback, cut payload": sliced_without_decoder,
        "Stream, no callback": decoding_only,
        "Stream, callback(ev.json())": fastsse_stream,
        "AsyncStream, the same": fastsse_async_stream,
        "reference Stream": reference_stream,
    }


def control_parts(corpus: corpora.Corpus) -> Dict[str, Callable[[], None]]:
    payloads = corpus.payloads
    loads = orjson.loads
    digits = re.compile(rb"[0-9]+")

    def orjson_alone() -> None:
        for payload in payloads:
            loads(payload)

    def search_alone() -> None:
        for payload in payloads:
            digits.search(payload)

    def orjson_then_search() -> None:
        for payload in payloads:
            loads(payload)
            digits.search(payload)

    def decode_alone() -> None:
        for payload in payloads:
            payload.decode()

    def orjson_then_decode() -> None:
        for payload in payloads:
            loads(payload)
            payload.decode()

    return {
        "orjson alone": orjson_alone,
        "regex search alone": search_alone,
        "orjson, then regex search": orjson_then_search,
        "bytes.decode alone": decode_alone,
        "orjson, then bytes.decode": orjson_then_decode,
    }


def measure(
    corpus: corpora.Corpus, runs: int, cases: Dict[str, Callable[[], None]]
) -> Dict[str, float]:
    seconds: Dict[str, List[float]] = {name: [] for name in cases}
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        for run in range(runs):
            names = list(cases)
            names = names[run % len(names) :] + names[: run % len(names)]
            for name in names:
                start = time.perf_counter()
                cases[name]()
                cases[name]()
                seconds[name].append((time.perf_counter() - start) / 2)
    finally:
        gc.enable()
        gc.unfreeze()
    return {
        name: statistics.median(values) / corpus.events * 1e9 for name, values in seconds.items()
    }


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python bench/json_overhead.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--runs", type=int, default=15, help="timed runs per part (default 15)")
    arguments = parser.parse_args(argv)
    if fastsse.IMPLEMENTATION != "cython":
        print("the compiled decoder is not built: nothing to measure", file=sys.stderr)
        return 1
    for name in ("openai", "jsonl"):
        corpus = corpora.build(name)
        ns = measure(corpus, arguments.runs, parts(corpus))
        alone = ns["orjson alone"]
        print(
            f"{name}: {corpus.events:,} events, 4 KiB chunks, ns per event (median of {arguments.runs})"
        )
        for part, value in ns.items():
            share = (
                f"{alone / value:6.1%} of orjson alone's rate"
                if part in ("orjson on a fresh copy", "feed() + ev.json()")
                else ""
            )
            print(f"  {part:30} {value:7.1f}  {value - alone:+7.1f} vs orjson alone  {share}")
        budget = alone / 0.9 - alone
        parts_alone = ns["feed() alone"] + ns["ev.json() on decoded events"] - alone
        print(
            f"  at 90% of orjson alone's rate the decoder may add {budget:.1f} ns; feed() alone and"
        )
        print(
            f"  ev.json()'s cost over orjson.loads add {parts_alone:.1f} ns apart, "
            f"{ns['feed() + ev.json()'] - alone:.1f} ns together"
        )
        print()
    corpus = corpora.build("openai")
    ns = measure(corpus, arguments.runs, stream_parts(corpus))
    print(f"openai through Stream, one event per chunk, ns per event (median of {arguments.runs})")
    for part, value in ns.items():
        print(f"  {part:30} {value:7.1f}  {value - ns['orjson alone']:+7.1f} vs orjson alone")
    ratio = ns["reference Stream"] / ns["Stream, callback(ev.json())"]
    print(f"  reference Stream / fastsse Stream: {ratio:.2f}x")
    floor = ns["reference Stream"] / ns["orjson + callback, cut payload"]
    print(f"  reference Stream / payload cut from its chunk, no decoder: {floor:.2f}x")
    print()
    ns = measure(corpus, arguments.runs, control_parts(corpus))
    print(f"control, openai payloads, no decoder: ns per payload (median of {arguments.runs})")
    for part, value in ns.items():
        print(f"  {part:30} {value:7.1f}")
    for step in ("regex search", "bytes.decode"):
        added = ns["orjson alone"] + ns[f"{step} alone"]
        surcharge = ns[f"orjson, then {step}"] - added
        print(
            f"  orjson + {step}: {added:.1f} if the costs added up, {surcharge:+.1f} measured over that"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
