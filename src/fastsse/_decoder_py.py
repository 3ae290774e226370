"""Pure-Python decoders and event types: the twin of ``_decoder.pyx``.

This module is the reference for behaviour and the source type checkers read. Every
change here needs the matching change in ``_decoder.pyx``; the test suite runs both.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterator, List, Optional, Union

import orjson

from ._errors import jsonl_error, sse_json_error
from ._limits import (
    DEFAULT_MAX_EVENT_SIZE,
    DEFAULT_MAX_LINE_SIZE,
    check_limit,
    event_too_large,
    line_too_long,
)

__all__ = [
    "DEFAULT_MAX_LINE_SIZE",
    "DEFAULT_MAX_EVENT_SIZE",
    "ServerSentEvent",
    "JSONLEvent",
    "SSEDecoder",
    "JSONLDecoder",
    "StreamItems",
    "AsyncStreamItems",
    "GuardedItems",
    "NEED_CHUNK",
    "END",
]

_BOM = b"\xef\xbb\xbf"
# A retry value above this is ignored, as browsers do: the spec's "integer" has no
# bound, but a reconnection time must fit a machine word to be of any use.
_MAX_RETRY = 2**64 - 1
_LINE_END = re.compile(rb"\r\n|\r|\n")
_JSON_WHITESPACE = b" \t\r"

Bytes = Union[bytes, bytearray, memoryview]


# Events hold only exact str, bytes and int (subclasses are copied on the way in), as
# the compiled events do: there they can then form no reference cycle and stay out of
# the cyclic garbage collector.


def _exact_str(value: str) -> str:
    return value if type(value) is str else str.__str__(value)


def _exact_bytes(value: bytes) -> bytes:
    return value if type(value) is bytes else bytes(memoryview(value))


def _exact_int(value: Optional[int]) -> Optional[int]:
    return value if value is None or type(value) is int else int.__int__(value)


class ServerSentEvent:
    """One dispatched Server-Sent Event.

    ``data`` may be given as ``str`` or as UTF-8 ``bytes``; bytes are decoded (invalid
    sequences replaced by U+FFFD) only when ``data`` is first read.
    """

    __slots__ = ("_raw", "_data", "_event", "_id", "_retry")

    def __init__(
        self,
        data: Union[str, bytes] = "",
        event: str = "message",
        id: str = "",
        retry: Optional[int] = None,
    ) -> None:
        if isinstance(data, str):
            self._raw: Optional[bytes] = None
            self._data: Optional[str] = _exact_str(data)
        elif isinstance(data, bytes):
            self._raw = _exact_bytes(data)
            self._data = None
        else:
            raise TypeError(f"data must be str or bytes, not {type(data).__name__}")
        if not isinstance(event, str) or not isinstance(id, str):
            raise TypeError("event and id must be str")
        if retry is not None and not isinstance(retry, int):
            raise TypeError("retry must be an int or None")
        self._event = _exact_str(event)
        self._id = _exact_str(id)
        self._retry = _exact_int(retry)

    @property
    def data(self) -> str:
        """The event's data, lines joined by LF."""
        if self._data is None:
            self._data = self._raw.decode("utf-8", "replace")  # type: ignore[union-attr]
        return self._data

    @property
    def event(self) -> str:
        """The event type: the ``event`` field, or ``"message"``."""
        return self._event

    @property
    def id(self) -> str:
        """The last event ID in force when the event was dispatched (``""`` if none)."""
        return self._id

    @property
    def retry(self) -> Optional[int]:
        """The valid ``retry`` value (ms) given in this event's block, else ``None``."""
        return self._retry

    def json(self) -> Any:
        """Parse ``data`` as JSON with orjson.

        Raises :class:`fastsse.JSONDecodeError` when the data is not valid JSON.
        """
        raw = self._raw
        if raw is not None:
            try:
                return orjson.loads(raw)
            except orjson.JSONDecodeError:
                # Invalid UTF-8 in the raw bytes was replaced in .data; parse what the
                # user sees, so json() always equals orjson.loads(ev.data).
                pass
        data = self.data
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise sse_json_error(exc, data) from None

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return (
            self._event == other._event  # type: ignore[attr-defined]
            and self._id == other._id  # type: ignore[attr-defined]
            and self._retry == other._retry  # type: ignore[attr-defined]
            and self.data == other.data  # type: ignore[attr-defined]
        )

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return hash((self.data, self._event, self._id, self._retry))

    def __repr__(self) -> str:
        return (
            f"ServerSentEvent(data={self.data!r}, event={self._event!r}, "
            f"id={self._id!r}, retry={self._retry!r})"
        )

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.data, self._event, self._id, self._retry))


class JSONLEvent:
    """One JSON Lines record.

    ``data`` may be given as ``str`` or as ``bytes``; bytes must be valid UTF-8, checked
    when ``data`` is first read. ``line`` and ``offset`` locate the record in its stream
    (1-based line number, byte offset of the line); ``None`` when unknown.
    """

    __slots__ = ("_raw", "_data", "_line", "_offset")

    def __init__(
        self,
        data: Union[str, bytes] = "",
        line: Optional[int] = None,
        offset: Optional[int] = None,
    ) -> None:
        if isinstance(data, str):
            self._raw: Optional[bytes] = None
            self._data: Optional[str] = _exact_str(data)
        elif isinstance(data, bytes):
            self._raw = _exact_bytes(data)
            self._data = None
        else:
            raise TypeError(f"data must be str or bytes, not {type(data).__name__}")
        if line is not None and not isinstance(line, int):
            raise TypeError("line must be an int or None")
        if offset is not None and not isinstance(offset, int):
            raise TypeError("offset must be an int or None")
        self._line = _exact_int(line)
        self._offset = _exact_int(offset)

    @property
    def data(self) -> str:
        """The record's text. Raises :class:`fastsse.JSONDecodeError` if not valid UTF-8."""
        if self._data is None:
            try:
                self._data = self._raw.decode("utf-8")  # type: ignore[union-attr]
            except UnicodeDecodeError as exc:
                doc = self._raw.decode("utf-8", "replace")  # type: ignore[union-attr]
                raise jsonl_error(
                    f"is not valid UTF-8 (byte {exc.start} of the record)",
                    self._line,
                    self._offset,
                    doc,
                    exc.start,
                ) from None
        return self._data

    @property
    def line(self) -> Optional[int]:
        """The record's 1-based line number in the stream, or ``None``."""
        return self._line

    @property
    def offset(self) -> Optional[int]:
        """The byte offset of the record's line in the stream, or ``None``."""
        return self._offset

    def json(self) -> Any:
        """Parse the record with orjson (strict RFC 8259).

        Raises :class:`fastsse.JSONDecodeError`, naming the record's line, when it is not
        valid JSON or not valid UTF-8.
        """
        source = self._raw if self._raw is not None else self._data
        try:
            return orjson.loads(source)  # type: ignore[arg-type]
        except orjson.JSONDecodeError as exc:
            if self._raw is not None:
                self.data  # noqa: B018 (raises the UTF-8 error first, if that is the fault)
            raise jsonl_error(
                f"is not valid JSON: {exc.msg} (char {exc.pos})",
                self._line,
                self._offset,
                exc.doc,
                exc.pos,
            ) from None

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return (
            self._line == other._line  # type: ignore[attr-defined]
            and self._offset == other._offset  # type: ignore[attr-defined]
            and self._bytes() == other._bytes()  # type: ignore[attr-defined]
        )

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return hash((self._bytes(), self._line, self._offset))

    def _bytes(self) -> bytes:
        # Records compare by their bytes: equal events read the same, and a record with
        # invalid UTF-8 never equals one built from text.
        if self._raw is not None:
            return self._raw
        return self._data.encode("utf-8", "surrogatepass")  # type: ignore[union-attr]

    def _text(self) -> str:
        # For repr, which must not raise on invalid UTF-8.
        if self._data is not None:
            return self._data
        return self._raw.decode("utf-8", "surrogateescape")  # type: ignore[union-attr]

    def __repr__(self) -> str:
        return f"JSONLEvent(data={self._text()!r}, line={self._line!r}, offset={self._offset!r})"

    def __reduce__(self):  # type: ignore[no-untyped-def]
        data = self._raw if self._raw is not None else self._data
        return (type(self), (data, self._line, self._offset))


# The classes the decoders below build. When the compiled extension is loaded, the
# backend module points these at the compiled event classes, so that both backends
# return the same public types in one process.
_SSEEventType: Any = ServerSentEvent
_JSONLEventType: Any = JSONLEvent


def _use_event_types(sse_type: Any, jsonl_type: Any) -> None:
    global _SSEEventType, _JSONLEventType
    _SSEEventType = sse_type
    _JSONLEventType = jsonl_type


def _as_bytes(chunk: Bytes) -> bytes:
    if type(chunk) is bytes:
        return chunk
    if isinstance(chunk, (bytearray, memoryview, bytes)):
        return bytes(chunk)
    raise TypeError(f"feed() takes bytes, bytearray or memoryview, not {type(chunk).__name__}")


def _parse_retry(value: bytes) -> Optional[int]:
    if not value or not value.isdigit():  # bytes.isdigit is ASCII digits only
        return None
    digits = value.lstrip(b"0")
    if len(digits) > 20:
        return None
    retry = int(digits or b"0")
    return retry if retry <= _MAX_RETRY else None


class _LineDecoder:
    """What both decoders share: the stream-start BOM, the error that ends a stream, and
    ``feed`` returning the events completed before a fault."""

    __slots__ = ("_max_line", "_pending", "_bom_head", "_error")

    def __init__(self, max_line_size: int) -> None:
        self._max_line = check_limit("max_line_size", max_line_size)
        self._pending = bytearray()  # the unterminated line carried to the next chunk
        self._bom_head: Optional[bytes] = b""  # None once the stream's start is decided
        self._error: Optional[BaseException] = None

    @property
    def max_line_size(self) -> int:
        return self._max_line

    def feed(self, chunk: Bytes) -> List[Any]:
        """Decode the next chunk of the stream and return the events it completes.

        Raises :class:`fastsse.LimitExceeded` (:class:`fastsse.LineTooLong`, or for SSE
        :class:`fastsse.EventTooLarge`) when a limit is exceeded. Events completed before
        the fault are returned first; the error is then raised by the next call, and by
        every call after it.
        """
        if self._error is not None:
            raise self._error
        data = _as_bytes(chunk)
        if self._bom_head is not None:
            data = self._strip_bom(data)
        out: List[Any] = []
        if not data:
            return out
        try:
            self._feed(data, out)
        except Exception as exc:
            self._error = exc
            if out:
                return out
            raise
        return out

    def _strip_bom(self, data: bytes) -> bytes:
        head = self._bom_head + data  # type: ignore[operator]
        if len(head) < 3 and _BOM.startswith(head):
            self._bom_head = head
            return b""
        self._bom_head = None
        if head.startswith(_BOM):
            self._bom_stripped()
            return head[3:]
        return head

    def _bom_stripped(self) -> None:
        pass

    def _feed(self, data: bytes, out: List[Any]) -> None:
        raise NotImplementedError

    def __reduce__(self):  # type: ignore[no-untyped-def]
        raise TypeError(
            f"cannot pickle {type(self).__name__!r} object: a decoder is tied to one stream"
        )


class SSEDecoder(_LineDecoder):
    """Incremental ``text/event-stream`` decoder (WHATWG HTML, server-sent events).

    Feed it bytes as they arrive; it returns the events each chunk completes.
    """

    __slots__ = (
        "_max_event",
        "_after_cr",
        "_data",
        "_data_size",
        "_type",
        "_last_type",
        "_last_type_str",
        "_id_buffer",
        "_id_committed",
        "_last_event_id",
        "_retry",
        "_block_retry",
        "_discarded",
    )

    def __init__(
        self,
        *,
        max_line_size: int = DEFAULT_MAX_LINE_SIZE,
        max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
    ) -> None:
        super().__init__(max_line_size)
        self._max_event = check_limit("max_event_size", max_event_size)
        self._after_cr = False  # the last chunk ended in CR: a leading LF is its pair
        self._data: List[bytes] = []
        self._data_size = 0
        self._type = b""
        self._last_type = b""
        self._last_type_str = "message"
        self._id_buffer = b""
        self._id_committed = b""
        self._last_event_id = ""
        self._retry: Optional[int] = None
        self._block_retry: Optional[int] = None
        self._discarded = 0

    @property
    def last_event_id(self) -> str:
        """The stream's last event ID string: what a reconnect sends as ``Last-Event-ID``."""
        return self._last_event_id

    @property
    def retry(self) -> Optional[int]:
        """The stream's reconnection time in milliseconds, or ``None`` if never set."""
        return self._retry

    @property
    def discarded(self) -> int:
        """Bytes the last :meth:`flush` discarded: an unterminated line and the data of an
        event that never got its blank line. ``0`` when the stream ended between events."""
        return self._discarded

    @property
    def max_event_size(self) -> int:
        return self._max_event

    def flush(self) -> List[Any]:
        """End of stream: discard any unterminated event and return ``[]``.

        Raises the pending error, if a limit was exceeded.
        """
        if self._error is not None:
            raise self._error
        self._discarded = (
            len(self._bom_head or b"")
            + len(self._pending)
            + (self._data_size + 1 if self._data else 0)  # the spec's buffer ends in LF
        )
        self._bom_head = None
        self._pending.clear()
        self._after_cr = False
        self._data = []
        self._data_size = 0
        self._type = b""
        self._block_retry = None
        self._id_buffer = self._id_committed
        return []

    def _feed(self, data: bytes, out: List[Any]) -> None:
        if self._after_cr:
            self._after_cr = False
            if data[0] == 10:  # the LF of a CRLF split across chunks
                data = data[1:]
                if not data:
                    return
        pending = self._pending
        if pending:
            # bytes.find is a memchr; a regex search here would crawl over long lines.
            lf = data.find(b"\n")
            start = data.find(b"\r", 0, len(data) if lf < 0 else lf)
            if start < 0:
                start = lf
            if start < 0:
                if len(pending) + len(data) > self._max_line:
                    raise line_too_long(self._max_line, len(pending) + len(data))
                pending += data
                return
            if len(pending) + start > self._max_line:
                raise line_too_long(self._max_line, len(pending) + start)
            line = bytes(pending) + data[:start]
            pending.clear()
            end = start + 2 if data[start : start + 2] == b"\r\n" else start + 1
            if end == len(data) and end - start == 1 and data[start] == 13:
                self._after_cr = True  # a lone CR ends the chunk: an LF may follow
            self._line(line, out)
            data = data[end:]
            if not data:
                return
        if 13 in data:
            lines = _LINE_END.split(data)
            if data[-1] == 13:
                self._after_cr = True
        else:
            lines = data.split(b"\n")
        tail = lines.pop()
        max_line = self._max_line
        for line in lines:
            if len(line) > max_line:
                raise line_too_long(max_line, len(line))
            self._line(line, out)
        if tail:
            if len(tail) > max_line:
                raise line_too_long(max_line, len(tail))
            pending += tail

    def _line(self, line: bytes, out: List[Any]) -> None:
        if not line:
            self._dispatch(out)
            return
        if line[0] == 58:  # ":" starts a comment
            return
        name, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            size = self._data_size + len(value) + (1 if self._data else 0)
            if size > self._max_event:
                raise event_too_large(self._max_event, size)
            self._data.append(value)
            self._data_size = size
        elif name == b"event":
            self._type = value
        elif name == b"id":
            if b"\x00" not in value:
                self._id_buffer = value
        elif name == b"retry":
            retry = _parse_retry(value)
            if retry is not None:
                self._retry = retry
                self._block_retry = retry

    def _dispatch(self, out: List[Any]) -> None:
        if self._id_buffer != self._id_committed:
            self._id_committed = self._id_buffer
            self._last_event_id = self._id_buffer.decode("utf-8", "replace")
        pieces = self._data
        if pieces:
            kind = self._type
            if kind != self._last_type:
                self._last_type = kind
                self._last_type_str = kind.decode("utf-8", "replace") if kind else "message"
            raw = pieces[0] if len(pieces) == 1 else b"\n".join(pieces)
            out.append(
                _SSEEventType(raw, self._last_type_str, self._last_event_id, self._block_retry)
            )
            self._data = []
            self._data_size = 0
        self._type = b""
        self._block_retry = None


class JSONLDecoder(_LineDecoder):
    """Incremental JSON Lines decoder (``application/jsonl``, ``application/x-ndjson``).

    Records end at LF (a CR before it is dropped); blank lines are skipped; a final
    line without LF is a record. Records are parsed only when the event's ``json()``
    is called, and an invalid one raises :class:`fastsse.JSONDecodeError` there.
    """

    __slots__ = ("_line_no", "_offset")

    def __init__(self, *, max_line_size: int = DEFAULT_MAX_LINE_SIZE) -> None:
        super().__init__(max_line_size)
        self._line_no = 0
        self._offset = 0  # stream offset of the first byte of the pending line

    def flush(self) -> List[Any]:
        """End of stream: return the final record if the stream did not end with LF."""
        if self._error is not None:
            raise self._error
        if self._bom_head:  # a stream shorter than a BOM: its bytes are a record
            self._pending += self._bom_head
        self._bom_head = None
        out: List[Any] = []
        if self._pending:
            line = bytes(self._pending)
            self._pending.clear()
            if len(line) > self._max_line:  # its final CR is data: no LF follows
                self._error = line_too_long(self._max_line, len(line))
                raise self._error
            self._record(line, out, ended_by_lf=False)
        return out

    def _bom_stripped(self) -> None:
        self._offset = 3  # offsets count the stream's bytes, the BOM's included

    def _too_long(self, size: int, ends_with_cr: bool) -> bool:
        # A line's size excludes its CRLF or LF ending, and a CR at the end of what has
        # arrived may yet be the first half of a CRLF.
        return size > self._max_line and not (ends_with_cr and size == self._max_line + 1)

    def _feed(self, data: bytes, out: List[Any]) -> None:
        pending = self._pending
        max_line = self._max_line
        if pending:
            lf = data.find(b"\n")
            if lf < 0:
                size = len(pending) + len(data)
                if self._too_long(size, data[-1] == 13):
                    raise line_too_long(max_line, size)
                pending += data
                return
            line = bytes(pending) + data[:lf]
            if self._too_long(len(line), line[-1:] == b"\r"):
                raise line_too_long(max_line, len(line))
            pending.clear()
            self._record(line, out)
            data = data[lf + 1 :]
        lines = data.split(b"\n")
        tail = lines.pop()
        for line in lines:
            if self._too_long(len(line), line[-1:] == b"\r"):
                raise line_too_long(max_line, len(line))
            self._record(line, out)
        if tail:
            if self._too_long(len(tail), tail[-1] == 13):
                raise line_too_long(max_line, len(tail))
            pending += tail

    def _record(self, line: bytes, out: List[Any], ended_by_lf: bool = True) -> None:
        self._line_no += 1
        offset = self._offset
        self._offset = offset + len(line) + 1
        if ended_by_lf and line[-1:] == b"\r":  # only a CR before an LF ends a line
            line = line[:-1]
        if not line or (line[0] in _JSON_WHITESPACE and not line.strip(_JSON_WHITESPACE)):
            return
        out.append(_JSONLEventType(line, self._line_no, offset))


_END = object()


_NEED_CHUNK = object()


class _ItemsCore:
    """What StreamItems and AsyncStreamItems share: the batch of the last chunk's events,
    and each event's item. They differ only in how they get a chunk, and in awaiting."""

    def __init__(
        self,
        decoder: Any,
        callback: Optional[Callable[[Any, Any], Any]],
        response: Any,
        terminal: Optional[str],
        on_end: Callable[[], Any],
        typed: Any = None,
    ) -> None:
        self._decoder = decoder
        self._callback = callback
        self._response = response
        self._terminal = terminal
        self._on_end = on_end
        self._batch: List[Any] = []
        self._index = 0
        self._ended = False
        # A TypedPlan: items are the events' data decoded into models (the compiled
        # loop hands the data bytes over without making events; this one reads .data).
        self._typed = typed
        self._position = 0  # the next event's position in the stream

    def _next_ready(self) -> Any:
        # The next item of the batch; _END at the terminal event or after the last chunk;
        # _NEED_CHUNK when the batch is spent (it is then emptied, to be refilled).
        if self._index < len(self._batch):
            event = self._batch[self._index]
            self._index += 1
            if self._terminal is not None and event.data == self._terminal:
                self.close()
                return _END
            if self._typed is not None:
                position = self._position
                self._position = position + 1
                return self._typed.item_of(event, position)[0]
            if self._callback is None:
                return event
            return self._callback(self._response, event.json())
        if self._ended:
            return _END
        self._index = 0
        self._batch = []
        return _NEED_CHUNK

    def _take(self, chunk: Any) -> None:
        # The next chunk, or _END when there are no more.
        if chunk is _END:
            self._ended = True
            self._batch = self._decoder.flush()
            self._on_end()
        elif chunk:  # clients may yield empty chunks, or None, between data
            self._batch = self._decoder.feed(chunk)

    def close(self) -> None:
        """Yield nothing more."""
        self._ended = True
        self._batch = []


class StreamItems(_ItemsCore):
    """The items of a stream that only maps its events: each event, or
    ``callback(response, event.json())`` when a callback is given, until an event whose
    data equals ``terminal`` (not yielded) or the end of ``chunks``. With ``typed`` (a
    ``TypedPlan``), each event's data decoded into its model instead.

    This is the loop :class:`fastsse.Stream` runs for most streams. At the end of
    ``chunks`` the decoder is flushed, then ``on_end()`` is called, once. Errors from the
    decoder, the callback and ``chunks`` propagate; the caller closes the stream.
    """

    def __init__(
        self,
        decoder: Any,
        chunks: Iterator[Any],
        callback: Optional[Callable[[Any, Any], Any]],
        response: Any,
        terminal: Optional[str],
        on_end: Callable[[], Any],
        typed: Any = None,
    ) -> None:
        super().__init__(decoder, callback, response, terminal, on_end, typed)
        self._chunks = chunks

    def __iter__(self) -> "StreamItems":
        return self

    def __next__(self) -> Any:
        while True:
            item = self._next_ready()
            if item is _END:
                raise StopIteration
            if item is not _NEED_CHUNK:
                return item
            self._take(next(self._chunks, _END))


class AsyncStreamItems(_ItemsCore):
    """:class:`StreamItems` for ``AsyncStream``: ``chunks`` is an async iterator, and
    ``callback`` may return an awaitable (``awaits``: it is a coroutine function), which
    is awaited. Iterate with ``async for``; ``on_end()`` is called as for StreamItems."""

    def __init__(
        self,
        decoder: Any,
        chunks: Any,
        callback: Optional[Callable[[Any, Any], Any]],
        awaits: bool,
        response: Any,
        terminal: Optional[str],
        on_end: Callable[[], Any],
        typed: Any = None,
    ) -> None:
        super().__init__(decoder, callback, response, terminal, on_end, typed)
        self._chunks = chunks
        self._awaits = awaits

    def __aiter__(self) -> "AsyncStreamItems":
        return self

    async def __anext__(self) -> Any:
        while True:
            item = self._next_ready()
            if item is _END:
                raise StopAsyncIteration
            if item is not _NEED_CHUNK:
                return (await item) if self._awaits else item
            try:
                chunk = await self._chunks.__anext__()
            except StopAsyncIteration:
                chunk = _END
            self._take(chunk)

    # The same loop, for a driver that awaits the chunks itself (AsyncStream's async
    # generator): an item is NEED_CHUNK (await the next chunk of ``chunks``, give it to
    # step(), or END when there are none), END (the stream is over), or the item, to be
    # awaited when ``awaits``.

    def ready(self) -> Any:
        """The next item from the chunks already given, NEED_CHUNK or END."""
        return self._next_ready()

    def step(self, chunk: Any) -> Any:
        """Give the next chunk (END at the end of the chunks); what :meth:`ready` gives."""
        self._take(chunk)
        return self._next_ready()

    @property
    def chunks(self) -> Any:
        return self._chunks

    @property
    def awaits(self) -> bool:
        return self._awaits


NEED_CHUNK = _NEED_CHUNK
END = _END


class GuardedItems:
    """One loop over a stream: the items of ``start()`` (called at the first item),
    and ``close()`` called once when they end, when one raises, or when this iterator is
    dropped unfinished (a ``for`` loop left by ``break`` or an exception)."""

    def __init__(self, start: Callable[[], Any], close: Callable[[], Any]) -> None:
        self._start = start
        self._close = close
        self._items: Optional[Iterator[Any]] = None
        self._done = False

    def __iter__(self) -> "GuardedItems":
        return self

    def __next__(self) -> Any:
        if self._done:
            raise StopIteration
        try:
            if self._items is None:
                self._items = iter(self._start())
            return next(self._items)
        except BaseException:  # StopIteration included: the loop is over
            self.close()
            raise

    def close(self) -> None:
        """End the loop: no more items, and the stream is closed."""
        if not self._done:
            self._done = True
            self._close()

    def __del__(self) -> None:
        self.close()
