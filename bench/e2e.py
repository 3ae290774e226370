"""End to end: client CPU time per event, from the socket to the item in the user's loop.

    python bench/e2e.py [--quick] [--events N] [--repeats R] [--no-docs] [--no-fail]

A server process on 127.0.0.1 (``bench/e2e_server.py``) writes pre-built bodies, one event
per HTTP chunk: OpenAI ``chat.completion.chunk`` events ending in ``data: [DONE]``, and a
Messages API stream of ``content_block_delta`` events. This process reads them with each
client and decoder, the way their users write the loop, and reads each item's text. A
case's figure is its CPU time (``time.process_time``: this process only, not the server,
not waiting) over the whole request, divided by the events in the body; each repeat runs
every case once, in an order rotated from repeat to repeat, and the figure is the median
of the repeats. Each client's floor reads the body with its chunk iterator and decodes
nothing: no decoder can cost that client less.

The results table and chart are written into ``docs/benchmarks-end-to-end.md`` (between
its ``e2e-results`` markers) and ``docs/assets/benchmarks-end-to-end.png`` unless
``--no-docs`` or ``--quick``. Exit status 1 if a target is missed, unless ``--no-fail``:
the accelerated openai SDK at least 5x less CPU per chunk than the plain SDK, the
accelerated anthropic SDK at least 1.5x less.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.metadata
import json
import platform
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks-end-to-end.md"
CHART = ROOT / "docs" / "assets" / "benchmarks-end-to-end.png"
BEGIN, END = "<!-- e2e-results: begin -->", "<!-- e2e-results: end -->"
MESSAGES = [{"role": "user", "content": "Hi"}]
TARGETS = {"openai": 5.0, "anthropic": 1.5}
TARGET_PAIRS = 2  # extra runs of each target's two loops per repeat
ANTHROPIC_EXTRA_EVENTS = 6  # message_start, content_block_start, ping, block stop, delta, stop


try:
    import msgspec
except ImportError:
    msgspec = None

if msgspec is not None:
    # The fields of a chat.completion.chunk an application reads (msgspec skips the rest).

    class MsgspecDelta(msgspec.Struct):
        content: Optional[str] = None
        role: Optional[str] = None

    class MsgspecChoice(msgspec.Struct):
        index: int
        delta: MsgspecDelta
        finish_reason: Optional[str] = None

    class MsgspecChunk(msgspec.Struct):
        id: str
        created: int
        model: str
        choices: List[MsgspecChoice]


@dataclass
class Case:
    group: str
    name: str
    run: Callable[[], int]  # one request, read to its end; returns the items seen
    api: str  # "openai" or "anthropic": which body, so which event count
    times: List[float] = field(default_factory=list)

    def median_us(self, events: int) -> float:
        return statistics.median(self.times) / events * 1e6


def _loop_runner() -> Callable[[Callable[[], Any]], Callable[[], int]]:
    loop = asyncio.new_event_loop()

    def make(coroutine_function: Callable[[], Any]) -> Callable[[], int]:
        return lambda: loop.run_until_complete(coroutine_function())

    return make


def openai_cases(url: str, on_loop: Callable[..., Callable[[], int]]) -> List[Case]:
    import openai

    from fastsse.integrations.openai import accelerate

    def sync(accelerated: bool) -> Callable[[], int]:
        client = openai.OpenAI(base_url=url + "/openai", api_key="x", max_retries=0)
        if accelerated:
            accelerate(client)

        def run() -> int:
            n = 0
            for chunk in client.chat.completions.create(model="m", messages=MESSAGES, stream=True):
                chunk.choices[0].delta.content
                n += 1
            return n

        return run

    def asynchronous(accelerated: bool) -> Callable[[], int]:
        client = openai.AsyncOpenAI(base_url=url + "/openai", api_key="x", max_retries=0)
        if accelerated:
            accelerate(client)

        async def run() -> int:
            n = 0
            stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
            async for chunk in stream:
                chunk.choices[0].delta.content
                n += 1
            return n

        return on_loop(run)

    group = "openai SDK"
    return [
        Case(group, "openai SDK, plain", sync(False), "openai"),
        Case(group, "openai SDK, accelerated", sync(True), "openai"),
        Case(group, "openai SDK async, plain", asynchronous(False), "openai"),
        Case(group, "openai SDK async, accelerated", asynchronous(True), "openai"),
        *sdk_floors(group, url + "/openai/chat/completions", "openai", on_loop),
    ]


def sdk_floors(
    group: str, endpoint: str, api: str, on_loop: Callable[..., Callable[[], int]]
) -> List[Case]:
    """The SDKs' HTTP client (httpx2) reading the body's chunks, sync and async."""
    import httpx2

    sync_client = httpx2.Client()
    async_client = httpx2.AsyncClient()

    def floor() -> int:
        n = 0
        with sync_client.stream("POST", endpoint) as response:
            for _ in response.iter_bytes():
                n += 1
        return n

    async def async_floor() -> int:
        n = 0
        async with async_client.stream("POST", endpoint) as response:
            async for _ in response.aiter_bytes():
                n += 1
        return n

    return [
        Case(group, f"floor: httpx2 iter_bytes (the SDK's client), {api}", floor, api),
        Case(group, f"floor: httpx2 async aiter_bytes, {api}", on_loop(async_floor), api),
    ]


def anthropic_cases(url: str, on_loop: Callable[..., Callable[[], int]]) -> List[Case]:
    import anthropic

    from fastsse.integrations.anthropic import accelerate

    def client_for(cls: Any, accelerated: bool) -> Any:
        client = cls(base_url=url + "/anthropic", api_key="x", max_retries=0)
        return accelerate(client) if accelerated else client

    def sync(accelerated: bool) -> Callable[[], int]:
        client = client_for(anthropic.Anthropic, accelerated)

        def run() -> int:
            n = 0
            for event in client.messages.create(
                model="m", max_tokens=1024, messages=MESSAGES, stream=True
            ):
                event.type
                n += 1
            return n

        return run

    def helper(accelerated: bool) -> Callable[[], int]:
        client = client_for(anthropic.Anthropic, accelerated)

        def run() -> int:
            n = 0
            with client.messages.stream(model="m", max_tokens=1024, messages=MESSAGES) as stream:
                for _ in stream.text_stream:
                    n += 1
            return n

        return run

    def asynchronous(accelerated: bool) -> Callable[[], int]:
        client = client_for(anthropic.AsyncAnthropic, accelerated)

        async def run() -> int:
            n = 0
            stream = await client.messages.create(
                model="m", max_tokens=1024, messages=MESSAGES, stream=True
            )
            async for event in stream:
                event.type
                n += 1
            return n

        return on_loop(run)

    group = "anthropic SDK"
    return [
        Case(group, "anthropic SDK, plain", sync(False), "anthropic"),
        Case(group, "anthropic SDK, accelerated", sync(True), "anthropic"),
        Case(group, "anthropic SDK async, plain", asynchronous(False), "anthropic"),
        Case(group, "anthropic SDK async, accelerated", asynchronous(True), "anthropic"),
        Case(group, "anthropic messages.stream() text, plain", helper(False), "anthropic"),
        Case(group, "anthropic messages.stream() text, accelerated", helper(True), "anthropic"),
        *sdk_floors(group, url + "/anthropic/v1/messages", "anthropic", on_loop),
    ]


def _typed_models() -> Dict[str, Any]:
    """The model= types the installed fastsse and libraries support, by row label."""
    import inspect

    import fastsse

    if "model" not in inspect.signature(fastsse.Stream.__init__).parameters:
        return {}
    models: Dict[str, Any] = {}
    from openai.types.chat import ChatCompletionChunk

    models["pydantic (openai's ChatCompletionChunk)"] = ChatCompletionChunk
    if msgspec is None:
        return models
    models["msgspec Struct"] = MsgspecChunk
    return models


def client_cases(url: str, on_loop: Callable[..., Callable[[], int]]) -> List[Case]:
    import aiohttp
    import httpx
    import requests

    import fastsse

    endpoint = url + "/openai/chat/completions"
    http = httpx.Client()
    session = requests.Session()
    cases: List[Case] = []
    group = "httpx"

    def as_dict(response: Any, payload: Any) -> Any:
        return payload

    def httpx_floor() -> int:
        n = 0
        with http.stream("GET", endpoint) as response:
            for _ in response.iter_bytes():
                n += 1
        return n

    def httpx_fastsse() -> int:
        n = 0
        with http.stream("GET", endpoint) as response:
            for item in fastsse.Stream(
                response, deserialization_callback=as_dict, terminal_event="[DONE]"
            ):
                item["choices"][0]["delta"]["content"]
                n += 1
        return n

    def httpx_typed(model: Any) -> Callable[[], int]:
        def run() -> int:
            n = 0
            with http.stream("GET", endpoint) as response:
                stream: Any = fastsse.Stream
                for item in stream(response, model=model, terminal_event="[DONE]"):
                    item.choices[0].delta.content
                    n += 1
            return n

        return run

    def httpx_lines() -> int:
        n = 0
        with http.stream("GET", endpoint) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    data = line[6:]
                    if data == "[DONE]":
                        break
                    json.loads(data)["choices"][0]["delta"]["content"]
                    n += 1
        return n

    cases.append(Case(group, "floor: httpx iter_bytes", httpx_floor, "openai"))
    cases.append(Case(group, "httpx + fastsse.Stream (dict callback)", httpx_fastsse, "openai"))
    for label, model in _typed_models().items():
        cases.append(
            Case(group, f"httpx + fastsse.Stream model= {label}", httpx_typed(model), "openai")
        )

    try:
        from httpx_sse import connect_sse
    except ImportError:
        connect_sse = None
    if connect_sse is not None:

        def httpx_sse(connect: Any) -> Callable[[], int]:
            def run() -> int:
                n = 0
                with connect(http, "GET", endpoint) as source:
                    for event in source.iter_sse():
                        if event.data == "[DONE]":
                            break
                        json.loads(event.data)["choices"][0]["delta"]["content"]
                        n += 1
                return n

            return run

        cases.append(
            Case(group, "httpx + httpx-sse + json.loads", httpx_sse(connect_sse), "openai")
        )
        try:
            from fastsse.integrations.httpx_sse import connect_sse as dropin
        except ImportError:
            dropin = None
        if dropin is not None:
            cases.append(
                Case(
                    group,
                    "httpx + fastsse's httpx-sse drop-in + json.loads",
                    httpx_sse(dropin),
                    "openai",
                )
            )
    cases.append(Case(group, "httpx iter_lines() loop + json.loads", httpx_lines, "openai"))

    group = "requests"

    def requests_floor() -> int:
        n = 0
        with session.get(endpoint, stream=True) as response:
            for _ in response.iter_content(chunk_size=None):
                n += 1
        return n

    def requests_fastsse() -> int:
        n = 0
        with session.get(endpoint, stream=True) as response:
            for item in fastsse.Stream(
                response, deserialization_callback=as_dict, terminal_event="[DONE]"
            ):
                item["choices"][0]["delta"]["content"]
                n += 1
        return n

    def requests_lines() -> int:
        n = 0
        with session.get(endpoint, stream=True) as response:
            for line in response.iter_lines():
                if line.startswith(b"data: "):
                    data = line[6:]
                    if data == b"[DONE]":
                        break
                    json.loads(data)["choices"][0]["delta"]["content"]
                    n += 1
        return n

    cases.append(Case(group, "floor: requests iter_content", requests_floor, "openai"))
    cases.append(
        Case(group, "requests + fastsse.Stream (dict callback)", requests_fastsse, "openai")
    )
    cases.append(Case(group, "requests iter_lines() loop + json.loads", requests_lines, "openai"))

    group = "aiohttp"
    holder: Dict[str, Any] = {}

    async def aiohttp_session() -> Any:
        if "session" not in holder:
            holder["session"] = aiohttp.ClientSession()
        return holder["session"]

    async def aiohttp_floor() -> int:
        n = 0
        async with (await aiohttp_session()).get(endpoint) as response:
            async for _ in response.content.iter_any():
                n += 1
        return n

    async def aiohttp_fastsse() -> int:
        n = 0
        async with (await aiohttp_session()).get(endpoint) as response:
            async for item in fastsse.AsyncStream(
                response, deserialization_callback=as_dict, terminal_event="[DONE]"
            ):
                item["choices"][0]["delta"]["content"]
                n += 1
        return n

    async def aiohttp_lines() -> int:
        n = 0
        async with (await aiohttp_session()).get(endpoint) as response:
            async for line in response.content:
                if line.startswith(b"data: "):
                    data = line[6:].rstrip(b"\r\n")
                    if data == b"[DONE]":
                        break
                    json.loads(data)["choices"][0]["delta"]["content"]
                    n += 1
        return n

    cases.append(Case(group, "floor: aiohttp iter_any", on_loop(aiohttp_floor), "openai"))
    cases.append(
        Case(
            group,
            "aiohttp + fastsse.AsyncStream (dict callback)",
            on_loop(aiohttp_fastsse),
            "openai",
        )
    )
    cases.append(Case(group, "aiohttp line loop + json.loads", on_loop(aiohttp_lines), "openai"))

    def close() -> None:
        session_ = holder.get("session")
        if session_ is not None:
            on_loop(session_.close)()

    cases[-1].close = close  # type: ignore[attr-defined]
    return cases


def measure(cases: List[Case], repeats: int, events: int) -> None:
    # Warm up every case (connections, caches, validators built) and check its count.
    for case in cases:
        seen = case.run()
        expected = events + (ANTHROPIC_EXTRA_EVENTS - 1 if case.api == "anthropic" else 0)
        if "floor" not in case.name and "stream() text" not in case.name and seen != expected:
            raise SystemExit(f"{case.name}: {seen} items, expected {expected}")
    by_name = {case.name: case for case in cases}
    # The targets' loops, plain and accelerated, alternate TARGET_PAIRS more times a repeat:
    # on a shared machine one loop's CPU time moves by up to 2x from second to second, and
    # the target's ratio is what this benchmark must tell most surely.
    pairs = [
        (by_name[f"{label}{mode}, plain"], by_name[f"{label}{mode}, accelerated"])
        for label in ("openai SDK", "anthropic SDK")
        for mode in ("", " async")
    ]
    for repeat in range(repeats):
        shift = repeat % len(cases)
        for case in cases[shift:] + cases[:shift]:
            _time(case)
        for _ in range(TARGET_PAIRS):
            for plain, fast in pairs:
                _time(plain)
                _time(fast)
        print(f"  repeat {repeat + 1}/{repeats} done", file=sys.stderr)


def _time(case: Case) -> None:
    gc.collect()
    start = time.process_time()
    case.run()
    case.times.append(time.process_time() - start)


def _events(case: Case, events: int) -> int:
    return events + (ANTHROPIC_EXTRA_EVENTS if case.api == "anthropic" else 0)


def _is_async(case: Case) -> bool:
    return " async" in case.name or case.group == "aiohttp"


def _versions() -> str:
    names = [
        "openai",
        "anthropic",
        "pydantic",
        "httpx",
        "httpx2",
        "requests",
        "aiohttp",
        "httpx-sse",
    ]
    found = []
    for name in names + ["msgspec"]:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    import fastsse

    found.insert(0, f"fastsse {fastsse.__version__} ({fastsse.IMPLEMENTATION})")
    return ", ".join(found)


def report(
    cases: List[Case], events: int, repeats: int, command: str
) -> Tuple[str, Dict[str, float]]:
    by_name = {case.name: case for case in cases}
    floors: Dict[Tuple[str, bool], Case] = {}
    for case in cases:
        if case.name.startswith("floor"):
            floors[case.group, _is_async(case)] = case
    lines = [
        f"Command: `{command}`. {events} events per stream, {repeats} interleaved repeats "
        f"(the targets' loops {1 + TARGET_PAIRS} runs a repeat), median; Python {platform.python_version()} on {platform.machine()}, "
        f"{_versions()}.",
        "",
        "| case | client CPU per event (µs) | × its client's floor |",
        "|---|---:|---:|",
    ]
    for case in cases:
        figure = case.median_us(_events(case, events))
        floor = floors.get((case.group, _is_async(case))) or floors.get((case.group, False))
        ratio = ""
        if floor is not None and floor is not case:
            ratio = f"{figure / floor.median_us(_events(floor, events)):.1f}"
        lines.append(f"| {case.name} | {figure:,.1f} | {ratio} |")
    ratios: Dict[str, float] = {}
    lines += [
        "",
        "A target's figure is the plain loop's median over the accelerated loop's; the range",
        "is that of the ratios within each repeat, where the two loops run one after the other.",
        "",
        "| target | plain / accelerated | within a repeat | target | result |",
        "|---|---:|---:|---:|---|",
    ]
    for api, label in (("openai", "openai SDK"), ("anthropic", "anthropic SDK")):
        for mode in ("", " async"):
            plain = by_name[f"{label}{mode}, plain"]
            fast = by_name[f"{label}{mode}, accelerated"]
            ratio = statistics.median(plain.times) / statistics.median(fast.times)
            paired = [p / f for p, f in zip(plain.times, fast.times)]
            ratios[f"{api}{mode}"] = ratio
            verdict = "PASS" if ratio >= TARGETS[api] else "FAIL"
            lines.append(
                f"| {label}{mode} loop, accelerated: ≥{TARGETS[api]:g}x less CPU per event "
                f"| {ratio:.2f}x | {min(paired):.2f}–{max(paired):.2f}x | {TARGETS[api]:g}x "
                f"| {verdict} |"
            )
    return "\n".join(lines) + "\n", ratios


def chart(cases: List[Case], events: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"openai SDK": "#10a37f", "anthropic SDK": "#d97757", "httpx": "#4c72b0"}
    names = [case.name for case in cases][::-1]
    values = [case.median_us(_events(case, events)) for case in cases][::-1]
    shades = [colors.get(case.group, "#8172b2") for case in cases][::-1]
    figure, axes = plt.subplots(figsize=(9, 0.34 * len(cases) + 1.2))
    axes.barh(names, values, color=shades)
    axes.set_xscale("log")
    axes.set_xlabel("client CPU time per event, µs (log scale; less is better)")
    axes.set_title("Client CPU per event, one event per HTTP chunk")
    for y, value in enumerate(values):
        axes.text(value * 1.05, y, f"{value:,.1f}", va="center", fontsize=7)
    axes.tick_params(axis="y", labelsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_doc(table: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{DOC} has no {BEGIN} ... {END} markers")
    DOC.write_text(pattern.sub(lambda _: f"{BEGIN}\n{table}{END}", text), encoding="utf-8")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few events and repeats; no docs")
    parser.add_argument("--events", type=int, help="events per stream (default 2000; quick 200)")
    parser.add_argument("--repeats", type=int, help="repeats (default 9; quick 3)")
    parser.add_argument("--no-docs", action="store_true", help="print the table only")
    parser.add_argument("--no-fail", action="store_true", help="exit 0 even if a target fails")
    args = parser.parse_args(argv)
    events = args.events or (200 if args.quick else 2000)
    repeats = args.repeats or (3 if args.quick else 9)
    command = (
        "python bench/e2e.py"
        + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    )

    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("e2e_server.py")), str(events)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = f"http://127.0.0.1:{int(server.stdout.readline())}"
        on_loop = _loop_runner()
        cases = (
            openai_cases(url, on_loop) + anthropic_cases(url, on_loop) + client_cases(url, on_loop)
        )
        try:
            measure(cases, repeats, events)
        finally:
            for case in cases:
                getattr(case, "close", lambda: None)()
    finally:
        assert server.stdin is not None
        server.stdin.close()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)

    table, ratios = report(cases, events, repeats, command)
    print(table)
    if not (args.quick or args.no_docs):
        write_doc(table)
        chart(cases, events, CHART)
        print(f"wrote {DOC.relative_to(ROOT)} and {CHART.relative_to(ROOT)}")
    missed = [api for api, ratio in ratios.items() if ratio < TARGETS[api.split()[0]]]
    if missed and not args.no_fail:
        print("targets missed: " + ", ".join(missed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
