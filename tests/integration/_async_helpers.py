"""Async sources for the ``fastsse.AsyncStream`` integration tests: one opener per client.

An opener owns one client (created in :meth:`Opener.start`, closed in :meth:`Opener.stop`),
requests a URL with it and returns the object a user would hand to ``AsyncStream``: an
``httpx.Response``, an ``aiohttp.ClientResponse``, azure-core's ``AsyncHttpResponse`` or
``PipelineResponse``, corehttp's ``AsyncHttpResponse``, the openai SDK's streamed
``AsyncAPIResponse``, or a plain (async) generator of bytes. ``is_closed`` says whether
that object, and the client response under it, were closed.

Every opener here is named in :data:`OPENERS`; the client libraries are imported when an
opener starts, so a missing one skips only its own tests.
"""

from __future__ import annotations

import asyncio
import http.client
import time
from typing import Any, AsyncIterator, Callable, Dict, Iterator, List, Optional, Tuple
from urllib.parse import urlsplit

import pytest

__all__ = [
    "Opener",
    "OPENERS",
    "POOLED",
    "open_source",
    "wait_until",
    "wait_disconnected",
    "READ_SIZE",
]

READ_SIZE = 64 * 1024
TIMEOUT = 10.0
# For clients that want a base URL up front; every request names its full URL.
PLACEHOLDER_ORIGIN = "http://127.0.0.1"


def _need(module: str) -> Any:
    return pytest.importorskip(module, reason=f"{module} is not installed")


async def wait_until(predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
    """Poll ``predicate`` while letting the event loop run; False after ``timeout`` seconds.

    Closing after ``break`` happens in a task the loop schedules (asyncio's async-generator
    finalizer), so a test must keep the loop running while it waits, never block it.
    """
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.005)


async def wait_disconnected(server: Any, token: str, timeout: float = 3.0) -> bool:
    """``server.disconnected`` without blocking the loop (the client closes in a loop task)."""
    return await wait_until(lambda: server.disconnected(token, timeout=0), timeout)


class Opener:
    """One client library's way to request a URL and hand the response to ``AsyncStream``."""

    name = ""
    # Status and headers reach fastsse (so Content-Type detection and ResponseError apply).
    has_headers = True
    # The client reads with blocking calls on the event loop thread: nothing can cancel
    # a read while it waits, and other tasks do not run until it returns.
    blocks_event_loop = False
    # The client raises its own error for a non-2xx status before fastsse sees the response.
    raises_on_error_status: Optional[type] = None
    # The path that serves an SSE stream on the ASGI server for this client.
    asgi_sse_path = "/sse"
    pooled = True

    async def __aenter__(self) -> "Opener":
        await self.start()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.stop()

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def open(self, url: str) -> Any:
        raise NotImplementedError

    def is_closed(self, response: Any) -> bool:
        raise NotImplementedError


class HttpxOpener(Opener):
    name = "httpx"

    async def start(self) -> None:
        httpx = _need("httpx")
        self.client = httpx.AsyncClient(timeout=TIMEOUT)

    async def stop(self) -> None:
        await self.client.aclose()

    async def open(self, url: str) -> Any:
        return await self.client.send(self.client.build_request("GET", url), stream=True)

    def is_closed(self, response: Any) -> bool:
        return response.is_closed


class AiohttpOpener(Opener):
    name = "aiohttp"

    async def start(self) -> None:
        aiohttp = _need("aiohttp")
        self.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=TIMEOUT, sock_read=TIMEOUT)
        )

    async def stop(self) -> None:
        await self.session.close()

    async def open(self, url: str) -> Any:
        return await self.session.get(url)

    def is_closed(self, response: Any) -> bool:
        # closed is set by both release() (pool) and close() (connection dropped); either
        # way the response no longer holds the connection.
        return response.closed and response.connection is None


class AzureOpener(Opener):
    """azure-core's ``AsyncPipelineClient`` over ``AioHttpTransport``: ``send_request``."""

    name = "azure"

    async def start(self) -> None:
        _need("aiohttp")
        _need("azure.core")
        from azure.core import AsyncPipelineClient
        from azure.core.pipeline.transport import AioHttpTransport
        from azure.core.rest import HttpRequest

        self.request_type = HttpRequest
        self.client = AsyncPipelineClient(base_url=PLACEHOLDER_ORIGIN, transport=AioHttpTransport())
        await self.client.__aenter__()

    async def stop(self) -> None:
        await self.client.close()

    async def open(self, url: str) -> Any:
        return await self.client.send_request(self.request_type("GET", url), stream=True)

    def is_closed(self, response: Any) -> bool:
        return response.is_closed and response.internal_response.closed


class AzurePipelineOpener(AzureOpener):
    """azure-core's ``PipelineResponse``, as a generated SDK's operation gets it."""

    name = "azure-pipeline"

    async def open(self, url: str) -> Any:
        return await self.client._pipeline.run(self.request_type("GET", url), stream=True)

    def is_closed(self, response: Any) -> bool:
        return super().is_closed(response.http_response)


class CorehttpOpener(Opener):
    """corehttp's ``AsyncPipelineClient`` over one of its async transports."""

    transport_name = ""

    async def start(self) -> None:
        _need("corehttp")
        from corehttp.rest import HttpRequest
        from corehttp.runtime import AsyncPipelineClient

        transport = self.make_transport()
        self.request_type = HttpRequest
        # corehttp retries 5xx by default; a test of a 503 wants the 503.
        self.client = AsyncPipelineClient(PLACEHOLDER_ORIGIN, transport=transport, retry_total=0)
        await self.client.__aenter__()

    def make_transport(self) -> Any:
        raise NotImplementedError

    async def stop(self) -> None:
        await self.client.close()

    async def open(self, url: str) -> Any:
        return await self.client.send_request(self.request_type("GET", url), stream=True)

    def is_closed(self, response: Any) -> bool:
        return response.is_closed


class CorehttpAiohttpOpener(CorehttpOpener):
    name = "corehttp-aiohttp"

    def make_transport(self) -> Any:
        _need("aiohttp")
        from corehttp.transport.aiohttp import AioHttpTransport

        return AioHttpTransport()

    def is_closed(self, response: Any) -> bool:
        return response.is_closed and response._internal_response.closed


class CorehttpHttpxOpener(CorehttpOpener):
    name = "corehttp-httpx"

    def make_transport(self) -> Any:
        _need("httpx")
        from corehttp.transport.httpx import AsyncHttpXTransport

        return AsyncHttpXTransport()

    def is_closed(self, response: Any) -> bool:
        return response.is_closed and response._internal_response.is_closed


class OpenAIOpener(Opener):
    """``AsyncOpenAI(...).chat.completions.with_streaming_response.create(..., stream=True)``.

    The SDK always POSTs to ``<base_url>/chat/completions``; a request hook sends the
    request to the test's URL instead (both test servers serve any method), so the same
    plans and endpoints serve every client.
    """

    name = "openai"
    asgi_sse_path = "/v1/chat/completions"
    TARGET_HEADER = "x-fastsse-test-target"

    async def start(self) -> None:
        openai = _need("openai")
        self.raises_on_error_status = openai.APIStatusError
        target_header = self.TARGET_HEADER

        async def route_to_target(request: Any) -> None:
            target = request.headers.get(target_header)
            if target is not None:
                del request.headers[target_header]
                request.url = type(request.url)(target)
                request.headers["host"] = request.url.netloc.decode("ascii")

        # The SDK's own client class: httpx for openai 1.x, its httpx fork (httpx2) for
        # later releases, so the response is what users of that release get.
        self.http_client = openai.DefaultAsyncHttpxClient(
            timeout=TIMEOUT, event_hooks={"request": [route_to_target]}
        )
        self.client = openai.AsyncOpenAI(
            base_url=PLACEHOLDER_ORIGIN + ":9/v1",
            api_key="test",
            max_retries=0,
            http_client=self.http_client,
        )
        self._managers: List[Any] = []

    async def stop(self) -> None:
        for manager in self._managers:
            await manager.__aexit__(None, None, None)
        await self.client.close()

    async def open(self, url: str) -> Any:
        manager = self.client.chat.completions.with_streaming_response.create(
            model="test-model",
            messages=[{"role": "user", "content": "hello"}],
            stream=True,
            extra_headers={self.TARGET_HEADER: url},
        )
        # What `async with ... as response` does; the manager is exited in stop(), as a
        # user's `async with` would after the loop.
        response = await manager.__aenter__()
        self._managers.append(manager)
        return response

    def is_closed(self, response: Any) -> bool:
        return response.http_response.is_closed


class AsyncGeneratorOpener(Opener):
    """A plain async generator of body bytes (here relayed from httpx's raw stream).

    The request is made when the generator first runs, so a generator that AsyncStream
    closes before starting it holds no connection. No headers: tests pass ``format=``.
    """

    name = "async-generator"
    has_headers = False
    pooled = False

    async def start(self) -> None:
        httpx = _need("httpx")
        self.client = httpx.AsyncClient(timeout=TIMEOUT)
        self._responses: Dict[int, Tuple[Any, List[Any]]] = {}

    async def stop(self) -> None:
        await self.client.aclose()

    async def open(self, url: str) -> Any:
        opened: List[Any] = []
        generator = self._relay(url, opened)
        self._responses[id(generator)] = (generator, opened)
        return generator

    async def _relay(self, url: str, opened: List[Any]) -> AsyncIterator[bytes]:
        response = await self.client.send(self.client.build_request("GET", url), stream=True)
        opened.append(response)
        try:
            async for chunk in response.aiter_raw():
                yield chunk
        finally:
            await response.aclose()

    def is_closed(self, generator: Any) -> bool:
        _, opened = self._responses[id(generator)]
        return generator.ag_frame is None and all(r.is_closed for r in opened)


class SyncIterableOpener(Opener):
    """A plain sync generator of body bytes read with ``http.client`` (``read1``).

    Its reads block the event loop: AsyncStream iterates a sync iterable in the loop's
    thread, so the servers (in their own threads) keep serving, but nothing else in the
    loop runs while a read waits.
    """

    name = "sync-iterable"
    has_headers = False
    blocks_event_loop = True
    pooled = False

    async def start(self) -> None:
        self._connections: Dict[int, Tuple[Any, List[Any]]] = {}

    async def open(self, url: str) -> Any:
        opened: List[Any] = []
        generator = self._body(url, opened)
        self._connections[id(generator)] = (generator, opened)
        return generator

    def _body(self, url: str, opened: List[Any]) -> Iterator[bytes]:
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT)
        opened.append(connection)
        try:
            connection.request("GET", f"{parts.path}?{parts.query}")
            response = connection.getresponse()
            while True:
                # read1: what has arrived (up to the end of the current HTTP chunk), not a
                # full block, so each event can be delivered as its bytes arrive.
                chunk = response.read1(READ_SIZE)
                if not chunk:
                    return
                yield chunk
        finally:
            connection.close()

    def is_closed(self, generator: Any) -> bool:
        _, opened = self._connections[id(generator)]
        return generator.gi_frame is None and all(c.sock is None for c in opened)


OPENERS: Dict[str, Callable[[], Opener]] = {
    opener.name: opener
    for opener in (
        HttpxOpener,
        AiohttpOpener,
        AzureOpener,
        AzurePipelineOpener,
        CorehttpAiohttpOpener,
        CorehttpHttpxOpener,
        OpenAIOpener,
        AsyncGeneratorOpener,
        SyncIterableOpener,
    )
}
POOLED = [name for name, opener in OPENERS.items() if opener.pooled]


def open_source(name: str) -> Opener:
    """A fresh opener; use it as ``async with open_source(name) as source``."""
    return OPENERS[name]()
