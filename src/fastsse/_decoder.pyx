# cython: language_level=3
"""Compiled decoders and event types: the twin of ``_decoder_py.py``.

Same names, same behaviour, same messages; the test suite runs both and compares them.
The scanners work on the chunk's bytes in place: each byte is searched once for line
ends (SSE2 on x86, memchr elsewhere: ``_line_end.h``), a line split across chunks is the
only thing copied, and it is copied once.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_Append, PyList_GET_ITEM, PyList_GET_SIZE
from cpython.object cimport PyObject
from cpython.ref cimport Py_DECREF
from cpython.long cimport PyLong_FromUnsignedLongLong
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from libc.string cimport memchr, memcmp, memcpy

cdef extern from "_line_end.h":
    ctypedef struct fastsse_line_end_cache:
        const char* lf
        const char* cr
    const char* fastsse_line_end(const char* p, const char* end, fastsse_line_end_cache* cache)
    bint fastsse_has_line_end(const char* p, const char* end)
    const int FASTSSE_SCAN_SSE2

cdef extern from "Python.h":
    const Py_ssize_t PY_SSIZE_T_MAX
    # Declared here to pass NULL (delete the slice), which Cython's own declaration forbids.
    int PyList_SetSlice(object, Py_ssize_t, Py_ssize_t, PyObject*) except -1
    PyObject* PyIter_Next(object)  # NULL at the end, and on error with the error set
    PyObject* PyErr_Occurred()
    ctypedef struct PyListObject:
        PyObject** ob_item
        Py_ssize_t allocated
    void Py_SET_SIZE(object, Py_ssize_t)
    void Py_INCREF(object)
    void Py_XDECREF(PyObject*)
    PyObject* PyObject_CallOneArg(object, object)  # NULL on error, with the error set
    int PyErr_ExceptionMatches(object)
    void PyErr_Clear()

import orjson

from fastsse._errors import jsonl_error, sse_json_error
from fastsse._limits import (
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

# How the SSE scanner finds line ends in this build: "sse2" (one pass for CR and LF) or
# "memchr" (the portable search); see _line_end.h.
LINE_END_SEARCH = "sse2" if FASTSSE_SCAN_SSE2 else "memchr"

cdef object _loads = orjson.loads  # looked up once, not per event
cdef object _OrjsonError = orjson.JSONDecodeError
cdef object _INVALID = object()  # what _loads_or_invalid returns for JSON orjson rejects
cdef bytes _BOM = b"\xef\xbb\xbf"
cdef str _MESSAGE = "message"
cdef bytes _EMPTY = b""
# A buffer grown past this for one long line or event is released once it is used, so
# a decoder that met one huge event does not keep its memory for the stream's life.
cdef Py_ssize_t _KEEP_CAPACITY = 64 * 1024
# The same for a reused list of events (see _empty): slots kept between chunks.
cdef Py_ssize_t _KEEP_SLOTS = 1024


# ------------------------------------------------------------------------------ lists

cdef inline int _append(list items, object item) except -1:
    # list.append without list_resize while there is room: CPython's append would shrink
    # a list reused with few items (see _empty), one realloc per chunk.
    cdef PyListObject* raw = <PyListObject*>items
    cdef Py_ssize_t size = PyList_GET_SIZE(items)
    if raw.allocated > size:
        Py_INCREF(item)
        raw.ob_item[size] = <PyObject*>item
        Py_SET_SIZE(items, size + 1)
        return 0
    return PyList_Append(items, item)


cdef inline int _empty(list items) except -1:
    # del items[:], keeping the list's storage for its next fill unless it is large.
    cdef PyListObject* raw = <PyListObject*>items
    cdef Py_ssize_t size = PyList_GET_SIZE(items)
    cdef Py_ssize_t i
    if raw.allocated > _KEEP_SLOTS:
        return PyList_SetSlice(items, 0, PY_SSIZE_T_MAX, NULL)
    Py_SET_SIZE(items, 0)  # first: a release below that runs code sees a consistent list
    for i in range(size):
        Py_XDECREF(raw.ob_item[i])
    return 0


# ------------------------------------------------------------------------------- JSON

cdef int _raise_current() except -1:
    return -1  # the error a C API call set propagates from here


cdef inline object _loads_or_invalid(source):
    # orjson.loads(source), or _INVALID if orjson rejects it; other errors propagate.
    # No try block: entering one costs time on every event, and this runs per event.
    cdef PyObject* value = PyObject_CallOneArg(_loads, source)
    if value != NULL:
        result = <object>value
        Py_DECREF(result)  # the call's reference, now held by result
        return result
    if not PyErr_ExceptionMatches(_OrjsonError):
        _raise_current()
    PyErr_Clear()
    return _INVALID


# ---------------------------------------------------------------------------- buffers

cdef struct ByteBuffer:
    char* ptr
    Py_ssize_t length
    Py_ssize_t capacity


cdef int buffer_append(ByteBuffer* buf, const char* src, Py_ssize_t n) except -1:
    # Callers check their size limit first, so length + n stays far below PY_SSIZE_T_MAX.
    cdef Py_ssize_t needed = buf.length + n
    cdef Py_ssize_t capacity
    cdef char* grown
    if n <= 0:
        return 0
    if needed > buf.capacity:
        capacity = buf.capacity * 2 if buf.capacity < PY_SSIZE_T_MAX // 2 else needed
        if capacity < needed:
            capacity = needed
        if capacity < 256:
            capacity = 256
        grown = <char*>PyMem_Realloc(buf.ptr, <size_t>capacity)
        if grown == NULL:
            raise MemoryError()
        buf.ptr = grown
        buf.capacity = capacity
    memcpy(buf.ptr + buf.length, src, <size_t>n)
    buf.length = needed
    return 0


cdef inline void buffer_reset(ByteBuffer* buf):
    buf.length = 0
    if buf.capacity > _KEEP_CAPACITY:
        PyMem_Free(buf.ptr)
        buf.ptr = NULL
        buf.capacity = 0


cdef inline void buffer_free(ByteBuffer* buf):
    PyMem_Free(buf.ptr)
    buf.ptr = NULL
    buf.capacity = 0
    buf.length = 0


cdef bytes _as_bytes(object chunk):
    if type(chunk) is bytes:
        return <bytes>chunk
    if isinstance(chunk, (bytearray, memoryview, bytes)):
        return bytes(chunk)
    raise TypeError(f"feed() takes bytes, bytearray or memoryview, not {type(chunk).__name__}")


# ----------------------------------------------------------------------------- events
# Events hold only exact str, bytes and int (subclasses are copied on the way in), so
# they can form no reference cycle and stay out of the cyclic garbage collector.

cdef inline str _exact_str(object value):
    return <str>value if type(value) is str else str.__str__(value)


cdef inline bytes _exact_bytes(object value):
    if type(value) is bytes:
        return <bytes>value
    return PyBytes_FromStringAndSize(PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value))


cdef inline object _exact_int(object value):
    return value if value is None or type(value) is int else int.__int__(value)


@cython.freelist(64)
@cython.no_gc
cdef class ServerSentEvent:
    """One dispatched Server-Sent Event.

    ``data`` may be given as ``str`` or as UTF-8 ``bytes``; bytes are decoded (invalid
    sequences replaced by U+FFFD) only when ``data`` is first read.
    """

    cdef bytes _raw
    cdef str _data
    cdef str _event
    cdef str _id
    cdef object _retry

    def __init__(self, data="", event="message", id="", retry=None):
        if isinstance(data, str):
            self._raw = None
            self._data = _exact_str(data)
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
    def data(self):
        """The event's data, lines joined by LF."""
        if self._data is None:
            self._data = self._raw.decode("utf-8", "replace")
        return self._data

    @property
    def event(self):
        """The event type: the ``event`` field, or ``"message"``."""
        return self._event

    @property
    def id(self):
        """The last event ID in force when the event was dispatched (``""`` if none)."""
        return self._id

    @property
    def retry(self):
        """The valid ``retry`` value (ms) given in this event's block, else ``None``."""
        return self._retry

    def json(self):
        """Parse ``data`` as JSON with orjson.

        Raises :class:`fastsse.JSONDecodeError` when the data is not valid JSON.
        """
        return self._json()

    cdef object _json(self):
        if self._raw is not None:
            value = _loads_or_invalid(self._raw)
            if value is not _INVALID:
                return value
            # Invalid UTF-8 was replaced in .data: parse what the user sees.
        data = self.data
        try:
            return _loads(data)
        except _OrjsonError as exc:
            raise sse_json_error(exc, data) from None

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        cdef ServerSentEvent that = <ServerSentEvent>other
        return (
            self._event == that._event
            and self._id == that._id
            and self._retry == that._retry
            and self.data == that.data
        )

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self):
        return hash((self.data, self._event, self._id, self._retry))

    def __repr__(self):
        return (
            f"ServerSentEvent(data={self.data!r}, event={self._event!r}, "
            f"id={self._id!r}, retry={self._retry!r})"
        )

    def __reduce__(self):
        return (type(self), (self.data, self._event, self._id, self._retry))


@cython.freelist(64)
@cython.no_gc
cdef class JSONLEvent:
    """One JSON Lines record.

    ``data`` may be given as ``str`` or as ``bytes``; bytes must be valid UTF-8, checked
    when ``data`` is first read. ``line`` and ``offset`` locate the record in its stream
    (1-based line number, byte offset of the line); ``None`` when unknown.
    """

    cdef bytes _raw
    cdef str _data
    cdef object _line
    cdef object _offset
    # Set by the decoder instead of _line/_offset: the ints are made only when read.
    cdef bint _lazy_location
    cdef long long _line_no
    cdef long long _stream_offset

    def __init__(self, data="", line=None, offset=None):
        if isinstance(data, str):
            self._raw = None
            self._data = _exact_str(data)
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
        self._lazy_location = False

    @property
    def data(self):
        """The record's text. Raises :class:`fastsse.JSONDecodeError` if not valid UTF-8."""
        if self._data is None:
            try:
                self._data = self._raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                self._locate()
                doc = self._raw.decode("utf-8", "replace")
                raise jsonl_error(
                    f"is not valid UTF-8 (byte {exc.start} of the record)",
                    self._line, self._offset, doc, exc.start,
                ) from None
        return self._data

    cdef inline void _locate(self):
        if self._lazy_location:
            self._lazy_location = False
            self._line = self._line_no
            self._offset = self._stream_offset

    @property
    def line(self):
        """The record's 1-based line number in the stream, or ``None``."""
        self._locate()
        return self._line

    @property
    def offset(self):
        """The byte offset of the record's line in the stream, or ``None``."""
        self._locate()
        return self._offset

    def json(self):
        """Parse the record with orjson (strict RFC 8259).

        Raises :class:`fastsse.JSONDecodeError`, naming the record's line, when it is not
        valid JSON or not valid UTF-8.
        """
        return self._json()

    cdef object _json(self):
        source = self._raw if self._raw is not None else self._data
        value = _loads_or_invalid(source)
        if value is not _INVALID:
            return value
        try:
            _loads(source)  # again, for orjson's error: this is the rare path
        except _OrjsonError as exc:
            if self._raw is not None:
                self.data  # raises the UTF-8 error first, if that is the fault
            self._locate()
            raise jsonl_error(
                f"is not valid JSON: {exc.msg} (char {exc.pos})",
                self._line, self._offset, exc.doc, exc.pos,
            ) from None

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        cdef JSONLEvent that = <JSONLEvent>other
        self._locate()
        that._locate()
        return (
            self._line == that._line
            and self._offset == that._offset
            and self._bytes() == that._bytes()
        )

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self):
        self._locate()
        return hash((self._bytes(), self._line, self._offset))

    cdef bytes _bytes(self):
        # Records compare by their bytes: equal events read the same, and a record with
        # invalid UTF-8 never equals one built from text.
        if self._raw is not None:
            return self._raw
        return self._data.encode("utf-8", "surrogatepass")

    cdef str _text(self):
        # For repr, which must not raise on invalid UTF-8.
        if self._data is not None:
            return self._data
        return self._raw.decode("utf-8", "surrogateescape")

    def __repr__(self):
        self._locate()
        return f"JSONLEvent(data={self._text()!r}, line={self._line!r}, offset={self._offset!r})"

    def __reduce__(self):
        self._locate()
        data = self._raw if self._raw is not None else self._data
        return (type(self), (data, self._line, self._offset))


# ----------------------------------------------------------------------- line decoders

# How _feed_into dispatches SSE events (see _LineDecoder._dispatch_as).
cdef enum:
    _AS_EVENTS = 0
    _AS_DATA = 1
    _AS_DATA_IF_PLAIN = 2


cdef class _LineDecoder:
    """What both decoders share: the stream-start BOM, the error that ends a stream, and
    ``feed`` returning the events completed before a fault."""

    # Buffers start zeroed (NULL, 0, 0): Cython allocates extension objects zero-filled.
    cdef Py_ssize_t _max_line
    cdef ByteBuffer _pending      # the unterminated line carried to the next chunk
    cdef object _bom_head         # bytes while the stream's first 3 bytes are unknown, else None
    cdef object _error
    # Set only during a _feed_into call for StreamItems: how SSE events are dispatched
    # (_AS_EVENTS, or as their data bytes alone for a loop that needs nothing else of
    # them: _AS_DATA always, _AS_DATA_IF_PLAIN for events named "message" with the
    # previous event's id and no retry, the others as events).
    cdef int _dispatch_as

    def __init__(self, max_line_size):
        self._max_line = check_limit("max_line_size", max_line_size)
        self._bom_head = _EMPTY
        self._error = None

    def __dealloc__(self):
        buffer_free(&self._pending)

    @property
    def max_line_size(self):
        return self._max_line

    def feed(self, chunk):
        """Decode the next chunk of the stream and return the events it completes.

        Raises :class:`fastsse.LimitExceeded` (:class:`fastsse.LineTooLong`, or for SSE
        :class:`fastsse.EventTooLarge`) when a limit is exceeded. Events completed before
        the fault are returned first; the error is then raised by the next call, and by
        every call after it.
        """
        cdef list out = []
        self._feed_into(chunk, out)
        return out

    cdef int _feed_into(self, chunk, list out, int dispatch_as=_AS_EVENTS) except -1:
        # Appends the events to out, which the caller gives empty.
        if self._error is not None:
            raise self._error
        cdef bytes data = _as_bytes(chunk)
        if self._bom_head is not None:
            data = self._strip_bom(data)
        if not PyBytes_GET_SIZE(data):
            return 0
        self._dispatch_as = dispatch_as
        try:
            self._feed(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), out)
        except Exception as exc:
            self._dispatch_as = _AS_EVENTS
            self._error = exc
            if out:
                return 0
            raise
        self._dispatch_as = _AS_EVENTS
        return 0

    cdef bytes _strip_bom(self, bytes data):
        cdef bytes head = <bytes>self._bom_head + data
        if len(head) < 3 and _BOM.startswith(head):
            self._bom_head = head
            return _EMPTY
        self._bom_head = None
        if head.startswith(_BOM):
            self._bom_stripped()
            return head[3:]
        return head

    cdef void _bom_stripped(self):
        pass

    cdef int _feed(self, const char* p, Py_ssize_t n, list out) except -1:
        raise NotImplementedError

    def __reduce__(self):
        raise TypeError(f"cannot pickle {type(self).__name__!r} object: a decoder is tied to one stream")


# -------------------------------------------------------------------------------- SSE

cdef object _parse_retry(const char* value, Py_ssize_t n):
    # ASCII digits only, at most 2**64 - 1 (as in the twin); anything else is ignored.
    cdef unsigned long long result = 0
    cdef unsigned long long digit
    cdef Py_ssize_t i
    if n == 0:
        return None
    for i in range(n):
        if value[i] < 48 or value[i] > 57:
            return None
    for i in range(n):
        digit = <unsigned long long>(value[i] - 48)
        if result > (18446744073709551615ULL - digit) // 10:
            return None
        result = result * 10 + digit
    return PyLong_FromUnsignedLongLong(result)


cdef class SSEDecoder(_LineDecoder):
    """Incremental ``text/event-stream`` decoder (WHATWG HTML, server-sent events).

    Feed it bytes as they arrive; it returns the events each chunk completes.
    """

    cdef Py_ssize_t _max_event
    cdef bint _after_cr           # the last chunk ended in CR: a leading LF is its pair
    # The data buffer, without its trailing LF: one data line (the common case) is kept
    # as the bytes object the event will hold; more lines are joined by LF in _data.
    cdef bytes _first_data
    cdef ByteBuffer _data
    cdef Py_ssize_t _data_size
    cdef Py_ssize_t _data_lines
    cdef bytes _type
    cdef bytes _last_type
    cdef str _last_type_str
    cdef bytes _id_buffer
    cdef bytes _id_committed
    cdef str _last_event_id
    cdef object _retry
    cdef object _block_retry
    cdef Py_ssize_t _discarded
    # The id of the last event dispatched as an event in _AS_DATA_IF_PLAIN mode: data
    # bytes dispatched after it have this id (set by the loop that reads them).
    cdef str _dispatched_id

    def __init__(self, *, max_line_size=DEFAULT_MAX_LINE_SIZE, max_event_size=DEFAULT_MAX_EVENT_SIZE):
        _LineDecoder.__init__(self, max_line_size)
        self._max_event = check_limit("max_event_size", max_event_size)
        self._after_cr = False
        self._first_data = None
        self._data_size = 0
        self._data_lines = 0
        self._type = _EMPTY
        self._last_type = _EMPTY
        self._last_type_str = _MESSAGE
        self._id_buffer = _EMPTY
        self._id_committed = _EMPTY
        self._last_event_id = ""
        self._retry = None
        self._block_retry = None
        self._discarded = 0
        self._dispatched_id = ""

    def __dealloc__(self):
        buffer_free(&self._data)

    @property
    def last_event_id(self):
        """The stream's last event ID string: what a reconnect sends as ``Last-Event-ID``."""
        return self._last_event_id

    @property
    def retry(self):
        """The stream's reconnection time in milliseconds, or ``None`` if never set."""
        return self._retry

    @property
    def discarded(self):
        """Bytes the last :meth:`flush` discarded: an unterminated line and the data of an
        event that never got its blank line. ``0`` when the stream ended between events."""
        return self._discarded

    @property
    def max_event_size(self):
        return self._max_event

    def flush(self):
        """End of stream: discard any unterminated event and return ``[]``.

        Raises the pending error, if a limit was exceeded.
        """
        if self._error is not None:
            raise self._error
        self._discarded = (
            (len(self._bom_head) if self._bom_head is not None else 0)
            + self._pending.length
            + (self._data_size + 1 if self._data_lines else 0)  # the spec's buffer ends in LF
        )
        self._bom_head = None
        buffer_reset(&self._pending)
        self._after_cr = False
        buffer_reset(&self._data)
        self._first_data = None
        self._data_size = 0
        self._data_lines = 0
        self._type = _EMPTY
        self._block_retry = None
        self._id_buffer = self._id_committed
        return []

    @cython.final
    cdef object _whole_event(self, bytes chunk):
        # The data bytes feeding chunk would dispatch, when it is one whole event of one
        # data line (b"data:", an optional space, a value, b"\n\n") and the decoder is
        # between events: the shape of most LLM token streams, each token flushed as a
        # chunk of its own. Found with one search and no event state; the decoder's state
        # after it is what feeding would leave. None for any other chunk or state.
        cdef Py_ssize_t n = PyBytes_GET_SIZE(chunk)
        cdef const char* p = PyBytes_AS_STRING(chunk)
        cdef Py_ssize_t start
        if n < 7 or p[n - 1] != 10 or p[n - 2] != 10 or memcmp(p, b"data:", 5) != 0:
            return None
        if not (
            self._error is None and self._bom_head is None and not self._pending.length
            and not self._after_cr and not self._data_lines and self._type is _EMPTY
            and self._block_retry is None and self._id_buffer is self._id_committed
        ):
            return None
        if fastsse_has_line_end(p + 5, p + n - 2):
            return None  # more lines, or a CR
        start = 6 if p[5] == 32 else 5
        if n - 2 > self._max_line or n - 2 - start > self._max_event:
            return None  # feeding raises the limit's error
        return PyBytes_FromStringAndSize(p + start, n - 2 - start)

    cdef int _feed(self, const char* p, Py_ssize_t n, list out) except -1:
        cdef Py_ssize_t pos = 0
        cdef Py_ssize_t end, nxt
        cdef const char* hit
        cdef fastsse_line_end_cache cache
        cache.lf = NULL
        cache.cr = NULL
        if n == 0:
            return 0
        if self._after_cr:
            self._after_cr = False
            if p[0] == 10:  # the LF of a CRLF split across chunks
                pos = 1
        while pos < n:
            if p[pos] == 10 and not self._pending.length:
                # A blank line (most often right after a data line): no search needed.
                self._dispatch(out)
                pos += 1
                continue
            hit = fastsse_line_end(p + pos, p + n, &cache)
            if hit == NULL:
                break
            end = hit - p
            if p[end] == 13:
                if end + 1 < n:
                    nxt = end + 2 if p[end + 1] == 10 else end + 1
                else:
                    nxt = end + 1
                    self._after_cr = True
            else:
                nxt = end + 1
            if self._pending.length:
                if end - pos > self._max_line - self._pending.length:
                    raise line_too_long(self._max_line, <object>self._pending.length + (end - pos))
                buffer_append(&self._pending, p + pos, end - pos)
                self._line(self._pending.ptr, self._pending.length, out)
                buffer_reset(&self._pending)
            else:
                if end - pos > self._max_line:
                    raise line_too_long(self._max_line, end - pos)
                self._line(p + pos, end - pos, out)
            pos = nxt
        if pos < n:
            if n - pos > self._max_line - self._pending.length:
                raise line_too_long(self._max_line, <object>self._pending.length + (n - pos))
            buffer_append(&self._pending, p + pos, n - pos)
        return 0

    @cython.final
    cdef int _line(self, const char* line, Py_ssize_t n, list out) except -1:
        cdef const char* colon
        cdef const char* value
        cdef Py_ssize_t name_len, value_len, separator
        if n == 0:
            return self._dispatch(out)
        if line[0] == 58:
            return 0
        if n >= 5 and line[4] == 58 and memcmp(line, b"data", 4) == 0:
            colon = line + 4  # most lines are data lines: no search
        else:
            colon = <const char*>memchr(line, 58, <size_t>n)
        if colon == NULL:
            name_len = n
            value = line + n
            value_len = 0
        else:
            name_len = colon - line
            value = colon + 1
            value_len = n - name_len - 1
            if value_len and value[0] == 32:
                value += 1
                value_len -= 1
        if name_len == 4 and memcmp(line, b"data", 4) == 0:
            separator = 1 if self._data_lines else 0
            # The data never exceeds the limit, so this subtraction cannot overflow.
            if value_len > self._max_event - self._data_size - separator:
                raise event_too_large(self._max_event, <object>self._data_size + value_len + separator)
            if self._data_lines == 0:
                self._first_data = PyBytes_FromStringAndSize(value, value_len)
            else:
                if self._data_lines == 1:
                    buffer_append(&self._data, PyBytes_AS_STRING(self._first_data), self._data_size)
                    self._first_data = None
                buffer_append(&self._data, b"\n", 1)
                buffer_append(&self._data, value, value_len)
            self._data_size += value_len + separator
            self._data_lines += 1
        elif name_len == 5 and memcmp(line, b"event", 5) == 0:
            if value_len == PyBytes_GET_SIZE(self._last_type) and memcmp(
                value, PyBytes_AS_STRING(self._last_type), <size_t>value_len
            ) == 0:
                self._type = self._last_type
            else:
                self._type = PyBytes_FromStringAndSize(value, value_len)
        elif name_len == 2 and memcmp(line, b"id", 2) == 0:
            if memchr(value, 0, <size_t>value_len) == NULL:
                if value_len == PyBytes_GET_SIZE(self._id_buffer) and memcmp(
                    value, PyBytes_AS_STRING(self._id_buffer), <size_t>value_len
                ) == 0:
                    pass
                else:
                    self._id_buffer = PyBytes_FromStringAndSize(value, value_len)
        elif name_len == 5 and memcmp(line, b"retry", 5) == 0:
            retry = _parse_retry(value, value_len)
            if retry is not None:
                self._retry = retry
                self._block_retry = retry
        return 0

    @cython.final
    cdef int _dispatch(self, list out) except -1:
        cdef ServerSentEvent event
        cdef bytes raw
        if self._id_buffer is not self._id_committed:
            self._id_committed = self._id_buffer
            self._last_event_id = self._id_buffer.decode("utf-8", "replace")
        if self._data_lines:
            if self._type is not self._last_type and self._type != self._last_type:
                self._last_type = self._type
                self._last_type_str = self._type.decode("utf-8", "replace") if self._type else _MESSAGE
            if self._data_lines == 1:
                raw = self._first_data
                self._first_data = None
            else:
                raw = PyBytes_FromStringAndSize(self._data.ptr, self._data.length)
                buffer_reset(&self._data)
            self._data_size = 0
            self._data_lines = 0
            if self._dispatch_as == _AS_DATA or (
                self._dispatch_as == _AS_DATA_IF_PLAIN
                and self._last_type_str is _MESSAGE
                and self._last_event_id is self._dispatched_id
                and self._block_retry is None
            ):
                _append(out, raw)
            else:
                event = ServerSentEvent.__new__(ServerSentEvent)
                event._raw = raw
                event._data = None
                event._event = self._last_type_str
                event._id = self._last_event_id
                event._retry = self._block_retry
                _append(out, event)
                self._dispatched_id = self._last_event_id
        self._type = _EMPTY
        self._block_retry = None
        return 0


# ------------------------------------------------------------------------- JSON Lines

cdef class JSONLDecoder(_LineDecoder):
    """Incremental JSON Lines decoder (``application/jsonl``, ``application/x-ndjson``).

    Records end at LF (a CR before it is dropped); blank lines are skipped; a final
    line without LF is a record. Records are parsed only when the event's ``json()``
    is called, and an invalid one raises :class:`fastsse.JSONDecodeError` there.
    """

    cdef long long _line_no
    cdef long long _offset        # stream offset of the first byte of the pending line

    def __init__(self, *, max_line_size=DEFAULT_MAX_LINE_SIZE):
        _LineDecoder.__init__(self, max_line_size)
        self._line_no = 0
        self._offset = 0

    def flush(self):
        """End of stream: return the final record if the stream did not end with LF."""
        if self._error is not None:
            raise self._error
        cdef bytes head
        if self._bom_head:  # a stream shorter than a BOM: its bytes are a record
            head = <bytes>self._bom_head
            buffer_append(&self._pending, PyBytes_AS_STRING(head), PyBytes_GET_SIZE(head))
        self._bom_head = None
        cdef list out = []
        if self._pending.length:
            try:
                if self._pending.length > self._max_line:  # its final CR is data: no LF follows
                    self._error = line_too_long(self._max_line, self._pending.length)
                    raise self._error
                self._record(self._pending.ptr, self._pending.length, out, False)
            finally:
                buffer_reset(&self._pending)
        return out

    cdef void _bom_stripped(self):
        self._offset = 3  # offsets count the stream's bytes, the BOM's included

    cdef inline bint _too_long(self, Py_ssize_t pending, Py_ssize_t more, bint ends_with_cr):
        # pending + more > max_line, written so it cannot overflow (pending <= max_line + 1
        # only while its last byte is a CR); a line's size excludes its CRLF or LF ending,
        # and a CR at the end of what has arrived may yet be the first half of a CRLF.
        cdef Py_ssize_t room = self._max_line - pending
        if more <= room:
            return False
        return not (ends_with_cr and more - 1 == room)

    cdef int _feed(self, const char* p, Py_ssize_t n, list out) except -1:
        cdef Py_ssize_t pos = 0
        cdef Py_ssize_t end, length
        cdef const char* hit
        while pos < n:
            hit = <const char*>memchr(p + pos, 10, <size_t>(n - pos))
            if hit == NULL:
                break
            end = hit - p
            length = end - pos
            if self._pending.length:
                if self._too_long(
                    self._pending.length, length,
                    (p[end - 1] if length else self._pending.ptr[self._pending.length - 1]) == 13,
                ):
                    raise line_too_long(self._max_line, <object>self._pending.length + length)
                buffer_append(&self._pending, p + pos, length)
                self._record(self._pending.ptr, self._pending.length, out)
                buffer_reset(&self._pending)
            else:
                if self._too_long(0, length, length and p[end - 1] == 13):
                    raise line_too_long(self._max_line, length)
                self._record(p + pos, length, out)
            pos = end + 1
        if pos < n:
            if self._too_long(self._pending.length, n - pos, p[n - 1] == 13):
                raise line_too_long(self._max_line, <object>self._pending.length + (n - pos))
            buffer_append(&self._pending, p + pos, n - pos)
        return 0

    @cython.final
    cdef int _record(self, const char* line, Py_ssize_t n, list out, bint ended_by_lf=True) except -1:
        cdef JSONLEvent event
        cdef long long offset = self._offset
        cdef Py_ssize_t i
        self._line_no += 1
        self._offset = offset + n + 1
        if ended_by_lf and n and line[n - 1] == 13:  # only a CR before an LF ends a line
            n -= 1
        for i in range(n):
            if line[i] != 32 and line[i] != 9 and line[i] != 13:
                break
        else:
            return 0  # blank or JSON whitespace only
        event = JSONLEvent.__new__(JSONLEvent)
        event._raw = PyBytes_FromStringAndSize(line, n)
        event._data = None
        event._lazy_location = True
        event._line_no = self._line_no
        event._stream_offset = offset
        _append(out, event)
        return 0


# ---------------------------------------------------------------------- stream items

cdef object _END = object()


cdef object _NEED_CHUNK = object()


cdef class _ItemsCore:
    """What StreamItems and AsyncStreamItems share: the batch of the last chunk's events,
    and each event's item. They differ only in how they get a chunk, and in awaiting."""

    cdef _LineDecoder _decoder
    cdef bint _sse
    # SSE with a callback needs only each event's data: the decoder hands over the bytes
    # and no event object is made.
    cdef bint _data_only
    cdef int _dispatch_as         # what the decoder's batch holds (see _LineDecoder)
    cdef bint _whole_events       # SSE whose plain events can skip the batch (_take)
    # Typed items (a TypedPlan, else None): each event's data bytes go to its model's
    # decode function; plain events arrive as their bytes, named "message", with the
    # id of the last event that arrived as an event (_current_id).
    cdef object _typed
    cdef object _decode           # the model's function, or None
    cdef object _message_decode   # the function of events named "message"
    cdef dict _by_name            # models by SSE event name, or None
    cdef object _post             # the deserialization callback given each value
    cdef Py_ssize_t _position     # the next event's position in the stream
    cdef str _current_id
    cdef object _callback
    cdef object _response
    cdef object _terminal
    cdef bytes _terminal_utf8     # see _terminal_bytes
    cdef object _on_end
    cdef list _batch              # one list for the stream's life, refilled per chunk
    cdef Py_ssize_t _index
    cdef bint _ended

    def __init__(self, decoder, callback, response, terminal, on_end, typed=None):
        cdef SSEDecoder sse
        if not isinstance(decoder, _LineDecoder):
            raise TypeError(f"a compiled decoder is needed, not {type(decoder).__name__}")
        self._decoder = <_LineDecoder>decoder
        self._sse = isinstance(decoder, SSEDecoder)
        self._typed = typed
        self._position = 0
        self._current_id = ""
        if typed is None:
            self._data_only = self._sse and callback is not None
            self._dispatch_as = _AS_DATA if self._data_only else _AS_EVENTS
        else:
            self._data_only = False
            self._decode = typed.decode
            self._by_name = typed.by_name
            self._message_decode = typed.decode_for("message")
            self._post = typed.post
            # Without a model for every name, a "message" event may be an item as it
            # is, so it must arrive as one.
            self._dispatch_as = (
                _AS_DATA_IF_PLAIN if self._sse and self._decode is not None else _AS_EVENTS
            )
            if self._sse:
                sse = <SSEDecoder>decoder
                sse._dispatched_id = sse._last_event_id
                self._current_id = sse._last_event_id
        self._whole_events = self._sse and self._dispatch_as != _AS_EVENTS
        self._callback = callback
        self._response = response
        self._terminal = terminal
        self._terminal_utf8 = _terminal_bytes(terminal, self._sse or callback is not None)
        self._on_end = on_end
        self._batch = []
        self._index = 0
        self._ended = False

    @cython.final
    cdef object _next_ready(self):
        # The next item of the batch; _END at the terminal event or after the last chunk;
        # _NEED_CHUNK when the batch is spent (it is then emptied, to be refilled).
        cdef object event
        if self._index < PyList_GET_SIZE(self._batch):
            event = <object>PyList_GET_ITEM(self._batch, self._index)
            self._index += 1
            if self._data_only:
                return self._data_item(<bytes>event)
            if self._typed is not None:
                return self._typed_item(event)
            if self._terminal is not None and _is_terminal_event(event, self._sse, self._terminal, self._terminal_utf8):
                self.close()
                return _END
            if self._callback is None:
                return event
            return self._callback(self._response, (<JSONLEvent>event)._json())
        if self._ended:
            return _END
        self._index = 0
        _empty(self._batch)
        return _NEED_CHUNK

    @cython.final
    cdef object _data_item(self, bytes raw):
        # The item of an SSE event given as its data bytes (data-only mode).
        if self._terminal is not None and _is_terminal_data(raw, self._terminal, self._terminal_utf8):
            self.close()
            return _END
        return self._callback(self._response, _sse_json_of(raw))

    @cython.final
    cdef object _typed_item(self, object event):
        # The item of the batch's next entry in typed mode: data bytes or an event.
        cdef ServerSentEvent sse_event
        cdef object decode
        cdef Py_ssize_t position = self._position
        self._position += 1
        if type(event) is bytes:
            if self._terminal is not None and _is_terminal_data(<bytes>event, self._terminal, self._terminal_utf8):
                self.close()
                return _END
            return self._typed_value(
                <bytes>event, self._message_decode, position, _MESSAGE, self._current_id
            )
        if self._terminal is not None and _is_terminal_event(event, self._sse, self._terminal, self._terminal_utf8):
            self.close()
            return _END
        if not self._sse:
            return self._record_value(<JSONLEvent>event, position)
        sse_event = <ServerSentEvent>event
        self._current_id = sse_event._id
        decode = self._decode
        if self._by_name is not None:
            decode = self._by_name.get(sse_event._event, decode)
        if decode is None:  # no model for this name: the item it is without one
            if self._post is None:
                return event
            return self._post(self._response, sse_event._json())
        return self._typed_value(sse_event._raw, decode, position, sse_event._event, sse_event._id)

    @cython.final
    cdef object _typed_value(self, bytes raw, object decode, Py_ssize_t position, str name, str event_id):
        # decode(raw), given to the callback if there is one. No try block per event: the
        # call's NULL says it failed.
        cdef object value
        cdef PyObject* result = PyObject_CallOneArg(decode, raw)
        if result != NULL:
            value = <object>result
            Py_DECREF(value)  # the call's reference, now held by value
        elif PyErr_ExceptionMatches(ValueError):
            value = self._sse_failure(raw, decode, position, name, event_id)
        else:
            _raise_current()
        if self._post is None:
            return value
        return self._post(self._response, value)

    @cython.final
    cdef object _sse_failure(self, bytes raw, object decode, Py_ssize_t position, str name, str event_id):
        # The value of data that did not decode as bytes (read as text, when it is not
        # UTF-8), or the ValidationError; see TypedPlan.failed.
        try:
            _raise_current()
        except ValueError as exc:
            return self._typed.failed(exc, decode, raw, position, name, event_id)

    @cython.final
    cdef object _record_value(self, JSONLEvent event, Py_ssize_t position):
        cdef object value
        cdef PyObject* result = PyObject_CallOneArg(self._decode, event._raw)
        if result != NULL:
            value = <object>result
            Py_DECREF(value)
        elif PyErr_ExceptionMatches(ValueError):
            try:
                _raise_current()
            except ValueError as exc:
                self._typed.record_failed(exc, self._decode, event, position)
        else:
            _raise_current()
        if self._post is None:
            return value
        return self._post(self._response, value)

    @cython.final
    cdef object _take(self, chunk):
        # The next chunk, or _END when there are no more. A chunk that is one whole
        # event in data-only mode gives its item at once (see SSEDecoder._whole_event);
        # otherwise its events are decoded into the batch and _NEED_CHUNK is returned.
        cdef object raw
        if type(chunk) is bytes:
            if self._whole_events:
                raw = (<SSEDecoder>self._decoder)._whole_event(<bytes>chunk)
                if raw is not None:
                    if self._data_only:
                        return self._data_item(<bytes>raw)
                    return self._whole_typed_item(<bytes>raw)
            if PyBytes_GET_SIZE(chunk):
                self._decoder._feed_into(chunk, self._batch, self._dispatch_as)
        elif chunk is _END:
            self._ended = True
            self._batch = self._decoder.flush()
            self._on_end()
        elif chunk:  # clients may yield empty chunks, or None, between data
            self._decoder._feed_into(chunk, self._batch, self._dispatch_as)
        return _NEED_CHUNK

    @cython.final
    cdef object _whole_typed_item(self, bytes raw):
        # A whole one-line event named "message", with the id in force (which an id-only
        # block before it may have changed since the last event).
        cdef Py_ssize_t position = self._position
        self._position += 1
        if self._terminal is not None and _is_terminal_data(raw, self._terminal, self._terminal_utf8):
            self.close()
            return _END
        return self._typed_value(
            raw, self._message_decode, position, _MESSAGE,
            (<SSEDecoder>self._decoder)._last_event_id,
        )

    def close(self):
        """Yield nothing more."""
        self._ended = True
        PyList_SetSlice(self._batch, 0, PY_SSIZE_T_MAX, NULL)


cdef class StreamItems(_ItemsCore):
    """The items of a stream that only maps its events: each event, or
    ``callback(response, event.json())`` when a callback is given, until an event whose
    data equals ``terminal`` (not yielded) or the end of ``chunks``.

    With ``typed`` (a ``TypedPlan``), each event's data bytes decoded into its model
    instead (plain events reach the loop as their bytes: no event object is made).

    This is the loop :class:`fastsse.Stream` runs for most streams, one C call per item.
    At the end of ``chunks`` the decoder is flushed, then ``on_end()`` is called, once.
    Errors from the decoder, the callback and ``chunks`` propagate; the caller closes
    the stream.
    """

    cdef object _chunks

    def __init__(self, decoder, chunks, callback, response, terminal, on_end, typed=None):
        _ItemsCore.__init__(self, decoder, callback, response, terminal, on_end, typed)
        self._chunks = iter(chunks)

    def __iter__(self):
        return self

    def __next__(self):
        item = self._next_item()
        if item is _END:
            raise StopIteration
        return item

    cdef object _next_item(self):
        # The next item, or _END.
        cdef object item = self._next_ready()
        while item is _NEED_CHUNK:
            item = self._take(next(self._chunks, _END))
            if item is _NEED_CHUNK:
                item = self._next_ready()
        return item


cdef class AsyncStreamItems(_ItemsCore):
    """:class:`StreamItems` for ``AsyncStream``: ``chunks`` is an async iterator, and
    ``callback`` may return an awaitable (``awaits``: it is a coroutine function), which
    is awaited. Iterate with ``async for``; ``on_end()`` is called as for StreamItems."""

    cdef object _chunks
    cdef bint _awaits

    def __init__(self, decoder, chunks, callback, awaits, response, terminal, on_end, typed=None):
        _ItemsCore.__init__(self, decoder, callback, response, terminal, on_end, typed)
        self._chunks = chunks
        self._awaits = awaits

    def __aiter__(self):
        return self

    async def __anext__(self):
        cdef object item = self._next_ready()
        while item is _NEED_CHUNK:
            try:
                chunk = await self._chunks.__anext__()
            except StopAsyncIteration:
                chunk = _END
            item = self._take(chunk)
            if item is _NEED_CHUNK:
                item = self._next_ready()
        if item is _END:
            raise StopAsyncIteration
        return (await item) if self._awaits else item

    # The same loop, for a driver that awaits the chunks itself (AsyncStream's async
    # generator): no coroutine per item. An item is NEED_CHUNK (await the next chunk of
    # ``chunks``, give it to step(), or END when there are none), END (the stream is
    # over), or the item, to be awaited when ``awaits``.

    def ready(self):
        """The next item from the chunks already given, NEED_CHUNK or END."""
        return self._next_ready()

    def step(self, chunk):
        """Give the next chunk (END at the end of the chunks); what :meth:`ready` gives."""
        cdef object item = self._take(chunk)
        if item is _NEED_CHUNK:
            item = self._next_ready()
        return item

    @property
    def chunks(self):
        return self._chunks

    @property
    def awaits(self):
        return self._awaits


NEED_CHUNK = _NEED_CHUNK
END = _END


cdef bytes _terminal_bytes(terminal, bint compare_raw):
    # The terminal's UTF-8, to compare with an event's raw bytes instead of decoding its
    # data: raw == it exactly when data == terminal, for SSE data (decoded with U+FFFD
    # for invalid bytes) as long as the terminal has no U+FFFD itself, and for JSON Lines
    # when json() follows (invalid UTF-8 raises there as .data would). None otherwise.
    if terminal is None or not compare_raw or "\ufffd" in terminal:
        return None
    try:
        return terminal.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no decoded data equals it
        return None


cdef bint _is_terminal_event(event, bint sse, terminal, bytes terminal_utf8) except -1:
    cdef bytes raw = (<ServerSentEvent>event)._raw if sse else (<JSONLEvent>event)._raw
    if terminal_utf8 is None or raw is None:
        return event.data == terminal
    return _same_bytes(raw, terminal_utf8)


cdef bint _is_terminal_data(bytes raw, terminal, bytes terminal_utf8) except -1:
    if terminal_utf8 is None:
        return raw.decode("utf-8", "replace") == terminal
    return _same_bytes(raw, terminal_utf8)


cdef inline bint _same_bytes(bytes a, bytes b):
    return PyBytes_GET_SIZE(a) == PyBytes_GET_SIZE(b) and memcmp(
        PyBytes_AS_STRING(a), PyBytes_AS_STRING(b), <size_t>PyBytes_GET_SIZE(a)
    ) == 0


cdef object _sse_json_of(bytes raw):
    # ServerSentEvent(raw).json() without the event, unless the JSON is invalid: then
    # the event's own json() raises its exact error.
    cdef ServerSentEvent event
    value = _loads_or_invalid(raw)
    if value is not _INVALID:
        return value
    event = ServerSentEvent.__new__(ServerSentEvent)
    event._raw = raw
    return event._json()


cdef class GuardedItems:
    """One loop over a stream: the items of ``start()`` (called at the first item),
    and ``close()`` called once when they end, when one raises, or when this iterator is
    dropped unfinished (a ``for`` loop left by ``break`` or an exception)."""

    cdef object _start
    cdef object _close
    cdef object _items
    cdef bint _done

    def __init__(self, start, close):
        self._start = start
        self._close = close
        self._items = None
        self._done = False

    def __iter__(self):
        return self

    def __next__(self):
        cdef PyObject* item
        if self._done:
            raise StopIteration
        if self._items is None:
            try:
                self._items = iter(self._start())
            except BaseException:
                self.close()
                raise
        if type(self._items) is StreamItems:
            try:
                result = (<StreamItems>self._items)._next_item()
            except BaseException:
                self.close()
                raise
            if result is _END:
                self.close()
                raise StopIteration
            return result
        item = PyIter_Next(self._items)
        if item != NULL:
            result = <object>item
            Py_DECREF(result)  # PyIter_Next's reference, now held by result
            return result
        try:
            if PyErr_Occurred() != NULL:
                _raise_current()
        except BaseException:
            self.close()
            raise
        self.close()
        raise StopIteration

    def close(self):
        """End the loop: no more items, and the stream is closed."""
        if not self._done:
            self._done = True
            self._close()

    def __del__(self):
        self.close()
