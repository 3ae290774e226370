"""Reconnecting streams against a real server on 127.0.0.1, with every client, on both backends.

The server (``reconnect_server.py``) drops connections mid-event and between events, ends
bodies without a terminal event, restarts, answers 204, 500, 503 with Retry-After and
text/html, and records what each request sent. Streams are made with
``fastsse.connect`` / ``fastsse.aconnect`` (fastsse builds each request) and with a
``reconnect_callback`` of the test's own (``*-callback`` clients). Every stream has short
waits and bounded attempts, and every test a time bound.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any, Callable, Iterator, List

import pytest
from reconnect_server import ReconnectServer, Reply, Seen, events

import fastsse

SYNC_CLIENTS = ["httpx", "requests", "urllib3", "httpx-callback", "urllib3-callback"]
ASYNC_CLIENTS = ["httpx", "aiohttp", "aiohttp-callback"]
FAST = fastsse.ReconnectPolicy(retry=10, max_attempts=20, max_time=10.0)
DONE = b"data: [DONE]\n\n"


@pytest.fixture(scope="module")
def server() -> Iterator[ReconnectServer]:
    server = ReconnectServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def own_server() -> Iterator[ReconnectServer]:
    """A server of the test's own, which it may stop and restart."""
    server = ReconnectServer().start()
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------------------- clients


class SyncClient:
    """Opens reconnecting streams with one client library, and closes the client."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        library = kind.partition("-")[0]
        if library == "httpx":
            httpx = pytest.importorskip("httpx")
            self.client: Any = httpx.Client(timeout=5.0)
        elif library == "requests":
            requests = pytest.importorskip("requests")
            self.client = requests.Session()
        else:
            urllib3 = pytest.importorskip("urllib3")
            self.client = urllib3.PoolManager(timeout=5.0, retries=False)

    def stream(self, url: str, **options: Any) -> "fastsse.Stream[Any]":
        options.setdefault("reconnect", FAST)
        if not self.kind.endswith("-callback"):
            return fastsse.connect(self.client, "GET", url, **options)
        return fastsse.Stream(self._get(url, ""), reconnect_callback=self._callback(url), **options)

    def _callback(self, url: str) -> Callable[[str], Any]:
        return lambda last_event_id: self._get(url, last_event_id)

    def _get(self, url: str, last_event_id: str) -> Any:
        headers = {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        if self.kind.startswith("httpx"):
            return self.client.send(
                self.client.build_request("GET", url, headers=headers), stream=True
            )
        return self.client.request("GET", url, headers=headers, preload_content=False)

    def close(self) -> None:
        close = getattr(self.client, "close", None) or self.client.clear
        close()


@pytest.fixture(params=SYNC_CLIENTS)
def sync_client(request: Any) -> Iterator[SyncClient]:
    client = SyncClient(request.param)
    try:
        yield client
    finally:
        client.close()


class AsyncClient:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.client: Any = None

    async def __aenter__(self) -> "AsyncClient":
        if self.kind.startswith("httpx"):
            httpx = pytest.importorskip("httpx")
            self.client = httpx.AsyncClient(timeout=5.0)
        else:
            aiohttp = pytest.importorskip("aiohttp")
            self.client = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_read=5)
            )
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        if self.kind.startswith("httpx"):
            await self.client.aclose()
        else:
            await self.client.close()

    async def stream(self, url: str, **options: Any) -> "fastsse.AsyncStream[Any]":
        options.setdefault("reconnect", FAST)
        if not self.kind.endswith("-callback"):
            return await fastsse.aconnect(self.client, "GET", url, **options)

        async def reconnect(last_event_id: str) -> Any:
            headers = {"Accept": "text/event-stream"}
            if last_event_id:
                headers["Last-Event-ID"] = last_event_id
            return await self.client.get(url, headers=headers)

        return fastsse.AsyncStream(await reconnect(""), reconnect_callback=reconnect, **options)


@pytest.fixture(params=ASYNC_CLIENTS)
def async_kind(request: Any) -> str:
    return request.param  # type: ignore[no-any-return]


def run(coroutine: Any, timeout: float = 20.0) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


# ----------------------------------------------------------------------------- scripts


def resuming(total: int, per_connection: int, mid_event: bool) -> Callable[[Seen, int], Reply]:
    """A server that honours Last-Event-ID: events after it, ``per_connection`` at a time,
    then a dropped connection (inside the next event when ``mid_event``), and at the end
    ``[DONE]``."""

    def reply(request: Seen, index: int) -> Reply:
        start = int(request.last_event_id or 0) + 1
        ids = list(range(start, min(start + per_connection, total + 1)))
        writes = events(ids)
        if ids[-1] == total:
            return Reply(writes + [DONE])
        if mid_event:
            nxt = ids[-1] + 1
            writes.append(b'id: %d\ndata: {"n": %d' % (nxt, nxt))  # no blank line: discarded
        return Reply(writes, end="reset" if index % 2 else "drop")

    return reply


def numbers(items: List[Any]) -> List[int]:
    return [item["n"] for item in items]


def as_json(response: Any, payload: Any) -> Any:
    return payload


# ------------------------------------------------------------------------------- sync


@pytest.mark.parametrize("mid_event", [False, True], ids=["between", "mid-event"])
def test_sync_resumes_without_loss_or_repeat(
    server: ReconnectServer, sync_client: SyncClient, backend: str, mid_event: bool
) -> None:
    url = server.script(resuming(total=9, per_connection=3, mid_event=mid_event))
    with sync_client.stream(
        url, decoder=backend, deserialization_callback=as_json, terminal_event="[DONE]"
    ) as stream:
        assert numbers(list(stream)) == list(range(1, 10))
        assert stream.reconnect_attempts == 2
        assert stream.last_event_id == "9"
    assert [seen.last_event_id for seen in server.seen(url)] == [None, "3", "6"]


def test_sync_connect_sends_stream_headers(server: ReconnectServer, backend: str) -> None:
    httpx = pytest.importorskip("httpx")
    requests = pytest.importorskip("requests")
    urllib3 = pytest.importorskip("urllib3")
    for client in (httpx.Client(), requests.Session(), urllib3.PoolManager(retries=False)):
        url = server.script([Reply(events([1, 2])), Reply(events([3]) + [DONE])])
        stream = fastsse.connect(
            client,
            "POST",
            url,
            headers={"X-Test": "yes", "last-event-id": "0"},
            json={"q": 1},
            decoder=backend,
            terminal_event="[DONE]",
            reconnect=FAST,
        )
        with stream:
            assert [event.id for event in stream] == ["1", "2", "3"]
        seen = server.seen(url)
        assert [s.last_event_id for s in seen] == ["0", "2"]
        for request in seen:
            assert request.method == "POST"
            assert request.headers["accept"] == "text/event-stream"
            assert request.headers["cache-control"] == "no-store"
            assert request.headers["x-test"] == "yes"
            assert request.headers["content-type"] == "application/json"
            assert request.body == b'{"q":1}'
        (getattr(client, "close", None) or client.clear)()


def test_sync_clean_end_without_terminal_reconnects(
    server: ReconnectServer, sync_client: SyncClient, backend: str
) -> None:
    url = server.script([Reply(events([1, 2])), Reply([b"retry: 20\n\n"] + events([3]) + [DONE])])
    with sync_client.stream(url, decoder=backend, terminal_event="[DONE]") as stream:
        assert [event.id for event in stream] == ["1", "2", "3"]
        assert stream.retry == 20
    assert [seen.last_event_id for seen in server.seen(url)] == [None, "2"]


def test_sync_terminal_names_and_predicate_stop_reconnecting(
    server: ReconnectServer, sync_client: SyncClient, backend: str
) -> None:
    url = server.script([Reply(events([1]) + [b"event: end\ndata: {}\n\n"], end="drop")])
    with sync_client.stream(url, decoder=backend, terminal_event_names={"end"}) as stream:
        assert [event.event for event in stream] == ["message", "end"]
    url = server.script([Reply(events([1, 2, 3]), end="drop")])
    with sync_client.stream(
        url, decoder=backend, terminal_event_predicate=lambda event: event.id == "2"
    ) as stream:
        assert [event.id for event in stream] == ["1", "2"]
        assert stream.reconnect_attempts == 0
    assert len(server.seen(url)) == 1


def test_sync_204_ends_the_stream(
    server: ReconnectServer, sync_client: SyncClient, backend: str
) -> None:
    url = server.script([Reply(events([1, 2]), end="drop"), Reply(status=204, content_type=None)])
    with sync_client.stream(url, decoder=backend) as stream:
        assert [event.id for event in stream] == ["1", "2"]
        assert stream.closed
    assert [seen.last_event_id for seen in server.seen(url)] == [None, "2"]


def test_sync_500_raises_without_reconnecting(
    server: ReconnectServer, sync_client: SyncClient, backend: str
) -> None:
    url = server.script(
        [Reply(events([1])), Reply(status=500, content_type="text/plain", body=b"boom")]
    )
    received: List[str] = []
    with sync_client.stream(url, decoder=backend) as stream:
        with pytest.raises(fastsse.ResponseError) as caught:
            for event in stream:
                received.append(event.id)
    assert received == ["1"]
    assert caught.value.status_code == 500 and caught.value.body == b"boom"
    assert len(server.seen(url)) == 2


def test_sync_503_retried_after_retry_after(
    server: ReconnectServer, sync_client: SyncClient, backend: str
) -> None:
    busy = Reply(status=503, content_type="text/plain", headers=[("Retry-After", "1")])
    url = server.script([Reply(events([1])), busy, Reply(events([2]) + [DONE])])
    seen: List[fastsse.Reconnection] = []
    policy = fastsse.ReconnectPolicy(
        retry=10, max_attempts=5, retry_statuses={503}, on_reconnect=seen.append
    )
    started = time.monotonic()
    with sync_client.stream(url, decoder=backend, terminal_event="[DONE]", reconnect=policy) as s:
        assert [event.id for event in s] == ["1", "2"]
    assert time.monotonic() - started >= 1.0
    assert [r.attempt for r in seen] == [1, 2]  # the 503 brought no event
    assert seen[1].delay >= 1.0 and isinstance(seen[1].cause, fastsse.ResponseError)
    assert [request.last_event_id for request in server.seen(url)] == [None, "1", "1"]


def test_sync_503_without_opt_in_raises(server: ReconnectServer, sync_client: SyncClient) -> None:
    url = server.script([Reply(events([1])), Reply(status=503, headers=[("Retry-After", "1")])])
    with sync_client.stream(url) as stream:
        with pytest.raises(fastsse.ResponseError) as caught:
            list(stream)
    assert caught.value.status_code == 503
    assert len(server.seen(url)) == 2


def test_sync_wrong_content_type_raises(
    server: ReconnectServer, sync_client: SyncClient, backend: str
) -> None:
    page = Reply([b"<html></html>"], content_type="text/html")
    url = server.script([Reply(events([1]), end="drop"), page])
    with sync_client.stream(url, decoder=backend) as stream:
        received: List[str] = []
        with pytest.raises(fastsse.FormatError, match="text/html"):
            for event in stream:
                received.append(event.id)
    assert received == ["1"]
    assert len(server.seen(url)) == 2


def test_sync_gives_up_after_max_attempts(
    server: ReconnectServer, sync_client: SyncClient, backend: str
) -> None:
    busy = Reply(status=503, content_type="text/plain", body=b"busy")
    url = server.script([Reply(events([1]), end="drop"), busy])
    policy = fastsse.ReconnectPolicy(retry=5, backoff=2.0, max_attempts=3, retry_statuses={503})
    with sync_client.stream(url, decoder=backend, reconnect=policy) as stream:
        with pytest.raises(fastsse.ReconnectError) as caught:
            list(stream)
    assert caught.value.attempts == 3 and caught.value.last_event_id == "1"
    assert isinstance(caught.value.__cause__, fastsse.ResponseError)
    assert "max_attempts=3" in str(caught.value)
    assert len(server.seen(url)) == 4


def test_sync_restarted_server(
    own_server: ReconnectServer, sync_client: SyncClient, backend: str, caplog: Any
) -> None:
    url = own_server.script(resuming(total=6, per_connection=3, mid_event=False))
    policy = fastsse.ReconnectPolicy(retry=20, max_attempts=100, max_time=10.0)
    received: List[str] = []
    with caplog.at_level(logging.INFO, logger="fastsse"):
        with sync_client.stream(
            url, decoder=backend, reconnect=policy, terminal_event="[DONE]"
        ) as s:
            for event in s:
                received.append(event.id)
                if event.id == "2":  # down before the connection ends: the first attempt fails
                    own_server.stop()
                    threading.Timer(0.3, own_server.start).start()
            attempts = s.reconnect_attempts
    assert received == ["1", "2", "3", "4", "5", "6"]
    assert attempts >= 2  # refused while down, then resumed
    sent = [seen.last_event_id for seen in own_server.seen(url)]
    # The stop may come before or after event 3 reached the client: either way each
    # request resumes after the last event received.
    assert sent[0] is None and set(sent[1:]) <= {"2", "3", "5"}
    assert [int(value) for value in sent[1:]] == sorted(int(value) for value in sent[1:])
    assert any("reconnecting" in record.getMessage() for record in caplog.records)


def test_sync_refused_gives_up_with_the_client_error(sync_client: SyncClient) -> None:
    down = ReconnectServer().start()
    url = down.script([Reply(events([1]), end="drop")])
    policy = fastsse.ReconnectPolicy(retry=5, max_attempts=3)
    with sync_client.stream(url, reconnect=policy) as stream:
        iterator = iter(stream)
        assert next(iterator).id == "1"
        down.stop()
        with pytest.raises(fastsse.ReconnectError) as caught:
            next(iterator)
    assert caught.value.attempts == 3
    assert fastsse._reconnect.is_connection_error(caught.value.__cause__)  # type: ignore[arg-type]


def test_sync_close_during_the_wait_stops_at_once(
    server: ReconnectServer, sync_client: SyncClient, backend: str
) -> None:
    url = server.script([Reply(events([1]))])
    stream = sync_client.stream(
        url, decoder=backend, reconnect=fastsse.ReconnectPolicy(retry=30_000)
    )
    received: List[str] = []
    finished = threading.Event()

    def consume() -> None:
        for event in stream:
            received.append(event.id)
        finished.set()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while stream.reconnect_attempts == 0 and not received and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # in the 30 s wait now
    closing = time.monotonic()
    stream.close()
    assert finished.wait(2.0), "the wait did not end on close()"
    assert time.monotonic() - closing < 1.0
    thread.join(2.0)
    assert received == ["1"]
    assert len(server.seen(url)) == 1  # no reconnection after close()


# ------------------------------------------------------------------------------ async


@pytest.mark.parametrize("mid_event", [False, True], ids=["between", "mid-event"])
def test_async_resumes_without_loss_or_repeat(
    server: ReconnectServer, async_kind: str, backend: str, mid_event: bool
) -> None:
    url = server.script(resuming(total=9, per_connection=3, mid_event=mid_event))

    async def main() -> None:
        async with AsyncClient(async_kind) as client:
            stream = await client.stream(
                url, decoder=backend, deserialization_callback=as_json, terminal_event="[DONE]"
            )
            async with stream:
                assert numbers([item async for item in stream]) == list(range(1, 10))
                assert stream.reconnect_attempts == 2

    run(main())
    assert [seen.last_event_id for seen in server.seen(url)] == [None, "3", "6"]


def test_async_aconnect_sends_stream_headers(server: ReconnectServer, async_kind: str) -> None:
    if async_kind.endswith("-callback"):
        pytest.skip("the test's own callback sends its own headers")
    url = server.script([Reply(events([1, 2]), end="drop"), Reply(events([3]) + [DONE])])

    async def main() -> List[str]:
        async with AsyncClient(async_kind) as client:
            stream = await fastsse.aconnect(
                client.client,
                "POST",
                url,
                headers=[("X-Test", "yes")],
                body="text body",
                terminal_event="[DONE]",
                reconnect=FAST,
                last_event_id="é0",
            )
            async with stream:
                return [event.id async for event in stream]

    assert run(main()) == ["1", "2", "3"]
    seen = server.seen(url)
    assert [s.last_event_id for s in seen] == ["é0", "2"]
    for request in seen:
        assert request.headers["accept"] == "text/event-stream"
        assert request.headers["cache-control"] == "no-store"
        assert request.headers["x-test"] == "yes"
        assert request.body == b"text body"


def test_async_statuses_and_content_type(
    server: ReconnectServer, async_kind: str, backend: str
) -> None:
    ended = server.script([Reply(events([1])), Reply(status=204, content_type=None)])
    failed = server.script([Reply(events([1])), Reply(status=500, body=b"boom")])
    html = server.script(
        [Reply(events([1]), end="drop"), Reply([b"<p>"], content_type="text/html")]
    )
    busy = Reply(status=503, content_type="text/plain", headers=[("Retry-After", "1")])
    retried = server.script([Reply(events([1])), busy, Reply(events([2]) + [DONE])])

    async def ids(url: str, **options: Any) -> List[str]:
        received: List[str] = []
        async with AsyncClient(async_kind) as client:
            async with await client.stream(url, decoder=backend, **options) as stream:
                async for event in stream:
                    received.append(event.id)
        return received

    assert run(ids(ended)) == ["1"]
    with pytest.raises(fastsse.ResponseError, match="500"):
        run(ids(failed))
    with pytest.raises(fastsse.FormatError, match="text/html"):
        run(ids(html))
    policy = fastsse.ReconnectPolicy(retry=10, max_attempts=5, retry_statuses={503})
    started = time.monotonic()
    assert run(ids(retried, reconnect=policy, terminal_event="[DONE]")) == ["1", "2"]
    assert time.monotonic() - started >= 1.0
    assert [len(server.seen(url)) for url in (ended, failed, html, retried)] == [2, 2, 2, 3]


def test_async_gives_up_and_restarted_server(
    own_server: ReconnectServer, async_kind: str, backend: str
) -> None:
    url = own_server.script(resuming(total=6, per_connection=3, mid_event=True))
    hooks: List[fastsse.Reconnection] = []

    async def hook(reconnection: fastsse.Reconnection) -> None:
        hooks.append(reconnection)

    policy = fastsse.ReconnectPolicy(retry=20, max_attempts=100, max_time=10.0, on_reconnect=hook)

    async def main() -> List[str]:
        received: List[str] = []
        async with AsyncClient(async_kind) as client:
            stream = await client.stream(
                url, decoder=backend, reconnect=policy, terminal_event="[DONE]"
            )
            async with stream:
                async for event in stream:
                    received.append(event.id)
                    if event.id == "2":
                        await asyncio.get_running_loop().run_in_executor(None, own_server.stop)
                        asyncio.get_running_loop().call_later(0.3, own_server.start)
        return received

    assert run(main()) == ["1", "2", "3", "4", "5", "6"]
    assert len(hooks) >= 2 and hooks[0].attempt == 1
    assert {hook.last_event_id for hook in hooks} <= {"2", "3", "5"}

    down = own_server.script([Reply(events([1]), end="drop")])
    limited = fastsse.ReconnectPolicy(retry=5, max_attempts=2)

    async def refused() -> None:
        async with AsyncClient(async_kind) as client:
            async with await client.stream(down, reconnect=limited) as stream:
                iterator = stream.__aiter__()
                assert (await iterator.__anext__()).id == "1"
                await asyncio.get_running_loop().run_in_executor(None, own_server.stop)
                await iterator.__anext__()

    with pytest.raises(fastsse.ReconnectError) as caught:
        run(refused())
    assert caught.value.attempts == 2


@pytest.mark.parametrize("how", ["aclose", "cancel"])
def test_async_close_or_cancel_during_the_wait(
    server: ReconnectServer, async_kind: str, backend: str, how: str
) -> None:
    url = server.script([Reply(events([1]))])

    async def main() -> float:
        async with AsyncClient(async_kind) as client:
            stream = await client.stream(
                url, decoder=backend, reconnect=fastsse.ReconnectPolicy(retry=30_000)
            )
            received: List[str] = []

            async def consume() -> None:
                async for event in stream:
                    received.append(event.id)

            task = asyncio.ensure_future(consume())
            for _ in range(500):
                if received:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)  # in the 30 s wait now
            closing = time.monotonic()
            if how == "aclose":
                await stream.aclose()
                await asyncio.wait_for(task, 2.0)
            else:
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await asyncio.wait_for(task, 2.0)
            assert received == ["1"] and stream.closed
            return time.monotonic() - closing

    assert run(main()) < 1.0
    assert len(server.seen(url)) == 1
