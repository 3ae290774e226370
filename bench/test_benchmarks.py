"""Regression benchmarks: fastsse's decoders on each corpus, for pytest-benchmark.

    python -m pytest bench/test_benchmarks.py --benchmark-only

Every corpus of ``bench/corpora.py`` in 4 KiB chunks, on the compiled (``c``) and the
pure-Python (``py``) decoder, parse only (every ``ev.data`` read) and parse + JSON
(``ev.json()``), with the loops ``bench/compare.py`` times. Save a run with
``--benchmark-autosave`` and compare later ones with ``--benchmark-compare``. The
comparison with the reference and the peers, and the speed targets, are in
``bench/compare.py``. The main test run does not collect this file (its testpaths is
``tests``).
"""

from __future__ import annotations

import functools

import orjson
import pytest

pytest.importorskip("pytest_benchmark")

import compare  # noqa: E402  (bench/ is on sys.path: pytest puts the test file's folder there)
import corpora  # noqa: E402

CHUNKING = "4 KiB"
CORPORA = ("openai", "anthropic", "large", "jsonl")
# The compiled leg asks for backend "fast": without the build it errors, never falls back.
BACKENDS = {"c": "fast", "py": "python"}


@functools.lru_cache(maxsize=None)
def corpus_and_chunks(name: str):
    corpus = corpora.build(name)
    return corpus, corpus.chunks(CHUNKING)


@pytest.mark.parametrize("mode", ["parse", "json"])
@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("name", CORPORA)
def test_decode(benchmark, name: str, backend: str, mode: str) -> None:
    corpus, chunks = corpus_and_chunks(name)
    benchmark.group = f"{name}, {CHUNKING} chunks"
    benchmark.extra_info.update(events=corpus.events, bytes=len(corpus.body))
    # The timed loops return nothing; what they decode is checked after, untimed.
    if mode == "parse":
        benchmark(compare.fastsse_parse, BACKENDS[backend], corpus.format, chunks)
        assert compare.fastsse_events(BACKENDS[backend], corpus.format, chunks) == corpus.expected
    else:
        benchmark(compare.fastsse_json, BACKENDS[backend], corpus.format, corpus.terminal, chunks)
        values = compare.fastsse_values(BACKENDS[backend], corpus.format, corpus.terminal, chunks)
        assert values == [orjson.loads(payload) for payload in corpus.payloads]
