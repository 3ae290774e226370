# cython: language_level=3, boundscheck=False, wraparound=False
"""The least a decoder with fastsse's API can cost per event, for ``compare.py``.

A decoder's ``feed(chunk)`` returns a list of event objects, each holding its data as a
bytes object of its own, and ``ev.json()`` hands those bytes to ``orjson.loads``. These
functions do exactly that and nothing else: the events' positions in the chunk are
given (no line search, no field parsing, no state), each event object has one field,
and it is built and freed the cheapest way Cython allows (a free list, no GC tracking).

- ``located_events(blob, spans)``: the event objects of the payloads at ``spans``;
- ``located_payloads(blob, spans)``: the same payloads as bare bytes objects, with no
  event object: the least any decoder can hand ``orjson.loads``;
- ``located_spans(blob, spans)``: event objects that hold the chunk and their payload's
  position in it instead of a copy, and whose ``json()`` copies the payload into one
  reused buffer for ``orjson.loads``: a design with no bytes object per event;
- ``CutPayloads(chunks, callback, response, terminal)``: what a ``Stream`` with a
  callback yields over chunks that are each one event, ``b"data: " + payload + b"\n\n"``,
  known to be so: each payload cut out at those offsets, parsed, given to the callback.

Timing ``for ev in located_events(...): ev.json()`` against ``orjson.loads`` alone on
prebuilt payloads shows what this API costs next to the JSON, whatever the decoder does
to find its events.
"""

cimport cython
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_Resize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.string cimport memcpy
from cpython.list cimport PyList_Append

import orjson

cdef object _loads = orjson.loads


@cython.final
@cython.freelist(64)
@cython.no_gc
cdef class LocatedEvent:
    cdef bytes _raw

    def json(self):
        return _loads(self._raw)


def located_events(bytes blob, list spans):
    cdef list out = []
    cdef const char* start = PyBytes_AS_STRING(blob)
    cdef Py_ssize_t begin, end
    cdef LocatedEvent event
    for begin, end in spans:
        event = LocatedEvent.__new__(LocatedEvent)
        event._raw = PyBytes_FromStringAndSize(start + begin, end - begin)
        PyList_Append(out, event)
    return out


cdef bytearray _buffer = bytearray()


@cython.final
@cython.freelist(64)
@cython.no_gc
cdef class SpanEvent:
    cdef bytes _chunk
    cdef Py_ssize_t _start
    cdef Py_ssize_t _size

    def json(self):
        # orjson does not run Python code while it parses, so one buffer serves every call.
        PyByteArray_Resize(_buffer, self._size)
        memcpy(PyByteArray_AS_STRING(_buffer), PyBytes_AS_STRING(self._chunk) + self._start, self._size)
        return _loads(_buffer)


def located_spans(bytes blob, list spans):
    cdef list out = []
    cdef Py_ssize_t begin, end
    cdef SpanEvent event
    for begin, end in spans:
        event = SpanEvent.__new__(SpanEvent)
        event._chunk = blob
        event._start = begin
        event._size = end - begin
        PyList_Append(out, event)
    return out


def located_payloads(bytes blob, list spans):
    cdef list out = []
    cdef const char* start = PyBytes_AS_STRING(blob)
    cdef Py_ssize_t begin, end
    for begin, end in spans:
        PyList_Append(out, PyBytes_FromStringAndSize(start + begin, end - begin))
    return out


@cython.final
cdef class CutPayloads:
    cdef object _chunks
    cdef object _callback
    cdef object _response
    cdef bytes _end  # the chunk of the terminal event: the iteration stops there

    def __init__(self, chunks, callback, response, str terminal):
        self._chunks = iter(chunks)
        self._callback = callback
        self._response = response
        self._end = b"data: " + terminal.encode() + b"\n\n"

    def __iter__(self):
        return self

    def __next__(self):
        cdef bytes chunk = next(self._chunks)
        if chunk == self._end:
            raise StopIteration
        payload = PyBytes_FromStringAndSize(PyBytes_AS_STRING(chunk) + 6, PyBytes_GET_SIZE(chunk) - 8)
        return self._callback(self._response, _loads(payload))
