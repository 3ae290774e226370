"""Pure-Python decoders and event types: the twin of ``_decoder.pyx``.

This module is the reference for behaviour and the source type checkers read. Every
change here needs the matching change in ``_decoder.pyx``; the test suite runs both.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterator, List, Optional, Tuple, Union

import orjson

from ._errors import jsonl_error, sse_json_error
from ._limits import (
    DEFAULT_MAX_EVENT_SIZE,
    DEFAULT_MAX_LINE_SIZE,
    check_last_event_id,
    check_limit,
    event_too_large,
    fresh_copy,
    line_too_long,
    reinitialised,
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
]

_BOM = b"\xef\xbb\xbf"
# A retry value above this is ignored, as browsers do: the spec's "integer" has no
# bound, but a reconnection time must fit a machine word to be of any use.
_MAX_RETRY = 2**64 - 1
_LINE_END_RUN = re.compile(rb"[\r\n]+")
# Single-character repeats only: a group repeated would cost memory per repetition.
_LF_RUN = re.compile(rb"\n+")
_CR_LF = (10, 13)
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
        elif isinstance(data, bytes):  # pyright: ignore[reportUnnecessaryIsInstance]
            self._raw = _exact_bytes(data)
            self._data = None
        else:
            raise TypeError(f"data must be str or bytes, not {type(data).__name__}")
        if not isinstance(event, str) or not isinstance(id, str):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError("event and id must be str")
        if retry is not None and not isinstance(retry, int):  # pyright: ignore[reportUnnecessaryIsInstance]
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
            self._event == other._event
            and self._id == other._id
            and self._retry == other._retry
            and self.data == other.data
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
        elif isinstance(data, bytes):  # pyright: ignore[reportUnnecessaryIsInstance]
            self._raw = _exact_bytes(data)
            self._data = None
        else:
            raise TypeError(f"data must be str or bytes, not {type(data).__name__}")
        if line is not None and not isinstance(line, int):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError("line must be an int or None")
        if offset is not None and not isinstance(offset, int):  # pyright: ignore[reportUnnecessaryIsInstance]
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
            self._line == other._line
            and self._offset == other._offset
            and self._bytes() == other._bytes()
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


def _use_event_types(sse_type: Any, jsonl_type: Any) -> None:  # pyright: ignore[reportUnusedFunction]
    global _SSEEventType, _JSONLEventType
    _SSEEventType = sse_type
    _JSONLEventType = jsonl_type


def _as_bytes(chunk: Bytes) -> bytes:
    if type(chunk) is bytes:
        return chunk
    if isinstance(chunk, (bytearray, memoryview, bytes)):  # pyright: ignore[reportUnnecessaryIsInstance]
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

    __slots__ = ("_max_line", "_pending", "_bom_head", "_error", "_dispatched")

    def __init__(self, max_line_size: int) -> None:
        if hasattr(self, "_max_line"):  # an unset slot: a decoder not yet initialised
            raise reinitialised(self)
        self._max_line = check_limit("max_line_size", max_line_size)
        self._pending = bytearray()  # the unterminated line carried to the next chunk
        self._bom_head: Optional[bytes] = b""  # None once the stream's start is decided
        self._error: Optional[BaseException] = None
        self._dispatched = 0

    @property
    def max_line_size(self) -> int:
        """The longest line accepted, in bytes (its line end not counted)."""
        return self._max_line

    @property
    def dispatched(self) -> int:
        """How many events (or records) :meth:`feed` and :meth:`flush` have returned."""
        return self._dispatched

    @property
    def error(self) -> Optional[BaseException]:
        """The error that ended the stream (a limit exceeded), or ``None``.

        Once set, every :meth:`feed` and :meth:`flush` raises a fresh copy of it.
        """
        return self._error

    def feed(self, chunk: Bytes) -> List[Any]:
        """Decode the next chunk of the stream and return the events it completes.

        Raises :class:`fastsse.LimitExceeded` (:class:`fastsse.LineTooLong`, or for SSE
        :class:`fastsse.EventTooLarge`) when a limit is exceeded. Events completed before
        the fault are returned first; the error is then raised by the next call, and by
        every call after it (see :attr:`error`).
        """
        if self._error is not None:
            raise fresh_copy(self._error)
        data = _as_bytes(chunk)
        out: List[Any] = []
        try:
            if self._bom_head is None:
                if data:
                    self._feed(data, 0, out)
            else:
                head, start = self._strip_bom(data)
                if head:
                    self._feed(head, 0, out)
                if start < len(data):
                    self._feed(data, start, out)
        except Exception as exc:
            self._fail(exc)
            self._dispatched += len(out)
            if out:
                return out
            raise
        if out:
            self._dispatched += len(out)
        return out

    def _strip_bom(self, data: bytes) -> Tuple[bytes, int]:
        # (bytes held back earlier that turned out not to start a BOM, where the stream's
        # content starts in data). Compares only the first bytes: no chunk is copied.
        held = self._bom_head
        assert held is not None
        need = 3 - len(held)
        if len(data) < need and _BOM.startswith(held + data):
            self._bom_head = held + data
            return b"", len(data)
        self._bom_head = None
        if held + data[:need] == _BOM:
            self._bom_stripped()
            return b"", need
        return held, 0

    def _fail(self, exc: BaseException) -> None:
        # Record the error and release the buffers: the stream cannot go on.
        self._error = fresh_copy(exc)
        self._pending = bytearray()
        self._bom_head = None

    def _bom_stripped(self) -> None:
        pass

    def _feed(self, data: bytes, pos: int, out: List[Any]) -> None:
        raise NotImplementedError

    def __reduce__(self):  # type: ignore[no-untyped-def]
        raise TypeError(
            f"cannot pickle {type(self).__name__!r} object: a decoder is tied to one stream"
        )


class SSEDecoder(_LineDecoder):
    """Incremental ``text/event-stream`` decoder (WHATWG HTML, server-sent events).

    Feed it bytes as they arrive; it returns the events each chunk completes.
    ``last_event_id`` resumes a stream: the last event ID of the connection before,
    which events carry as their ``id`` until the stream sets another.
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
        last_event_id: str = "",
    ) -> None:
        super().__init__(max_line_size)
        self._max_event = check_limit("max_event_size", max_event_size)
        self._last_event_id: str = check_last_event_id(last_event_id)
        self._after_cr = False  # the last chunk ended in CR: a leading LF is its pair
        self._data: List[bytes] = []
        self._data_size = 0
        self._type = b""
        self._last_type: bytes = b""
        self._last_type_str = "message"
        self._id_committed: bytes = self._last_event_id.encode("utf-8", "surrogatepass")
        self._id_buffer: bytes = self._id_committed
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
        """The largest event data accepted, in bytes (UTF-8, lines joined by LF)."""
        return self._max_event

    def flush(self) -> List[Any]:
        """End of stream: discard any unterminated event and return ``[]``.

        The decoder is then at the start of a new stream (a reconnection's body): a BOM
        is stripped again, and ``last_event_id`` and ``retry`` are kept. Raises the
        error that ended the stream, if a limit was exceeded.
        """
        if self._error is not None:
            raise fresh_copy(self._error)
        self._discarded = (
            len(self._bom_head or b"")
            + len(self._pending)
            + (self._data_size + 1 if self._data else 0)  # the spec's buffer ends in LF
        )
        self._bom_head = b""
        self._pending = bytearray()
        self._after_cr = False
        self._data = []
        self._data_size = 0
        self._type = b""
        self._block_retry = None
        self._id_buffer = self._id_committed
        return []

    def _fail(self, exc: BaseException) -> None:
        super()._fail(exc)
        self._data = []
        self._data_size = 0

    def _feed(self, data: bytes, pos: int, out: List[Any]) -> None:
        # Line by line with bytes.find (a memchr): the working memory is one line, never
        # a list of the chunk's lines.
        n = len(data)
        if self._after_cr:
            self._after_cr = False
            if data[pos] == 10:  # the LF of a CRLF split across chunks
                pos += 1
                if pos == n:
                    return
        max_line = self._max_line
        pending = self._pending
        if pending:
            lf = data.find(b"\n", pos)
            end = data.find(b"\r", pos, n if lf < 0 else lf)
            if end < 0:
                end = lf
            if end < 0:
                if len(pending) + n - pos > max_line:
                    raise line_too_long(max_line, len(pending) + n - pos)
                pending += data[pos:]
                return
            if len(pending) + end - pos > max_line:
                raise line_too_long(max_line, len(pending) + end - pos)
            pending += data[pos:end]
            line = bytes(pending)
            self._pending = pending = bytearray()
            pos = self._line_end(data, end, n)
            self._line(line, out)
        # lf and cr cache the next LF and CR (-1: none left; -2: not searched yet), so
        # each byte is searched at most once for each.
        find = data.find
        lf = cr = -2
        while pos < n:
            if data[pos] == 10:
                end = pos  # a blank line, most often right after a data line
            else:
                if -1 != lf < pos:
                    lf = find(b"\n", pos)
                if -1 != cr < pos:
                    cr = find(b"\r", pos)
                end = cr if lf < 0 or (0 <= cr < lf) else lf
                if end < 0:
                    break
                if end - pos > max_line:
                    raise line_too_long(max_line, end - pos)
            if end > pos:
                line = data[pos:end]
                pos = self._line_end(data, end, n)
                self._line(line, out)
                continue
            pos = self._line_end(data, end, n)
            self._dispatch(out)
            if pos < n and data[pos] in _CR_LF:
                # More blank lines: after a dispatch each one does nothing, so the run
                # is skipped in one C-speed match (a stream of CRs is one such run).
                pos = _LINE_END_RUN.match(data, pos).end()  # type: ignore[union-attr]
                self._after_cr = pos == n and data[n - 1] == 13
        if pos < n:
            if n - pos > max_line:
                raise line_too_long(max_line, n - pos)
            pending += data[pos:]

    def _line_end(self, data: bytes, end: int, n: int) -> int:
        # Where the line ending at end (a CR or LF) is followed by the next line.
        if data[end] == 10:
            return end + 1
        if end + 1 < n:
            return end + 2 if data[end + 1] == 10 else end + 1
        self._after_cr = True  # a lone CR ends the chunk: an LF may follow
        return n

    def _line(self, line: bytes, out: List[Any]) -> None:
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
        """End of stream: return the final record if the stream did not end with LF.

        The decoder is then at the start of a new stream: line numbers and offsets
        count from its start, and a BOM is skipped again. Raises the error that ended
        the stream, if a limit was exceeded.
        """
        if self._error is not None:
            raise fresh_copy(self._error)
        # A stream shorter than a BOM: its bytes are a record.
        line = (self._bom_head or b"") + bytes(self._pending)
        self._bom_head = b""
        self._pending = bytearray()
        out: List[Any] = []
        if line:
            if len(line) > self._max_line:  # its final CR is data: no LF follows
                exc = line_too_long(self._max_line, len(line))
                self._fail(exc)
                raise exc
            self._record(line, out, ended_by_lf=False)
        self._line_no = 0
        self._offset = 0
        self._dispatched += len(out)
        return out

    def _bom_stripped(self) -> None:
        self._offset = 3  # offsets count the stream's bytes, the BOM's included

    def _too_long(self, size: int, ends_with_cr: bool) -> bool:
        # A line's size excludes its CRLF or LF ending, and a CR at the end of what has
        # arrived may yet be the first half of a CRLF.
        return size > self._max_line and not (ends_with_cr and size == self._max_line + 1)

    def _feed(self, data: bytes, pos: int, out: List[Any]) -> None:
        n = len(data)
        pending = self._pending
        max_line = self._max_line
        find = data.find
        while pos < n:
            lf = find(b"\n", pos)
            if lf < 0:
                break
            if pending:
                size = len(pending) + lf - pos
                if self._too_long(size, (data[lf - 1] if lf > pos else pending[-1]) == 13):
                    raise line_too_long(max_line, size)
                pending += data[pos:lf]
                line = bytes(pending)
                self._pending = pending = bytearray()
            else:
                if self._too_long(lf - pos, lf > pos and data[lf - 1] == 13):
                    raise line_too_long(max_line, lf - pos)
                line = data[pos:lf]
            pos = lf + 1
            self._record(line, out)
            if pos < n and data[pos] == 10:
                # A run of empty lines is counted, not looped over.
                end = _LF_RUN.match(data, pos).end()  # type: ignore[union-attr]
                self._line_no += end - pos
                self._offset += end - pos
                pos = end
        if pos < n:
            size = len(pending) + n - pos
            if self._too_long(size, data[n - 1] == 13):
                raise line_too_long(max_line, size)
            pending += data[pos:]

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
    ) -> None:
        self._decoder = decoder
        self._callback = callback
        self._response = response
        self._terminal = terminal
        self._on_end = on_end
        self._batch: List[Any] = []
        self._index = 0
        self._ended = False

    def _next_ready(self) -> Any:
        # The next item of the batch; _END at the terminal event or after the last chunk;
        # _NEED_CHUNK when the batch is spent (it is then emptied, to be refilled).
        if self._index < len(self._batch):
            event = self._batch[self._index]
            self._index += 1
            if self._terminal is not None and event.data == self._terminal:
                self.close()
                return _END
            if self._callback is None:
                return event
            return self._callback(self._response, event.json())
        if self._ended:
            return _END
        error = getattr(self._decoder, "error", None)
        if error is not None:
            # The chunk that tripped a limit gave its earlier events; the error comes
            # right after them, not after reading (and waiting for) another chunk.
            raise fresh_copy(error)
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
    data equals ``terminal`` (not yielded) or the end of ``chunks``.

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
    ) -> None:
        super().__init__(decoder, callback, response, terminal, on_end)
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
    ) -> None:
        super().__init__(decoder, callback, response, terminal, on_end)
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
