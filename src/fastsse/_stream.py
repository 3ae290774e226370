"""``Stream``: iterate the events of a streamed response, closing it on every exit path."""

from __future__ import annotations

import logging
from typing import (
    Any,
    Callable,
    Collection,
    Generic,
    Iterable,
    Iterator,
    Optional,
    TypeVar,
    Union,
)

from ._decoders import Decoder, JSONLDecoder, SSEDecoder
from ._errors import FormatError

__all__ = ["Stream", "FORMATS", "format_from_content_type"]

T = TypeVar("T")
logger = logging.getLogger("fastsse")

# Content-Type essences (RFC 9110: type/subtype, case-insensitive, without parameters).
FORMATS = {
    "text/event-stream": "sse",
    "application/jsonl": "jsonl",
    "application/x-ndjson": "jsonl",
    "application/x-jsonlines": "jsonl",
}
_READ_SIZE = 64 * 1024


def format_from_content_type(content_type: Optional[str]) -> str:
    """``"sse"`` or ``"jsonl"`` for a Content-Type header value; raises :class:`FormatError`."""
    if not content_type:
        raise FormatError(
            "the response has no Content-Type; pass format='sse' or format='jsonl'"
        )
    essence = content_type.split(";", 1)[0].strip().lower()
    try:
        return FORMATS[essence]
    except KeyError:
        known = ", ".join(FORMATS)
        raise FormatError(
            f"cannot decode Content-Type {content_type!r} as a stream: expected one of "
            f"{known}; pass format='sse' or format='jsonl' to decode it anyway"
        ) from None


def _content_type(source: Any) -> Optional[str]:
    headers = getattr(source, "headers", None)
    if headers is None:
        return None
    getter = getattr(headers, "get", None)
    if getter is None:
        return None
    value = getter("content-type")
    if value is None:
        value = getter("Content-Type")  # plain dicts are case-sensitive
    return value


def _make_decoder(decoder: Union[str, Decoder], format: Optional[str], source: Any) -> Any:
    if isinstance(decoder, Decoder):
        kind = "sse" if isinstance(decoder, SSEDecoder) else "jsonl"
        if format is not None and format != kind:
            raise FormatError(f"format={format!r} but the decoder given decodes {kind!r}")
        return decoder
    if not isinstance(decoder, str):
        raise TypeError(
            f"decoder must be a backend name or a decoder instance, not {type(decoder).__name__}"
        )
    if format is None:
        if getattr(source, "headers", None) is None:
            raise FormatError(
                "cannot tell the stream's format: the source has no headers; "
                "pass format='sse' or format='jsonl'"
            )
        format = format_from_content_type(_content_type(source))
    if format == "sse":
        return SSEDecoder(decoder)
    if format == "jsonl":
        return JSONLDecoder(decoder)
    raise FormatError(f"format must be 'sse' or 'jsonl', not {format!r}")


def _chunks(source: Any) -> Iterator[bytes]:
    iter_bytes = getattr(source, "iter_bytes", None)
    if iter_bytes is not None:
        return iter(iter_bytes())
    if isinstance(source, (bytes, bytearray, memoryview)):
        return iter((source,))
    # Read what has arrived rather than waiting to fill a fixed block, so events are
    # not held back behind a slow server.
    read = getattr(source, "read1", None) or getattr(source, "read", None)
    if read is not None:
        return iter(lambda: read(_READ_SIZE), b"")
    return iter(source)


class Stream(Generic[T]):
    """Iterate the events of a streamed SSE or JSON Lines response.

    ``response``: an object with ``iter_bytes()``, a binary file object, an iterable of
    ``bytes``, or an object whose ``http_response`` is one of those (an azure-core
    ``PipelineResponse``). Without ``deserialization_callback`` the items are
    :class:`ServerSentEvent` / :class:`JSONLEvent`; with it, each item is
    ``deserialization_callback(response, event.json())``.

    ``terminal_event``: an event whose data equals it ends the stream; it is not passed
    to the callback or yielded. ``terminal_event_names``: an SSE event with one of these
    names is yielded, then the stream ends. ``decoder``: a backend name (``"auto"``,
    ``"fast"``, ``"python"``) or a decoder instance. ``format``: ``"sse"`` or
    ``"jsonl"``; by default it comes from the response's Content-Type.

    The response is closed when iteration ends, when a loop over the stream is left
    early (``break``, an exception), on :meth:`close`, on leaving a ``with`` block and
    when the stream is garbage-collected. If the stream cannot be set up (unknown
    format), the response is closed and :class:`FormatError` raised.
    """

    def __init__(
        self,
        response: Any,
        *,
        deserialization_callback: Optional[Callable[[Any, Any], T]] = None,
        terminal_event: Optional[str] = None,
        terminal_event_names: Optional[Collection[str]] = None,
        decoder: Union[str, Decoder] = "auto",
        format: Optional[str] = None,
    ) -> None:
        self._closed = False
        self._response = response
        self._source = getattr(response, "http_response", response)
        self._chunk_iter: Optional[Iterator[bytes]] = None
        try:
            self._decoder = _make_decoder(decoder, format, self._source)
        except BaseException:
            self.close()
            raise
        self._callback = deserialization_callback
        self._terminal_event = terminal_event
        self._terminal_names = frozenset(terminal_event_names or ())
        self._iterator = self._iter_items()

    @property
    def response(self) -> Any:
        """The response the stream reads."""
        return self._response

    @property
    def decoder(self) -> Any:
        """The decoder in use (its ``last_event_id`` and ``retry`` for SSE)."""
        return self._decoder

    @property
    def closed(self) -> bool:
        return self._closed

    def __iter__(self) -> Iterator[T]:
        return self._guarded()

    def __next__(self) -> T:
        return next(self._iterator)

    def _guarded(self) -> Iterator[T]:
        # A fresh generator per loop: when a for-loop is left early, this generator is
        # dropped at once, and closing it closes the stream.
        try:
            yield from self._iterator
        finally:
            self.close()

    def _iter_items(self) -> Iterator[Any]:
        try:
            if self._closed:
                return
            decoder = self._decoder
            callback = self._callback
            response = self._response
            terminal = self._terminal_event
            names = self._terminal_names
            self._chunk_iter = chunks = _chunks(self._source)
            ended = False
            while not ended:
                chunk = next(chunks, None)
                if chunk is None:
                    events = decoder.flush()
                    ended = True
                    if getattr(decoder, "discarded", 0):
                        logger.warning(
                            "the event stream ended inside an event: %d bytes without their "
                            "terminating blank line were discarded, as the SSE standard requires",
                            decoder.discarded,
                        )
                else:
                    events = decoder.feed(chunk)
                for event in events:
                    if terminal is not None and event.data == terminal:
                        return
                    if callback is None:
                        yield event
                    else:
                        yield callback(response, event.json())
                    if names and getattr(event, "event", None) in names:
                        return
        finally:
            self.close()

    def close(self) -> None:
        """Stop iterating and close the response. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        iterator = getattr(self, "_iterator", None)
        if iterator is not None and not iterator.gi_running:
            iterator.close()
        chunk_close = getattr(self._chunk_iter, "close", None)
        if chunk_close is not None:
            chunk_close()
        # The source is the response, or the HTTP response it wraps: closing it is enough.
        source_close = getattr(self._source, "close", None) or getattr(self._response, "close", None)
        if source_close is not None:
            source_close()

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
