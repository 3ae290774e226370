"""``fastsse.Stream`` over every sync HTTP client, against real servers on 127.0.0.1.

Each source is a real client library's streamed response, handed to ``fastsse.Stream``
as is: fastsse recognises the type itself. For every source and both backends the tests
check that the events are those the decoder makes from the same bytes (SSE, JSON Lines,
and hostile framing from the raw server, chunked and close-delimited), that each event is
delivered before the server sends the next (lockstep), that leaving early makes the server
see the disconnect and leaves the client's pool clean, and that the terminal event,
non-2xx responses and unknown content types end the stream with the response closed.

The servers are in ``servers.py``; the fixtures ``asgi_server`` and ``raw_server`` in
``conftest.py``; ``backend`` in ``tests/conftest.py``.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest
import requests
from servers import (
    NAMED_CHUNKS,
    AsgiServer,
    Plan,
    RawServer,
    hostile_plans,
    jsonl_chunks,
    lockstep_plan,
    openai_chunk,
    sse_chunks,
    status_body,
)

import fastsse

CLIENT_TIMEOUT = 10.0  # every client read is bounded, so a broken adapter fails, not hangs
DISCONNECT_TIMEOUT = 5.0  # how long the server may take to notice a client that went away
ACK_TIMEOUT = 1.5  # lockstep: a buffering client is caught after this long
ENDLESS_SECONDS = 15.0  # "endless" streams end by themselves after this, whatever happens
FRAMINGS = ["chunked", "close"]
REASONS = {404: "Not Found", 500: "Internal Server Error", 503: "Service Unavailable"}


def decoded(backend: str, fmt: str, body: bytes) -> List[Any]:
    """What fastsse's own decoder makes of ``body`` in one piece: the expected events."""
    decoder = (
        fastsse.SSEDecoder(backend=backend)
        if fmt == "sse"
        else fastsse.JSONLDecoder(backend=backend)
    )
    return decoder.feed(body) + decoder.flush()


# ---------------------------------------------------------------------------------------------
# The sources: one class per client library (and per way of calling it)


class Source:
    """How one client library gets a streamed response, and how to inspect it."""

    name = ""

    def open(self, url: str) -> Any:
        """A streamed GET of ``url``: the object a user would pass to ``fastsse.Stream``."""
        raise NotImplementedError

    def is_closed(self, response: Any) -> bool:
        raise NotImplementedError

    def busy_connections(self, url: str) -> Optional[int]:
        """Connections to ``url``'s host lent out by the client's pool; None if not exposed."""
        return None

    def fetch(self, url: str) -> bytes:
        """A plain, whole-body GET on the same client; raises unless the status is 200."""
        raise NotImplementedError

    def close(self) -> None:
        pass


def _httpcore_busy(client: Any) -> Optional[int]:
    # httpx keeps its httpcore pool on the (private) transport; each connection says whether
    # it is idle or closed. Anything else is a connection a response still holds.
    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    if pool is None:
        return None
    return sum(1 for conn in pool.connections if not conn.is_idle() and not conn.is_closed())


def _urllib3_busy(pool_manager: Any, url: str) -> int:
    # A urllib3 pool is a queue pre-filled with `maxsize` slots; a lent connection is a slot
    # out of the queue until release_conn() puts it back (closed or not).
    pool = pool_manager.connection_from_url(url)
    return int(pool.pool.maxsize - pool.pool.qsize())


def _requests_closed(response: Any) -> bool:
    raw = getattr(response, "raw", None)
    return raw is None or bool(raw.closed)


class HttpxSource(Source):
    name = "httpx"

    def __init__(self) -> None:
        httpx = pytest.importorskip("httpx")
        self.client = httpx.Client(trust_env=False, timeout=CLIENT_TIMEOUT)
        self._streams = contextlib.ExitStack()

    def open(self, url: str) -> Any:
        # The documented spelling: `client.stream()` is a context manager giving an
        # httpx.Response whose body has not been read.
        return self._streams.enter_context(self.client.stream("GET", url))

    def is_closed(self, response: Any) -> bool:
        return bool(response.is_closed)

    def busy_connections(self, url: str) -> Optional[int]:
        return _httpcore_busy(self.client)

    def fetch(self, url: str) -> bytes:
        response = self.client.get(url)
        response.raise_for_status()
        return bytes(response.content)

    def close(self) -> None:
        self._streams.close()
        self.client.close()


class RequestsSessionSource(Source):
    name = "requests"

    def __init__(self) -> None:
        requests = pytest.importorskip("requests")
        self.session = requests.Session()
        self.session.trust_env = False

    def open(self, url: str) -> Any:
        return self.session.get(url, stream=True, timeout=CLIENT_TIMEOUT)

    def is_closed(self, response: Any) -> bool:
        return _requests_closed(response)

    def busy_connections(self, url: str) -> Optional[int]:
        return _urllib3_busy(self.session.get_adapter(url).poolmanager, url)

    def fetch(self, url: str) -> bytes:
        response = self.session.get(url, timeout=CLIENT_TIMEOUT)
        response.raise_for_status()
        return bytes(response.content)

    def close(self) -> None:
        self.session.close()


class RequestsGetSource(Source):
    """``requests.get(url, stream=True)``: a throwaway session per call."""

    name = "requests.get"

    def __init__(self) -> None:
        self.requests = pytest.importorskip("requests")

    def open(self, url: str) -> Any:
        return self.requests.get(url, stream=True, timeout=CLIENT_TIMEOUT)

    def is_closed(self, response: Any) -> bool:
        return _requests_closed(response)

    def fetch(self, url: str) -> bytes:
        response = self.requests.get(url, timeout=CLIENT_TIMEOUT)
        response.raise_for_status()
        return bytes(response.content)


class Urllib3Source(Source):
    name = "urllib3"

    def __init__(self) -> None:
        urllib3 = pytest.importorskip("urllib3")
        self.pool = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=CLIENT_TIMEOUT, read=CLIENT_TIMEOUT), retries=False
        )

    def open(self, url: str) -> Any:
        return self.pool.request("GET", url, preload_content=False)

    def is_closed(self, response: Any) -> bool:
        return bool(response.closed)

    def busy_connections(self, url: str) -> Optional[int]:
        return _urllib3_busy(self.pool, url)

    def fetch(self, url: str) -> bytes:
        response = self.pool.request("GET", url)
        if response.status != 200:
            raise AssertionError(f"GET {url}: status {response.status}")
        return bytes(response.data)

    def close(self) -> None:
        self.pool.clear()


class _PipelineOverRequests(Source):
    """An azure-core or corehttp ``PipelineClient`` over its ``RequestsTransport``: the two
    stacks differ only in how the client is built (``_build``)."""

    def __init__(self) -> None:
        requests = pytest.importorskip("requests")
        self.session = requests.Session()
        self.session.trust_env = False
        self.HttpRequest, self.client = self._build(self.session)

    def _build(self, session: Any) -> Tuple[Any, Any]:
        raise NotImplementedError

    def open(self, url: str) -> Any:
        return self.client.send_request(self.HttpRequest("GET", url), stream=True)

    def is_closed(self, response: Any) -> bool:
        inner = getattr(response, "_internal_response", None)
        return bool(response.is_closed) and (inner is None or _requests_closed(inner))

    def busy_connections(self, url: str) -> Optional[int]:
        return _urllib3_busy(self.session.get_adapter(url).poolmanager, url)

    def fetch(self, url: str) -> bytes:
        response = self.client.send_request(self.HttpRequest("GET", url))
        response.raise_for_status()
        return bytes(response.content)

    def close(self) -> None:
        self.client.close()
        self.session.close()


class AzureHttpResponseSource(_PipelineOverRequests):
    """azure-core ``PipelineClient.send_request(..., stream=True)`` over ``RequestsTransport``."""

    name = "azure-core"

    def _build(self, session: Any) -> Tuple[Any, Any]:
        pytest.importorskip("azure.core")
        from azure.core import PipelineClient
        from azure.core.pipeline.transport import RequestsTransport
        from azure.core.rest import HttpRequest

        transport = RequestsTransport(
            session=session,
            session_owner=False,
            connection_timeout=CLIENT_TIMEOUT,
            read_timeout=CLIENT_TIMEOUT,
        )
        # Without a config the client builds no retry policy: a 503 reaches the test once.
        return HttpRequest, PipelineClient(base_url="http://127.0.0.1", transport=transport)


class AzurePipelineResponseSource(AzureHttpResponseSource):
    """An azure-core ``PipelineResponse``, as generated SDK code gets from ``_pipeline.run``."""

    name = "azure-core-pipeline"

    def open(self, url: str) -> Any:
        return self.client._pipeline.run(self.HttpRequest("GET", url), stream=True)

    def is_closed(self, response: Any) -> bool:
        return super().is_closed(response.http_response)


class CorehttpRequestsSource(_PipelineOverRequests):
    name = "corehttp-requests"

    def _build(self, session: Any) -> Tuple[Any, Any]:
        pytest.importorskip("corehttp")
        from corehttp.rest import HttpRequest
        from corehttp.runtime import PipelineClient
        from corehttp.transport.requests import RequestsTransport

        transport = RequestsTransport(
            session=session,
            session_owner=False,
            connection_timeout=CLIENT_TIMEOUT,
            read_timeout=CLIENT_TIMEOUT,
        )
        # corehttp retries 5xx by default (with backoff), and leaves each retried streamed
        # response open: one request per test keeps the checks about fastsse.
        return HttpRequest, PipelineClient("http://127.0.0.1", transport=transport, retry_total=0)


class CorehttpHttpxSource(Source):
    name = "corehttp-httpx"

    def __init__(self) -> None:
        pytest.importorskip("corehttp")
        httpx = pytest.importorskip("httpx")
        try:
            from corehttp.transport.httpx import HttpXTransport
        except ImportError:
            pytest.skip("this corehttp has no httpx transport")
        from corehttp.rest import HttpRequest
        from corehttp.runtime import PipelineClient

        self.HttpRequest = HttpRequest
        self.httpx_client = httpx.Client(trust_env=False, timeout=CLIENT_TIMEOUT)
        transport = HttpXTransport(client=self.httpx_client, client_owner=False)
        self.client = PipelineClient("http://127.0.0.1", transport=transport, retry_total=0)

    def open(self, url: str) -> Any:
        return self.client.send_request(self.HttpRequest("GET", url), stream=True)

    def is_closed(self, response: Any) -> bool:
        inner = getattr(response, "_internal_response", None)
        return bool(response.is_closed) and (inner is None or bool(inner.is_closed))

    def busy_connections(self, url: str) -> Optional[int]:
        return _httpcore_busy(self.httpx_client)

    def fetch(self, url: str) -> bytes:
        response = self.client.send_request(self.HttpRequest("GET", url))
        response.raise_for_status()
        return bytes(response.content)

    def close(self) -> None:
        self.client.close()
        self.httpx_client.close()


SOURCES: Dict[str, Callable[[], Source]] = {
    cls.name: cls
    for cls in (
        HttpxSource,
        RequestsSessionSource,
        RequestsGetSource,
        Urllib3Source,
        AzureHttpResponseSource,
        AzurePipelineResponseSource,
        CorehttpRequestsSource,
        CorehttpHttpxSource,
    )
}


@pytest.fixture(params=list(SOURCES))
def source(request: Any) -> Iterator[Source]:
    """A fresh client of one library per test, closed afterwards."""
    client = SOURCES[request.param]()
    try:
        yield client
    finally:
        client.close()


def assert_pool_clean(source: Source, url: str) -> None:
    busy = source.busy_connections(url)
    assert busy in (None, 0), f"{source.name}: {busy} connection(s) still lent out by the pool"


# ---------------------------------------------------------------------------------------------
# SSE and JSON Lines from the ASGI server


def test_sse_events_match_the_decoder(
    source: Source, backend: str, asgi_server: AsgiServer
) -> None:
    token = asgi_server.new_token()
    response = source.open(asgi_server.url_for("/sse", n=12, token=token, delay=0.001))
    events = list(fastsse.Stream(response, decoder=backend))
    body = b"".join(sse_chunks(12))
    assert asgi_server.body(token) == body
    assert events == decoded(backend, "sse", body)
    assert events[-1].data == "[DONE]"
    assert source.is_closed(response)


@pytest.mark.parametrize("content_type", ["text/event-stream; charset=utf-8", "Text/Event-Stream"])
def test_content_type_parameters_and_case_are_ignored(
    source: Source, backend: str, asgi_server: AsgiServer, content_type: str
) -> None:
    response = source.open(asgi_server.url_for("/sse", n=2, content_type=content_type))
    events = list(fastsse.Stream(response, decoder=backend))
    assert events == decoded(backend, "sse", b"".join(sse_chunks(2)))


def test_lockstep_each_event_arrives_before_the_next_is_sent(
    source: Source, backend: str, asgi_server: AsgiServer
) -> None:
    token = asgi_server.new_token()
    n = 5
    response = source.open(
        asgi_server.url_for("/sse", n=n, token=token, lockstep=1, ack_timeout=ACK_TIMEOUT)
    )
    sent_when_received = []
    with fastsse.Stream(response, decoder=backend, terminal_event="[DONE]") as stream:
        for k, _event in enumerate(stream):
            sent_when_received.append(asgi_server.sent(token))
            asgi_server.ack(token, k)
    assert asgi_server.failures(token) == []
    assert sent_when_received == list(range(1, n + 1))


@pytest.mark.parametrize("how", ["break", "exception", "close"])
def test_leaving_early_disconnects_and_frees_the_connection(
    source: Source, backend: str, asgi_server: AsgiServer, how: str
) -> None:
    token = asgi_server.new_token()
    url = asgi_server.url_for("/endless", token=token, max_seconds=ENDLESS_SECONDS)
    response = source.open(url)
    seen: List[Any] = []
    stream = fastsse.Stream(response, decoder=backend)
    if how == "break":
        for event in stream:
            seen.append(event)
            if len(seen) == 3:
                break
    elif how == "exception":
        with pytest.raises(KeyError):
            for event in stream:
                seen.append(event)
                if len(seen) == 3:
                    raise KeyError("the consumer failed")
    else:
        iterator = iter(stream)
        seen.extend(next(iterator) for _ in range(3))
        stream.close()
    assert [event.id for event in seen] == ["0", "1", "2"]
    assert asgi_server.disconnected(token, DISCONNECT_TIMEOUT), (
        "the server never saw the client go away"
    )
    assert source.is_closed(response)
    assert_pool_clean(source, url)
    # The same client still works, and lends nothing out afterwards.
    assert source.fetch(asgi_server.url_for("/sse", n=1)) == b"".join(sse_chunks(1))
    assert_pool_clean(source, url)


def test_terminal_event_stops_reading_and_closes(
    source: Source, backend: str, asgi_server: AsgiServer
) -> None:
    token = asgi_server.new_token()
    # After [DONE] the server keeps the response open: only closing it ends the exchange.
    url = asgi_server.url_for(
        "/sse", n=4, token=token, after_done="endless", max_seconds=ENDLESS_SECONDS
    )
    response = source.open(url)
    items = list(
        fastsse.Stream(
            response,
            decoder=backend,
            terminal_event="[DONE]",
            deserialization_callback=lambda _response, payload: payload,
        )
    )
    assert items == [json.loads(openai_chunk(k)) for k in range(4)]
    assert source.is_closed(response)
    assert asgi_server.disconnected(token, DISCONNECT_TIMEOUT)
    assert_pool_clean(source, url)


def test_callback_gets_the_original_response(
    source: Source, backend: str, asgi_server: AsgiServer
) -> None:
    response = source.open(asgi_server.url_for("/sse", n=3))
    seen_responses = []

    def content(resp: Any, payload: Any) -> str:
        seen_responses.append(resp)
        return str(payload["choices"][0]["delta"]["content"])

    with fastsse.Stream(
        response, decoder=backend, terminal_event="[DONE]", deserialization_callback=content
    ) as stream:
        texts = list(stream)
    assert texts == [
        json.loads(openai_chunk(k))["choices"][0]["delta"]["content"] for k in range(3)
    ]
    assert len(seen_responses) == 3
    assert all(resp is response for resp in seen_responses)


@pytest.mark.parametrize(
    "code, kind, size",
    [(503, "json", 0), (404, "text", 0), (500, "text", 100_000)],
    ids=["503-json", "404-text", "500-large"],
)
def test_non_2xx_raises_response_error(
    source: Source, backend: str, asgi_server: AsgiServer, code: int, kind: str, size: int
) -> None:
    url = asgi_server.url_for(f"/status/{code}", kind=kind, size=size or None)
    response = source.open(url)
    stream = fastsse.Stream(response, decoder=backend)
    with pytest.raises(fastsse.ResponseError) as info:
        next(iter(stream))
    error = info.value
    assert isinstance(error, fastsse.StreamError)
    assert error.status_code == code
    assert error.reason in (None, REASONS[code])
    full = status_body(code, kind, size)
    assert isinstance(error.body, bytes)
    assert error.body and full.startswith(error.body)
    if len(full) <= 1024:
        assert error.body == full
    else:
        assert len(error.body) <= 64 * 1024, (
            "the body excerpt should be a few KiB, not the whole body"
        )
    assert source.is_closed(response)
    # Only an excerpt was read: the connection must have been dropped or drained, not reused dirty.
    assert_pool_clean(source, url)
    assert source.fetch(asgi_server.url_for("/sse", n=1)) == b"".join(sse_chunks(1))


@pytest.mark.parametrize("path", ["/unknown-type", "/no-type"])
def test_unknown_content_type_raises_format_error(
    source: Source, backend: str, asgi_server: AsgiServer, path: str
) -> None:
    url = asgi_server.url_for(path)
    response = source.open(url)
    with pytest.raises(fastsse.FormatError):
        # Either construction or the first step may raise: both are before any event.
        next(iter(fastsse.Stream(response, decoder=backend)))
    assert source.is_closed(response)
    assert_pool_clean(source, url)


def test_format_argument_overrides_the_content_type(
    source: Source, backend: str, asgi_server: AsgiServer
) -> None:
    response = source.open(asgi_server.url_for("/unknown-type"))
    events = list(fastsse.Stream(response, decoder=backend, format="sse"))
    assert events == decoded(backend, "sse", b"".join(sse_chunks(2)))


@pytest.mark.parametrize(
    "content_type",
    ["application/x-ndjson", "application/jsonl", "application/jsonl; charset=utf-8"],
)
def test_jsonl_records_match_the_decoder(
    source: Source, backend: str, asgi_server: AsgiServer, content_type: str
) -> None:
    response = source.open(
        asgi_server.url_for("/jsonl", n=6, content_type=content_type, delay=0.001)
    )
    events = list(fastsse.Stream(response, decoder=backend))
    body = b"".join(jsonl_chunks(6))
    assert events == decoded(backend, "jsonl", body)
    assert [event.json() for event in events] == [json.loads(line) for line in jsonl_chunks(6)]
    assert source.is_closed(response)


def test_jsonl_lockstep(source: Source, backend: str, asgi_server: AsgiServer) -> None:
    token = asgi_server.new_token()
    response = source.open(
        asgi_server.url_for("/jsonl", n=4, token=token, lockstep=1, ack_timeout=ACK_TIMEOUT)
    )
    sent_when_received = []
    for k, _record in enumerate(fastsse.Stream(response, decoder=backend)):
        sent_when_received.append(asgi_server.sent(token))
        asgi_server.ack(token, k)
    assert asgi_server.failures(token) == []
    assert sent_when_received == [1, 2, 3, 4]


def test_jsonl_callback_gets_the_original_response(
    source: Source, backend: str, asgi_server: AsgiServer
) -> None:
    response = source.open(asgi_server.url_for("/jsonl", n=3))
    pairs = list(
        fastsse.Stream(response, decoder=backend, deserialization_callback=lambda r, j: (r, j))
    )
    assert [payload["n"] for _resp, payload in pairs] == [0, 1, 2]
    assert all(resp is response for resp, _payload in pairs)


def test_terminal_event_names_yield_then_stop(
    source: Source, backend: str, asgi_server: AsgiServer
) -> None:
    response = source.open(asgi_server.url_for("/named"))
    events = list(fastsse.Stream(response, decoder=backend, terminal_event_names={"message_stop"}))
    expected = decoded(backend, "sse", b"".join(NAMED_CHUNKS))
    stop = [event.event for event in expected].index("message_stop")
    assert events == expected[: stop + 1]
    assert source.is_closed(response)


def test_error_event_names_raise_with_the_payload(
    source: Source, backend: str, asgi_server: AsgiServer
) -> None:
    response = source.open(asgi_server.url_for("/named"))
    expected = decoded(backend, "sse", b"".join(NAMED_CHUNKS))
    error_at = [event.event for event in expected].index("error")
    seen: List[Any] = []
    with pytest.raises(fastsse.StreamError) as info:
        for event in fastsse.Stream(response, decoder=backend, error_event_names={"error"}):
            seen.append(event)
    assert seen == expected[:error_at]
    error = info.value
    carried = str(error) + repr(sorted(vars(error).items(), key=lambda item: item[0]))
    assert "overloaded" in carried, "the error should carry the event's payload"
    assert source.is_closed(response)


# ---------------------------------------------------------------------------------------------
# Hostile framing from the raw server, chunked and close-delimited

PLAN_NAMES = sorted(hostile_plans())


@pytest.fixture(scope="module")
def registered_plans(raw_server: RawServer) -> Dict[str, Tuple[str, Plan]]:
    return {name: (raw_server.register(plan), plan) for name, plan in hostile_plans().items()}


@pytest.fixture(scope="module")
def small_plan(raw_server: RawServer) -> Tuple[str, Plan]:
    plan = Plan([b"data: small\n\n"])
    return raw_server.register(plan), plan


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("plan_name", PLAN_NAMES)
def test_hostile_framing_matches_the_decoder(
    source: Source,
    backend: str,
    raw_server: RawServer,
    registered_plans: Dict[str, Tuple[str, Plan]],
    plan_name: str,
    framing: str,
    caplog: Any,
) -> None:
    plan_id, plan = registered_plans[plan_name]
    token = raw_server.new_token()
    response = source.open(raw_server.url_for(plan_id, framing, token))
    events: List[Any] = []
    error: Optional[BaseException] = None
    with caplog.at_level(logging.WARNING, logger="fastsse"):
        try:
            for event in fastsse.Stream(response, decoder=backend):
                events.append(event)
        except Exception as exc:  # noqa: BLE001 - which one is checked below
            error = exc
    assert raw_server.body(token) == plan.body
    assert events == decoded(backend, "sse", plan.body)
    if plan.drop and framing == "chunked":
        # A chunked body cut short is an error the client reports, after the whole events.
        assert error is not None, "a truncated chunked body must not end the stream quietly"
        assert not isinstance(error, fastsse.FormatError)
    else:
        assert error is None, f"unexpected {error!r}"
    if plan.drop and framing == "close":
        # Close-delimited, the cut looks like the end: the partial event is dropped with a warning.
        assert any("discarded" in record.getMessage() for record in caplog.records)
    assert source.is_closed(response)


@pytest.mark.parametrize("framing", FRAMINGS)
def test_raw_lockstep_each_event_arrives_before_the_next_is_sent(
    source: Source, backend: str, raw_server: RawServer, framing: str
) -> None:
    plan = lockstep_plan(5)  # CR-only: the event ends with the write's last byte
    plan_id = raw_server.register(plan)
    token = raw_server.new_token()
    response = source.open(raw_server.url_for(plan_id, framing, token))
    sent_when_received = []
    events = []
    for k, event in enumerate(fastsse.Stream(response, decoder=backend)):
        sent_when_received.append(raw_server.sent(token))
        events.append(event)
        raw_server.ack(token, k)
    assert raw_server.failures(token) == []
    assert sent_when_received == [1, 2, 3, 4, 5]
    assert events == decoded(backend, "sse", plan.body)


@pytest.mark.parametrize("framing", FRAMINGS)
def test_raw_break_early_disconnects_and_frees_the_connection(
    source: Source, backend: str, raw_server: RawServer, small_plan: Tuple[str, Plan], framing: str
) -> None:
    plan = Plan(
        [b"data: one\n\n", b"data: two\n\n"],
        endless=b"data: tick\n\n",
        endless_seconds=ENDLESS_SECONDS,
    )
    plan_id = raw_server.register(plan)
    token = raw_server.new_token()
    url = raw_server.url_for(plan_id, framing, token)
    response = source.open(url)
    seen = []
    for event in fastsse.Stream(response, decoder=backend):
        seen.append(event.data)
        if len(seen) == 2:
            break
    assert seen == ["one", "two"]
    assert raw_server.disconnected(token, DISCONNECT_TIMEOUT), (
        "the server never saw the client go away"
    )
    assert source.is_closed(response)
    assert_pool_clean(source, url)
    small_id, small = small_plan
    next_token = raw_server.new_token()
    assert source.fetch(raw_server.url_for(small_id, framing, next_token)) == small.body
    # The half-read connection must not have been reused for the next request.
    assert raw_server.peers(next_token)[0] != raw_server.peers(token)[0]
    assert_pool_clean(source, url)


# ---------------------------------------------------------------------------------------------
# The openai SDK: its streaming APIResponse wraps an httpx(-like) response


@pytest.fixture
def openai_client(asgi_server: AsgiServer) -> Iterator[Any]:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(
        base_url=asgi_server.url + "/v1", api_key="test", max_retries=0, timeout=CLIENT_TIMEOUT
    )
    try:
        yield client
    finally:
        client.close()


def _openai_stream(client: Any, **query: Any) -> Any:
    return client.chat.completions.with_streaming_response.create(
        model="fastsse-test-model",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        extra_query={key: str(value) for key, value in query.items()},
    )


def _openai_busy(client: Any) -> Optional[int]:
    # OpenAI keeps its httpx (or httpx2) client at `_client`.
    return _httpcore_busy(getattr(client, "_client", None))


def test_openai_sdk_events_match_the_decoder(
    backend: str, asgi_server: AsgiServer, openai_client: Any
) -> None:
    token = asgi_server.new_token()
    with _openai_stream(openai_client, n=6, token=token, delay=0.001) as api_response:
        events = list(fastsse.Stream(api_response, decoder=backend))
        assert api_response.http_response.is_closed
    body = b"".join(sse_chunks(6, "fastsse-test-model"))
    assert asgi_server.body(token) == body
    assert events == decoded(backend, "sse", body)


def test_openai_sdk_callback_terminal_event_and_close(
    backend: str, asgi_server: AsgiServer, openai_client: Any
) -> None:
    token = asgi_server.new_token()
    calls = []

    def content(resp: Any, payload: Any) -> str:
        calls.append(resp)
        return str(payload["choices"][0]["delta"]["content"])

    with _openai_stream(
        openai_client, n=3, token=token, after_done="endless", max_seconds=ENDLESS_SECONDS
    ) as api_response:
        stream = fastsse.Stream(
            api_response, decoder=backend, terminal_event="[DONE]", deserialization_callback=content
        )
        texts = list(stream)
        assert api_response.http_response.is_closed
        assert asgi_server.disconnected(token, DISCONNECT_TIMEOUT)
    expected = [
        json.loads(openai_chunk(k, "fastsse-test-model"))["choices"][0]["delta"]["content"]
        for k in range(3)
    ]
    assert texts == expected
    assert all(resp is api_response for resp in calls) and len(calls) == 3


def test_openai_sdk_lockstep(backend: str, asgi_server: AsgiServer, openai_client: Any) -> None:
    token = asgi_server.new_token()
    sent_when_received = []
    with _openai_stream(
        openai_client, n=4, token=token, lockstep=1, ack_timeout=ACK_TIMEOUT
    ) as api_response:
        for k, _event in enumerate(
            fastsse.Stream(api_response, decoder=backend, terminal_event="[DONE]")
        ):
            sent_when_received.append(asgi_server.sent(token))
            asgi_server.ack(token, k)
    assert asgi_server.failures(token) == []
    assert sent_when_received == [1, 2, 3, 4]


def test_openai_sdk_break_early(backend: str, asgi_server: AsgiServer, openai_client: Any) -> None:
    token = asgi_server.new_token()
    with _openai_stream(
        openai_client, n=3, token=token, after_done="endless", max_seconds=ENDLESS_SECONDS
    ) as api_response:
        for _event in fastsse.Stream(api_response, decoder=backend):
            break
        assert api_response.http_response.is_closed
        assert asgi_server.disconnected(token, DISCONNECT_TIMEOUT)
        assert _openai_busy(openai_client) in (None, 0)
    # The client still works.
    with _openai_stream(openai_client, n=2) as api_response:
        events = list(fastsse.Stream(api_response, decoder=backend, terminal_event="[DONE]"))
    assert len(events) == 2
    assert _openai_busy(openai_client) in (None, 0)


@pytest.mark.parametrize("open_response", ["session", "get"])
def test_requests_users_get_requests_errors_for_a_truncated_body(
    backend: str,
    raw_server: RawServer,
    registered_plans: Dict[str, Tuple[str, Plan]],
    open_response: str,
) -> None:
    # fastsse reads urllib3 directly (requests' iter_content waits for full blocks), so it
    # must translate urllib3's errors the way requests does: the ConnectionLost a
    # truncated body raises is chained from requests' own exception.
    plan_id, _ = registered_plans["dropped_mid_event"]
    url = raw_server.url_for(plan_id, "chunked", raw_server.new_token())
    with requests.Session() as session:
        response = (
            session.get(url, stream=True)
            if open_response == "session"
            else requests.get(url, stream=True)
        )
        with pytest.raises(fastsse.ConnectionLost) as raised:
            list(fastsse.Stream(response, decoder=backend))
    assert isinstance(raised.value.__cause__, requests.exceptions.ChunkedEncodingError)
