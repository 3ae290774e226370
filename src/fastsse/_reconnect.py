"""Reconnection: one stream of chunks across the responses of successive connections.

A reconnecting stream reads its body through :class:`ReconnectingSource` (or its async
twin) instead of the response's own source. When a body ends, or its connection is lost,
before the stream saw its terminal event, the wrapper flushes the decoder (which keeps
its last event ID and retry, and starts afresh, as at the start of a stream), waits the
reconnection time, asks ``reconnect_callback(last_event_id)`` for a new response, checks
its status and Content-Type, and goes on yielding that body's chunks. The decoder, the
item loops, handlers and callbacks above it see one stream and are unchanged.

When to wait and when to give up is decided by :class:`_Attempts`, which does no I/O.
"""

from __future__ import annotations

import asyncio
import email.utils
import inspect
import logging
import math
import random
import threading
import time
from datetime import timezone
from types import GeneratorType
from typing import (
    Any,
    AsyncIterator,
    Callable,
    Collection,
    Generator,
    Iterator,
    Optional,
    Tuple,
)

from ._errors import ConnectionLost, FormatError, ReconnectError, ResponseError
from ._sources import AsyncSource, Source, async_source, sync_source

__all__ = [
    "ReconnectPolicy",
    "Reconnection",
    "ReconnectingSource",
    "AsyncReconnectingSource",
    "is_connection_error",
    "parse_retry_after",
]

logger = logging.getLogger("fastsse")

DEFAULT_RETRY_MS = 3000


class ReconnectPolicy:
    """How a stream with a ``reconnect_callback`` waits between attempts and when it gives up.

    The defaults behave as the SSE standard and browsers do: wait the stream's
    reconnection time (``retry`` ms until the server sends a ``retry:`` field, which then
    replaces it) before each attempt, and try again for as long as it takes.

    ``retry``: the reconnection time in milliseconds before the server sets one (3000).
    ``backoff``: each failed attempt in a row multiplies the wait by this factor (``1.0``:
    a constant wait; ``2.0``: exponential backoff), up to ``max_delay`` seconds (never
    below the stream's reconnection time). ``jitter``: a fraction in ``[0, 1]``; each wait
    is shortened by a random part of it, so that many clients spread their attempts.
    ``max_attempts``: give up after this many attempts in a row that brought no event.
    ``max_time``: give up when the next attempt would start more than this many seconds
    after the last connection that delivered an event ended. Giving up raises
    :class:`fastsse.ReconnectError`. Attempts that deliver an event reset both counts and
    the backoff.
    ``retry_statuses``: HTTP statuses (429 or 5xx) whose answer is retried, waiting at
    least what its ``Retry-After`` header asks; every other non-2xx status raises
    :class:`fastsse.ResponseError` without reconnecting.
    ``on_reconnect``: called with a :class:`Reconnection` before each wait (for
    ``AsyncStream`` it may be a coroutine function).
    """

    __slots__ = (
        "retry",
        "backoff",
        "max_delay",
        "jitter",
        "max_attempts",
        "max_time",
        "retry_statuses",
        "on_reconnect",
    )

    def __init__(
        self,
        *,
        retry: int = DEFAULT_RETRY_MS,
        backoff: float = 1.0,
        max_delay: float = 30.0,
        jitter: float = 0.0,
        max_attempts: Optional[int] = None,
        max_time: Optional[float] = None,
        retry_statuses: Collection[int] = (),
        on_reconnect: Optional[Callable[["Reconnection"], Any]] = None,
    ) -> None:
        if isinstance(retry, bool) or not isinstance(retry, int) or retry < 0:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ValueError(f"retry must be a number of milliseconds >= 0, not {retry!r}")
        if not backoff >= 1.0:
            raise ValueError(
                f"backoff must be >= 1.0 (1.0 waits the same each time), not {backoff!r}"
            )
        if not max_delay >= 0:
            raise ValueError(f"max_delay must be >= 0 seconds, not {max_delay!r}")
        if not 0.0 <= jitter <= 1.0:
            raise ValueError(f"jitter must be between 0 and 1, not {jitter!r}")
        if max_attempts is not None and (
            isinstance(max_attempts, bool)
            or not isinstance(max_attempts, int)  # pyright: ignore[reportUnnecessaryIsInstance]
            or max_attempts < 1
        ):
            raise ValueError(f"max_attempts must be an int >= 1 or None, not {max_attempts!r}")
        if max_time is not None and not max_time > 0:
            raise ValueError(f"max_time must be > 0 seconds or None, not {max_time!r}")
        statuses = frozenset(retry_statuses)
        wrong = sorted(s for s in statuses if not (s == 429 or 500 <= s <= 599))
        if wrong:
            raise ValueError(
                f"retry_statuses may hold 429 and 5xx statuses only, not {wrong}: any other "
                "answer says that trying again would not help"
            )
        if on_reconnect is not None and not callable(on_reconnect):
            raise TypeError("on_reconnect must be callable or None")
        self.retry = retry
        self.backoff = float(backoff)
        self.max_delay = float(max_delay)
        self.jitter = float(jitter)
        self.max_attempts = max_attempts
        self.max_time = None if max_time is None else float(max_time)
        self.retry_statuses = statuses
        self.on_reconnect = on_reconnect

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"ReconnectPolicy({fields})"


class Reconnection:
    """What :attr:`ReconnectPolicy.on_reconnect` is told before the stream waits to reconnect.

    ``attempt``: the number of this attempt in a row since an event last arrived (1 for
    the first attempt after a connection that delivered events). ``total``: attempts made
    by the stream so far, this one included. ``delay``: the seconds it waits first.
    ``last_event_id``: what the attempt sends. ``cause``: why the previous connection or
    attempt ended: the client's error, a :class:`fastsse.ConnectionLost`, a retryable
    :class:`fastsse.ResponseError`, or ``None`` when the body ended cleanly.
    """

    __slots__ = ("attempt", "total", "delay", "last_event_id", "cause")

    def __init__(
        self,
        attempt: int,
        total: int,
        delay: float,
        last_event_id: str,
        cause: Optional[BaseException],
    ) -> None:
        self.attempt = attempt
        self.total = total
        self.delay = delay
        self.last_event_id = last_event_id
        self.cause = cause

    def __repr__(self) -> str:
        return (
            f"Reconnection(attempt={self.attempt}, total={self.total}, delay={self.delay:.3f}, "
            f"last_event_id={self.last_event_id!r}, cause={self.cause!r})"
        )


def _describe(cause: Optional[BaseException]) -> str:
    if cause is None:
        return "the body ended without a terminal event"
    text = str(cause)
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__


class _Attempts:
    """Sans-IO: the wait before each attempt, and when to give up.

    An outage starts when a connection ends (or a first response is refused) and lasts
    until a connection delivers an event; ``attempt`` counts its attempts.
    """

    def __init__(
        self,
        policy: ReconnectPolicy,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._rand = rand
        self.attempt = 0  # attempts in the current outage
        self.total = 0  # attempts over the stream's life
        self._outage_start: Optional[float] = None

    def delivered(self) -> None:
        """A connection delivered events: the outage, if any, is over."""
        self.attempt = 0
        self._outage_start = None

    def elapsed(self) -> float:
        return 0.0 if self._outage_start is None else self._clock() - self._outage_start

    def next_attempt(
        self,
        retry_ms: int,
        cause: Optional[BaseException],
        last_event_id: str,
        retry_after: Optional[float] = None,
    ) -> Reconnection:
        """The next attempt and its wait; raises :class:`ReconnectError` when the limits are met."""
        now = self._clock()
        if self._outage_start is None:
            self._outage_start = now
        elapsed = now - self._outage_start
        policy = self.policy
        if policy.max_attempts is not None and self.attempt >= policy.max_attempts:
            self._give_up(f"max_attempts={policy.max_attempts}", cause, elapsed, last_event_id)
        base = retry_ms / 1000.0
        delay = base
        if base and self.attempt and policy.backoff > 1.0:
            try:
                grown = base * policy.backoff**self.attempt
            except OverflowError:  # long past the cap
                grown = math.inf
            delay = min(grown, max(base, policy.max_delay))
        if policy.jitter:
            delay *= 1.0 - policy.jitter * self._rand()
        if retry_after is not None:
            delay = max(delay, retry_after)  # the server said when to come back
        if policy.max_time is not None and elapsed + delay > policy.max_time:
            self._give_up(f"max_time={policy.max_time:g} s", cause, elapsed, last_event_id)
        self.attempt += 1
        self.total += 1
        return Reconnection(self.attempt, self.total, delay, last_event_id, cause)

    def _give_up(
        self, limit: str, cause: Optional[BaseException], elapsed: float, last_event_id: str
    ) -> None:
        error = ReconnectError(
            f"gave up reconnecting after {self.attempt} attempt(s) in a row without an event "
            f"({limit}, {elapsed:.3f} s since the stream was lost); the last one ended: "
            f"{_describe(cause)}",
            attempts=self.attempt,
            elapsed=elapsed,
            last_event_id=last_event_id,
        )
        raise error from cause


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from a ``Retry-After`` value (delay-seconds or an HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit() and value.isascii():
        return float(int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP-date is always GMT
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


# Errors that mean "the connection failed", from the clients fastsse reads; anything else
# (a bug in a callback, a decoding error) ends the stream. Matched by the class's module
# and name, so no HTTP library is imported to recognise its errors.
_CONNECTION_ERRORS = {
    "httpx": ("TransportError",),
    "httpcore": ("NetworkError", "TimeoutException", "ProtocolError"),
    "aiohttp": ("ClientConnectionError", "ClientPayloadError", "ServerTimeoutError"),
    "urllib3": ("ProtocolError", "MaxRetryError", "NewConnectionError", "TimeoutError"),
    "requests": ("ConnectionError", "Timeout", "ChunkedEncodingError"),
    "azure": ("ServiceRequestError", "ServiceResponseError", "IncompleteReadError"),
    "corehttp": ("ServiceRequestError", "ServiceResponseError", "IncompleteReadError"),
}


def is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` says the connection failed (so reconnecting may help)."""
    from_client = False
    for cls in type(exc).__mro__:
        names = _CONNECTION_ERRORS.get(cls.__module__.partition(".")[0])
        if names is not None:
            if cls.__name__ in names:
                return True
            from_client = True
    # A client's other errors (an invalid URL: requests makes every error an OSError) are
    # not helped by trying again.
    return not from_client and isinstance(exc, (ConnectionLost, OSError, asyncio.TimeoutError))


# What a response's status and headers say about decoding it.
_ACCEPT = 0  # decode its body
_END = 1  # 204: the server says the stream is over
_RETRY = 2  # a retryable status


def _classify(source: Any, check_content_type: bool, retry_statuses: Collection[int]) -> int:
    status = source.status
    if status == 204:
        return _END
    if status is not None and not 200 <= status < 300:
        return _RETRY if status in retry_statuses else -1
    if check_content_type:
        content_type = _header(source.headers, "content-type")
        essence = (content_type or "").split(";", 1)[0].strip().lower()
        if essence != "text/event-stream":
            raise FormatError(
                f"the reconnection's response has Content-Type {content_type!r}, not "
                "text/event-stream: it cannot continue the stream; pass format='sse' to "
                "decode such responses anyway"
            )
    return _ACCEPT


def _header(headers: Any, name: str) -> Optional[str]:
    getter = getattr(headers, "get", None)
    if getter is None:
        return None
    value = getter(name)
    if value is None:  # plain dicts are case-sensitive
        value = getter(name.title()) or getter(name.upper())
    return value if value is None else str(value)


def response_error(source: Any, body: bytes, response: Any) -> ResponseError:
    """The error for ``source``'s non-2xx answer: its status, reason and a body excerpt."""
    return ResponseError(
        source.status or 0, source.reason, body[: ResponseError.BODY_EXCERPT], response
    )


def body_excerpt(source: Any) -> bytes:
    """The start of a refused response's body (at least what an error quotes)."""
    body = b""
    try:
        for chunk in source.chunks():
            body += chunk
            if len(body) >= ResponseError.BODY_EXCERPT:
                break
    except Exception:  # the status is the news; a failing body read must not hide it
        pass
    return body


async def abody_excerpt(source: Any) -> bytes:
    """:func:`body_excerpt` of an async source."""
    body = b""
    try:
        async for chunk in source.chunks():
            body += chunk
            if len(body) >= ResponseError.BODY_EXCERPT:
                break
    except Exception:
        pass
    return body


def _warn_if_discarded(decoder: Any) -> None:
    discarded = getattr(decoder, "discarded", 0)
    if discarded:
        logger.info(
            "the connection ended inside an event: %d bytes of it were discarded; the "
            "reconnection resumes after the last complete event",
            discarded,
        )


def _log(reconnection: Reconnection) -> None:
    logger.info(
        "reconnecting to the event stream in %.3f s (attempt %d in a row, %d in all, "
        "Last-Event-ID %r): %s",
        reconnection.delay,
        reconnection.attempt,
        reconnection.total,
        reconnection.last_event_id,
        _describe(reconnection.cause),
    )


class _ReconnectingBase:
    """What the sync and async wrappers share: the state a stream exposes, and the
    decisions about each response and attempt; the halves keep only their I/O."""

    def __init__(
        self,
        initial: Any,
        callback: Callable[[str], Any],
        policy: Optional[ReconnectPolicy],
        check_content_type: bool,
    ) -> None:
        if not callable(callback):
            raise TypeError("reconnect_callback must be callable")
        self.response = initial.response
        self.headers = initial.headers
        self._callback = callback
        self.policy = policy if policy is not None else ReconnectPolicy()
        self._check_content_type = check_content_type
        self._attempts = _Attempts(self.policy)
        self.decoder: Any = None  # set by the stream once it has made its decoder
        self._current: Any = initial
        # The status of each response is checked here, as it arrives: the stream's own
        # check of its first response is not wanted.
        self.status: Optional[int] = None
        self.reason: Optional[str] = None
        self._closed = False

    @property
    def attempts(self) -> int:
        """Reconnection attempts made so far (calls of the reconnect callback)."""
        return self._attempts.total

    def retry_ms(self) -> int:
        retry = getattr(self.decoder, "retry", None)
        return self.policy.retry if retry is None else int(retry)

    def _last_event_id(self) -> str:
        return getattr(self.decoder, "last_event_id", "")

    def _dispatched(self) -> int:
        return int(getattr(self.decoder, "dispatched", 0))

    def _end_of_body(self, before: int) -> None:
        decoder = self.decoder
        decoder.flush()  # the next body starts a new stream on the same decoder
        _warn_if_discarded(decoder)
        if self._dispatched() > before:
            self._attempts.delivered()

    def _verdict(self, source: Any) -> int:
        return _classify(source, self._check_content_type, self.policy.retry_statuses)

    def _refused(
        self, source: Any, verdict: int, body: bytes
    ) -> Tuple[ResponseError, Optional[float]]:
        """The cause and ``Retry-After`` of a retryable refusal; raises any other."""
        error = response_error(source, body, source.response)
        if verdict != _RETRY:
            raise error
        return error, parse_retry_after(_header(source.headers, "retry-after"))

    def _next_attempt(
        self, cause: Optional[BaseException], retry_after: Optional[float]
    ) -> Reconnection:
        """The next attempt, logged; raises :class:`ReconnectError` when giving up."""
        reconnection = self._attempts.next_attempt(
            self.retry_ms(), cause, self._last_event_id(), retry_after
        )
        _log(reconnection)
        return reconnection

    def _adopt(self, new: Any) -> None:
        """Make ``new``, the source of a reconnection's response, the one read next."""
        new.set_decoder(self.decoder)
        self._current = new
        self.response = new.response
        self.headers = new.headers

    def set_decoder(self, decoder: Any) -> None:
        """The stream's decoder: fed every response's body, and told to each response's
        source (for the last event ID a lost connection reports)."""
        self.decoder = decoder
        current = self._current
        if current is not None:
            current.set_decoder(decoder)

    def finished(self) -> None:
        """The stream read its chunks to their end (each response was closed on its way)."""


class ReconnectingSource(_ReconnectingBase):
    """A :class:`Source` that reconnects: see the module's docstring."""

    def __init__(
        self,
        initial: Source,
        callback: Callable[[str], Any],
        policy: Optional[ReconnectPolicy] = None,
        check_content_type: bool = True,
    ) -> None:
        super().__init__(initial, callback, policy, check_content_type)
        self._current: Optional[Source] = initial
        self._stop = threading.Event()  # set by close(), from any thread
        self._iterator: Optional[GeneratorType[Any, None, None]] = None

    def open(self) -> Iterator[Any]:
        iterator = self._run()
        self._iterator = iterator  # type: ignore[assignment]
        return iterator

    def chunks(self) -> Iterator[bytes]:
        for chunk in self.open():
            if chunk:
                yield chunk

    def _run(self) -> Generator[Any, None, None]:
        try:
            cause: Optional[BaseException] = None
            retry_after: Optional[float] = None
            while True:
                source = self._current
                if source is not None:
                    cause = retry_after = None
                    verdict = self._verdict(source)
                    if verdict == _END:
                        return
                    if verdict == _ACCEPT:
                        before = self._dispatched()
                        try:
                            for chunk in source.open():
                                yield chunk
                            source.finished()
                        except Exception as exc:
                            if self._stop.is_set():
                                return  # closed from another thread while reading
                            if not is_connection_error(exc):
                                raise
                            cause = exc
                        self._end_of_body(before)
                    else:
                        cause, retry_after = self._refused(source, verdict, body_excerpt(source))
                    self._current = None
                    source.close()
                if self._stop.is_set():
                    return
                reconnection = self._next_attempt(cause, retry_after)
                last_event_id = reconnection.last_event_id  # sent as decided, whatever a hook does
                hook = self.policy.on_reconnect
                if hook is not None:
                    hook(reconnection)
                if self._stop.wait(reconnection.delay):
                    return
                try:
                    response = self._callback(last_event_id)
                except Exception as exc:
                    if not is_connection_error(exc):
                        raise
                    cause, retry_after = exc, None  # a failed attempt: wait and try again
                    continue
                self._adopt(sync_source(response))
                if self._stop.is_set():
                    return
        finally:
            current, self._current = self._current, None
            if current is not None:
                current.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        iterator = self._iterator
        if iterator is not None and not iterator.gi_running:
            iterator.close()  # its finally closes the response being read
        current = self._current
        if current is not None:
            # Being read in another thread: closing it ends that read.
            try:
                current.close()
            except ValueError:  # "generator already executing": the read ends anyway
                pass


class AsyncReconnectingSource(_ReconnectingBase):
    """An :class:`AsyncSource` that reconnects; the callback may be a coroutine function."""

    def __init__(
        self,
        initial: AsyncSource,
        callback: Callable[[str], Any],
        policy: Optional[ReconnectPolicy] = None,
        check_content_type: bool = True,
    ) -> None:
        super().__init__(initial, callback, policy, check_content_type)
        self._current: Optional[AsyncSource] = initial
        # Made inside the running loop: before 3.10 an Event binds to the loop current
        # when it is made.
        self._stop: Optional[asyncio.Event] = None
        self._iterator: Optional[AsyncIterator[Any]] = None

    def open(self) -> AsyncIterator[Any]:
        self._iterator = self._run()
        return self._iterator

    async def chunks(self) -> AsyncIterator[bytes]:
        async for chunk in self.open():
            if chunk:
                yield chunk

    async def _wait(self, delay: float) -> bool:
        """Wait ``delay`` seconds; True when the stream was closed meanwhile."""
        if self._closed:
            return True
        stop = self._stop = asyncio.Event()
        try:
            await asyncio.wait_for(stop.wait(), delay)
        except asyncio.TimeoutError:
            pass
        return self._closed

    async def _run(self) -> AsyncIterator[Any]:
        try:
            cause: Optional[BaseException] = None
            retry_after: Optional[float] = None
            while True:
                source = self._current
                if source is not None:
                    cause = retry_after = None
                    verdict = self._verdict(source)
                    if verdict == _END:
                        return
                    if verdict == _ACCEPT:
                        before = self._dispatched()
                        try:
                            async for chunk in source.open():
                                yield chunk
                            source.finished()
                        except Exception as exc:
                            if self._closed:
                                return
                            if not is_connection_error(exc):
                                raise
                            cause = exc
                        self._end_of_body(before)
                    else:
                        body = await abody_excerpt(source)
                        cause, retry_after = self._refused(source, verdict, body)
                    self._current = None
                    await source.aclose()
                if self._closed:
                    return
                reconnection = self._next_attempt(cause, retry_after)
                last_event_id = reconnection.last_event_id  # sent as decided, whatever a hook does
                hook = self.policy.on_reconnect
                if hook is not None:
                    result = hook(reconnection)
                    if inspect.isawaitable(result):
                        await result
                if await self._wait(reconnection.delay):
                    return
                try:
                    response = self._callback(last_event_id)
                    if inspect.isawaitable(response):
                        response = await response
                except Exception as exc:
                    if not is_connection_error(exc):
                        raise
                    cause, retry_after = exc, None  # a failed attempt: wait and try again
                    continue
                self._adopt(async_source(response))
                if self._closed:
                    return
        finally:
            current, self._current = self._current, None
            if current is not None:
                await current.aclose()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._stop is not None:
            self._stop.set()
        iterator = self._iterator
        if iterator is not None:
            try:
                await iterator.aclose()  # type: ignore[attr-defined]
            except RuntimeError:  # being iterated by another task: it sees _closed
                pass
        current = self._current
        if current is not None:
            await current.aclose()
