"""Many concurrent ``AsyncStream``s in one process: events/s, and memory per idle stream.

    python bench/many_streams.py [--streams N] [--events E] [--clients aiohttp,httpx]

The server (``tests/integration/servers.py``'s interleaving server) runs in a child
process and sends the events of all streams interleaved, one per stream per round, each
its own HTTP chunk. For each client library:

- throughput: N streams open at once, E events each, every event read through
  ``fastsse.AsyncStream`` (compiled backend); events/s of the process is N * E over the
  wall time from the first request to the last event, and the process's CPU time per
  event with the rate it allows (events per CPU-second: the figure that does not depend
  on what else the machine runs);
- memory per idle open stream: N streams opened and each read up to its first event, then
  held while the server sends nothing more; the growth of this process's resident set
  (RSS, from /proc/self/statm) divided by N. It is measured twice: through
  ``fastsse.AsyncStream``, and with the client alone (each response read up to its first
  chunk, no fastsse), so the difference is what fastsse adds per stream. Each memory
  figure comes from a fresh child process (memory freed by an earlier run stays in the
  allocator, and would hide the growth).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))

from servers import InterleavingProcess  # noqa: E402

import fastsse  # noqa: E402

IDLE_SECONDS = 60.0  # the server's pause after the first event; the bench leaves earlier


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Client:
    """One client library: open a streamed GET, read a first chunk, close."""

    name = ""

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def open(self, url: str) -> Any:
        raise NotImplementedError

    async def first_chunk(self, response: Any) -> bytes:
        raise NotImplementedError

    async def close(self, response: Any) -> None:
        raise NotImplementedError


class Aiohttp(Client):
    name = "aiohttp"

    async def start(self) -> None:
        import aiohttp

        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=None, sock_read=IDLE_SECONDS * 2),
        )

    async def stop(self) -> None:
        await self.session.close()

    async def open(self, url: str) -> Any:
        return await self.session.get(url)

    async def first_chunk(self, response: Any) -> bytes:
        return bytes(await response.content.readany())

    async def close(self, response: Any) -> None:
        response.close()


class Httpx(Client):
    name = "httpx"

    async def start(self) -> None:
        import httpx

        self.client = httpx.AsyncClient(
            timeout=IDLE_SECONDS * 2,
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=0),
            trust_env=False,
        )
        self.iterators: Dict[int, Any] = {}

    async def stop(self) -> None:
        await self.client.aclose()

    async def open(self, url: str) -> Any:
        return await self.client.send(self.client.build_request("GET", url), stream=True)

    async def first_chunk(self, response: Any) -> bytes:
        iterator = response.aiter_raw()
        self.iterators[id(response)] = iterator
        return bytes(await iterator.__anext__())

    async def close(self, response: Any) -> None:
        iterator = self.iterators.pop(id(response), None)
        if iterator is not None:
            await iterator.aclose()
        await response.aclose()


CLIENTS: Dict[str, Callable[[], Client]] = {"aiohttp": Aiohttp, "httpx": Httpx}


async def throughput(
    client: Client, server: InterleavingProcess, streams: int, events: int
) -> Tuple[float, float]:
    group = os.urandom(8).hex()

    async def one(stream: int) -> int:
        response = await client.open(server.url_for(group, stream, events, streams))
        count = 0
        async for event in fastsse.AsyncStream(response, decoder="fast"):
            event.data
            count += 1
        return count

    wall, cpu = time.perf_counter(), time.process_time()
    counts = await asyncio.gather(*(one(stream) for stream in range(streams)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if sum(counts) != streams * events:
        raise SystemExit(f"{client.name}: {sum(counts)} events, expected {streams * events}")
    return streams * events / wall, cpu / (streams * events) * 1e6


async def idle_memory(
    client: Client, server: InterleavingProcess, streams: int, with_fastsse: bool
) -> float:
    group = os.urandom(8).hex()
    held: List[Tuple[Any, Any]] = []

    async def one(stream: int) -> None:
        response = await client.open(server.url_for(group, stream, 2, streams, IDLE_SECONDS))
        if with_fastsse:
            events = fastsse.AsyncStream(response, decoder="fast").__aiter__()
            await events.__anext__()
            held.append((response, events))
        else:
            await client.first_chunk(response)
            held.append((response, None))

    gc.collect()
    before = rss_bytes()
    await asyncio.gather(*(one(stream) for stream in range(streams)))
    gc.collect()
    grown = rss_bytes() - before
    for response, events in held:
        if events is not None:
            await events.aclose()
        await client.close(response)
    return grown / streams


async def measure_memory(args: argparse.Namespace) -> None:
    server = InterleavingProcess().start()
    client = CLIENTS[args.client]()
    await client.start()
    try:
        with_fastsse = args.child == "memory-fastsse"
        await idle_memory(client, server, 20, with_fastsse)  # warm up: imports, first connections
        print(await idle_memory(client, server, args.streams, with_fastsse))
    finally:
        await client.stop()
        server.stop()


def memory_in_child(args: argparse.Namespace, client: str, with_fastsse: bool) -> float:
    child = "memory-fastsse" if with_fastsse else "memory-alone"
    command = [sys.executable, __file__, "--child", child, "--client", client]
    command += ["--streams", str(args.streams)]
    return float(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


async def run(args: argparse.Namespace) -> None:
    server = InterleavingProcess().start()
    try:
        rates = {}
        for name in args.clients.split(","):
            client = CLIENTS[name]()
            await client.start()
            try:
                await throughput(client, server, 20, 5)  # warm up: imports, first connections
                rates[name] = await throughput(client, server, args.streams, args.events)
            finally:
                await client.stop()
    finally:
        server.stop()
    print(
        f"{args.streams} concurrent streams, {args.events} events each, one process "
        f"(fastsse {fastsse.__version__}, Python {sys.version.split()[0]})"
    )
    for name, (rate, cpu) in rates.items():
        alone = memory_in_child(args, name, False)
        with_fastsse = memory_in_child(args, name, True)
        print(
            f"  {name:<8} {rate:8,.0f} events/s wall, {cpu:6.1f} µs CPU/event "
            f"({1e6 / cpu:7,.0f} events/CPU-s)   idle stream: "
            f"{with_fastsse / 1024:5.1f} KiB with fastsse, {alone / 1024:5.1f} KiB client "
            f"alone, {(with_fastsse - alone) / 1024:4.1f} KiB fastsse's share"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--clients", default="aiohttp,httpx")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = args.streams + 256
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))
    asyncio.run(measure_memory(args) if args.child else run(args))


if __name__ == "__main__":
    main()
