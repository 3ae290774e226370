"""A thousand ``AsyncStream``s at once in one process, over aiohttp and httpx.

One asyncio server on 127.0.0.1 (``servers.InterleavingProcess``) holds every stream's
connection and sends the events of all of them interleaved: round after round, one event
to each stream in a shuffled order. Every stream must get every one of its own events, in
order, none lost, repeated or crossed with another stream's; afterwards no file descriptor
and no task may be left behind. The server runs in a child process, so the clients have
this process's interpreter to themselves.

Both backends run in the same run: even-numbered streams decode with the compiled
decoder, odd-numbered ones with the pure-Python twin (a run per backend would double a
test that is bounded in time).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, Awaitable, Callable, Iterator, List, Set

import pytest
from servers import InterleavingProcess, interleaved_event

import fastsse

pytestmark = pytest.mark.anyio

STREAMS = 1000
EVENTS = 12  # per stream
DEADLINE = 60.0  # the whole run, whatever happens
SETTLE = 5.0
PROC_FDS = "/proc/self/fd"
# One socket per stream, plus what the run has open.
FDS_NEEDED = STREAMS + 256
BACKENDS = ("fast", "python")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def interleaving_server(compiled_wanted: bool) -> Iterator[InterleavingProcess]:
    if not compiled_wanted:
        pytest.skip("half the streams use the compiled backend, deselected here")
    server = InterleavingProcess().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True, scope="module")
def _enough_file_descriptors() -> Iterator[None]:
    resource = pytest.importorskip("resource", reason="needs the resource module (POSIX)")
    if not os.path.isdir(PROC_FDS):
        pytest.skip("counting open file descriptors needs /proc/self/fd")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < FDS_NEEDED:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {FDS_NEEDED} for {STREAMS} streams")
    if soft != resource.RLIM_INFINITY and soft < FDS_NEEDED:
        resource.setrlimit(resource.RLIMIT_NOFILE, (FDS_NEEDED, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def open_fds() -> int:
    return len(os.listdir(PROC_FDS))


async def settle(predicate: Callable[[], bool], timeout: float = SETTLE) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def backend_of(stream: int) -> str:
    return BACKENDS[stream % 2]


def expected_events(stream: int) -> List[Any]:
    decoder = fastsse.SSEDecoder(backend_of(stream))
    return decoder.feed(b"".join(interleaved_event(stream, k) for k in range(EVENTS)))


async def run_streams(
    server: InterleavingProcess, open_response: Callable[[str], Awaitable[Any]]
) -> List[List[Any]]:
    group = os.urandom(8).hex()

    async def one(stream: int) -> List[Any]:
        response = await open_response(server.url_for(group, stream, EVENTS, STREAMS))
        stream_of_events = fastsse.AsyncStream(response, decoder=backend_of(stream))
        return [event async for event in stream_of_events]

    results = await asyncio.wait_for(
        asyncio.gather(*(one(stream) for stream in range(STREAMS))), DEADLINE
    )
    assert server.completed(group) == STREAMS
    return list(results)


def check_every_stream(results: List[List[Any]]) -> None:
    wrong = [stream for stream, events in enumerate(results) if events != expected_events(stream)]
    assert not wrong, f"{len(wrong)} of {STREAMS} streams got wrong events, e.g. stream {wrong[0]}"
    assert sum(len(events) for events in results) == STREAMS * EVENTS


async def check_nothing_left(
    server: InterleavingProcess, fds_before: int, tasks_before: Set["asyncio.Task[Any]"]
) -> None:
    assert await settle(lambda: open_fds() <= fds_before), (
        f"{open_fds() - fds_before} file descriptor(s) left open"
    )
    assert await settle(lambda: not (asyncio.all_tasks() - tasks_before)), (
        f"tasks left behind: {asyncio.all_tasks() - tasks_before}"
    )
    assert server.open_connections == 0, "the server still has connections open"


async def test_a_thousand_aiohttp_streams(interleaving_server: InterleavingProcess) -> None:
    aiohttp = pytest.importorskip("aiohttp")
    fds_before = open_fds()
    tasks_before = asyncio.all_tasks()
    connector = aiohttp.TCPConnector(limit=0)  # no cap: every stream has its connection
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=DEADLINE, sock_read=DEADLINE)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        results = await run_streams(interleaving_server, lambda url: session.get(url))
    check_every_stream(results)
    await check_nothing_left(interleaving_server, fds_before, tasks_before)


async def test_a_thousand_httpx_streams(interleaving_server: InterleavingProcess) -> None:
    httpx = pytest.importorskip("httpx")
    fds_before = open_fds()
    tasks_before = asyncio.all_tasks()
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=DEADLINE, limits=limits, trust_env=False) as client:

        async def open_response(url: str) -> Any:
            return await client.send(client.build_request("GET", url), stream=True)

        results = await run_streams(interleaving_server, open_response)
    check_every_stream(results)
    await check_nothing_left(interleaving_server, fds_before, tasks_before)
