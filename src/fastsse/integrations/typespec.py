"""The streaming runtime TypeSpec-generated Python clients vendor, on fastsse's decoder.

Generated packages carry a copy of their core library's streaming helpers (a module
named like ``_streaming.py``); its ``Stream`` and ``AsyncStream`` are what their
structured-streaming operations return. Import this module in its place:

.. code-block:: python

    from fastsse.integrations.typespec import AsyncStream, Stream  # was: from .._streaming ...

It has the vendored module's classes with the same arguments and behaviour:
``Stream(*, response, deserialization_callback, decoder=None, terminal_event=None,
terminal_event_names=None, terminal_event_predicate=None, last_event_id=None,
reconnect_callback=None)`` (and ``AsyncStream`` alike), whose callback receives the
response and the *event object* (:class:`ServerSentEvent` or :class:`JSONLEvent`);
``stream.last_event_id`` and ``stream.retry``; a 204 response ends the stream; the
decoders' ``iter_events(iter_bytes)`` / ``aiter_events(...)``. The bytes are decoded by
fastsse (compiled when built) and the streams run on :class:`fastsse.Stream` /
:class:`fastsse.AsyncStream`, reconnection included; the intended differences are listed
in docs/integrations/typespec.md. ``backend=`` on the decoders picks fastsse's backend.
"""

from __future__ import annotations

import inspect
from types import TracebackType
from typing import (
    Any,
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Collection,
    Generator,
    Iterator,
    List,
    Optional,
    Tuple,
    Type,
    TypeVar,
)

import orjson

from .._decoders import JSONLDecoder as _FastJSONLDecoder
from .._decoders import SSEDecoder as _FastSSEDecoder
from .._stream import AsyncStream as _FastAsyncStream
from .._stream import Stream as _FastStream

__all__ = [
    "Stream",
    "AsyncStream",
    "SSEDecoder",
    "AsyncSSEDecoder",
    "JSONLDecoder",
    "AsyncJSONLDecoder",
    "ServerSentEvent",
    "JSONLEvent",
    "DEFAULT_BACKEND",
]

ReturnType = TypeVar("ReturnType")
_FastStreamT = TypeVar("_FastStreamT")

#: The backend of the decoder a stream makes when given none (generated code gives none):
#: ``"auto"``, ``"fast"`` or ``"python"``.
DEFAULT_BACKEND = "auto"

# The public decoder classes are factories returning the backend's own decoder, which a
# type checker sees as the abstract base.
_make_sse: Any = _FastSSEDecoder
_make_jsonl: Any = _FastJSONLDecoder


class JSONLEvent:
    """One JSON Lines record: ``data``, the record's text; ``json()`` parses it (orjson)."""

    __slots__ = ("data",)

    def __init__(self, *, data: Optional[str] = None) -> None:
        self.data = data

    def json(self) -> Any:
        """The record parsed as JSON; raises :class:`json.JSONDecodeError` if it is not."""
        return orjson.loads(self.data)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"JSONLEvent(data={self.data!r})"


class ServerSentEvent:
    """One Server-Sent Event, as the vendored runtime's ``ServerSentEvent``.

    ``event``: the event type (``"message"`` when the stream gave none); ``data``: the
    data lines joined by LF; ``id``: the last event ID (``""`` until the stream sets
    one); ``retry``: the stream's reconnection time in ms once it sent one, else
    ``None``. Events compare equal by these four values; ``json()`` parses ``data``.
    """

    __slots__ = ("event", "data", "id", "retry")

    def __init__(
        self,
        *,
        event: str = "message",
        data: str = "",
        id: str = "",
        retry: Optional[int] = None,
    ) -> None:
        self.event = event
        self.data = data
        self.id = id
        self.retry = retry

    def json(self) -> Any:
        """The data parsed as JSON (orjson); raises :class:`json.JSONDecodeError` if not JSON."""
        return orjson.loads(self.data)

    def __repr__(self) -> str:
        return (
            f"ServerSentEvent(event={self.event!r}, data={self.data!r}, "
            f"id={self.id!r}, retry={self.retry!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServerSentEvent):
            return NotImplemented
        return (self.event, self.data, self.id, self.retry) == (
            other.event,
            other.data,
            other.id,
            other.retry,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, like the vendored class


def _sse_event(event: Any, retry: Optional[int]) -> ServerSentEvent:
    return ServerSentEvent(event=event.event, data=event.data, id=event.id, retry=retry)


def _jsonl_event(record: Any) -> JSONLEvent:
    return JSONLEvent(data=record.data)


def _fast_sse_decoder(backend: str, last_event_id: Optional[str]) -> Any:
    if last_event_id:
        return _make_sse(backend, last_event_id=last_event_id)
    return _make_sse(backend)


def _sse_events(decoder: Any, chunk: bytes) -> List[ServerSentEvent]:
    # Each event carries the reconnection time in force when it was dispatched: the
    # decoder's after the chunk, unless a retry field may follow an event within the
    # chunk; then the chunk is fed a line at a time.
    if b"retry" in chunk:
        events: List[ServerSentEvent] = []
        for line in bytes(chunk).splitlines(keepends=True):
            for event in decoder.feed(line):
                events.append(_sse_event(event, decoder.retry))
        return events
    fed = decoder.feed(chunk)
    retry = decoder.retry
    return [_sse_event(event, retry) for event in fed]


class SSEDecoder:
    """Decoder of Server-Sent Events (WHATWG HTML), for :class:`Stream`.

    ``last_event_id``: the last event ID to start with (a resumed stream's).
    ``backend``: fastsse's decoder, ``"auto"``, ``"fast"`` or ``"python"``.
    """

    def __init__(self, *, last_event_id: Optional[str] = None, backend: str = "auto") -> None:
        self._last_event_id = last_event_id or ""
        self._backend = backend
        _make_sse(backend)  # an unknown or unavailable backend fails here

    def _fast(self) -> Any:
        return _fast_sse_decoder(self._backend, self._last_event_id)

    def iter_events(self, iter_bytes: Iterator[bytes]) -> Iterator[ServerSentEvent]:
        """The events of ``iter_bytes``, an iterable of byte chunks, as they complete.

        Raises :class:`fastsse.StreamError` subclasses for a line or event beyond the
        decoder's limits, after the events before it.
        """
        decoder = self._fast()
        for chunk in iter_bytes:
            yield from _sse_events(decoder, chunk)
        decoder.flush()


class AsyncSSEDecoder(SSEDecoder):
    """:class:`SSEDecoder` for :class:`AsyncStream`: ``aiter_events`` over async chunks."""

    async def aiter_events(
        self, iter_bytes: AsyncIterator[bytes]
    ) -> AsyncIterator[ServerSentEvent]:
        """:meth:`SSEDecoder.iter_events` for an async iterator of byte chunks; closes it."""
        decoder = self._fast()
        try:
            async for chunk in iter_bytes:
                for event in _sse_events(decoder, chunk):
                    yield event
        finally:
            await _aclose(iter_bytes)
        decoder.flush()


class JSONLDecoder:
    """Decoder of JSON Lines, for :class:`Stream`. ``backend`` as for :class:`SSEDecoder`."""

    def __init__(self, *, backend: str = "auto") -> None:
        self._backend = backend
        _make_jsonl(backend)

    def _fast(self) -> Any:
        return _make_jsonl(self._backend)

    def iter_events(self, iter_bytes: Iterator[bytes]) -> Iterator[JSONLEvent]:
        """The records of ``iter_bytes``; a final line without LF is a record too.

        Blank lines are skipped. Raises :class:`fastsse.JSONDecodeError` for a record that
        is not valid UTF-8, and :class:`fastsse.LineTooLong` beyond the line limit.
        """
        decoder = self._fast()
        for chunk in iter_bytes:
            for record in decoder.feed(chunk):
                yield _jsonl_event(record)
        for record in decoder.flush():
            yield _jsonl_event(record)


class AsyncJSONLDecoder(JSONLDecoder):
    """:class:`JSONLDecoder` for :class:`AsyncStream`: ``aiter_events`` over async chunks."""

    async def aiter_events(self, iter_bytes: AsyncIterator[bytes]) -> AsyncIterator[JSONLEvent]:
        """:meth:`JSONLDecoder.iter_events` for an async iterator of byte chunks; closes it."""
        decoder = self._fast()
        try:
            async for chunk in iter_bytes:
                for record in decoder.feed(chunk):
                    yield _jsonl_event(record)
        finally:
            await _aclose(iter_bytes)
        for record in decoder.flush():
            yield _jsonl_event(record)


async def _aclose(iterator: Any) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()


def _is_event_stream(response: Any) -> bool:
    content_type = response.headers.get("Content-Type", "") or ""
    return bool(content_type.split(";", 1)[0].strip().lower() == "text/event-stream")


def _plan(
    response: Any, decoder: Any, last_event_id: Optional[str]
) -> Tuple[bool, Any, Optional[str]]:
    """``(is SSE, fastsse decoder, last event ID to start with)`` for a stream."""
    if decoder is None:
        if _is_event_stream(response):
            return True, _fast_sse_decoder(DEFAULT_BACKEND, last_event_id), last_event_id
        return False, _make_jsonl(DEFAULT_BACKEND), last_event_id
    if isinstance(decoder, SSEDecoder):
        start = decoder._last_event_id or None  # pyright: ignore[reportPrivateUsage]
        return True, decoder._fast(), start  # pyright: ignore[reportPrivateUsage]
    if isinstance(decoder, JSONLDecoder):
        return False, decoder._fast(), last_event_id  # pyright: ignore[reportPrivateUsage]
    if isinstance(decoder, _FastSSEDecoder):
        return True, decoder, last_event_id
    if isinstance(decoder, _FastJSONLDecoder):
        return False, decoder, last_event_id
    raise TypeError(
        "decoder must be an SSEDecoder or JSONLDecoder of fastsse.integrations.typespec "
        f"(or a fastsse decoder), not {type(decoder).__name__}"
    )


class _StreamState:
    """What Stream and AsyncStream share: the options, the current response, the
    last event ID and retry the vendored runtime reports."""

    _fast: Any
    _reconnect: Callable[[str], Any]  # each stream's own: the async one awaits the user's

    def _setup(
        self,
        fast_stream: Callable[..., _FastStreamT],
        response: Any,
        deserialization_callback: Callable[[Any, Any], Any],
        decoder: Any,
        terminal_event: Optional[str],
        terminal_event_names: Optional[Collection[str]],
        terminal_event_predicate: Optional[Callable[[Any], bool]],
        last_event_id: Optional[str],
        reconnect_callback: Optional[Callable[[Optional[str]], Any]],
    ) -> _FastStreamT:
        """The options kept; returns the ``fast_stream`` (class) that reads the response."""
        self._response = response
        self._callback = deserialization_callback
        self._terminal_names = frozenset(terminal_event_names or ())
        self._predicate = terminal_event_predicate
        is_sse, fast_decoder, start = _plan(response, decoder, last_event_id)
        self._sse = is_sse
        # As the runtime reports them: those of the last event taken from the stream
        # (its chunk may hold more), brought up to the decoder's at each body's end.
        self._last_id = start if is_sse else last_event_id
        self._retry: Optional[int] = None
        self._decoder = fast_decoder
        self._user_reconnect = reconnect_callback
        return fast_stream(
            response,
            decoder=fast_decoder,
            format="sse" if is_sse else "jsonl",
            terminal_event=terminal_event,
            reconnect_callback=self._reconnect if reconnect_callback and is_sse else None,
        )

    @property
    def last_event_id(self) -> Optional[str]:
        """The last event ID: the resumed one, then the last event's; at the end of each
        body, the stream's own (``id``-only blocks count). ``None`` until one is known."""
        return self._last_id

    @property
    def retry(self) -> Optional[int]:
        """The stream's reconnection time in ms once the server sent a valid ``retry``."""
        return self._retry

    def _body_ended(self) -> None:
        if self._sse:
            current: str = self._decoder.last_event_id
            if current or self._last_id is not None:
                self._last_id = current
            retry = self._decoder.retry
            if retry is not None:
                self._retry = int(retry)

    def _item(self, event: Any) -> Tuple[Any, bool]:
        """The callback's result for a fastsse event, and whether the stream ends after it."""
        if self._sse:
            retry = self._decoder.retry
            if retry is not None:
                self._retry = int(retry)
            self._last_id = event.id
            typed: Any = _sse_event(event, self._retry)
        else:
            typed = _jsonl_event(event)
        result = self._callback(self._response, typed)
        return result, self._is_terminal(typed)

    def _is_terminal(self, typed: Any) -> bool:
        # Checked after the item is taken, as the vendored runtime does.
        if self._terminal_names and getattr(typed, "event", None) in self._terminal_names:
            return True
        return self._predicate is not None and bool(self._predicate(typed))


class Stream(_StreamState, Iterator[ReturnType]):
    """Iterate a streamed response's events through ``deserialization_callback``.

    ``response``: the streamed response (azure-core or corehttp ``HttpResponse``, or any
    response fastsse reads). ``deserialization_callback(response, event)``: makes each
    item from the response and the event (:class:`ServerSentEvent` or
    :class:`JSONLEvent`). ``decoder``: an :class:`SSEDecoder` or :class:`JSONLDecoder`
    (by default SSE when the Content-Type is ``text/event-stream``, else JSON Lines).
    ``terminal_event``: an event whose data equals it ends the stream, without an item.
    ``terminal_event_names`` / ``terminal_event_predicate(event)``: the event's item is
    yielded, then the stream ends. ``last_event_id``: resume after this event ID.
    ``reconnect_callback(last_event_id)``: when an SSE body ends or its connection is
    lost before a terminal event, wait the stream's ``retry`` (3 s until the server sets
    one) and call it for a new response, whose events continue the iteration; a 204
    answer ends the stream, another non-2xx status raises :class:`fastsse.ResponseError`
    and another Content-Type :class:`fastsse.FormatError`.

    A 204 response has no events. The response is closed when iteration ends, on
    :meth:`close` and on leaving ``with``.
    """

    def __init__(
        self,
        *,
        response: Any,
        deserialization_callback: Callable[[Any, Any], ReturnType],
        decoder: Any = None,
        terminal_event: Optional[str] = None,
        terminal_event_names: Optional[Collection[str]] = None,
        terminal_event_predicate: Optional[Callable[[Any], bool]] = None,
        last_event_id: Optional[str] = None,
        reconnect_callback: Optional[Callable[[Optional[str]], Any]] = None,
    ) -> None:
        self._fast: _FastStream[Any] = self._setup(
            _FastStream,
            response,
            deserialization_callback,
            decoder,
            terminal_event,
            terminal_event_names,
            terminal_event_predicate,
            last_event_id,
            reconnect_callback,
        )
        self._iterator = self._results()

    def _reconnect(self, last_event_id: str) -> Any:
        assert self._user_reconnect is not None
        self._body_ended()
        self._response = self._user_reconnect(self._last_id)
        return self._response

    def _results(self) -> Generator[ReturnType, None, None]:
        try:
            for event in self._fast:
                result, last = self._item(event)
                yield result
                if last:
                    return
            self._body_ended()
        finally:
            self._fast.close()

    def __next__(self) -> ReturnType:
        return next(self._iterator)

    def __iter__(self) -> "Stream[ReturnType]":
        return self

    def close(self) -> None:
        """Stop iterating and close the response."""
        try:
            self._iterator.close()
        finally:
            self._fast.close()

    def __enter__(self) -> "Stream[ReturnType]":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]] = None,
        exc_value: Optional[BaseException] = None,
        traceback: Optional[TracebackType] = None,
    ) -> None:
        self.close()


class AsyncStream(_StreamState, AsyncIterator[ReturnType]):
    """:class:`Stream` for async responses (azure-core or corehttp ``AsyncHttpResponse``).

    Iterate with ``async for``; ``reconnect_callback`` may be a coroutine function;
    ``await stream.close()`` and ``async with`` close the response. The decoder, if given,
    is an :class:`AsyncSSEDecoder` or :class:`AsyncJSONLDecoder`.
    """

    def __init__(
        self,
        *,
        response: Any,
        deserialization_callback: Callable[[Any, Any], ReturnType],
        decoder: Any = None,
        terminal_event: Optional[str] = None,
        terminal_event_names: Optional[Collection[str]] = None,
        terminal_event_predicate: Optional[Callable[[Any], bool]] = None,
        last_event_id: Optional[str] = None,
        reconnect_callback: Optional[Callable[[Optional[str]], Any]] = None,
    ) -> None:
        self._fast: _FastAsyncStream[Any] = self._setup(
            _FastAsyncStream,
            response,
            deserialization_callback,
            decoder,
            terminal_event,
            terminal_event_names,
            terminal_event_predicate,
            last_event_id,
            reconnect_callback,
        )
        self._iterator = self._results()

    async def _reconnect(self, last_event_id: str) -> Any:
        assert self._user_reconnect is not None
        self._body_ended()
        response = self._user_reconnect(self._last_id)
        if inspect.isawaitable(response):
            response = await response
        self._response = response
        return response

    async def _results(self) -> AsyncGenerator[ReturnType, None]:
        try:
            async for event in self._fast:
                result, last = self._item(event)
                yield result
                if last:
                    return
            self._body_ended()
        finally:
            await self._fast.aclose()

    async def __anext__(self) -> ReturnType:
        return await self._iterator.__anext__()

    def __aiter__(self) -> "AsyncStream[ReturnType]":
        return self

    async def close(self) -> None:
        """Stop iterating and close the response."""
        try:
            await self._iterator.aclose()
        finally:
            await self._fast.aclose()

    async def __aenter__(self) -> "AsyncStream[ReturnType]":
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]] = None,
        exc_value: Optional[BaseException] = None,
        traceback: Optional[TracebackType] = None,
    ) -> None:
        await self.close()
