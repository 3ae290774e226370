"""bench/compare.py times loops that count nothing, so it checks, untimed, what each one
decodes: the corpus's events (parse) or its payloads' JSON (json). These tests run that
check for every case on small corpora, so that a harness change that breaks a loop or
its check fails here, not in a two-minute benchmark run."""

from pathlib import Path

import orjson
import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
SCALE = 0.02  # of each corpus's default size: a few hundred events

if not (BENCH / "compare.py").exists():
    pytest.skip(
        "bench/ is not part of this tree (an sdist or wheel build)", allow_module_level=True
    )


@pytest.fixture(scope="module")
def bench(monkeypatch_module):
    monkeypatch_module.syspath_prepend(str(BENCH))
    import compare
    import corpora
    import peers

    return compare, corpora, peers


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


class _NoFloor:
    available = False


def checked_cases(bench, name, compiled, floor):
    compare, corpora, peers = bench
    corpus = corpora.build(name, SCALE)
    memchr = peers.MemchrScan()
    try:
        cases = compare.build_cases(corpus, compiled, memchr, floor)
        values = [orjson.loads(payload) for payload in corpus.payloads]
        for case in cases:
            compare.check_case(case, corpus, lambda: values)
        checks = {(case.decoder, case.mode, case.chunking): case.check for case in cases}
        assert {key: check for key, check in checks.items() if check != "ok"} == {}
        for case in cases:
            case.run()  # the timed loop, once: it runs to its end without error
    finally:
        memchr.close()
    return checks


@pytest.mark.parametrize("name", ["openai", "anthropic", "large", "jsonl", "long line"])
def test_every_case_decodes_its_corpus(bench, name, compiled_wanted):
    checks = checked_cases(bench, name, compiled_wanted, _NoFloor())
    decoders = {decoder for decoder, _, _ in checks}
    assert "reference" in decoders and "fastsse[py]" in decoders
    assert ("fastsse[c]" in decoders) == compiled_wanted


def test_every_corpus_is_covered(bench):
    _, corpora, _ = bench
    assert list(corpora.CORPORA) == ["openai", "anthropic", "large", "jsonl", "long line"]


@pytest.mark.parametrize("name", ["openai", "jsonl"])
def test_the_floor_of_the_api_decodes_the_payloads(bench, name, compiled_wanted):
    pytest.importorskip("Cython", reason="the floor (bench/api_floor.pyx) is compiled with Cython")
    _, _, peers = bench
    floor = peers.ApiFloor()
    try:
        assert floor.available, floor.reason
        checks = checked_cases(bench, name, compiled_wanted, floor)
    finally:
        floor.close()
    floor_rows = sorted(key for key in checks if key[0].startswith("floor:"))
    expected = [
        (f"floor: located {what} (C)", "json", "4 KiB") for what in ("events", "spans", "payloads")
    ]
    if name == "openai":
        expected.append(("floor: Stream, payloads cut (C)", "json", "event"))
    assert floor_rows == sorted(expected)
