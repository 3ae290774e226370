"""``fastsse.AsyncStream`` over real async clients, against the real test servers.

Every source (see ``_async_helpers.OPENERS``: httpx, aiohttp, azure-core's
``AsyncHttpResponse`` and ``PipelineResponse``, corehttp over aiohttp and over httpx, the
openai SDK's streamed response, a plain async generator and a plain sync generator) runs
on both decoder backends. The raw-socket server serves each body both chunked and
close-delimited; the uvicorn-served ASGI app adds a real ASGI server's framing.

What is checked for each: the events are exactly the decoder's on the bytes the server
sent; each event reaches the consumer before the server sends the next (lockstep); every
way of leaving (``break``, ``async with``, ``aclose()``, an exception, cancellation,
``terminal_event``, ``terminal_event_names``, a non-2xx status, an unknown Content-Type)
closes the response and, when the body was still flowing, the server sees the client go
away promptly; pooled clients serve another request on the same client afterwards.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, List, Optional, Tuple

import pytest
from _async_helpers import OPENERS, POOLED, Opener, open_source, wait_disconnected, wait_until
from servers import (
    DONE_CHUNK,
    NAMED_CHUNKS,
    Plan,
    hostile_plans,
    jsonl_chunks,
    lockstep_plan,
    openai_chunk,
    sse_chunks,
    status_body,
)

import fastsse

pytestmark = pytest.mark.anyio

FRAMINGS = ["chunked", "close"]
# Seconds within which the server must notice a client that left mid-body. The raw
# server writes a keep-alive every 10 ms, so a closed socket shows up within a few writes.
PROMPT = 1.0
KEEP_ALIVE = b": keep-alive\n\n"


@pytest.fixture
def anyio_backend() -> str:
    # The cancellation tests use asyncio's own tools (wait_for, Task.cancel).
    return "asyncio"


@pytest.fixture(params=list(OPENERS))
async def source(request: Any, anyio_backend: str) -> Any:
    async with open_source(request.param) as opener:
        yield opener


@pytest.fixture(params=FRAMINGS)
def framing(request: Any) -> str:
    return request.param


# ------------------------------------------------------------------------------ helpers


def serve(raw_server: Any, plan: Plan, framing: str) -> Tuple[str, str]:
    """Register ``plan``; return its URL in ``framing`` and the token that tracks it."""
    token = raw_server.new_token()
    return raw_server.url_for(raw_server.register(plan), framing, token), token


def make_stream(
    source: Opener, response: Any, backend: str, fmt: str = "sse", **options: Any
) -> Any:
    # Sources without headers cannot tell their format; the others must detect it.
    if not source.has_headers:
        options.setdefault("format", fmt)
    return fastsse.AsyncStream(response, decoder=backend, **options)


def sse_event(k: int) -> bytes:
    return b"id: %d\ndata: %s\n\n" % (k, openai_chunk(k))


def endless_plan(events: int = 2, **options: Any) -> Plan:
    """``events`` events, then keep-alive comments until the client goes away."""
    return Plan([sse_event(k) for k in range(events)], endless=KEEP_ALIVE, **options)


def decoded(backend: str, body: bytes, fmt: str = "sse") -> List[Any]:
    decoder = fastsse.SSEDecoder(backend) if fmt == "sse" else fastsse.JSONLDecoder(backend)
    return decoder.feed(body) + decoder.flush()


async def collect(stream: Any) -> Tuple[List[Any], Optional[BaseException]]:
    """The items until the stream ends or fails, and the error it failed with."""
    items: List[Any] = []
    try:
        async for item in stream:
            items.append(item)
    except Exception as exc:  # noqa: BLE001 - a truncated body fails in the client's own way
        return items, exc
    return items, None


async def items_of(stream: Any) -> List[Any]:
    return [item async for item in stream]


async def assert_server_saw_disconnect(server: Any, token: str, left_at: float) -> None:
    assert await wait_disconnected(server, token, timeout=5.0), (
        "the server never saw the client leave"
    )
    waited = time.monotonic() - left_at
    assert waited < PROMPT, f"the server saw the client leave only after {waited:.2f} s"


# ---------------------------------------------------------------------- bytes and events


async def test_events_match_the_decoder_on_the_same_bytes(source, raw_server, framing, backend):
    for name, plan in hostile_plans().items():
        url, token = serve(raw_server, plan, framing)
        response = await source.open(url)
        events, error = await collect(make_stream(source, response, backend))
        body = raw_server.body(token)
        assert body == plan.body, name
        assert events == decoded(backend, body), name
        assert source.is_closed(response), name
        # A chunked body cut short is an error the client reports; close-delimited, the
        # same cut is an ordinary end (the unterminated event is discarded).
        truncated = plan.drop and framing == "chunked"
        assert (error is not None) == truncated, f"{name}: {error!r}"


async def test_jsonl_records_match_the_decoder(source, raw_server, framing, backend):
    writes = [
        b'\xef\xbb\xbf{"n": 0}\r',
        b'\n\n   \n{"n": 1, "s": "\xe2\x80\xa8 \xc3',
        b'\xa9"}\n{"n"',
        b': 2}\r\n{"n": 3}',  # the last record has no LF: the end of the body ends it
    ]
    url, token = serve(raw_server, Plan(writes, content_type="application/x-ndjson"), framing)
    response = await source.open(url)
    records, error = await collect(make_stream(source, response, backend, fmt="jsonl"))
    assert error is None
    assert records == decoded(backend, raw_server.body(token), "jsonl")
    assert [r.json() for r in records] == [{"n": 0}, {"n": 1, "s": "\u2028 é"}, {"n": 2}, {"n": 3}]
    assert source.is_closed(response)


async def test_each_event_arrives_before_the_server_sends_the_next(
    source, raw_server, framing, backend
):
    # CR-only line ends: an event must be dispatched on its final CR, and the client must
    # hand over what it has rather than wait for a full read block.
    plan = lockstep_plan(5)
    url, token = serve(raw_server, plan, framing)
    response = await source.open(url)
    sent_on_delivery = []
    k = 0
    async for _ in make_stream(source, response, backend):
        sent_on_delivery.append(raw_server.sent(token))
        raw_server.ack(token, k)
        k += 1
    assert sent_on_delivery == [1, 2, 3, 4, 5]
    assert raw_server.failures(token) == []
    assert source.is_closed(response)


# ------------------------------------------------------------------------ leaving early


async def leave_by_break(stream: Any, source: Opener, response: Any) -> None:
    async for _ in stream:
        break


async def leave_by_exception(stream: Any, source: Opener, response: Any) -> None:
    class Stop(Exception):
        pass

    with pytest.raises(Stop):
        async for _ in stream:
            raise Stop()


async def leave_async_with(stream: Any, source: Opener, response: Any) -> None:
    async with stream:
        # The iterator stays referenced: closing is up to `async with`, not to the
        # iterator being dropped.
        iterator = stream.__aiter__()
        await iterator.__anext__()
        assert not source.is_closed(response)
    assert source.is_closed(response)
    del iterator


async def leave_by_aclose(stream: Any, source: Opener, response: Any) -> None:
    iterator = stream.__aiter__()
    await iterator.__anext__()
    await stream.aclose()
    assert source.is_closed(response)
    with pytest.raises(StopAsyncIteration):
        await iterator.__anext__()


async def leave_by_task_cancel(stream: Any, source: Opener, response: Any) -> None:
    both_received = asyncio.Event()
    received = []

    async def consume() -> None:
        async for event in stream:
            received.append(event)
            if len(received) == 2:
                both_received.set()

    task = asyncio.ensure_future(consume())
    await asyncio.wait_for(both_received.wait(), 5)
    # Only keep-alives follow: the consumer is now waiting inside the client's read.
    await asyncio.sleep(0.05)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def leave_by_wait_for_timeout(stream: Any, source: Opener, response: Any) -> None:
    iterator = stream.__aiter__()
    await iterator.__anext__()
    await iterator.__anext__()
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(iterator.__anext__(), 0.2)


EXITS = {
    "break": leave_by_break,
    "exception": leave_by_exception,
    "async-with": leave_async_with,
    "aclose": leave_by_aclose,
    "task-cancel": leave_by_task_cancel,
    "wait-for-timeout": leave_by_wait_for_timeout,
}


@pytest.mark.parametrize("exit_path", list(EXITS))
async def test_leaving_early_closes_and_the_server_sees_it(
    source, raw_server, framing, backend, exit_path
):
    if exit_path in ("task-cancel", "wait-for-timeout") and source.blocks_event_loop:
        # AsyncStream reads a sync iterable in the loop's thread without ever yielding to
        # the loop, so no other task runs and no cancellation arrives until it ends.
        pytest.skip("a sync iterable's reads block the event loop: nothing can cancel them")
    url, token = serve(raw_server, endless_plan(2), framing)
    response = await source.open(url)
    stream = make_stream(source, response, backend)
    await EXITS[exit_path](stream, source, response)
    left_at = time.monotonic()
    assert await wait_until(lambda: source.is_closed(response)), "the response was not closed"
    await assert_server_saw_disconnect(raw_server, token, left_at)


async def test_terminal_event_stops_without_the_callback_and_closes(
    source, raw_server, framing, backend
):
    writes = [b"data: " + openai_chunk(k) + b"\n\n" for k in range(2)] + [DONE_CHUNK, sse_event(9)]
    url, token = serve(raw_server, Plan(writes, endless=KEEP_ALIVE), framing)
    response = await source.open(url)
    calls = []

    def content(response_seen: Any, payload: Any) -> str:
        calls.append(response_seen)
        return payload["choices"][0]["delta"]["content"]

    stream = make_stream(
        source, response, backend, terminal_event="[DONE]", deserialization_callback=content
    )
    items = [item async for item in stream]
    left_at = time.monotonic()
    assert items == ["", " wörld #1"]
    # The callback gets the object the caller passed in, whatever fastsse reads under it.
    assert len(calls) == 2 and all(seen is response for seen in calls)
    assert source.is_closed(response)  # already closed when the loop ends, not later
    await assert_server_saw_disconnect(raw_server, token, left_at)


async def test_terminal_event_names_yield_that_event_then_stop(
    source, raw_server, framing, backend
):
    url, token = serve(raw_server, Plan(NAMED_CHUNKS, endless=KEEP_ALIVE), framing)
    response = await source.open(url)
    stream = make_stream(source, response, backend, terminal_event_names={"message_stop"})
    events = [event async for event in stream]
    left_at = time.monotonic()
    stop = next(
        i for i, chunk in enumerate(NAMED_CHUNKS) if chunk.startswith(b"event: message_stop")
    )
    assert events == decoded(backend, b"".join(NAMED_CHUNKS[: stop + 1]))
    assert events[-1].event == "message_stop"
    assert source.is_closed(response)
    await assert_server_saw_disconnect(raw_server, token, left_at)


# ------------------------------------------------------------------ responses not decoded


async def test_error_status_raises_response_error_and_closes(source, raw_server, framing, backend):
    if not source.has_headers:
        pytest.skip("a plain iterable of bytes has no status")
    if source.raises_on_error_status is not None:
        pytest.skip(f"{source.name} raises its own error first (tested below)")
    error_body = status_body(503)
    # The body never ends: the excerpt must be bounded, and taking it must not hang.
    plan = Plan([error_body], content_type="application/json", status=503, endless=b"x" * 1024)
    url, token = serve(raw_server, plan, framing)
    response = await source.open(url)
    stream = make_stream(source, response, backend)  # raises on the first iteration, not here
    with pytest.raises(fastsse.ResponseError) as info:
        await asyncio.wait_for(items_of(stream), 10)
    left_at = time.monotonic()
    error = info.value
    assert isinstance(error, fastsse.StreamError)
    assert error.status_code == 503
    assert error.reason in (None, "Service Unavailable")
    assert isinstance(error.body, bytes) and error.body.startswith(error_body)
    assert raw_server.body(token).startswith(error.body)
    assert source.is_closed(response)
    await assert_server_saw_disconnect(raw_server, token, left_at)


async def test_openai_raises_its_own_status_error(raw_server, framing):
    # The SDK checks the status (and reads the whole error body) inside create(): the
    # response never reaches fastsse, whichever decoder backend would have been used.
    async with open_source("openai") as source:
        plan = Plan([status_body(503)], content_type="application/json", status=503)
        url, _ = serve(raw_server, plan, framing)
        with pytest.raises(source.raises_on_error_status) as info:
            await source.open(url)
        assert info.value.status_code == 503


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", None], ids=["html", "none"])
async def test_unknown_or_missing_content_type_raises_format_error(
    source, raw_server, framing, backend, content_type
):
    plan = Plan([sse_event(0)], content_type=content_type, endless=KEEP_ALIVE)
    url, token = serve(raw_server, plan, framing)
    response = await source.open(url)
    # No format=: a source without headers cannot tell it either.
    stream = fastsse.AsyncStream(response, decoder=backend)
    with pytest.raises(fastsse.FormatError, match="format="):
        await items_of(stream)
    left_at = time.monotonic()
    assert source.is_closed(response)
    if source.has_headers:
        await assert_server_saw_disconnect(raw_server, token, left_at)


# ------------------------------------------------------------------------ the ASGI server


async def test_asgi_lockstep_until_done(source, asgi_server, backend):
    token = asgi_server.new_token()
    response = await source.open(
        asgi_server.url_for(source.asgi_sse_path, n=4, lockstep=1, token=token)
    )
    stream = make_stream(source, response, backend, terminal_event="[DONE]")
    sent_on_delivery = []
    events = []
    async for event in stream:
        sent_on_delivery.append(asgi_server.sent(token))
        asgi_server.ack(token, len(events))
        events.append(event)
    assert sent_on_delivery == [1, 2, 3, 4]
    assert asgi_server.failures(token) == []
    assert events == decoded(backend, b"".join(sse_chunks(4)))[:4]
    assert source.is_closed(response)


async def test_asgi_break_from_an_endless_stream(source, asgi_server, backend):
    token = asgi_server.new_token()
    response = await source.open(asgi_server.url_for("/endless", interval=0.01, token=token))
    ids = []
    async for event in make_stream(source, response, backend):
        ids.append(event.id)
        if len(ids) == 3:
            break
    left_at = time.monotonic()
    assert ids == ["0", "1", "2"]
    assert await wait_until(lambda: source.is_closed(response))
    await assert_server_saw_disconnect(asgi_server, token, left_at)


async def test_asgi_jsonl_by_content_type(source, asgi_server, backend):
    token = asgi_server.new_token()
    response = await source.open(asgi_server.url_for("/jsonl", n=6, token=token))
    seen = []

    def payload(response_seen: Any, record: Any) -> Any:
        seen.append(response_seen)
        return record

    stream = make_stream(source, response, backend, fmt="jsonl", deserialization_callback=payload)
    records = [record async for record in stream]
    assert [r["n"] for r in records] == list(range(6))
    assert records == [r.json() for r in decoded(backend, b"".join(jsonl_chunks(6)), "jsonl")]
    assert all(r is response for r in seen)
    assert source.is_closed(response)
    assert asgi_server.completed(token)


async def test_asgi_error_status_with_content_length(source, asgi_server, backend):
    if not source.has_headers:
        pytest.skip("a plain iterable of bytes has no status")
    if source.raises_on_error_status is not None:
        pytest.skip(f"{source.name} raises its own error first")
    token = asgi_server.new_token()
    response = await source.open(
        asgi_server.url_for("/status/404", kind="text", size=10000, token=token)
    )
    with pytest.raises(fastsse.ResponseError) as info:
        await items_of(make_stream(source, response, backend))
    assert info.value.status_code == 404
    full = status_body(404, "text", 10000)
    assert info.value.body and full.startswith(info.value.body)
    assert source.is_closed(response)


# ------------------------------------------------------------------------------- pooling


@pytest.mark.parametrize("name", POOLED)
async def test_pooled_client_reuses_finished_connections_and_drops_abandoned_ones(
    name, raw_server, backend
):
    finished = Plan([sse_event(0), sse_event(1)])
    ports: List[int] = []  # the client port of each request, in order

    async with open_source(name) as source:

        async def request(plan: Plan) -> Tuple[Any, str]:
            url, token = serve(raw_server, plan, "chunked")
            response = await source.open(url)
            ports.extend(port for _, port in raw_server.peers(token))
            return response, token

        async def read_all() -> None:
            response, _ = await request(finished)
            events, error = await collect(make_stream(source, response, backend))
            assert error is None and [e.id for e in events] == ["0", "1"]
            assert source.is_closed(response)

        await read_all()
        await read_all()
        response, token = await request(endless_plan(2))
        async for _ in make_stream(source, response, backend):
            break
        left_at = time.monotonic()
        await assert_server_saw_disconnect(raw_server, token, left_at)
        await read_all()
        response, token = await request(endless_plan(2))
        iterator = make_stream(source, response, backend).__aiter__()
        await iterator.__anext__()
        await iterator.__anext__()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(iterator.__anext__(), 0.1)
        left_at = time.monotonic()
        await assert_server_saw_disconnect(raw_server, token, left_at)
        await read_all()

    # A body read to its end leaves its connection reusable, so the pool keeps it; a
    # connection left mid-body (break, cancellation) cannot carry another request.
    first, second, broken, after_break, cancelled, after_cancel = ports
    assert second == first, "a finished response's connection was not returned to the pool"
    assert broken == first
    assert after_break != broken, "a connection abandoned by break was reused"
    assert cancelled == after_break
    assert after_cancel != cancelled, "a connection abandoned by cancellation was reused"
