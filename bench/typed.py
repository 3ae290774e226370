"""Typed decoding and AsyncStream: the figures their targets are stated in.

    python bench/typed.py [--runs N] [--tokens N]

Every case runs in this one process over the same corpus (bench/corpora.py, the OpenAI
``chat.completion.chunk`` stream), interleaved run by run; each figure is the median of
the runs, in ns of process (CPU) time per event, and each target a ratio of two cases of
the same run:

- ``Stream(model=<msgspec Struct>)`` over 4 KiB chunks against ``orjson.loads`` alone on
  the same payloads (made beforehand): the event rate ratio, target >= 1.1x;
- ``Stream(model=<pydantic model>)`` over 4 KiB chunks against that model's
  ``TypeAdapter.validate_json`` alone on the same payloads: target >= 90%;
- ``AsyncStream`` with a callback (returning the JSON) on one-event chunks, from an async
  generator in an asyncio loop, against ``Stream`` with the same callback on the same
  chunks: its CPU per event, target <= 1.25x.

``msgspec.json.Decoder.decode`` alone is shown beside the first, for scale. Every case is
checked once, untimed, to give the corpus's values before it is timed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpora  # noqa: E402
import msgspec  # noqa: E402
import orjson  # noqa: E402
import pydantic  # noqa: E402
import reference  # noqa: E402

import fastsse  # noqa: E402


class DeltaStruct(msgspec.Struct):
    content: Optional[str] = None
    role: Optional[str] = None
    refusal: Optional[str] = None


class ChoiceStruct(msgspec.Struct):
    index: int
    delta: DeltaStruct
    logprobs: Optional[Dict[str, Any]] = None
    finish_reason: Optional[str] = None


class UsageStruct(msgspec.Struct):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChunkStruct(msgspec.Struct):
    id: str
    object: str
    created: int
    model: str
    choices: List[ChoiceStruct]
    system_fingerprint: Optional[str] = None
    usage: Optional[UsageStruct] = None


class DeltaModel(pydantic.BaseModel):
    content: Optional[str] = None
    role: Optional[str] = None
    refusal: Optional[str] = None


class ChoiceModel(pydantic.BaseModel):
    index: int
    delta: DeltaModel
    logprobs: Optional[Dict[str, Any]] = None
    finish_reason: Optional[str] = None


class UsageModel(pydantic.BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChunkModel(pydantic.BaseModel):
    id: str
    object: str
    created: int
    model: str
    choices: List[ChoiceModel]
    system_fingerprint: Optional[str] = None
    usage: Optional[UsageModel] = None


def cases(corpus: corpora.Corpus) -> Dict[str, Callable[[], List[Any]]]:
    """Each case's loop; each returns its values (the timed runs drop them)."""
    payloads = corpus.payloads
    chunks_4k = corpus.chunks("4 KiB")
    chunks_event = corpus.chunks("event")
    terminal = corpus.terminal
    loads = orjson.loads
    struct_decode = msgspec.json.Decoder(ChunkStruct).decode
    adapter = pydantic.TypeAdapter(ChunkModel)

    def orjson_alone() -> List[Any]:
        return [loads(payload) for payload in payloads]

    def msgspec_alone() -> List[Any]:
        return [struct_decode(payload) for payload in payloads]

    def stream_msgspec() -> List[Any]:
        return list(
            fastsse.Stream(chunks_4k, format="sse", model=ChunkStruct, terminal_event=terminal)
        )

    def validate_json_alone() -> List[Any]:
        validate_json = adapter.validate_json
        return [validate_json(payload) for payload in payloads]

    def stream_pydantic() -> List[Any]:
        return list(
            fastsse.Stream(chunks_4k, format="sse", model=ChunkModel, terminal_event=terminal)
        )

    def callback(response: object, payload: Any) -> Any:
        return payload

    def stream_callback() -> List[Any]:
        return list(
            fastsse.Stream(
                reference.ChunkPipelineResponse(chunks_event, "sse"),
                deserialization_callback=callback,
                terminal_event=terminal,
            )
        )

    async def async_chunks() -> Any:
        for chunk in chunks_event:
            yield chunk

    async def async_items() -> List[Any]:
        return [
            item
            async for item in fastsse.AsyncStream(
                async_chunks(),
                format="sse",
                deserialization_callback=callback,
                terminal_event=terminal,
            )
        ]

    loop = asyncio.new_event_loop()

    def async_stream_callback() -> List[Any]:
        return loop.run_until_complete(async_items())

    return {
        "orjson.loads alone": orjson_alone,
        "msgspec Decoder(Struct).decode alone": msgspec_alone,
        "Stream(model=Struct), 4 KiB": stream_msgspec,
        "TypeAdapter(Model).validate_json alone": validate_json_alone,
        "Stream(model=Model), 4 KiB": stream_pydantic,
        "Stream + callback, one event per chunk": stream_callback,
        "AsyncStream + callback, one event per chunk": async_stream_callback,
    }


# Each case gives the values of the case named beside it, which decodes every payload
# alone: the typed streams the same instances, the callback streams the same dicts.
SAME_AS = {
    "msgspec Decoder(Struct).decode alone": None,
    "Stream(model=Struct), 4 KiB": "msgspec Decoder(Struct).decode alone",
    "TypeAdapter(Model).validate_json alone": None,
    "Stream(model=Model), 4 KiB": "TypeAdapter(Model).validate_json alone",
    "Stream + callback, one event per chunk": "orjson.loads alone",
    "AsyncStream + callback, one event per chunk": "orjson.loads alone",
}


def check(corpus: corpora.Corpus, runs: Dict[str, Callable[[], List[Any]]]) -> None:
    values = {name: run() for name, run in runs.items()}
    if values["orjson.loads alone"] != [orjson.loads(p) for p in corpus.payloads]:
        raise SystemExit("orjson.loads alone: its values differ from the corpus's")
    for name, baseline in SAME_AS.items():
        if len(values[name]) != len(corpus.payloads):
            raise SystemExit(f"{name}: {len(values[name])} values for {corpus.events} events")
        if baseline is not None and values[name] != values[baseline]:
            raise SystemExit(f"{name}: its values differ from those of {baseline}")


def time_once(run: Callable[[], Any]) -> float:
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        run()
        return time.process_time() - start
    finally:
        gc.enable()


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="interleaved runs (default 9)")
    parser.add_argument("--tokens", type=int, default=20_000, help="corpus size in events")
    args = parser.parse_args(argv)
    corpus = corpora.openai_chat(tokens=args.tokens)
    runs = cases(corpus)
    check(corpus, runs)
    events = len(corpus.payloads)
    times: Dict[str, List[float]] = {name: [] for name in runs}
    for _ in range(args.runs):
        for name, run in runs.items():
            times[name].append(time_once(run) / events * 1e9)
    median = {name: statistics.median(values) for name, values in times.items()}
    print(
        f"OpenAI corpus, {events:,} JSON events, {args.runs} interleaved runs, "
        f"median ns of CPU per event ({fastsse.IMPLEMENTATION} decoder, "
        f"Python {sys.version.split()[0]}, msgspec {msgspec.__version__}, "
        f"pydantic {pydantic.VERSION})"
    )
    for name, value in median.items():
        print(f"  {name:<46} {value:8.0f} ns")

    def ratio(fast: str, slow: str) -> float:
        return median[slow] / median[fast]

    targets = [
        (
            "Stream(model=Struct) event rate / orjson.loads alone",
            ratio("Stream(model=Struct), 4 KiB", "orjson.loads alone"),
            ">= 1.10x",
            lambda r: r >= 1.10,
        ),
        (
            "Stream(model=Model) event rate / validate_json alone",
            ratio("Stream(model=Model), 4 KiB", "TypeAdapter(Model).validate_json alone"),
            ">= 0.90x",
            lambda r: r >= 0.90,
        ),
        (
            "AsyncStream CPU per event / Stream's",
            ratio(
                "Stream + callback, one event per chunk",
                "AsyncStream + callback, one event per chunk",
            ),
            "<= 1.25x",
            lambda r: r <= 1.25,
        ),
    ]
    print()
    for name, value, target, met in targets:
        print(
            f"  {name:<54} {value:5.2f}x  (target {target}: {'met' if met(value) else 'NOT met'})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
