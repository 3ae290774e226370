"""Reconnection without a network: the schedule of attempts, Retry-After, the policy's
checks, the request headers, and Stream / AsyncStream over in-memory responses, on both
backends and every chunking. Real servers and clients are in tests/integration."""

from __future__ import annotations

import asyncio
import logging
import pickle
import threading
import time
from email.utils import formatdate
from typing import Any, AsyncIterator, Callable, Iterator, List, Optional, Sequence

import pytest
from _chunking import chunkings

import fastsse
from fastsse._connect import request_headers
from fastsse._reconnect import _Attempts, is_connection_error, parse_retry_after

# ------------------------------------------------------------------------ the schedule


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def attempts(clock: Optional[Clock] = None, rand: float = 0.5, **policy: Any) -> _Attempts:
    return _Attempts(fastsse.ReconnectPolicy(**policy), clock or Clock(), lambda: rand)


def test_waits_the_stream_retry_by_default() -> None:
    schedule = attempts()
    delays = [schedule.next_attempt(250, None, "7").delay for _ in range(4)]
    assert delays == [0.25] * 4
    assert schedule.attempt == 4 and schedule.total == 4


def test_backoff_grows_to_the_cap_and_never_below_retry() -> None:
    schedule = attempts(backoff=2.0, max_delay=1.0)
    delays = [schedule.next_attempt(100, None, "").delay for _ in range(6)]
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    # A server asking for more than the cap gets what it asked for.
    slow = attempts(backoff=2.0, max_delay=1.0)
    assert [slow.next_attempt(5000, None, "").delay for _ in range(3)] == [5.0, 5.0, 5.0]
    # A huge attempt count cannot overflow the float power.
    huge = attempts(backoff=10.0, max_delay=2.0)
    huge.attempt = 10**6
    assert huge.next_attempt(100, None, "").delay == 2.0


@pytest.mark.parametrize("rand", [0.0, 0.3, 0.999])
def test_jitter_shortens_each_wait_by_a_random_part(rand: float) -> None:
    schedule = attempts(rand=rand, jitter=0.5)
    assert schedule.next_attempt(1000, None, "").delay == pytest.approx(1.0 * (1 - 0.5 * rand))


def test_an_event_resets_the_count_and_the_backoff() -> None:
    schedule = attempts(backoff=2.0, max_attempts=2)
    schedule.next_attempt(100, None, "")
    schedule.next_attempt(100, None, "")
    schedule.delivered()
    again = schedule.next_attempt(100, None, "")
    assert (again.attempt, again.total, again.delay) == (1, 3, 0.1)


def test_max_attempts_raises_with_the_last_cause() -> None:
    schedule = attempts(max_attempts=3)
    cause = ConnectionRefusedError("refused")
    for _ in range(3):
        schedule.next_attempt(10, cause, "42")
    with pytest.raises(fastsse.ReconnectError) as caught:
        schedule.next_attempt(10, cause, "42")
    error = caught.value
    assert isinstance(error, fastsse.StreamError)
    assert error.attempts == 3 and error.last_event_id == "42"
    assert error.__cause__ is cause
    assert "max_attempts=3" in str(error) and "ConnectionRefusedError: refused" in str(error)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.attempts, copy.last_event_id, str(copy)) == (3, "42", str(error))


def test_max_time_counts_from_the_loss_and_gives_up_before_waiting_past_it() -> None:
    clock = Clock()
    schedule = attempts(clock, max_time=1.0)
    assert schedule.next_attempt(400, None, "").delay == 0.4
    clock.now += 0.5
    with pytest.raises(fastsse.ReconnectError) as caught:
        schedule.next_attempt(600, None, "")  # would start at 1.1 s
    assert "max_time=1 s" in str(caught.value)
    assert caught.value.elapsed == pytest.approx(0.5)
    assert "ended without a terminal event" in str(caught.value)
    assert caught.value.__cause__ is None


def test_retry_after_is_honoured_and_bounded_by_max_time() -> None:
    schedule = attempts(max_time=10.0)
    assert schedule.next_attempt(100, None, "", retry_after=2.0).delay == 2.0
    assert schedule.next_attempt(3000, None, "", retry_after=1.0).delay == 3.0
    with pytest.raises(fastsse.ReconnectError):
        schedule.next_attempt(100, None, "", retry_after=60.0)


def test_parse_retry_after() -> None:
    now = time.time()
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 5 ") == 5.0
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now) == pytest.approx(30, abs=1)
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now) == 0.0
    for bad in (None, "", "soon", "-1", "1.5", "\u0663", "+5"):
        assert parse_retry_after(bad) is None


@pytest.mark.parametrize(
    "options",
    [
        {"retry": -1},
        {"retry": 1.5},
        {"retry": True},
        {"backoff": 0.5},
        {"jitter": 1.5},
        {"max_delay": -1},
        {"max_attempts": 0},
        {"max_attempts": 2.0},
        {"max_time": 0},
        {"retry_statuses": {404}},
        {"retry_statuses": {429, 503, 302}},
    ],
)
def test_policy_refuses_nonsense(options: Any) -> None:
    with pytest.raises(ValueError):
        fastsse.ReconnectPolicy(**options)


def test_policy_refuses_a_hook_that_is_not_callable() -> None:
    with pytest.raises(TypeError):
        fastsse.ReconnectPolicy(on_reconnect="log")  # type: ignore[arg-type]
    assert "retry=3000" in repr(fastsse.ReconnectPolicy())


def test_connection_errors_are_told_from_bugs() -> None:
    assert is_connection_error(ConnectionResetError())
    assert is_connection_error(fastsse.ConnectionLost("lost"))
    assert is_connection_error(asyncio.TimeoutError())
    assert not is_connection_error(ValueError("bug"))
    assert not is_connection_error(fastsse.FormatError("html"))
    httpx = pytest.importorskip("httpx")
    assert is_connection_error(httpx.ConnectError("refused"))
    assert is_connection_error(httpx.RemoteProtocolError("truncated"))
    assert not is_connection_error(httpx.StreamClosed())
    requests = pytest.importorskip("requests")
    assert is_connection_error(requests.ConnectionError())
    assert is_connection_error(requests.exceptions.ChunkedEncodingError())
    assert not is_connection_error(requests.exceptions.InvalidURL())
    urllib3 = pytest.importorskip("urllib3")
    assert is_connection_error(urllib3.exceptions.ProtocolError())
    assert is_connection_error(urllib3.exceptions.MaxRetryError(None, "/"))  # type: ignore[arg-type]
    aiohttp = pytest.importorskip("aiohttp")
    assert is_connection_error(aiohttp.ServerDisconnectedError())
    assert is_connection_error(aiohttp.ClientPayloadError())
    assert not is_connection_error(aiohttp.InvalidURL("x"))


def test_request_headers() -> None:
    assert request_headers(None, "") == {"Accept": "text/event-stream", "Cache-Control": "no-store"}
    headers = request_headers({"accept": "text/plain", "LAST-EVENT-ID": "1", "X": "y"}, "9")
    assert headers == {
        "accept": "text/plain",
        "X": "y",
        "Cache-Control": "no-store",
        "Last-Event-ID": "9",
    }
    assert request_headers([("X", "1")], "é")["Last-Event-ID"] == "é".encode()
    assert request_headers(None, "é", text_values=True)["Last-Event-ID"] == "é"


# ------------------------------------------------------------------- streams in memory


class Body:
    """A response of the httpx shape: ``iter_bytes()``, ``status_code``, ``headers``."""

    def __init__(
        self,
        chunks: Sequence[bytes] = (),
        status: int = 200,
        content_type: Optional[str] = "text/event-stream",
        fail: Optional[BaseException] = None,
        headers: Optional[dict] = None,
    ) -> None:
        self.chunks = list(chunks)
        self.status_code = status
        self.headers = dict(headers or {})
        if content_type is not None:
            self.headers["content-type"] = content_type
        self.fail = fail
        self.closed = False

    def iter_bytes(self) -> Iterator[bytes]:
        yield from self.chunks
        if self.fail is not None:
            raise self.fail

    def close(self) -> None:
        self.closed = True


class AsyncBody(Body):
    """The same, as an async iterable of bytes."""

    async def _chunks(self) -> AsyncIterator[bytes]:
        for chunk in self.iter_bytes():
            await asyncio.sleep(0)
            yield chunk

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def aclose(self) -> None:
        self.closed = True


class Server:
    """Answers each reconnection with the next response; records the IDs it was sent."""

    def __init__(self, *responses: Body) -> None:
        self.responses = list(responses)
        self.given: List[Body] = []
        self.sent: List[str] = []

    def __call__(self, last_event_id: str) -> Body:
        self.sent.append(last_event_id)
        response = self.responses.pop(0)
        if isinstance(response, BaseException):
            raise response
        self.given.append(response)
        return response


QUICK = fastsse.ReconnectPolicy(retry=0, max_attempts=5)

FIRST = b"id: 1\ndata: a\n\nid: 2\ndata: b\n\ndata: lost"
SECOND = b'retry: 0\nid: 3\ndata: c\n\nevent: end\ndata: {"x": 1}\n\n'


def summary(events: Sequence[Any]) -> List[tuple]:
    return [(event.id, event.data) for event in events]


@pytest.mark.parametrize("name,first", list(chunkings(FIRST, splits=2)))
def test_stream_continues_across_a_dropped_body(
    backend: str, name: str, first: List[bytes]
) -> None:
    for _, second in chunkings(SECOND, seed=1, splits=2):
        initial = Body(first, fail=ConnectionResetError("reset"))
        server = Server(Body(second))
        stream = fastsse.Stream(
            initial,
            decoder=backend,
            reconnect_callback=server,
            reconnect=QUICK,
            terminal_event_names={"end"},
        )
        with stream:
            assert summary(stream) == [("1", "a"), ("2", "b"), ("3", "c"), ("3", '{"x": 1}')]
        assert server.sent == ["2"]
        assert initial.closed and server.given[0].closed
        assert stream.reconnect_attempts == 1 and stream.last_event_id == "3"


def test_clean_end_reconnects_and_204_stops(backend: str) -> None:
    server = Server(Body([b"id: 2\ndata: b\n\n"]), Body(status=204, content_type=None))
    with fastsse.Stream(
        Body([b"id: 1\ndata: a\n\n"]), decoder=backend, reconnect_callback=server, reconnect=QUICK
    ) as stream:
        assert summary(stream) == [("1", "a"), ("2", "b")]
    assert server.sent == ["1", "2"]
    assert all(body.closed for body in server.given)


def test_callback_mapping_and_plain_loop_continue(backend: str) -> None:
    server = Server(Body([b'data: {"n": 2}\n\ndata: [DONE]\n\ndata: {"n": 3}\n\n']))
    stream = fastsse.Stream(
        Body([b'data: {"n": 1}\n\n']),
        decoder=backend,
        deserialization_callback=lambda response, payload: payload["n"],
        terminal_event="[DONE]",
        reconnect_callback=server,
        reconnect=QUICK,
    )
    assert list(stream) == [1, 2]
    assert server.sent == [""]


@pytest.mark.parametrize("status", [400, 401, 404, 500, 503])
def test_error_statuses_raise_without_reconnecting(backend: str, status: int) -> None:
    refused = Body([b"nope"], status=status, content_type="text/plain")
    server = Server(refused)
    stream = fastsse.Stream(
        Body([b"data: a\n\n"]), decoder=backend, reconnect_callback=server, reconnect=QUICK
    )
    received = []
    with pytest.raises(fastsse.ResponseError) as caught:
        for event in stream:
            received.append(event.data)
    assert received == ["a"]
    assert caught.value.status_code == status and caught.value.body == b"nope"
    assert refused.closed and stream.closed


def test_first_response_is_checked_like_the_others(backend: str) -> None:
    busy = Body(status=503, headers={"Retry-After": "0"})
    policy = fastsse.ReconnectPolicy(retry=0, max_attempts=3, retry_statuses={503})
    server = Server(Body([b"data: a\n\n"]), Body(status=204))
    stream = fastsse.Stream(busy, decoder=backend, reconnect_callback=server, reconnect=policy)
    assert [event.data for event in stream] == ["a"]
    assert busy.closed and server.sent == ["", ""]
    # A 204 first answer is an empty stream; an error status raises when iterated.
    assert list(fastsse.Stream(Body(status=204), reconnect_callback=server)) == []
    with pytest.raises(fastsse.ResponseError):
        list(fastsse.Stream(Body(status=500, content_type="text/plain"), reconnect_callback=server))


def test_wrong_content_type_raises(backend: str) -> None:
    page = Body([b"<html>"], content_type="text/html")
    stream = fastsse.Stream(
        Body([b"data: a\n\n"]), decoder=backend, reconnect_callback=Server(page), reconnect=QUICK
    )
    with pytest.raises(fastsse.FormatError, match="text/html"):
        list(stream)
    assert page.closed
    # format="sse" decodes any Content-Type, on every connection.
    server = Server(Body([b"data: b\n\n"], content_type="text/plain"), Body(status=204))
    plain = Body([b"data: a\n\n"], content_type=None)
    explicit = fastsse.Stream(
        plain, format="sse", decoder=backend, reconnect_callback=server, reconnect=QUICK
    )
    assert [event.data for event in explicit] == ["a", "b"]


def test_reconnection_needs_sse() -> None:
    jsonl = Body([b"{}\n"], content_type="application/x-ndjson")
    with pytest.raises(fastsse.FormatError, match="SSE"):
        fastsse.Stream(jsonl, reconnect_callback=Server())
    assert jsonl.closed
    with pytest.raises(fastsse.FormatError, match="SSE"):
        fastsse.Stream(Body(), format="jsonl", reconnect_callback=Server())
    with pytest.raises(fastsse.FormatError, match="SSE"):
        fastsse.Stream(Body(), decoder=fastsse.JSONLDecoder(), reconnect_callback=Server())
    with pytest.raises(fastsse.FormatError, match="text/html"):
        fastsse.Stream(Body(content_type="text/html"), reconnect_callback=Server())
    with pytest.raises(TypeError):
        fastsse.Stream(Body(), reconnect_callback=Server(), reconnect={"retry": 1})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        fastsse.Stream(Body(), reconnect_callback="http://x")  # type: ignore[arg-type]


def test_a_bug_in_the_callback_is_raised_not_retried(backend: str) -> None:
    server = Server(KeyError("bug"))  # type: ignore[arg-type]
    initial = Body([b"data: a\n\n"])
    stream = fastsse.Stream(initial, decoder=backend, reconnect_callback=server, reconnect=QUICK)
    with pytest.raises(KeyError):
        list(stream)
    assert initial.closed and stream.closed and server.sent == [""]


def test_failed_attempts_are_retried_until_the_limit(backend: str) -> None:
    refused = [ConnectionRefusedError(f"refused {k}") for k in range(3)]
    server = Server(*refused)  # type: ignore[arg-type]
    policy = fastsse.ReconnectPolicy(retry=0, max_attempts=3)
    stream = fastsse.Stream(
        Body([b"id: 5\ndata: a\n\n"]), decoder=backend, reconnect_callback=server, reconnect=policy
    )
    received = []
    with pytest.raises(fastsse.ReconnectError) as caught:
        for event in stream:
            received.append(event.data)
    assert received == ["a"]
    assert caught.value.attempts == 3 and caught.value.__cause__ is refused[-1]
    assert server.sent == ["5", "5", "5"] and stream.reconnect_attempts == 3


def test_each_reconnection_is_logged_and_hooked(backend: str, caplog: Any) -> None:
    seen: List[fastsse.Reconnection] = []
    policy = fastsse.ReconnectPolicy(retry=1, on_reconnect=seen.append)
    lost = fastsse.ConnectionLost("peer reset", last_event_id="1")
    server = Server(Body([b"data: b\n\n"], fail=lost), Body(status=204))
    with caplog.at_level(logging.INFO, logger="fastsse"):
        stream = fastsse.Stream(
            Body([b"id: 1\ndata: a\n\n"]),
            decoder=backend,
            reconnect_callback=server,
            reconnect=policy,
        )
        assert [event.data for event in stream] == ["a", "b"]
    assert [(r.attempt, r.total, r.last_event_id) for r in seen][:1] == [(1, 1, "1")]
    assert seen[0].cause is None and seen[1].cause is lost and seen[1].delay == 0.001
    messages = [
        record.getMessage() for record in caplog.records if "reconnecting" in record.getMessage()
    ]
    assert len(messages) == 2
    assert "Last-Event-ID '1'" in messages[0] and "ConnectionLost: peer reset" in messages[1]


def test_retry_and_last_event_id_properties(backend: str) -> None:
    stream = fastsse.Stream(Body([b"retry: 1500\nid: x\ndata: a\n\n"]), decoder=backend)
    assert stream.retry == 3000 and stream.last_event_id == ""
    assert [event.data for event in stream] == ["a"]
    assert stream.retry == 1500 and stream.last_event_id == "x"
    assert stream.reconnect_attempts == 0
    jsonl = fastsse.Stream(Body([b"{}\n"], content_type="application/jsonl"))
    assert jsonl.retry is None and jsonl.last_event_id == ""
    configured = fastsse.Stream(
        Body([b"data: a\n\n"]), reconnect=fastsse.ReconnectPolicy(retry=250)
    )
    assert configured.retry == 250


def test_close_from_another_thread_ends_the_wait(backend: str) -> None:
    policy = fastsse.ReconnectPolicy(retry=60_000)
    server = Server()
    stream = fastsse.Stream(
        Body([b"data: a\n\n"]), decoder=backend, reconnect_callback=server, reconnect=policy
    )
    hooked = threading.Event()
    policy.on_reconnect = lambda reconnection: hooked.set()
    results: List[Any] = []
    thread = threading.Thread(target=lambda: results.append([e.data for e in stream]))
    thread.start()
    assert hooked.wait(5.0)
    started = time.monotonic()
    stream.close()
    thread.join(5.0)
    assert not thread.is_alive() and time.monotonic() - started < 1.0
    assert results == [["a"]] and server.sent == []


# --------------------------------------------------------------- terminal predicate


@pytest.mark.parametrize("handler", [False, True])
def test_terminal_event_predicate_yields_then_ends(backend: str, handler: bool) -> None:
    body = Body([b"data: 1\n\ndata: 2\n\ndata: 3\n\n"])
    calls: List[str] = []
    stream = fastsse.Stream(
        body,
        decoder=backend,
        terminal_event_predicate=lambda event: (calls.append(event.data), event.data == "2")[1],
        deserialization_callback=lambda response, payload: payload * 10,
    )
    if handler:
        stream.add_callback("*", lambda item: None)
    assert list(stream) == [10, 20]
    assert calls == ["1", "2"] and body.closed
    jsonl = Body([b"1\n2\n3\n"], content_type="application/jsonl")
    records = fastsse.Stream(
        jsonl, decoder=backend, terminal_event_predicate=lambda r: r.data == "1"
    )
    assert [record.data for record in records] == ["1"]
    with pytest.raises(TypeError):
        fastsse.Stream(Body(), terminal_event_predicate="end")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ async


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, 10.0))


@pytest.mark.parametrize("coroutine_callback", [False, True])
def test_async_stream_continues_across_a_dropped_body(
    backend: str, coroutine_callback: bool
) -> None:
    server = Server(AsyncBody([SECOND]))
    hooks: List[int] = []

    async def hook(reconnection: fastsse.Reconnection) -> None:
        hooks.append(reconnection.attempt)

    async def reconnect(last_event_id: str) -> Body:
        await asyncio.sleep(0)
        return server(last_event_id)

    callback: Callable[[str], Any] = reconnect if coroutine_callback else server
    initial = AsyncBody([FIRST], fail=ConnectionResetError("reset"))

    async def main() -> List[tuple]:
        stream = fastsse.AsyncStream(
            initial,
            decoder=backend,
            reconnect_callback=callback,
            reconnect=fastsse.ReconnectPolicy(retry=0, on_reconnect=hook),
            terminal_event_names={"end"},
        )
        async with stream:
            items = summary([event async for event in stream])
            assert stream.reconnect_attempts == 1 and stream.last_event_id == "3"
            return items

    assert run(main()) == [("1", "a"), ("2", "b"), ("3", "c"), ("3", '{"x": 1}')]
    assert server.sent == ["2"] and hooks == [1]
    assert initial.closed and server.given[0].closed


def test_async_statuses(backend: str) -> None:
    async def ids(*responses: Body, **options: Any) -> List[str]:
        stream = fastsse.AsyncStream(
            AsyncBody([b"id: 1\ndata: a\n\n"]),
            decoder=backend,
            reconnect_callback=Server(*responses),
            reconnect=options.pop("reconnect", QUICK),
            **options,
        )
        return [event.id async for event in stream]

    assert run(ids(AsyncBody(status=204))) == ["1"]
    with pytest.raises(fastsse.ResponseError):
        run(ids(AsyncBody([b"x"], status=502)))
    with pytest.raises(fastsse.FormatError):
        run(ids(AsyncBody([b"<p>"], content_type="text/html")))
    policy = fastsse.ReconnectPolicy(retry=0, max_attempts=2, retry_statuses={502})
    with pytest.raises(fastsse.ReconnectError) as caught:
        run(ids(*[AsyncBody(status=502) for _ in range(3)], reconnect=policy))
    assert caught.value.attempts == 2
    assert isinstance(caught.value.__cause__, fastsse.ResponseError)


def test_async_jsonl_reconnection_is_refused_on_first_iteration() -> None:
    body = AsyncBody([b"{}\n"], content_type="application/jsonl")

    async def main() -> None:
        stream = fastsse.AsyncStream(body, reconnect_callback=Server())
        with pytest.raises(fastsse.FormatError, match="SSE"):
            async for _ in stream:
                pass

    run(main())
    assert body.closed


@pytest.mark.parametrize("how", ["aclose", "cancel"])
def test_async_close_or_cancel_ends_the_wait(backend: str, how: str) -> None:
    async def main() -> float:
        hooked = asyncio.Event()
        policy = fastsse.ReconnectPolicy(retry=60_000, on_reconnect=lambda r: hooked.set())
        stream = fastsse.AsyncStream(
            AsyncBody([b"data: a\n\n"]),
            decoder=backend,
            reconnect_callback=Server(),
            reconnect=policy,
        )
        received: List[str] = []

        async def consume() -> None:
            async for event in stream:
                received.append(event.data)

        task = asyncio.ensure_future(consume())
        await asyncio.wait_for(hooked.wait(), 5.0)
        started = time.monotonic()
        if how == "aclose":
            await stream.aclose()
            await asyncio.wait_for(task, 2.0)
        else:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert received == ["a"] and stream.closed
        return time.monotonic() - started

    assert run(main()) < 1.0
