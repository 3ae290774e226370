"""Faults on the wire, through every client, sync and async, SSE and JSON Lines.

A raw-socket server on 127.0.0.1 (``servers.RawServer``) breaks each body in one way: a
TCP reset mid-event, a chunked body cut short, a body shorter than its Content-Length, a
stall that meets the client's read timeout. Each must raise ``fastsse.ConnectionLost``
chained from the client's own exception, after every complete event was delivered, with
the last event ID and the count of events delivered, and leave nothing open: the response
closed, the connection's file descriptors released, a stalled server told the client
left. A server that drips its body one byte every few milliseconds must be read to the
end, event for event.

Events before the fault are sent in lockstep (each after the client acknowledged the one
before), so they are known to have been delivered before the connection breaks.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import time
import zlib
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple
from urllib.parse import urlsplit

import pytest
from servers import Plan, RawServer

import fastsse

READ_TIMEOUT = 0.3  # what a stall meets; every other wait is bounded by CLIENT_TIMEOUT
CLIENT_TIMEOUT = 10.0
STALL = 5.0  # the server's stall outlasts the read timeout many times over
SETTLE = 5.0  # how long closing may take to show in the file descriptors and the server
DRIP_DELAY = 0.002
PROC_FDS = "/proc/self/fd"

# ------------------------------------------------------------------------------ bodies


def complete_items(fmt: str, n: int = 3) -> List[bytes]:
    if fmt == "sse":
        return [b'id: %d\ndata: {"n": %d}\n\n' % (k, k) for k in range(n)]
    return [b'{"n": %d}\n' % k for k in range(n)]


def partial_item(fmt: str) -> bytes:
    # An event (a record) that never ends: it must not be delivered.
    return b'id: 99\ndata: {"n": 99' if fmt == "sse" else b'{"n": 99'


CONTENT_TYPES = {"sse": "text/event-stream", "jsonl": "application/x-ndjson"}


def decoded(backend: str, fmt: str, body: bytes) -> List[Any]:
    decoder = fastsse.SSEDecoder(backend) if fmt == "sse" else fastsse.JSONLDecoder(backend)
    return decoder.feed(body) + decoder.flush()


# (fault, framing): how the server breaks the body.
FAULTS: Dict[str, Tuple[str, Dict[str, Any]]] = {
    "reset-chunked": ("chunked", {"reset": True}),
    "reset-length": ("length", {"reset": True}),
    "reset-close": ("close", {"reset": True}),
    "truncated-chunked": ("chunked", {"drop": True}),
    "short-length": ("length", {"short_by": 64}),
    # A read timeout is the same whatever the framing.
    "stall-chunked": ("chunked", {"stall": STALL}),
}


def fault_plan(fault: str, fmt: str) -> Tuple[Plan, str]:
    framing, options = FAULTS[fault]
    if framing == "length":
        # The Content-Length counts bytes that never come, so the fault is mid-body.
        options = {"short_by": 64, **options}
    writes = complete_items(fmt) + [partial_item(fmt)]
    return Plan(writes, content_type=CONTENT_TYPES[fmt], lockstep=True, **options), framing


def _tcp_inodes_on(ports: Set[int]) -> Set[str]:
    # /proc/net/tcp{,6}: "sl local_address rem_address st ... inode", addresses as HEX:PORT.
    inodes: Set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as rows:
                next(rows)
                for row in rows:
                    fields = row.split()
                    ends = (fields[1], fields[2])
                    if any(int(end.rsplit(":", 1)[1], 16) in ports for end in ends):
                        inodes.add(fields[9])
        except OSError:
            continue
    return inodes


def sockets_of(server: RawServer, token: str) -> int:
    """This process's open sockets of the connections made for ``token``: their client and
    server ends. Each connection is told by the client's port, so a connection that another
    test left to the same server (its server thread still winding down, on a loaded
    machine) is not counted here."""
    peers = server.peers(token)
    assert peers, "no request reached the server"
    inodes = _tcp_inodes_on({port for _, port in peers})
    count = 0
    for fd in os.listdir(PROC_FDS):
        try:
            target = os.readlink(os.path.join(PROC_FDS, fd))
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            count += 1
    return count


def settle(predicate: Callable[[], bool], timeout: float = SETTLE) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


async def asettle(predicate: Callable[[], bool], timeout: float = SETTLE) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.01)
    return True


@pytest.fixture(params=["sse", "jsonl"])
def fmt(request: Any) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def _needs_proc_fds() -> None:
    if not os.path.isdir(PROC_FDS):
        pytest.skip("counting open file descriptors needs /proc/self/fd")


# ------------------------------------------------------------------------- sync clients


class SyncClient:
    """One sync client library, with a short read timeout."""

    name = ""
    # The top-level modules whose exceptions may be ConnectionLost's cause.
    cause_modules: Tuple[str, ...] = ()
    # The client ends a body short of its Content-Length quietly: fastsse's own count of
    # the bytes raises, with no client error to chain from.
    quiet_short_body = False
    # fastsse is handed a response, not the connection: whether closing the response
    # releases the socket, or the caller's connection object still holds it.
    response_owns_socket = True

    def open(self, url: str) -> Any:
        raise NotImplementedError

    def is_closed(self, response: Any) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        pass


class HttpxClient(SyncClient):
    name = "httpx"
    cause_modules = ("httpx",)

    def __init__(self) -> None:
        httpx = pytest.importorskip("httpx")
        self.client = httpx.Client(
            trust_env=False, timeout=httpx.Timeout(CLIENT_TIMEOUT, read=READ_TIMEOUT)
        )

    def open(self, url: str) -> Any:
        return self.client.send(self.client.build_request("GET", url), stream=True)

    def is_closed(self, response: Any) -> bool:
        return bool(response.is_closed)

    def close(self) -> None:
        self.client.close()


class RequestsClient(SyncClient):
    name = "requests"
    cause_modules = ("requests",)

    def __init__(self) -> None:
        requests = pytest.importorskip("requests")
        self.session = requests.Session()
        self.session.trust_env = False

    def open(self, url: str) -> Any:
        return self.session.get(url, stream=True, timeout=(CLIENT_TIMEOUT, READ_TIMEOUT))

    def is_closed(self, response: Any) -> bool:
        return bool(response.raw.closed)

    def close(self) -> None:
        self.session.close()


class Urllib3Client(SyncClient):
    name = "urllib3"
    cause_modules = ("urllib3",)

    def __init__(self) -> None:
        urllib3 = pytest.importorskip("urllib3")
        self.pool = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=CLIENT_TIMEOUT, read=READ_TIMEOUT), retries=False
        )

    def open(self, url: str) -> Any:
        return self.pool.request("GET", url, preload_content=False)

    def is_closed(self, response: Any) -> bool:
        return bool(response.closed)

    def close(self) -> None:
        self.pool.clear()


class HttpClientFile(SyncClient):
    """``http.client``'s response, a file object (``read1``) over the socket."""

    name = "http.client"
    cause_modules = ("builtins", "http", "socket")
    quiet_short_body = True
    response_owns_socket = False  # the HTTPConnection keeps it for its next request

    def __init__(self) -> None:
        self.connections: List[http.client.HTTPConnection] = []

    def open(self, url: str) -> Any:
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=READ_TIMEOUT)
        self.connections.append(connection)
        connection.request("GET", f"{parts.path}?{parts.query}")
        return connection.getresponse()

    def is_closed(self, response: Any) -> bool:
        return bool(response.isclosed())

    def close(self) -> None:
        for connection in self.connections:
            connection.close()


class SyncPipelineClient(SyncClient):
    """An azure-core or corehttp ``PipelineClient`` (``client``) sending ``HttpRequest``s."""

    client: Any
    HttpRequest: Any

    def open(self, url: str) -> Any:
        return self.client.send_request(self.HttpRequest("GET", url), stream=True)

    def close(self) -> None:
        self.client.close()


class AzureRequestsClient(SyncPipelineClient):
    name = "azure-core-requests"
    cause_modules = ("requests",)

    def __init__(self) -> None:
        pytest.importorskip("azure.core")
        from azure.core import PipelineClient
        from azure.core.pipeline.transport import RequestsTransport
        from azure.core.rest import HttpRequest

        self.HttpRequest = HttpRequest
        transport = RequestsTransport(connection_timeout=CLIENT_TIMEOUT, read_timeout=READ_TIMEOUT)
        self.client = PipelineClient(base_url="http://127.0.0.1", transport=transport)

    def is_closed(self, response: Any) -> bool:
        return bool(response.is_closed) and bool(response._internal_response.raw.closed)


class CorehttpRequestsClient(AzureRequestsClient):
    name = "corehttp-requests"

    def __init__(self) -> None:
        pytest.importorskip("corehttp")
        from corehttp.rest import HttpRequest
        from corehttp.runtime import PipelineClient
        from corehttp.transport.requests import RequestsTransport

        self.HttpRequest = HttpRequest
        transport = RequestsTransport(connection_timeout=CLIENT_TIMEOUT, read_timeout=READ_TIMEOUT)
        self.client = PipelineClient("http://127.0.0.1", transport=transport, retry_total=0)


class CorehttpHttpxClient(SyncPipelineClient):
    name = "corehttp-httpx"
    cause_modules = ("httpx",)

    def __init__(self) -> None:
        pytest.importorskip("corehttp")
        httpx = pytest.importorskip("httpx")
        from corehttp.rest import HttpRequest
        from corehttp.runtime import PipelineClient
        from corehttp.transport.httpx import HttpXTransport

        self.HttpRequest = HttpRequest
        self.httpx_client = httpx.Client(
            trust_env=False, timeout=httpx.Timeout(CLIENT_TIMEOUT, read=READ_TIMEOUT)
        )
        # corehttp sets each request's timeouts itself, over the client's.
        transport = HttpXTransport(
            client=self.httpx_client, client_owner=False, read_timeout=READ_TIMEOUT
        )
        self.client = PipelineClient("http://127.0.0.1", transport=transport, retry_total=0)

    def is_closed(self, response: Any) -> bool:
        return bool(response.is_closed) and bool(response._internal_response.is_closed)

    def close(self) -> None:
        super().close()
        self.httpx_client.close()


SYNC_CLIENTS: Dict[str, Callable[[], SyncClient]] = {
    cls.name: cls
    for cls in (
        HttpxClient,
        RequestsClient,
        Urllib3Client,
        HttpClientFile,
        AzureRequestsClient,
        CorehttpRequestsClient,
        CorehttpHttpxClient,
    )
}


@pytest.fixture(params=list(SYNC_CLIENTS))
def sync_client(request: Any) -> Any:
    client = SYNC_CLIENTS[request.param]()
    try:
        yield client
    finally:
        client.close()


def drip_plan(fmt: str) -> Tuple[bytes, Plan]:
    """Four complete items, sent a byte at a time: the body and its plan."""
    body = b"".join(complete_items(fmt, 4))
    writes = [body[i : i + 1] for i in range(len(body))]
    return body, Plan(writes, content_type=CONTENT_TYPES[fmt], delay=DRIP_DELAY)


def assert_lost(
    error: Optional[BaseException],
    client: Any,
    backend: str,
    fmt: str,
    items: List[Any],
    fault: str,
) -> None:
    expected = decoded(backend, fmt, b"".join(complete_items(fmt)))
    assert isinstance(error, fastsse.ConnectionLost), f"{client.name}: {error!r}"
    assert isinstance(error, fastsse.StreamError)
    cause = error.__cause__
    if fault == "short-length" and getattr(client, "quiet_short_body", False):
        assert cause is None, repr(cause)
        assert "Content-Length" in str(error)
    else:
        assert cause is not None, "ConnectionLost must be chained from the client's error"
        assert type(cause).__module__.partition(".")[0] in client.cause_modules, repr(cause)
    assert items == expected, "every complete event before the fault is delivered"
    assert error.events_delivered == len(expected)
    assert error.last_event_id == ("2" if fmt == "sse" else "")


@pytest.mark.parametrize("fault", list(FAULTS))
def test_sync_fault_raises_connection_lost(
    sync_client: Any, raw_server: RawServer, backend: str, fmt: str, fault: str
) -> None:
    plan, framing = fault_plan(fault, fmt)
    token = raw_server.new_token()
    url = raw_server.url_for(raw_server.register(plan), framing, token)
    response = sync_client.open(url)
    items: List[Any] = []
    error: Optional[BaseException] = None
    started = time.monotonic()
    try:
        for k, item in enumerate(fastsse.Stream(response, decoder=backend)):
            items.append(item)
            raw_server.ack(token, k)
    except Exception as exc:  # noqa: BLE001 - the test inspects what was raised
        error = exc
    assert_lost(error, sync_client, backend, fmt, items, fault)
    assert time.monotonic() - started < CLIENT_TIMEOUT, "the fault was noticed late"
    assert sync_client.is_closed(response)
    if not sync_client.response_owns_socket:
        sync_client.close()
    if fault.startswith("stall"):
        assert raw_server.disconnected(token, SETTLE), "the stalled server never saw the client go"
    assert settle(lambda: sockets_of(raw_server, token) == 0), (
        f"{sockets_of(raw_server, token)} socket(s) of the stream's connection left open"
    )


@pytest.mark.parametrize("framing", ["chunked", "close"])
def test_sync_drip_is_read_to_the_end(
    sync_client: Any, raw_server: RawServer, backend: str, fmt: str, framing: str
) -> None:
    body, plan = drip_plan(fmt)
    token = raw_server.new_token()
    response = sync_client.open(raw_server.url_for(raw_server.register(plan), framing, token))
    items = list(fastsse.Stream(response, decoder=backend))
    assert items == decoded(backend, fmt, body)
    assert len(items) == 4
    assert raw_server.completed(token, SETTLE)
    assert sync_client.is_closed(response)


# ------------------------------------------------------------------------ async clients


class AsyncClient:
    name = ""
    cause_modules: Tuple[str, ...] = ()
    # aiohttp takes a reset that ends a close-delimited body for the body's end.
    reset_close_is_end = False

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def open(self, url: str) -> Any:
        raise NotImplementedError

    def is_closed(self, response: Any) -> bool:
        raise NotImplementedError


class AsyncHttpxClient(AsyncClient):
    name = "httpx"
    cause_modules = ("httpx",)

    async def start(self) -> None:
        httpx = pytest.importorskip("httpx")
        self.client = httpx.AsyncClient(
            trust_env=False, timeout=httpx.Timeout(CLIENT_TIMEOUT, read=READ_TIMEOUT)
        )

    async def stop(self) -> None:
        await self.client.aclose()

    async def open(self, url: str) -> Any:
        return await self.client.send(self.client.build_request("GET", url), stream=True)

    def is_closed(self, response: Any) -> bool:
        return bool(response.is_closed)


class AiohttpClient(AsyncClient):
    name = "aiohttp"
    cause_modules = ("aiohttp",)
    reset_close_is_end = True

    async def start(self) -> None:
        aiohttp = pytest.importorskip("aiohttp")
        self.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=CLIENT_TIMEOUT, sock_read=READ_TIMEOUT
            )
        )

    async def stop(self) -> None:
        await self.session.close()

    async def open(self, url: str) -> Any:
        return await self.session.get(url)

    def is_closed(self, response: Any) -> bool:
        return bool(response.closed) and response.connection is None


class AsyncPipelineClient(AsyncClient):
    """An azure-core or corehttp ``AsyncPipelineClient`` (``client``, entered by ``start``)
    sending ``HttpRequest``s."""

    client: Any
    HttpRequest: Any

    async def stop(self) -> None:
        await self.client.close()

    async def open(self, url: str) -> Any:
        return await self.client.send_request(self.HttpRequest("GET", url), stream=True)


class AzureAiohttpClient(AsyncPipelineClient):
    name = "azure-core-aiohttp"
    cause_modules = ("aiohttp",)
    reset_close_is_end = True

    async def start(self) -> None:
        pytest.importorskip("aiohttp")
        pytest.importorskip("azure.core")
        from azure.core import AsyncPipelineClient
        from azure.core.pipeline.transport import AioHttpTransport
        from azure.core.rest import HttpRequest

        self.HttpRequest = HttpRequest
        transport = AioHttpTransport(connection_timeout=CLIENT_TIMEOUT, read_timeout=READ_TIMEOUT)
        self.client = AsyncPipelineClient(base_url="http://127.0.0.1", transport=transport)
        await self.client.__aenter__()

    def is_closed(self, response: Any) -> bool:
        return bool(response.is_closed) and bool(response.internal_response.closed)


class CorehttpAiohttpClient(AsyncPipelineClient):
    name = "corehttp-aiohttp"
    cause_modules = ("aiohttp",)
    reset_close_is_end = True

    async def start(self) -> None:
        pytest.importorskip("aiohttp")
        pytest.importorskip("corehttp")
        from corehttp.rest import HttpRequest
        from corehttp.runtime import AsyncPipelineClient
        from corehttp.transport.aiohttp import AioHttpTransport

        self.HttpRequest = HttpRequest
        transport = AioHttpTransport(connection_timeout=CLIENT_TIMEOUT, read_timeout=READ_TIMEOUT)
        self.client = AsyncPipelineClient("http://127.0.0.1", transport=transport, retry_total=0)
        await self.client.__aenter__()

    def is_closed(self, response: Any) -> bool:
        return bool(response.is_closed) and bool(response._internal_response.closed)


class CorehttpAsyncHttpxClient(AsyncPipelineClient):
    name = "corehttp-httpx"
    cause_modules = ("httpx",)

    async def start(self) -> None:
        pytest.importorskip("corehttp")
        httpx = pytest.importorskip("httpx")
        from corehttp.rest import HttpRequest
        from corehttp.runtime import AsyncPipelineClient
        from corehttp.transport.httpx import AsyncHttpXTransport

        self.HttpRequest = HttpRequest
        self.httpx_client = httpx.AsyncClient(
            trust_env=False, timeout=httpx.Timeout(CLIENT_TIMEOUT, read=READ_TIMEOUT)
        )
        transport = AsyncHttpXTransport(
            client=self.httpx_client, client_owner=False, read_timeout=READ_TIMEOUT
        )
        self.client = AsyncPipelineClient("http://127.0.0.1", transport=transport, retry_total=0)
        await self.client.__aenter__()

    async def stop(self) -> None:
        await super().stop()
        await self.httpx_client.aclose()

    def is_closed(self, response: Any) -> bool:
        return bool(response.is_closed) and bool(response._internal_response.is_closed)


ASYNC_CLIENTS: Dict[str, Callable[[], AsyncClient]] = {
    cls.name: cls
    for cls in (
        AsyncHttpxClient,
        AiohttpClient,
        AzureAiohttpClient,
        CorehttpAiohttpClient,
        CorehttpAsyncHttpxClient,
    )
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=list(ASYNC_CLIENTS))
async def async_client(request: Any, anyio_backend: str) -> Any:
    client = ASYNC_CLIENTS[request.param]()
    await client.start()
    try:
        yield client
    finally:
        await client.stop()


@pytest.mark.anyio
@pytest.mark.parametrize("fault", list(FAULTS))
async def test_async_fault_raises_connection_lost(
    async_client: Any, raw_server: RawServer, backend: str, fmt: str, fault: str
) -> None:
    plan, framing = fault_plan(fault, fmt)
    token = raw_server.new_token()
    url = raw_server.url_for(raw_server.register(plan), framing, token)
    response = await async_client.open(url)
    items: List[Any] = []
    error: Optional[BaseException] = None
    started = time.monotonic()
    try:
        k = 0
        async for item in fastsse.AsyncStream(response, decoder=backend):
            items.append(item)
            raw_server.ack(token, k)
            k += 1
    except Exception as exc:  # noqa: BLE001 - the test inspects what was raised
        error = exc
    if fault == "reset-close" and async_client.reset_close_is_end:
        # Declared difference: aiohttp ends a close-delimited body at a reset as at a
        # close, so the stream ends as a complete one: the unfinished SSE event is
        # discarded, the unfinished JSON Lines record is the last record.
        assert error is None, repr(error)
        assert items == decoded(backend, fmt, plan.body)
    else:
        assert_lost(error, async_client, backend, fmt, items, fault)
    assert time.monotonic() - started < CLIENT_TIMEOUT, "the fault was noticed late"
    assert await asettle(lambda: async_client.is_closed(response))
    if fault.startswith("stall"):
        assert await asettle(lambda: raw_server.disconnected(token, 0)), (
            "the stalled server never saw the client go"
        )
    assert await asettle(lambda: sockets_of(raw_server, token) == 0), (
        f"{sockets_of(raw_server, token)} socket(s) of the stream's connection left open"
    )


@pytest.mark.anyio
@pytest.mark.parametrize("framing", ["chunked", "close"])
async def test_async_drip_is_read_to_the_end(
    async_client: Any, raw_server: RawServer, backend: str, fmt: str, framing: str
) -> None:
    body, plan = drip_plan(fmt)
    token = raw_server.new_token()
    response = await async_client.open(
        raw_server.url_for(raw_server.register(plan), framing, token)
    )
    items = [item async for item in fastsse.AsyncStream(response, decoder=backend)]
    assert items == decoded(backend, fmt, body)
    assert len(items) == 4
    assert await asettle(lambda: raw_server.completed(token, 0))
    assert await asettle(lambda: async_client.is_closed(response))


# azure-core's AsyncioRequestsTransport reads its body in fixed blocks (requests in a
# worker thread, through azure-core's own iter_bytes), so events wait inside a block until
# it fills, and those of an unfinished block are lost with it when the connection breaks:
# only the error is checked here, and that what was delivered is in order.


class AzureAsyncioRequestsClient(AsyncPipelineClient):
    """azure-core's ``AsyncioRequestsTransport``: requests in a thread, read through
    azure-core's own ``iter_bytes``."""

    name = "azure-core-asyncio-requests"
    cause_modules = ("azure",)

    async def start(self) -> None:
        pytest.importorskip("requests")
        pytest.importorskip("azure.core")
        from azure.core import AsyncPipelineClient
        from azure.core.pipeline.transport import AsyncioRequestsTransport
        from azure.core.rest import HttpRequest

        self.HttpRequest = HttpRequest
        # Its requests get one timeout, connection_timeout, for connecting and reading.
        transport = AsyncioRequestsTransport(connection_timeout=READ_TIMEOUT)
        self.client = AsyncPipelineClient(base_url="http://127.0.0.1", transport=transport)
        await self.client.__aenter__()

    def is_closed(self, response: Any) -> bool:
        return bool(response.is_closed)


@pytest.mark.anyio
@pytest.mark.parametrize("fault", ["reset-chunked", "truncated-chunked", "short-length"])
async def test_azure_asyncio_requests_transport_raises_connection_lost(
    raw_server: RawServer, backend: str, fault: str, anyio_backend: str
) -> None:
    client = AzureAsyncioRequestsClient()
    await client.start()
    try:
        framing, options = FAULTS[fault]
        if framing == "length":
            options = {"short_by": 64, **options}
        writes = complete_items("sse") + [partial_item("sse")]
        # A short pause before the fault lets the server's bytes arrive first.
        plan = Plan(writes, delay=0.02, **options)
        response = await client.open(raw_server.url_for(raw_server.register(plan), framing))
        items: List[Any] = []
        with pytest.raises(fastsse.ConnectionLost) as raised:
            async for item in fastsse.AsyncStream(response, decoder=backend):
                items.append(item)
        assert type(raised.value.__cause__).__module__.startswith("azure."), raised.value.__cause__
        expected = decoded(backend, "sse", b"".join(complete_items("sse")))
        assert items == expected[: len(items)]
        assert raised.value.events_delivered == len(items)
        assert await asettle(lambda: client.is_closed(response))
    finally:
        await client.stop()


# ------------------------------------------------- encoded bodies, and what is not a loss


def gzip_writes(body_items: List[bytes], finish: bool = True) -> List[bytes]:
    compressor = zlib.compressobj(wbits=31)
    writes = [
        compressor.compress(item) + compressor.flush(zlib.Z_SYNC_FLUSH) for item in body_items
    ]
    if finish:
        writes.append(compressor.flush())
    return [write for write in writes if write]


# A deflate block header with the reserved block type: the compressed stream is corrupt.
CORRUPT_DEFLATE = b"\xff\xff\xff\xff" * 8


GZIP = [("Content-Encoding", "gzip")]


@pytest.mark.parametrize("framing", ["chunked", "length"])
def test_sync_gzip_body_is_decoded(
    sync_client: Any, raw_server: RawServer, backend: str, fmt: str, framing: str
) -> None:
    if isinstance(sync_client, HttpClientFile):
        pytest.skip("http.client does not undo a Content-Encoding")
    items = complete_items(fmt, 5)
    plan = Plan(gzip_writes(items), content_type=CONTENT_TYPES[fmt], headers=GZIP)
    response = sync_client.open(raw_server.url_for(raw_server.register(plan), framing))
    assert list(fastsse.Stream(response, decoder=backend)) == decoded(backend, fmt, b"".join(items))
    assert sync_client.is_closed(response)


@pytest.mark.anyio
@pytest.mark.parametrize("framing", ["chunked", "length"])
async def test_async_gzip_body_is_decoded(
    async_client: Any, raw_server: RawServer, backend: str, fmt: str, framing: str
) -> None:
    items = complete_items(fmt, 5)
    plan = Plan(gzip_writes(items), content_type=CONTENT_TYPES[fmt], headers=GZIP)
    response = await async_client.open(raw_server.url_for(raw_server.register(plan), framing))
    events = [event async for event in fastsse.AsyncStream(response, decoder=backend)]
    assert events == decoded(backend, fmt, b"".join(items))


def test_sync_corrupt_gzip_is_not_a_lost_connection(
    sync_client: Any, raw_server: RawServer, backend: str
) -> None:
    if isinstance(sync_client, HttpClientFile):
        pytest.skip("http.client does not undo a Content-Encoding")
    writes = gzip_writes(complete_items("sse"), finish=False) + [CORRUPT_DEFLATE]
    plan = Plan(writes, headers=GZIP)
    response = sync_client.open(raw_server.url_for(raw_server.register(plan), "chunked"))
    with pytest.raises(Exception) as raised:
        list(fastsse.Stream(response, decoder=backend))
    assert not isinstance(raised.value, fastsse.ConnectionLost), repr(raised.value)
    assert "decod" in type(raised.value).__name__.lower() or "decod" in str(raised.value).lower()
    assert sync_client.is_closed(response)


@pytest.mark.anyio
async def test_async_corrupt_gzip_is_not_a_lost_connection(
    async_client: Any, raw_server: RawServer, backend: str
) -> None:
    writes = gzip_writes(complete_items("sse"), finish=False) + [CORRUPT_DEFLATE]
    plan = Plan(writes, headers=GZIP)
    response = await async_client.open(raw_server.url_for(raw_server.register(plan), "chunked"))
    with pytest.raises(Exception) as raised:
        async for _ in fastsse.AsyncStream(response, decoder=backend):
            pass
    assert not isinstance(raised.value, fastsse.ConnectionLost), repr(raised.value)


def test_a_callback_error_is_not_a_lost_connection(raw_server: RawServer, backend: str) -> None:
    # The user's code raising what a socket would raise is still the user's error.
    httpx = pytest.importorskip("httpx")
    plan = Plan(complete_items("sse"))

    def callback(response: Any, payload: Any) -> Any:
        raise ConnectionResetError("raised by the user's callback")

    with httpx.Client(trust_env=False) as client:
        with client.stream("GET", raw_server.url_for(raw_server.register(plan))) as response:
            stream = fastsse.Stream(response, decoder=backend, deserialization_callback=callback)
            with pytest.raises(ConnectionResetError):
                list(stream)
            assert response.is_closed


def test_a_plain_iterable_keeps_its_own_errors(backend: str) -> None:
    def body() -> Iterator[bytes]:
        yield b"data: 1\n\n"
        raise ConnectionResetError("from the user's own generator")

    items: List[Any] = []
    with pytest.raises(ConnectionResetError):
        for item in fastsse.Stream(body(), decoder=backend, format="sse"):
            items.append(item)
    assert [item.data for item in items] == ["1"]


def test_httpx_bookkeeping_below_iter_bytes(raw_server: RawServer, backend: str) -> None:
    # Read from the response's stream directly, the response still says what iter_raw
    # would have: consumed, bytes downloaded, closed at the end.
    httpx = pytest.importorskip("httpx")
    plan = Plan(complete_items("sse", 6))
    with httpx.Client(trust_env=False) as client:
        with client.stream(
            "GET", raw_server.url_for(raw_server.register(plan), "length")
        ) as response:
            events = list(fastsse.Stream(response, decoder=backend))
            assert len(events) == 6
            assert response.is_stream_consumed
            assert response.num_bytes_downloaded == len(plan.body)
            assert response.is_closed
            with pytest.raises(httpx.StreamConsumed):
                list(response.iter_raw())
