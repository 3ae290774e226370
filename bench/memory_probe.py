"""How much memory does decoding a stream too large to hold take? Run by ``compare.py``.

    python bench/memory_probe.py BYTES

Decodes at least BYTES of SSE (``corpora.endless_stream``: made chunk by chunk, never
held whole) through ``fastsse.Stream``, reading every event's data, and prints one JSON
object: the peak RSS growth over the RSS before decoding, and how it was measured. It
runs in a process of its own so that nothing else the benchmarks hold counts.
"""

from __future__ import annotations

import gc
import itertools
import json
import sys
import time
from typing import Any, Dict, Iterator

import corpora

import fastsse

SAMPLE_EVERY = 256  # chunks of 64 KiB: the RSS is read every 16 MiB


def memory_status() -> Dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (the peak RSS) in bytes; only the peak where there is no /proc."""
    figures: Dict[str, int] = {}
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    figures[key] = int(value.split()[0]) * 1024
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        figures["VmHWM"] = (
            peak if sys.platform == "darwin" else peak * 1024
        )  # bytes there, KiB here
    return figures


def reset_peak() -> bool:
    """Set VmHWM to the current RSS (Linux: 5 into clear_refs), so the peak read after
    decoding is the decoding's own, not that of building the stream's cycle."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def probe(total: int) -> Dict[str, Any]:
    """Decode ``total`` bytes or a little more; the peak RSS growth, in bytes, and context.

    The peak is the larger of VmHWM at the end and the RSS read every 16 MiB: the kernel
    updates VmHWM lazily, so a short-lived peak could slip past it alone.
    """
    chunks = corpora.endless_stream(total)
    first = next(chunks)  # builds the stream's repeating cycle before the baseline
    gc.collect()
    was_reset = reset_peak()
    baseline = memory_status()["VmHWM"]  # the current RSS, when the reset worked
    seen = {"peak": baseline, "bytes": 0}

    def sampled(chunks: Iterator[bytes]) -> Iterator[bytes]:
        for number, chunk in enumerate(chunks):
            seen["bytes"] += len(chunk)
            if number % SAMPLE_EVERY == 0:
                seen["peak"] = max(seen["peak"], memory_status().get("VmRSS", 0))
            yield chunk

    events = 0
    start = time.perf_counter()
    for event in fastsse.Stream(sampled(itertools.chain([first], chunks)), format="sse"):
        event.data  # reading it makes the text
        events += 1
    seconds = time.perf_counter() - start
    peak = max(memory_status()["VmHWM"], seen["peak"])
    return {
        "stream_bytes": seen["bytes"],
        "events": events,
        "seconds": seconds,
        "baseline_bytes": baseline,
        "peak_bytes": peak,
        "peak_growth_bytes": peak - baseline,
        "how": "VmHWM reset before" if was_reset else "VmHWM not reset: growth may be overstated",
        "implementation": fastsse.IMPLEMENTATION,
    }


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit("usage: python bench/memory_probe.py BYTES")
    print(json.dumps(probe(int(sys.argv[1]))))
