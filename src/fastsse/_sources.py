"""Adapters at the edge: the bytes, status, headers and close of each client's response.

A response is recognised by the module its type comes from, so fastsse never imports an
HTTP library. Every adapter reads what has arrived instead of filling fixed blocks (an
event must reach the user as soon as its bytes do) and knows how to close its response
so that a pooled connection is returned when the body was read to its end, and closed
otherwise.

A body that ends abnormally (a reset, a truncated chunked body, fewer bytes than its
Content-Length, a read timeout) raises :class:`~fastsse.ConnectionLost` chained from the
client's own exception. Each adapter names the client's exception types that mean so,
looked up in the client's module (loaded, since its response is in hand); any other
exception propagates as it is, so a bug or a user's error is never taken for a lost
connection.
"""

from __future__ import annotations

import inspect
import socket
import sys
from typing import Any, AsyncIterator, Callable, Iterable, Iterator, Optional, Tuple, Type

from ._errors import ConnectionLost

__all__ = ["Source", "AsyncSource", "sync_source", "async_source", "unwrap"]

Errors = Tuple[Type[BaseException], ...]

READ_SIZE = 64 * 1024
_HTTPX = ("httpx", "httpx2")
_PIPELINE_STACKS = ("azure", "corehttp")
_PIPELINE_ERRORS = {"azure": "azure.core.exceptions", "corehttp": "corehttp.exceptions"}


def _library(obj: Any) -> str:
    return type(obj).__module__.partition(".")[0]


def unwrap(response: Any) -> Any:
    """The HTTP response inside a wrapper such as azure-core's ``PipelineResponse``."""
    seen = 0
    while seen < 4:  # wrappers wrap once or twice; a cycle must not hang us
        inner = getattr(response, "http_response", None)
        if inner is None or inner is response:
            return response
        response = inner
        seen += 1
    return response


def _status(response: Any) -> Optional[int]:
    for name in ("status_code", "status"):
        value = getattr(response, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _reason(response: Any) -> Optional[str]:
    for name in ("reason_phrase", "reason"):
        value = getattr(response, name, None)
        if isinstance(value, str):
            return value
    return None


def _maybe_call(obj: Any, name: str) -> Any:
    method = getattr(obj, name, None)
    return method() if method is not None else None


class _SourceBase:
    """What a response offers the stream: status, headers, and how to read and close it.

    ``chunks`` opens the body's iterator; ``close(finished)`` ends the response, told
    whether the body was read to its end (so a pooled connection can be kept).
    ``lost`` is the client's exception types that mean the connection was lost
    (``lost_unless`` refines it: ``lost_unless(exc)`` true keeps ``exc`` as it is);
    ``expected_length`` the body's length when its Content-Length gives it, so a body that
    ends short raises even when the client does not notice. Readers that guard their own
    reads (``guarded=True``) are not wrapped again.
    """

    def __init__(
        self,
        response: Any,
        chunks: Callable[[], Any],
        close: Callable[[bool], Any],
        *,
        lost: Errors = (),
        lost_unless: Optional[Callable[[BaseException], bool]] = None,
        expected_length: Optional[int] = None,
        guarded: bool = False,
    ) -> None:
        self.response = response
        self.status = _status(response)
        self.reason = _reason(response)
        self.headers = getattr(response, "headers", None)
        self._open_chunks = chunks
        self._close = close
        self._iterator: Any = None
        self._guard: Any = None
        self._finished = False  # the body was read to its end
        self._closed = False
        self.lost_errors = lost
        self._lost_unless = lost_unless
        self.expected_length = expected_length
        self._guarded = guarded or not lost
        self.decoder: Any = None  # what a ConnectionLost reports the progress of
        self._inner: Optional[_SourceBase] = None

    def set_decoder(self, decoder: Any) -> None:
        """The decoder fed from this source: a :class:`ConnectionLost` reports its
        ``last_event_id`` and how many events it had dispatched."""
        self.decoder = decoder
        if self._inner is not None:
            self._inner.set_decoder(decoder)

    def finished(self) -> None:
        """Whoever reads the iterator :meth:`open` gave to its end says so here."""
        self._finished = True

    def is_lost(self, exc: BaseException) -> bool:
        """``exc``, raised while reading the body, means the connection was lost."""
        if not isinstance(exc, self.lost_errors):
            return False
        return self._lost_unless is None or not self._lost_unless(exc)

    def lost(self, cause: Optional[BaseException], received: int = 0) -> ConnectionLost:
        """The :class:`ConnectionLost` to raise (``from cause``) at this point of the stream."""
        decoder = self.decoder
        last_event_id = getattr(decoder, "last_event_id", "") or ""
        delivered = int(getattr(decoder, "dispatched", 0) or 0)
        if cause is None:
            why = (
                f"the body ended after {received} of the {self.expected_length} bytes "
                "its Content-Length announced"
            )
        else:
            detail = str(cause)
            why = type(cause).__name__ + (f": {detail}" if detail else "")
        progress = f"after {delivered} event{'' if delivered == 1 else 's'}"
        if last_event_id:
            progress += f" (last event ID {last_event_id!r})"
        return ConnectionLost(
            f"the connection was lost before the end of the stream, {progress}: {why}",
            last_event_id=last_event_id,
            events_delivered=delivered,
        )

    def check_length(self, received: int) -> None:
        """Raise :class:`ConnectionLost` if the body ended short of its Content-Length."""
        if self.expected_length is not None and received < self.expected_length:
            raise self.lost(None, received)


class Source(_SourceBase):
    """A sync response: ``chunks`` yields its body as it arrives; ``close()`` ends it."""

    def chunks(self) -> Iterator[bytes]:
        """The body's non-empty chunks; reading them to the end marks the body finished."""
        for chunk in self.open():
            if chunk:
                yield chunk
        self._finished = True

    def open(self) -> Iterator[Any]:
        """The body's iterator as the client gives it (chunks may be empty); a lost
        connection raises :class:`ConnectionLost` from it."""
        self._iterator = iter(self._open_chunks())
        if self._guarded:
            return self._iterator  # type: ignore[no-any-return]
        self._guard = _guarded(self._iterator, self)
        return self._guard  # type: ignore[no-any-return]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            for iterator in (self._guard, self._iterator):
                close_iterator = getattr(iterator, "close", None)
                # A generator cannot be closed while it runs (a callback closing its own
                # stream from inside a read); it is dropped instead.
                if close_iterator is not None and not getattr(iterator, "gi_running", False):
                    close_iterator()
        finally:
            self._close(self._finished)


def _guarded(chunks: Iterator[Any], source: _SourceBase) -> Iterator[Any]:
    received = 0
    try:
        for chunk in chunks:
            if chunk:
                received += len(chunk)
            yield chunk
    except Exception as exc:
        if source.is_lost(exc):
            raise source.lost(exc) from exc
        raise
    source.check_length(received)


async def _async_chunks(chunks: Iterator[Any]) -> AsyncIterator[Any]:
    for chunk in chunks:
        yield chunk


class AsyncSource(_SourceBase):
    """An async response: ``chunks`` yields its body as it arrives; ``aclose()`` ends it."""

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body's non-empty chunks; reading them to the end marks the body finished."""
        async for chunk in self.open():
            if chunk:
                yield chunk
        self._finished = True

    def open(self) -> AsyncIterator[Any]:
        """The body's async iterator as the client gives it (chunks may be empty); a lost
        connection raises :class:`ConnectionLost` from it."""
        opened = self._open_chunks()
        if hasattr(opened, "__aiter__"):
            self._iterator = opened.__aiter__()
            if self._guarded:
                return self._iterator  # type: ignore[no-any-return]
            return _AsyncGuarded(self._iterator, self)
        self._iterator = iter(opened)  # a sync iterable handed to AsyncStream
        return _async_chunks(self._iterator)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            close_iterator = getattr(self._iterator, "aclose", None) or getattr(
                self._iterator, "close", None
            )
            if close_iterator is not None:
                result = close_iterator()
                if inspect.isawaitable(result):
                    await result
        finally:
            await self._close(self._finished)


class _AsyncGuarded:
    """:func:`_guarded` for async iterators. A class, not an async generator: an async
    generator left unfinished is closed by a task the event loop schedules, one per
    stream."""

    __slots__ = ("_chunks", "_source", "_received")

    def __init__(self, chunks: AsyncIterator[Any], source: _SourceBase) -> None:
        self._chunks = chunks
        self._source = source
        self._received = 0

    def __aiter__(self) -> "_AsyncGuarded":
        return self

    async def __anext__(self) -> Any:
        try:
            chunk = await self._chunks.__anext__()
        except StopAsyncIteration:
            self._source.check_length(self._received)
            raise
        except Exception as exc:
            if self._source.is_lost(exc):
                raise self._source.lost(exc) from exc
            raise
        if chunk:
            self._received += len(chunk)
        return chunk

    async def aclose(self) -> None:
        await _aclose_if_any(self._chunks)


# ------------------------------------------------------------------------------ lengths


def _header(headers: Any, name: str) -> Optional[str]:
    getter = getattr(headers, "get", None)
    if getter is None:
        return None
    value = getter(name)
    return value if isinstance(value, str) else None


def _identity(headers: Any) -> bool:
    encoding = _header(headers, "content-encoding")
    return encoding is None or encoding.strip().lower() in ("", "identity")


def _expected_length(response: Any, method: Optional[str]) -> Optional[int]:
    """The body's length by its Content-Length, when the bytes read can be held to it."""
    headers = getattr(response, "headers", None)
    length = _header(headers, "content-length")
    if length is None or not length.strip().isdigit():
        return None
    if _header(headers, "transfer-encoding") is not None or not _identity(headers):
        return None  # chunked framing wins; a decoded body has another length
    if method is not None and method.upper() == "HEAD":
        return None
    if _status(response) in (204, 304):
        return None
    return int(length)


def _method(request: Any) -> Optional[str]:
    # http.client's response keeps its request's method as _method.
    method = getattr(request, "method", None) or getattr(request, "_method", None)
    return method if isinstance(method, str) else None


# ------------------------------------------------------------------------------ reading


def _read_loop(read: Callable[[int], bytes]) -> Iterator[bytes]:
    while True:
        chunk = read(READ_SIZE)
        if not chunk:
            return
        yield chunk


def _urllib3_reader(raw: Any) -> Iterable[bytes]:
    if getattr(raw, "chunked", False) and _maybe_call(raw, "supports_chunked_reads"):
        # One HTTP chunk per read, straight from urllib3's chunk parser: half the cost of
        # read1 per chunk, and as prompt (a chunk is handed over once it has arrived).
        return raw.read_chunked(READ_SIZE, decode_content=True)  # type: ignore[no-any-return]
    if hasattr(raw, "read1"):
        # read1 returns what has arrived; read(n) and stream(n) would wait for n bytes,
        # holding events back behind a slow server.
        return _read_loop(lambda size: raw.read1(size, decode_content=True))
    return raw.stream(None, decode_content=True)  # type: ignore[no-any-return]


def _urllib3_lost_errors() -> Errors:
    errors = sys.modules["urllib3.exceptions"]
    return (errors.ProtocolError, errors.ReadTimeoutError)


def _urllib3_not_lost(exc: BaseException) -> bool:
    # Raised when read_chunked is asked for a body that is not chunked: a bug, not a loss.
    return type(exc).__name__ == "ResponseNotChunked"


def _urllib3_source(raw: Any) -> Source:
    return Source(
        raw,
        lambda: _urllib3_reader(raw),
        lambda finished: _close_urllib3(raw, finished),
        lost=_urllib3_lost_errors(),
        lost_unless=_urllib3_not_lost,
        expected_length=_expected_length(raw, _method(getattr(raw, "_original_response", None))),
    )


def _close_urllib3(raw: Any, finished: bool) -> None:
    if finished:
        raw.release_conn()  # read to its end: the connection goes back to the pool
    else:
        raw.close()  # mid-body: the connection cannot be reused
        _maybe_call(raw, "release_conn")


def _requests_chunks(raw: Any, source: Source) -> Iterator[bytes]:
    # Reading urllib3 directly skips requests' translation of its errors; redo it, so a
    # requests user still finds requests' exceptions (as ConnectionLost's cause, or raised
    # as they are). requests is loaded: its response is in hand.
    requests_errors = sys.modules["requests.exceptions"]
    urllib3_errors = sys.modules["urllib3.exceptions"]
    received = 0
    try:
        for chunk in _urllib3_reader(raw):
            received += len(chunk)
            yield chunk
    except urllib3_errors.ProtocolError as exc:
        if _urllib3_not_lost(exc):
            raise
        error = _chained(requests_errors.ChunkedEncodingError(exc), exc)
        raise source.lost(error) from error
    except urllib3_errors.ReadTimeoutError as exc:
        error = _chained(requests_errors.ConnectionError(exc), exc)
        raise source.lost(error) from error
    except urllib3_errors.DecodeError as exc:
        raise requests_errors.ContentDecodingError(exc) from exc
    except urllib3_errors.SSLError as exc:
        raise requests_errors.SSLError(exc) from exc
    source.check_length(received)


def _chained(error: BaseException, cause: BaseException) -> BaseException:
    # As `raise error from cause` would leave it, without raising it.
    error.__cause__ = cause
    return error


def _requests_source(response: Any, owner: Any = None) -> Source:
    raw = getattr(response, "raw", None)
    expected_length = _expected_length(response, _method(getattr(response, "request", None)))

    def close(finished: bool) -> None:
        if finished and raw is not None:
            _maybe_call(raw, "release_conn")
        (owner or response).close()

    if (
        raw is not None
        and getattr(response, "_content_consumed", False) is False
        and hasattr(raw, "read1")
    ):
        source = Source(
            owner or response,
            lambda: _requests_chunks(raw, source),
            close,
            expected_length=expected_length,
            guarded=True,
        )
        return source
    # Already read, or urllib3 1.x: requests' own iterator, as data arrives.
    return Source(
        owner or response,
        lambda: response.iter_content(chunk_size=None),
        close,
        lost=_requests_lost_errors(),
        expected_length=expected_length,
    )


def _file_chunks(source: Any) -> Callable[[], Iterable[bytes]]:
    read = getattr(source, "read1", None) or source.read
    return lambda: _read_loop(read)


def _file_lost_errors() -> Errors:
    # What a socket-backed file (http.client's response, socket.makefile) raises when the
    # peer goes away or a read times out; socket.timeout is TimeoutError only from 3.10.
    errors: Errors = (ConnectionError, TimeoutError, socket.timeout)
    http_client = sys.modules.get("http.client")
    if http_client is not None:
        errors += (http_client.IncompleteRead,)
    return errors


# ------------------------------------------------------------------------------- httpx


def _httpx_lost_errors(response: Any) -> Errors:
    httpx = sys.modules[_library(response)]
    # Mid-body, a timeout is a read timeout and a network error a read error; a protocol
    # error from the peer is a truncated or broken body.
    return (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


def _httpx_raw_readable(response: Any, sync: bool) -> bool:
    # Below iter_bytes only when it would add nothing but its own cost: no content
    # encoding to undo, the body neither read nor closed, a stream of the right kind.
    if hasattr(response, "_content") or not _identity(response.headers):
        return False
    if getattr(response, "is_stream_consumed", True) or getattr(response, "is_closed", True):
        return False
    if not hasattr(response, "_num_bytes_downloaded"):
        return False
    stream = getattr(response, "stream", None)
    return hasattr(stream, "__iter__" if sync else "__aiter__")


def _with_request(exc: BaseException, response: Any) -> BaseException:
    # What httpx's iter_raw does for its errors: say which request failed.
    if getattr(exc, "_request", False) is None:
        request = getattr(response, "_request", None)
        if request is not None:
            exc.request = request  # type: ignore[attr-defined]
    return exc


def _httpx_raw_chunks(response: Any, source: Source) -> Iterator[bytes]:
    # The transport's chunks as iter_raw gets them, without its two generator layers and
    # its re-chunker; the response's bookkeeping kept as iter_raw keeps it.
    response.is_stream_consumed = True
    response._num_bytes_downloaded = received = 0
    try:
        for chunk in response.stream:
            received += len(chunk)
            response._num_bytes_downloaded = received
            yield chunk
    except Exception as exc:
        if source.is_lost(exc):
            raise source.lost(_with_request(exc, response)) from exc
        raise
    source.check_length(received)


def _httpx_source(response: Any, owner: Any = None) -> Source:
    target = owner or response
    lost = _httpx_lost_errors(response)

    def chunks() -> Iterable[bytes]:
        if _httpx_raw_readable(response, sync=True):
            return _httpx_raw_chunks(response, source)
        return _guarded(iter(response.iter_bytes()), source)

    source = Source(
        target,
        chunks,
        lambda finished: target.close(),
        lost=lost,
        expected_length=_expected_length(response, _method(getattr(response, "_request", None))),
        guarded=True,
    )
    return source


def sync_source(response: Any) -> Source:
    """The :class:`Source` of a response, iterable of bytes or binary file."""
    inner = unwrap(response)
    library = _library(inner)
    if library in _HTTPX and hasattr(inner, "iter_bytes"):
        return _httpx_source(inner)
    if library == "requests" and hasattr(inner, "iter_content"):
        return _requests_source(inner)
    if library == "urllib3" and hasattr(inner, "release_conn"):
        return _urllib3_source(inner)
    if library in _PIPELINE_STACKS:
        return _pipeline_source(inner)
    if isinstance(inner, (bytes, bytearray, memoryview)):
        return Source(inner, lambda: (bytes(inner),), lambda finished: None)
    if hasattr(inner, "iter_bytes"):
        return Source(inner, inner.iter_bytes, lambda finished: _maybe_call(inner, "close"))
    if hasattr(inner, "read1") or hasattr(inner, "read"):
        return Source(
            inner,
            _file_chunks(inner),
            lambda finished: _maybe_call(inner, "close"),
            lost=_file_lost_errors(),
            expected_length=_expected_length(inner, _method(inner)),
        )
    if hasattr(inner, "__iter__"):
        return Source(inner, lambda: inner, lambda finished: _maybe_call(inner, "close"))
    if hasattr(inner, "__aiter__"):
        raise TypeError(
            f"{type(response).__name__} is an async source: iterate it with fastsse.AsyncStream"
        )
    raise TypeError(
        f"cannot read a stream from {type(response).__name__}: expected an HTTP response "
        "(httpx, requests, urllib3, azure-core, corehttp), a binary file or an iterable of bytes"
    )


def _internal(response: Any) -> Any:
    # azure-core and corehttp keep the client library's own response here; reading it
    # directly avoids their fixed-size block reads, which delay events.
    if getattr(response, "_content", None) is not None:
        return None  # already read into memory
    return getattr(response, "_internal_response", None) or getattr(
        response, "internal_response", None
    )


def _pipeline_lost_errors(response: Any) -> Errors:
    # The stack's own errors for a body cut short (IncompleteReadError), a failed or
    # timed-out read (ServiceResponseError and its timeout), and the HttpResponseError
    # some of its transports raise for a broken chunked body (see _pipeline_not_lost);
    # its requests transports also let requests' own errors through.
    errors = sys.modules.get(_PIPELINE_ERRORS.get(_library(response), ""))
    found: Errors = ()
    if errors is not None:
        found = tuple(
            getattr(errors, name)
            for name in ("IncompleteReadError", "ServiceResponseError", "HttpResponseError")
            if hasattr(errors, name)
        )
    return found + _requests_lost_errors()


def _requests_lost_errors() -> Errors:
    requests_errors = sys.modules.get("requests.exceptions")
    if requests_errors is None:
        return ()
    # A requests ConnectionError while the body is read is a read timeout or a reset.
    return (requests_errors.ChunkedEncodingError, requests_errors.ConnectionError)


def _pipeline_not_lost(exc: BaseException) -> bool:
    # HttpResponseError is also every error status and service error: only one wrapping
    # a broken chunked body is a lost connection.
    if type(exc).__name__ != "HttpResponseError":
        return False
    cause = exc.__cause__
    return cause is None or not isinstance(cause, _requests_lost_errors())


def _pipeline_source(response: Any) -> Source:
    internal = _internal(response)
    library = _library(internal) if internal is not None else ""
    if library == "requests" and hasattr(internal, "iter_content"):
        return _requests_source(internal, owner=response)
    if library in _HTTPX and hasattr(internal, "iter_bytes"):
        return _httpx_source(internal, owner=response)
    if hasattr(response, "iter_bytes"):
        return Source(
            response,
            response.iter_bytes,
            lambda finished: response.close(),
            lost=_pipeline_lost_errors(response),
            lost_unless=_pipeline_not_lost,
        )
    raise TypeError(f"cannot read a stream from {type(response).__name__}")


# ------------------------------------------------------------------------------- async


async def _await_if_needed(result: Any) -> None:
    if inspect.isawaitable(result):
        await result


def _aiohttp_source(response: Any, owner: Any = None) -> AsyncSource:
    async def close(finished: bool) -> None:
        if owner is not None:
            # azure-core/corehttp's close closes the aiohttp response and marks their
            # wrapper closed; a finished body is released first so the pool keeps it.
            if finished:
                await _await_if_needed(response.release())
            await _await_if_needed(owner.close())
        elif finished:
            await _await_if_needed(response.release())
        else:
            response.close()

    aiohttp = sys.modules["aiohttp"]
    # iter_any yields whatever has arrived; iter_chunked(n) would wait for n bytes.
    return AsyncSource(
        owner or response,
        response.content.iter_any,
        close,
        # A payload error is a body cut short, unless it says the body failed to
        # decompress; a connection error mid-body is a reset or a read timeout.
        lost=(aiohttp.ClientPayloadError, aiohttp.ClientConnectionError),
        lost_unless=_aiohttp_decoding_error,
        expected_length=_expected_length(response, _method(response)),
    )


def _aiohttp_decoding_error(exc: BaseException) -> bool:
    return type(exc.__cause__).__name__ == "ContentEncodingError"


def _httpx_async_source(response: Any, owner: Any = None) -> AsyncSource:
    target = owner or response

    def chunks() -> AsyncIterator[bytes]:
        if _httpx_raw_readable(response, sync=False):
            response.is_stream_consumed = True
            return _HttpxAsyncRaw(response, source)
        return _AsyncGuarded(response.aiter_bytes().__aiter__(), source)

    source = AsyncSource(
        target,
        chunks,
        lambda finished: _aclose_if_any(target),
        lost=_httpx_lost_errors(response),
        expected_length=_expected_length(response, _method(getattr(response, "_request", None))),
        guarded=True,
    )
    return source


class _HttpxAsyncRaw:
    """:func:`_httpx_raw_chunks` for an async httpx response."""

    __slots__ = ("_response", "_source", "_chunks", "_received")

    def __init__(self, response: Any, source: AsyncSource) -> None:
        self._response = response
        self._source = source
        self._chunks = response.stream.__aiter__()
        self._received = 0
        response._num_bytes_downloaded = 0

    def __aiter__(self) -> "_HttpxAsyncRaw":
        return self

    async def __anext__(self) -> bytes:
        try:
            chunk: bytes = await self._chunks.__anext__()
        except StopAsyncIteration:
            self._source.check_length(self._received)
            raise
        except Exception as exc:
            if self._source.is_lost(exc):
                raise self._source.lost(_with_request(exc, self._response)) from exc
            raise
        self._received += len(chunk)
        self._response._num_bytes_downloaded = self._received
        return chunk

    async def aclose(self) -> None:
        close = getattr(self._chunks, "aclose", None)
        if close is not None:
            await close()


def async_source(response: Any) -> AsyncSource:
    """The :class:`AsyncSource` of a response, (async) iterable of bytes or binary file."""
    inner = unwrap(response)
    library = _library(inner)
    if library == "aiohttp" and hasattr(inner, "content"):
        return _aiohttp_source(inner)
    if library in _HTTPX and hasattr(inner, "aiter_bytes"):
        if hasattr(getattr(inner, "stream", None), "__aiter__"):
            return _httpx_async_source(inner)
    if library in _PIPELINE_STACKS:
        source = _async_pipeline_source(inner)
        if source is not None:
            return source
    if hasattr(inner, "__aiter__"):
        return AsyncSource(inner, lambda: inner, lambda finished: _aclose_if_any(inner))
    if hasattr(inner, "aiter_bytes"):
        return AsyncSource(inner, inner.aiter_bytes, lambda finished: _aclose_if_any(inner))
    # Sync sources work too (tests, files, in-memory bodies); their reads block the loop.
    sync = sync_source(response)

    async def close(finished: bool) -> None:
        sync.close()

    source = AsyncSource(sync.response, sync.chunks, close)
    source._inner = sync  # reports its decoder's progress when it loses the connection
    return source


async def _aclose_if_any(obj: Any) -> None:
    close = getattr(obj, "aclose", None) or getattr(obj, "close", None)
    if close is not None:
        await _await_if_needed(close())


def _async_pipeline_source(response: Any) -> Optional[AsyncSource]:
    internal = _internal(response)
    library = _library(internal) if internal is not None else ""
    if library == "aiohttp" and hasattr(internal, "content"):
        return _aiohttp_source(internal, owner=response)
    if library in _HTTPX and hasattr(internal, "aiter_bytes"):
        return _httpx_async_source(internal, owner=response)
    if inspect.isasyncgenfunction(getattr(response, "iter_bytes", None)):
        return AsyncSource(
            response,
            response.iter_bytes,
            lambda finished: _aclose_if_any(response),
            lost=_pipeline_lost_errors(response),
            lost_unless=_pipeline_not_lost,
        )
    return None
