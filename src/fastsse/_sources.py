"""Adapters at the edge: the bytes, status, headers and close of each client's response.

A response is recognised by the module its type comes from, so fastsse never imports an
HTTP library. Every adapter reads what has arrived instead of filling fixed blocks (an
event must reach the user as soon as its bytes do) and knows how to close its response
so that a pooled connection is returned when the body was read to its end, and closed
otherwise.
"""

from __future__ import annotations

import inspect
from typing import Any, AsyncIterator, Callable, Iterable, Iterator, Optional

__all__ = ["Source", "AsyncSource", "sync_source", "async_source", "unwrap"]

READ_SIZE = 64 * 1024
_HTTPX = ("httpx", "httpx2")
_PIPELINE_STACKS = ("azure", "corehttp")


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
    """

    def __init__(
        self, response: Any, chunks: Callable[[], Any], close: Callable[[bool], Any]
    ) -> None:
        self.response = response
        self.status = _status(response)
        self.reason = _reason(response)
        self.headers = getattr(response, "headers", None)
        self._open_chunks = chunks
        self._close = close
        self._iterator: Any = None
        self._finished = False  # the body was read to its end
        self._closed = False

    def finished(self) -> None:
        """Whoever reads the iterator :meth:`open` gave to its end says so here."""
        self._finished = True


class Source(_SourceBase):
    """A sync response: ``chunks`` yields its body as it arrives; ``close()`` ends it."""

    def chunks(self) -> Iterator[bytes]:
        """The body's non-empty chunks; reading them to the end marks the body finished."""
        for chunk in self.open():
            if chunk:
                yield chunk
        self._finished = True

    def open(self) -> Iterator[Any]:
        """The body's iterator as the client gives it (chunks may be empty)."""
        self._iterator = iter(self._open_chunks())
        return self._iterator

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        close_iterator = getattr(self._iterator, "close", None)
        try:
            if close_iterator is not None:
                close_iterator()
        finally:
            self._close(self._finished)


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
        """The body's async iterator as the client gives it (chunks may be empty)."""
        opened = self._open_chunks()
        if hasattr(opened, "__aiter__"):
            self._iterator = opened.__aiter__()
            return self._iterator  # type: ignore[no-any-return]
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


# ------------------------------------------------------------------------------ reading


def _read_loop(read: Callable[[int], bytes]) -> Iterator[bytes]:
    while True:
        chunk = read(READ_SIZE)
        if not chunk:
            return
        yield chunk


def _urllib3_chunks(raw: Any) -> Callable[[], Iterable[bytes]]:
    # read1 returns what has arrived (one HTTP chunk, or what one recv gave); read(n) and
    # stream(n) would wait for n bytes, holding events back behind a slow server.
    if hasattr(raw, "read1"):
        return lambda: _read_loop(lambda size: raw.read1(size, decode_content=True))
    return lambda: raw.stream(None, decode_content=True)


def _close_urllib3(raw: Any, finished: bool) -> None:
    if finished:
        raw.release_conn()  # read to its end: the connection goes back to the pool
    else:
        raw.close()  # mid-body: the connection cannot be reused
        _maybe_call(raw, "release_conn")


def _as_requests_errors(chunks: Callable[[], Iterable[bytes]]) -> Iterator[bytes]:
    # Reading urllib3 directly skips requests' translation of its errors; redo it, so a
    # requests user still catches requests' exceptions (requests is loaded: its response
    # is in hand).
    import requests.exceptions as requests_errors
    import urllib3.exceptions as urllib3_errors

    try:
        yield from chunks()
    except urllib3_errors.ProtocolError as exc:
        raise requests_errors.ChunkedEncodingError(exc) from exc
    except urllib3_errors.DecodeError as exc:
        raise requests_errors.ContentDecodingError(exc) from exc
    except urllib3_errors.ReadTimeoutError as exc:
        raise requests_errors.ConnectionError(exc) from exc
    except urllib3_errors.SSLError as exc:
        raise requests_errors.SSLError(exc) from exc


def _requests_source(response: Any, owner: Any = None) -> Source:
    raw = getattr(response, "raw", None)
    if (
        raw is not None
        and getattr(response, "_content_consumed", False) is False
        and hasattr(raw, "read1")
    ):
        read_raw = _urllib3_chunks(raw)
        chunks: Callable[[], Iterable[bytes]] = lambda: _as_requests_errors(read_raw)  # noqa: E731
    else:  # already read, or urllib3 1.x: requests' own iterator, as data arrives
        chunks = lambda: response.iter_content(chunk_size=None)  # noqa: E731

    def close(finished: bool) -> None:
        if finished and raw is not None:
            _maybe_call(raw, "release_conn")
        (owner or response).close()

    return Source(owner or response, chunks, close)


def _file_chunks(source: Any) -> Callable[[], Iterable[bytes]]:
    read = getattr(source, "read1", None) or source.read
    return lambda: _read_loop(read)


def sync_source(response: Any) -> Source:
    """The :class:`Source` of a response, iterable of bytes or binary file."""
    inner = unwrap(response)
    library = _library(inner)
    if library in _HTTPX and hasattr(inner, "iter_bytes"):
        return Source(inner, inner.iter_bytes, lambda finished: inner.close())
    if library == "requests" and hasattr(inner, "iter_content"):
        return _requests_source(inner)
    if library == "urllib3" and hasattr(inner, "release_conn"):
        return Source(
            inner, _urllib3_chunks(inner), lambda finished: _close_urllib3(inner, finished)
        )
    if library in _PIPELINE_STACKS:
        return _pipeline_source(inner)
    if isinstance(inner, (bytes, bytearray, memoryview)):
        return Source(inner, lambda: (bytes(inner),), lambda finished: None)
    if hasattr(inner, "iter_bytes"):
        return Source(inner, inner.iter_bytes, lambda finished: _maybe_call(inner, "close"))
    if hasattr(inner, "read1") or hasattr(inner, "read"):
        return Source(inner, _file_chunks(inner), lambda finished: _maybe_call(inner, "close"))
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


def _pipeline_source(response: Any) -> Source:
    internal = _internal(response)
    library = _library(internal) if internal is not None else ""
    if library == "requests" and hasattr(internal, "iter_content"):
        return _requests_source(internal, owner=response)
    if library in _HTTPX and hasattr(internal, "iter_bytes"):
        return Source(response, internal.iter_bytes, lambda finished: response.close())
    if hasattr(response, "iter_bytes"):
        return Source(response, response.iter_bytes, lambda finished: response.close())
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

    # iter_any yields whatever has arrived; iter_chunked(n) would wait for n bytes.
    return AsyncSource(owner or response, response.content.iter_any, close)


def async_source(response: Any) -> AsyncSource:
    """The :class:`AsyncSource` of a response, (async) iterable of bytes or binary file."""
    inner = unwrap(response)
    library = _library(inner)
    if library == "aiohttp" and hasattr(inner, "content"):
        return _aiohttp_source(inner)
    if library in _HTTPX and hasattr(inner, "aiter_bytes"):
        if hasattr(getattr(inner, "stream", None), "__aiter__"):
            return AsyncSource(inner, inner.aiter_bytes, lambda finished: inner.aclose())
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

    return AsyncSource(sync.response, sync.chunks, close)


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
        return AsyncSource(
            response, internal.aiter_bytes, lambda finished: _aclose_if_any(response)
        )
    if inspect.isasyncgenfunction(getattr(response, "iter_bytes", None)):
        return AsyncSource(response, response.iter_bytes, lambda finished: _aclose_if_any(response))
    return None
