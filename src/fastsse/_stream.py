"""``Stream`` and ``AsyncStream``: the events of a streamed response, closed on every exit.

Both are thin loops around one sans-IO core (:class:`_Core`), which turns the decoder's
events into the items the user sees and decides when the stream ends. The loops only
fetch chunks, dispatch to handlers and close the response.
"""

from __future__ import annotations

import inspect
import logging
from functools import partial
from types import AsyncGeneratorType
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    FrozenSet,
    Generic,
    Iterator,
    Mapping,
    Optional,
    Tuple,
    Type,
    TypeVar,
    Union,
    overload,
)

from ._backend import module_for, module_of
from ._decoders import Decoder, JSONLDecoder, SSEDecoder
from ._errors import EventError, FormatError, ResponseError
from ._handlers import AsyncEventHandler, Dispatcher, event_type_of
from ._limits import fresh_copy
from ._reconnect import (
    AsyncReconnectingSource,
    ReconnectingSource,
    ReconnectPolicy,
    abody_excerpt,
    body_excerpt,
    response_error,
)
from ._sources import AsyncSource, Source, async_source, sync_source
from ._typed import TypedPlan, kind_of

if TYPE_CHECKING:
    from typing import Literal, Protocol

    from typing_extensions import TypedDict, Unpack

    from ._backend import JSONLEvent, ServerSentEvent

    T_co = TypeVar("T_co", covariant=True)

    class _ValidatesJSON(Protocol[T_co]):
        """A ``pydantic.TypeAdapter``."""

        def validate_json(self, data: Any, /) -> T_co: ...

    class _DecodesJSON(Protocol[T_co]):
        """A ``msgspec.json.Decoder``."""

        def decode(self, buf: Any, /) -> T_co: ...

    class _Options(TypedDict, total=False):
        """The keywords every overload of ``Stream`` and ``AsyncStream`` takes alike."""

        terminal_event: Optional[str]
        terminal_event_names: Optional[Collection[str]]
        error_event_names: Optional[Collection[str]]
        event_handler: Any
        terminal_event_predicate: Optional[Callable[[Any], bool]]
        last_event_id: Optional[str]
        reconnect_callback: Optional[Callable[[str], Any]]
        reconnect: Optional[ReconnectPolicy]


__all__ = ["Stream", "AsyncStream", "FORMATS", "format_from_content_type"]

T = TypeVar("T")
_T = TypeVar("_T")  # an overload's item type
logger = logging.getLogger("fastsse")

# Content-Type essences (RFC 9110: type/subtype, case-insensitive, without parameters).
FORMATS = {
    "text/event-stream": "sse",
    "application/jsonl": "jsonl",
    "application/x-ndjson": "jsonl",
    "application/x-jsonlines": "jsonl",
}


def format_from_content_type(content_type: Optional[str]) -> str:
    """``"sse"`` or ``"jsonl"`` for a Content-Type header value; raises :class:`FormatError`."""
    if not content_type:
        raise FormatError("the response has no Content-Type; pass format='sse' or format='jsonl'")
    essence = content_type.split(";", 1)[0].strip().lower()
    try:
        return FORMATS[essence]
    except KeyError:
        known = ", ".join(FORMATS)
        raise FormatError(
            f"cannot decode Content-Type {content_type!r} as a stream: expected one of "
            f"{known}; pass format='sse' or format='jsonl' to decode it anyway"
        ) from None


def _content_type(headers: Any) -> Optional[str]:
    getter = getattr(headers, "get", None)
    if getter is None:
        return None
    value = getter("content-type")
    if value is None:
        value = getter("Content-Type")  # plain dicts are case-sensitive
    return None if value is None else str(value)


def _make_decoder(
    decoder: object,
    format: Optional[str],
    headers: Any,
    last_event_id: Optional[str] = None,
) -> Any:
    if isinstance(decoder, Decoder):
        kind = "sse" if isinstance(decoder, SSEDecoder) else "jsonl"
        if format is not None and format != kind:
            raise FormatError(f"format={format!r} but the decoder given decodes {kind!r}")
        if last_event_id is not None:
            if kind != "sse":
                raise FormatError("last_event_id resumes SSE streams; JSON Lines has no event IDs")
            if decoder.last_event_id != last_event_id:  # type: ignore[attr-defined]
                raise ValueError(
                    "last_event_id differs from the given decoder's: make the decoder with "
                    "SSEDecoder(last_event_id=...) instead"
                )
        return decoder
    if not isinstance(decoder, str):
        raise TypeError(
            f"decoder must be a backend name or a decoder instance, not {type(decoder).__name__}"
        )
    if format is None:
        if headers is None:
            raise FormatError(
                "cannot tell the stream's format: the source has no headers; "
                "pass format='sse' or format='jsonl'"
            )
        format = format_from_content_type(_content_type(headers))
    if format == "sse":
        if last_event_id is not None:
            return module_for(decoder).SSEDecoder(last_event_id=last_event_id)
        return module_for(decoder).SSEDecoder()
    if format == "jsonl":
        if last_event_id is not None:
            raise FormatError("last_event_id resumes SSE streams; JSON Lines has no event IDs")
        return module_for(decoder).JSONLDecoder()
    raise FormatError(f"format must be 'sse' or 'jsonl', not {format!r}")


def _reconnecting_decoder(
    decoder: Union[str, Decoder],
    format: Optional[str],
    source: Any,
    last_event_id: Optional[str],
) -> Any:
    # Only SSE can resume where it was lost. A first response that will be decoded must say
    # it is SSE (unless format= says so); one that will not (204, an error status) has its
    # say when iterated.
    if format not in (None, "sse"):
        raise FormatError(f"reconnect_callback resumes SSE streams only, not format={format!r}")
    if isinstance(decoder, Decoder) and not isinstance(decoder, SSEDecoder):
        raise FormatError("reconnect_callback resumes SSE streams only; the decoder is JSON Lines")
    status = source.status
    if format is None and not isinstance(decoder, Decoder):
        if status is None or (200 <= status < 300 and status != 204):
            if format_from_content_type(_content_type(source.headers)) != "sse":
                raise FormatError(
                    "reconnect_callback resumes SSE streams only; the response is JSON Lines"
                )
    return _make_decoder(decoder, "sse", None, last_event_id)


# What the core says about an event.
_YIELD = 0  # yield the item and go on
_LAST = 1  # yield the item, then end the stream
_STOP = 2  # end the stream without yielding


class _Core:
    """Sans-IO: from decoder events to the items a stream yields, and when it ends."""

    def __init__(
        self,
        response: Any,
        deserialization_callback: Optional[Callable[[Any, Any], Any]],
        terminal_event: object,
        terminal_event_names: Optional[Collection[str]],
        error_event_names: Optional[Collection[str]],
        dispatcher: Dispatcher,
        model: Any = None,
        models: Optional[Mapping[str, Any]] = None,
        terminal_event_predicate: Optional[Callable[[Any], bool]] = None,
    ) -> None:
        if terminal_event is not None and not isinstance(terminal_event, str):
            raise TypeError("terminal_event must be a str or None")
        if terminal_event_predicate is not None and not callable(terminal_event_predicate):
            raise TypeError("terminal_event_predicate must be callable or None")
        self.terminal_predicate = terminal_event_predicate
        self.response = response
        self.callback = deserialization_callback
        # With model= or models=, items are decoded from the data by the plan, and the
        # callback, if any, gets each typed value.
        self.typed: Optional[TypedPlan] = (
            None
            if model is None and not models
            else TypedPlan(model, models, deserialization_callback, response)
        )
        self.index = 0  # the next event's position in the stream
        self.terminal = terminal_event
        self.terminal_names = _names("terminal_event_names", terminal_event_names)
        self.error_names = _names("error_event_names", error_event_names)
        self.dispatcher = dispatcher
        # Nothing but the callback and the terminal event to apply (read at the stream's
        # start: handlers are added before iterating).
        self.plain = not (self.terminal_names or self.error_names or terminal_event_predicate)

    def on_event(self, event: Any) -> Tuple[int, Any, Optional[str]]:
        """``(action, item, event type or None)``; raises :class:`EventError` and
        :class:`ValidationError`."""
        index = self.index
        self.index = index + 1
        if self.terminal is not None and event.data == self.terminal:
            return _STOP, None, None
        name = getattr(event, "event", None)
        if name in self.error_names:
            try:
                payload = event.json()
            except ValueError:
                payload = event.data
            raise EventError(event, payload)
        typed = self.typed
        if typed is not None:
            item, value, is_typed = typed.item_of(event, index)
            kind = kind_of(event, value, is_typed) if self.dispatcher else None
        else:
            payload = None
            if self.callback is None:
                item = event
            else:
                payload = event.json()
                item = self.callback(self.response, payload)
            kind = event_type_of(event, payload) if self.dispatcher else None
        last = name in self.terminal_names or (
            self.terminal_predicate is not None and self.terminal_predicate(event)
        )
        return (_LAST if last else _YIELD), item, kind


def _names(what: str, names: Optional[Collection[str]]) -> FrozenSet[str]:
    if names is None:
        return frozenset()
    if isinstance(names, str):
        raise TypeError(f"{what} must be a collection of names, not a str")
    return frozenset(names)


def _warn_if_discarded(decoder: Any) -> None:
    discarded = getattr(decoder, "discarded", 0)
    if discarded:
        logger.warning(
            "the event stream ended inside an event: %d bytes without their terminating "
            "blank line were discarded, as the SSE standard requires",
            discarded,
        )


def _body_read(source: Any, decoder: Any) -> None:
    source.finished()
    _warn_if_discarded(decoder)


async def _no_items() -> AsyncIterator[Any]:
    return
    yield  # an async generator that ends at once


def _policy(reconnect: object) -> ReconnectPolicy:
    if reconnect is None:
        return ReconnectPolicy()
    if not isinstance(reconnect, ReconnectPolicy):
        raise TypeError(f"reconnect must be a ReconnectPolicy, not {type(reconnect).__name__}")
    return reconnect


def _check_status(source: Any) -> bool:
    status = source.status
    return status is None or 200 <= status < 300


_DOC_OPTIONS = """
    ``response``: an httpx, requests, urllib3, aiohttp (async), azure-core or corehttp
    response, an azure-core ``PipelineResponse`` or other object whose ``http_response``
    is one, a binary file object, or an iterable of ``bytes``. Without
    ``deserialization_callback`` the items are :class:`ServerSentEvent` /
    :class:`JSONLEvent`; with it, each item is ``deserialization_callback(response,
    event.json())``, with ``response`` as given.

    ``terminal_event``: an event whose data equals it ends the stream; it is neither
    yielded nor passed to the callback. ``terminal_event_names``: an SSE event with one of
    these names is yielded, then the stream ends. ``error_event_names``: an SSE event with
    one of these names raises :class:`EventError` carrying its payload. ``decoder``: a
    backend name (``"auto"``, ``"fast"``, ``"python"``) or a decoder instance.
    ``format``: ``"sse"`` or ``"jsonl"``; by default from the response's Content-Type
    (a missing or unknown one raises :class:`FormatError` and closes the response: at
    construction for :class:`Stream`, on the first iteration for :class:`AsyncStream`).
    ``event_handler``: an :class:`EventHandler` whose methods get each item by type.

    ``model``: a type (a msgspec ``Struct``, a pydantic ``BaseModel``, a dataclass, a
    ``TypedDict``, a union...), a ``pydantic.TypeAdapter`` or a ``msgspec.json.Decoder``:
    each item is the event's data (or JSON Lines record) decoded straight into it, by
    msgspec or pydantic (see the typed decoding docs for which). ``models``: a mapping of
    SSE event names to such types, for the events of those names; ``model``, if also
    given, is the type of every other event, which is otherwise an item as without
    typing. With either, ``deserialization_callback`` gets ``(response, typed value)``.
    Data that does not decode raises :class:`ValidationError` (naming the event), after
    every earlier item; a model whose library is not installed raises ``ImportError``.

    A non-2xx response raises :class:`ResponseError` (status and a body excerpt) on the
    first iteration, instead of being decoded.

    ``terminal_event_predicate(event)``: called with each event (before the callback's
    mapping is yielded); when it returns true, the event's item is yielded, then the
    stream ends. ``last_event_id``: resume an SSE stream: the decoder starts with this
    last event ID, as if the stream had sent it.

    ``reconnect_callback(last_event_id)``: makes an SSE stream reconnect. When a body ends,
    or its connection is lost, before a terminal event, the stream waits its reconnection
    time and calls it for a new response (``Last-Event-ID`` is the caller's to send),
    whose events continue the same iteration. A 204 answer ends the stream; another
    non-2xx status raises :class:`ResponseError` and a Content-Type other than
    ``text/event-stream`` raises :class:`FormatError`, without reconnecting (both checked
    for the first response too). ``reconnect``: a :class:`ReconnectPolicy` (waits,
    backoff, limits, retryable statuses, a hook); giving up raises
    :class:`ReconnectError`. ``close()`` stops the stream at once, during a wait too.
"""


class _StreamCommon:
    """The read-only state ``Stream`` and ``AsyncStream`` share."""

    _response: Any
    _decoder: Any
    _closed: bool
    _last_event_id: Optional[str]
    _reconnecting: Optional[Union[ReconnectingSource, AsyncReconnectingSource]]
    _policy: ReconnectPolicy

    @property
    def last_event_id(self) -> str:
        """The stream's last event ID (``""`` if none): what a reconnection sends."""
        last_event_id = getattr(self._decoder, "last_event_id", None)
        if last_event_id is None:
            return self._last_event_id or ""
        return last_event_id  # type: ignore[no-any-return]

    @property
    def retry(self) -> Optional[int]:
        """The reconnection time in ms: the server's latest ``retry`` field, else the
        policy's (3000 unless configured); ``None`` for JSON Lines."""
        if self._decoder is not None and not isinstance(self._decoder, SSEDecoder):
            return None
        retry = getattr(self._decoder, "retry", None)
        return self._policy.retry if retry is None else int(retry)

    @property
    def reconnect_attempts(self) -> int:
        """How many times the stream has called its ``reconnect_callback`` so far."""
        return 0 if self._reconnecting is None else self._reconnecting.attempts

    @property
    def response(self) -> Any:
        """The response the stream reads, as given."""
        return self._response

    @property
    def decoder(self) -> Any:
        """The decoder in use (its ``last_event_id`` and ``retry`` for SSE)."""
        return self._decoder

    @property
    def closed(self) -> bool:
        """Whether the stream is closed (iteration ended, or closed): no more items come."""
        return self._closed


class Stream(_StreamCommon, Generic[T]):
    __doc__ = (
        "Iterate the events of a streamed SSE or JSON Lines response.\n"
        + _DOC_OPTIONS
        + """
    The response is closed when iteration ends, when a loop over the stream is left
    early (``break``, an exception), on :meth:`close`, on leaving a ``with`` block and
    when the stream is garbage-collected.
    """
    )

    @overload
    def __init__(
        self: "Stream[ServerSentEvent]",
        response: Any,
        *,
        deserialization_callback: None = None,
        model: None = None,
        models: None = None,
        decoder: Union[str, SSEDecoder] = "auto",
        format: 'Literal["sse"]',
        **options: Unpack[_Options],
    ) -> None: ...
    @overload
    def __init__(
        self: "Stream[JSONLEvent]",
        response: Any,
        *,
        deserialization_callback: None = None,
        model: None = None,
        models: None = None,
        decoder: Union[str, JSONLDecoder] = "auto",
        format: 'Literal["jsonl"]',
        **options: Unpack[_Options],
    ) -> None: ...
    @overload
    def __init__(
        self: "Stream[ServerSentEvent]",
        response: Any,
        *,
        deserialization_callback: None = None,
        model: None = None,
        models: None = None,
        decoder: SSEDecoder,
        format: None = None,
        **options: Unpack[_Options],
    ) -> None: ...
    @overload
    def __init__(
        self: "Stream[JSONLEvent]",
        response: Any,
        *,
        deserialization_callback: None = None,
        model: None = None,
        models: None = None,
        decoder: JSONLDecoder,
        format: None = None,
        **options: Unpack[_Options],
    ) -> None: ...
    @overload
    def __init__(
        self: "Stream[Union[ServerSentEvent, JSONLEvent]]",
        response: Any,
        *,
        deserialization_callback: None = None,
        model: None = None,
        models: None = None,
        decoder: str = "auto",
        format: Optional[str] = None,
        **options: Unpack[_Options],
    ) -> None: ...
    @overload
    def __init__(
        self: "Stream[_T]",
        response: Any,
        *,
        deserialization_callback: Callable[[Any, Any], _T],
        model: Any = None,
        models: Optional[Mapping[str, Any]] = None,
        decoder: Union[str, Decoder] = "auto",
        format: Optional[str] = None,
        **options: Unpack[_Options],
    ) -> None: ...
    @overload
    def __init__(
        self: "Stream[_T]",
        response: Any,
        *,
        deserialization_callback: None = None,
        model: "_ValidatesJSON[_T]",
        models: None = None,
        decoder: Union[str, Decoder] = "auto",
        format: Optional[str] = None,
        **options: Unpack[_Options],
    ) -> None: ...
    @overload
    def __init__(
        self: "Stream[_T]",
        response: Any,
        *,
        deserialization_callback: None = None,
        model: "_DecodesJSON[_T]",
        models: None = None,
        decoder: Union[str, Decoder] = "auto",
        format: Optional[str] = None,
        **options: Unpack[_Options],
    ) -> None: ...
    @overload
    def __init__(
        self: "Stream[_T]",
        response: Any,
        *,
        deserialization_callback: None = None,
        model: Type[_T],
        models: None = None,
        decoder: Union[str, Decoder] = "auto",
        format: Optional[str] = None,
        **options: Unpack[_Options],
    ) -> None: ...
    @overload
    def __init__(
        self: "Stream[Any]",
        response: Any,
        *,
        deserialization_callback: None = None,
        model: Any = None,
        models: Optional[Mapping[str, Any]] = None,
        decoder: Union[str, Decoder] = "auto",
        format: Optional[str] = None,
        **options: Unpack[_Options],
    ) -> None: ...
    def __init__(
        self,
        response: Any,
        *,
        deserialization_callback: Optional[Callable[[Any, Any], Any]] = None,
        model: Any = None,
        models: Optional[Mapping[str, Any]] = None,
        terminal_event: Optional[str] = None,
        terminal_event_names: Optional[Collection[str]] = None,
        error_event_names: Optional[Collection[str]] = None,
        decoder: Union[str, Decoder] = "auto",
        format: Optional[str] = None,
        event_handler: Any = None,
        terminal_event_predicate: Optional[Callable[[Any], bool]] = None,
        last_event_id: Optional[str] = None,
        reconnect_callback: Optional[Callable[[str], Any]] = None,
        reconnect: Optional[ReconnectPolicy] = None,
    ) -> None:
        if isinstance(event_handler, AsyncEventHandler):
            raise TypeError("an AsyncEventHandler needs AsyncStream; Stream takes an EventHandler")
        self._closed = False
        self._response = response
        self._last_event_id = last_event_id
        self._policy = _policy(reconnect)
        self._reconnecting = None
        self._decoder = None
        self._source: Optional[Union[Source, ReconnectingSource]] = None
        try:
            source = sync_source(response)
            self._source = source
            if reconnect_callback is not None:
                self._decoder = _reconnecting_decoder(decoder, format, source, last_event_id)
                self._source = self._reconnecting = ReconnectingSource(
                    source, reconnect_callback, self._policy, check_content_type=format is None
                )
            elif _check_status(source):
                # An error response is reported as such when iterated, whatever its type.
                self._decoder = _make_decoder(decoder, format, source.headers, last_event_id)
            self._source.set_decoder(self._decoder)
            self._dispatcher = Dispatcher(event_handler)
            self._core = _Core(
                response,
                deserialization_callback,
                terminal_event,
                terminal_event_names,
                error_event_names,
                self._dispatcher,
                model,
                models,
                terminal_event_predicate,
            )
        except BaseException:
            self._close_response()
            raise
        self._iterator: Optional[Iterator[Any]] = None  # made when iteration starts

    def add_callback(self, event_type: str, callback: Callable[[Any], Any]) -> None:
        """Call ``callback(item)`` for every item of ``event_type`` (``"*"``: every item).

        The event type is the SSE event name, else the ``type`` or ``kind`` field of the
        event's JSON object, else ``"message"``. Callbacks run as items are produced,
        whether the stream is driven by a loop, :meth:`iter_events` or :meth:`run`.
        """
        self._dispatcher.add(event_type, callback)

    def iter_events(self) -> Iterator[T]:
        """Iterate the stream's items, dispatching each to its callbacks and handler."""
        return iter(self)

    def run(self) -> None:
        """Drive the stream to its end, dispatching every item; then close it."""
        for _ in self:
            pass

    def __iter__(self) -> Iterator[T]:
        # A fresh iterator per loop: when a for-loop is left early, it is dropped at once,
        # and that closes the stream.
        return module_of(self._decoder).GuardedItems(self._items, self.close)  # type: ignore[no-any-return]

    def __next__(self) -> T:
        try:
            return next(self._items())  # type: ignore[no-any-return]
        except BaseException:  # StopIteration included: the stream is over
            self.close()
            raise

    def _items(self) -> Iterator[Any]:
        items = self._iterator
        if items is None:
            items = self._iterator = self._start()
        return items

    def _start(self) -> Iterator[Any]:
        # Runs at the first item, not at construction: callbacks and handlers are added
        # in between, and they decide which loop runs.
        if self._closed:
            return iter(())
        source = self._source
        assert source is not None
        if not _check_status(source):
            raise self._response_error(source)
        core = self._core
        if self._dispatcher or not core.plain:
            return self._iter_items()
        # Most streams only map events and watch for [DONE]: the decoder's own module
        # runs that loop, compiled when the decoder is.
        # The items hold no reference to the stream, so dropping the stream closes it.
        return module_of(self._decoder).StreamItems(  # type: ignore[no-any-return]
            self._decoder,
            source.open(),
            core.callback,
            self._response,
            core.terminal,
            partial(_body_read, source, self._decoder),
            core.typed,
        )

    def _iter_items(self) -> Iterator[Any]:
        try:
            source = self._source
            assert source is not None
            decoder = self._decoder
            core = self._core
            dispatch = self._dispatch if self._dispatcher else None
            chunks = source.chunks()
            while True:
                chunk = next(chunks, None)
                if chunk is None:
                    events = decoder.flush()
                    _warn_if_discarded(decoder)
                else:
                    events = decoder.feed(chunk)
                for event in events:
                    action, item, kind = core.on_event(event)
                    if action == _STOP:
                        return
                    if dispatch is not None:
                        dispatch(item, kind)
                    yield item
                    if action == _LAST:
                        return
                if chunk is None:
                    return
                error = getattr(decoder, "error", None)
                if error is not None:  # the events before a fault are out: now the fault
                    raise fresh_copy(error)
        finally:
            self.close()

    def _dispatch(self, item: Any, kind: Optional[str]) -> None:
        for target in self._dispatcher.targets(kind or "message"):
            target(item)

    def _response_error(self, source: Union[Source, ReconnectingSource]) -> ResponseError:
        return response_error(source, body_excerpt(source), self._response)

    def close(self) -> None:
        """Stop iterating and close the response. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        iterator = getattr(self, "_iterator", None)
        close = getattr(iterator, "close", None)
        # A generator closes itself when it ends; it cannot be closed while it runs (a
        # callback closing its own stream).
        if close is not None and not getattr(iterator, "gi_running", False):
            close()
        self._close_response()

    def _close_response(self) -> None:
        self._closed = True
        if self._source is not None:
            self._source.close()
        else:
            close = getattr(self._response, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> "Stream[T]":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            try:
                self.close()
            except Exception:
                pass


class AsyncStream(_StreamCommon, Generic[T]):
    __doc__ = (
        "Iterate, with ``async for``, the events of a streamed SSE or JSON Lines response.\n"
        + _DOC_OPTIONS
        + """
    Also takes an aiohttp ``ClientResponse``, async httpx and azure-core/corehttp
    responses and async iterables of bytes. Callbacks, ``event_handler`` methods
    (:class:`AsyncEventHandler`) and ``deserialization_callback`` may be coroutine
    functions. The response is closed when iteration ends, when an ``async for`` is left
    early, on cancellation, on :meth:`aclose`, and on leaving ``async with``.
    """
    )

    @overload
    def __init__(
        self: "AsyncStream[ServerSentEvent]",
        response: Any,
        *,
        deserialization_callback: None = None,
        model: None = None,
        models: None = None,
        decoder: Union[str, SSEDecoder] = "auto",
        format: 'Literal["sse"]',
        **options: Unpack[_Options],
    ) -> None: ...
    @overload
    def __init__(
        self: "AsyncStream[JSONLEvent]",
        response: Any,
        *,
        deserialization_callback: None = None,
        model: None = None,
        models: None = None,
        decoder: Union[str, JSONLDecoder] = "auto",
        format: 'Literal["jsonl"]',
        **options: Unpack[_Options],
    ) -> None: ...
    @overload
    def __init__(
        self: "AsyncStream[ServerSentEvent]",
        response: Any,
        *,
        deserialization_callback: None = None,
        model: None = None,
        models: None = None,
        decoder: SSEDecoder,
        format: None = None,
        **options: Unpack[_Options],
    ) -> None: ...
    @overload
    def __init__(
        self: "AsyncStream[JSONLEvent]",
        response: Any,
        *,
        deserialization_callback: None = None,
        model: None = None,
        models: None = None,
        decoder: JSONLDecoder,
        format: None = None,
        **options: Unpack[_Options],
    ) -> None: ...
    @overload
    def __init__(
        self: "AsyncStream[Union[ServerSentEvent, JSONLEvent]]",
        response: Any,
        *,
        deserialization_callback: None = None,
        model: None = None,
        models: None = None,
        decoder: str = "auto",
        format: Optional[str] = None,
        **options: Unpack[_Options],
    ) -> None: ...
    @overload
    def __init__(
        self: "AsyncStream[_T]",
        response: Any,
        *,
        deserialization_callback: Callable[[Any, Any], Awaitable[_T]],
        model: Any = None,
        models: Optional[Mapping[str, Any]] = None,
        decoder: Union[str, Decoder] = "auto",
        format: Optional[str] = None,
        **options: Unpack[_Options],
    ) -> None: ...
    @overload
    def __init__(
        self: "AsyncStream[_T]",
        response: Any,
        *,
        deserialization_callback: Callable[[Any, Any], _T],
        model: Any = None,
        models: Optional[Mapping[str, Any]] = None,
        decoder: Union[str, Decoder] = "auto",
        format: Optional[str] = None,
        **options: Unpack[_Options],
    ) -> None: ...
    @overload
    def __init__(
        self: "AsyncStream[_T]",
        response: Any,
        *,
        deserialization_callback: None = None,
        model: "_ValidatesJSON[_T]",
        models: None = None,
        decoder: Union[str, Decoder] = "auto",
        format: Optional[str] = None,
        **options: Unpack[_Options],
    ) -> None: ...
    @overload
    def __init__(
        self: "AsyncStream[_T]",
        response: Any,
        *,
        deserialization_callback: None = None,
        model: "_DecodesJSON[_T]",
        models: None = None,
        decoder: Union[str, Decoder] = "auto",
        format: Optional[str] = None,
        **options: Unpack[_Options],
    ) -> None: ...
    @overload
    def __init__(
        self: "AsyncStream[_T]",
        response: Any,
        *,
        deserialization_callback: None = None,
        model: Type[_T],
        models: None = None,
        decoder: Union[str, Decoder] = "auto",
        format: Optional[str] = None,
        **options: Unpack[_Options],
    ) -> None: ...
    @overload
    def __init__(
        self: "AsyncStream[Any]",
        response: Any,
        *,
        deserialization_callback: None = None,
        model: Any = None,
        models: Optional[Mapping[str, Any]] = None,
        decoder: Union[str, Decoder] = "auto",
        format: Optional[str] = None,
        **options: Unpack[_Options],
    ) -> None: ...
    def __init__(
        self,
        response: Any,
        *,
        deserialization_callback: Optional[Callable[[Any, Any], Any]] = None,
        model: Any = None,
        models: Optional[Mapping[str, Any]] = None,
        terminal_event: Optional[str] = None,
        terminal_event_names: Optional[Collection[str]] = None,
        error_event_names: Optional[Collection[str]] = None,
        decoder: Union[str, Decoder] = "auto",
        format: Optional[str] = None,
        event_handler: Any = None,
        terminal_event_predicate: Optional[Callable[[Any], bool]] = None,
        last_event_id: Optional[str] = None,
        reconnect_callback: Optional[Callable[[str], Any]] = None,
        reconnect: Optional[ReconnectPolicy] = None,
    ) -> None:
        self._closed = False
        self._response = response
        self._last_event_id = last_event_id
        self._policy = _policy(reconnect)
        self._reconnecting = None
        source = async_source(response)
        self._source: Union[AsyncSource, AsyncReconnectingSource] = source
        self._dispatcher = Dispatcher(event_handler)
        self._core = _Core(
            response,
            deserialization_callback,
            terminal_event,
            terminal_event_names,
            error_event_names,
            self._dispatcher,
            model,
            models,
            terminal_event_predicate,
        )
        # Closing an async response needs the event loop, so a response that cannot be
        # decoded (an unknown Content-Type) is reported, after closing it, on the first
        # iteration rather than here.
        self._setup_error: Optional[FormatError] = None
        self._decoder = None
        try:
            if reconnect_callback is not None:
                self._decoder = _reconnecting_decoder(decoder, format, source, last_event_id)
                self._source = self._reconnecting = AsyncReconnectingSource(
                    source, reconnect_callback, self._policy, check_content_type=format is None
                )
            elif _check_status(source):
                self._decoder = _make_decoder(decoder, format, source.headers, last_event_id)
        except FormatError as exc:
            self._decoder = None
            self._setup_error = exc
        self._source.set_decoder(self._decoder)
        self._iterator: Optional[AsyncIterator[Any]] = None  # made when iteration starts

    def add_callback(self, event_type: str, callback: Callable[[Any], Any]) -> None:
        """As :meth:`Stream.add_callback`; ``callback`` may be a coroutine function."""
        self._dispatcher.add(event_type, callback)

    def iter_events(self) -> AsyncIterator[T]:
        """Iterate the stream's items, dispatching each to its callbacks and handler."""
        return self.__aiter__()

    async def run(self) -> None:
        """Drive the stream to its end, dispatching every item; then close it."""
        async for _ in self:
            pass

    def __aiter__(self) -> AsyncIterator[T]:
        return self._guarded()

    async def __anext__(self) -> T:
        try:
            items = await self._items()
            return await items.__anext__()  # type: ignore[no-any-return]
        except BaseException:  # StopAsyncIteration included: the stream is over
            await self.aclose()
            raise

    async def _guarded(self) -> AsyncIterator[T]:
        # A fresh async generator per loop: leaving an ``async for`` early drops it, and
        # asyncio closes a dropped async generator on the loop's next turn, closing the
        # stream.
        try:
            items: Any = await self._items()
            step = getattr(items, "step", None)
            if step is None:
                async for item in items:
                    yield item
                return
            # The decoder module's loop, driven from here: awaiting each chunk in this
            # generator costs no coroutine per item.
            module = module_of(self._decoder)
            need_chunk, end = module.NEED_CHUNK, module.END
            ready = items.ready
            next_chunk = items.chunks.__anext__
            awaits = items.awaits
            item = ready()
            while True:
                if item is need_chunk:
                    try:
                        chunk = await next_chunk()
                    except StopAsyncIteration:
                        chunk = end
                    item = step(chunk)
                    continue
                if item is end:
                    return
                yield (await item) if awaits else item
                item = ready()
        finally:
            await self.aclose()

    async def _items(self) -> AsyncIterator[Any]:
        items = self._iterator
        if items is None:
            items = self._iterator = await self._start()
        return items

    async def _start(self) -> AsyncIterator[Any]:
        # As Stream._start: at the first item, once callbacks and handlers are known.
        if self._closed:
            return _no_items()
        source = self._source
        if not _check_status(source):
            raise await self._response_error(source)
        if self._setup_error is not None:
            raise self._setup_error
        core = self._core
        if self._dispatcher or not core.plain:
            return self._iter_items()
        callback = core.callback
        return module_of(self._decoder).AsyncStreamItems(  # type: ignore[no-any-return]
            self._decoder,
            source.open(),
            callback,
            callback is not None and inspect.iscoroutinefunction(callback),
            self._response,
            core.terminal,
            partial(_body_read, source, self._decoder),
            core.typed,
        )

    async def _iter_items(self) -> AsyncIterator[Any]:
        try:
            source = self._source
            decoder = self._decoder
            core = self._core
            dispatching = bool(self._dispatcher)
            callback = core.callback
            is_async_callback = callback is not None and inspect.iscoroutinefunction(callback)
            chunks = source.chunks().__aiter__()
            while True:
                try:
                    chunk: Optional[bytes] = await chunks.__anext__()
                except StopAsyncIteration:
                    chunk = None
                if chunk is None:
                    events = decoder.flush()
                    _warn_if_discarded(decoder)
                else:
                    events = decoder.feed(chunk)
                for event in events:
                    action, item, kind = core.on_event(event)
                    if action == _STOP:
                        return
                    if is_async_callback:
                        item = await item
                    if dispatching:
                        await self._dispatch(item, kind)
                    yield item
                    if action == _LAST:
                        return
                if chunk is None:
                    return
                error = getattr(decoder, "error", None)
                if error is not None:  # the events before a fault are out: now the fault
                    raise fresh_copy(error)
        finally:
            await self.aclose()

    async def _dispatch(self, item: Any, kind: Optional[str]) -> None:
        for target in self._dispatcher.targets(kind or "message"):
            result = target(item)
            if inspect.isawaitable(result):
                await result

    async def _response_error(
        self, source: Union[AsyncSource, AsyncReconnectingSource]
    ) -> ResponseError:
        return response_error(source, await abody_excerpt(source), self._response)

    async def aclose(self) -> None:
        """Stop iterating and close the response. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        iterator = getattr(self, "_iterator", None)
        try:
            if isinstance(iterator, AsyncGeneratorType):
                # It cannot be closed while it runs (a callback closing its own stream).
                if not iterator.ag_running:
                    await iterator.aclose()
            elif iterator is not None:
                iterator.close()
        finally:
            await self._source.aclose()

    async def __aenter__(self) -> "AsyncStream[T]":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()
