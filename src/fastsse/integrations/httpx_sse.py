"""httpx-sse's API on fastsse's decoder: switch by changing one import line.

.. code-block:: python

    from fastsse.integrations.httpx_sse import connect_sse  # was: from httpx_sse import ...

    with httpx.Client() as client:
        with connect_sse(client, "GET", url) as event_source:
            for sse in event_source.iter_sse():
                print(sse.event, sse.data, sse.id, sse.retry)

:func:`connect_sse`, :func:`aconnect_sse`, :class:`EventSource`, :class:`ServerSentEvent`
and :class:`SSEError` take the arguments of httpx-sse's and behave as they do, with the
stream decoded as the WHATWG standard says where httpx-sse departs from it (data-less
blocks dispatch nothing, a leading BOM is stripped, ``retry`` must be ASCII digits, a
``charset`` parameter does not change the decoding). ``decoder=`` (keyword only, on each
entry point) picks fastsse's backend: ``"auto"`` (the default), ``"fast"``, ``"python"``,
or an :class:`fastsse.SSEDecoder` instance.

Importing this module imports httpx (the library it serves).
"""

from __future__ import annotations

from contextlib import asynccontextmanager, contextmanager
from typing import Any, AsyncGenerator, AsyncIterator, Generator, Iterator, Optional, Union

import httpx

from .._backend import ServerSentEvent as _Event
from .._decoders import SSEDecoder
from .._errors import ConnectionLost, StreamError
from .._stream import AsyncStream, Stream

__all__ = ["EventSource", "connect_sse", "aconnect_sse", "ServerSentEvent", "SSEError"]

DecoderOption = Union[str, SSEDecoder]


class SSEError(httpx.TransportError, StreamError):
    """The response is not an event stream: its Content-Type lacks ``text/event-stream``.

    An :class:`httpx.TransportError`, as httpx-sse's ``SSEError`` is, and a
    :class:`fastsse.StreamError`.
    """


class _EventClass(type):
    # The decoder makes fastsse's own event objects (no copy per event); they are this
    # module's events too, for isinstance and issubclass.
    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, _Event)

    def __subclasscheck__(cls, subclass: Any) -> bool:
        return issubclass(subclass, _Event)


class ServerSentEvent(_Event, metaclass=_EventClass):
    """One Server-Sent Event, built with httpx-sse's ``ServerSentEvent`` arguments.

    ``ServerSentEvent(event=None, data=None, id=None, retry=None)``: ``event`` is
    ``"message"`` when empty or not given; ``data`` and ``id`` are ``""`` when not given;
    ``retry`` is the block's valid ``retry`` value in ms, else ``None``. It has ``event``,
    ``data``, ``id``, ``retry`` and ``json()`` (orjson; raises
    :class:`fastsse.JSONDecodeError`, a :class:`json.JSONDecodeError`).

    The events :class:`EventSource` yields are :class:`fastsse.ServerSentEvent` objects,
    which are instances of this class too. All of them compare equal and hash by their
    four values.
    """

    def __init__(
        self,
        event: Optional[str] = None,
        data: Optional[str] = None,
        id: Optional[str] = None,
        retry: Optional[int] = None,
    ) -> None:
        super().__init__("" if data is None else data, event or "message", id or "", retry)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Event):
            return NotImplemented
        return (self.event, self.data, self.id, self.retry) == (
            other.event,
            other.data,
            other.id,
            other.retry,
        )

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = _Event.__hash__

    def __reduce__(self) -> Any:
        return (type(self), (self.event, self.data, self.id, self.retry))


def _is_event_stream(response: httpx.Response) -> bool:
    # httpx-sse's test, kept exactly: a case-sensitive substring of the part before ";".
    return "text/event-stream" in response.headers.get("content-type", "").partition(";")[0]


def _content_type_error(response: httpx.Response) -> SSEError:
    essence = response.headers.get("content-type", "").partition(";")[0]
    return SSEError(
        f"Expected response header Content-Type to contain 'text/event-stream', got {essence!r}"
    )


def _raise_httpx_error(lost: ConnectionLost) -> None:
    # Code written for httpx-sse catches httpx's own errors for a lost connection; a body
    # short of its Content-Length, which httpx lets pass, stays a ConnectionLost.
    cause = lost.__cause__
    if isinstance(cause, httpx.HTTPError):
        raise cause from None


def _is_success(response: httpx.Response) -> bool:
    return 200 <= response.status_code < 300


class EventSource:
    """The events of an httpx response, as httpx-sse's ``EventSource``.

    ``response`` is a streamed :class:`httpx.Response` (``client.stream(...)``);
    ``decoder`` picks fastsse's backend (``"auto"``, ``"fast"``, ``"python"``) or is an
    :class:`fastsse.SSEDecoder` instance.
    """

    def __init__(self, response: httpx.Response, *, decoder: DecoderOption = "auto") -> None:
        self._response = response
        self._decoder = decoder

    @property
    def response(self) -> httpx.Response:
        """The response the events are read from."""
        return self._response

    def iter_sse(self) -> Iterator[ServerSentEvent]:
        """Iterate the response's events as they arrive.

        Raises :class:`SSEError` at the first iteration when the response's Content-Type
        does not contain ``text/event-stream``, and :class:`fastsse.StreamError`
        subclasses for a line or event beyond the decoder's limits. A lost connection raises
        httpx's own error, as with httpx-sse (:class:`fastsse.ConnectionLost` for a body
        short of its Content-Length, which httpx lets pass). The events before a fault
        have been yielded. The response is closed when the events end, and when the
        loop is left early.
        """
        response = self._response
        if not _is_event_stream(response):
            raise _content_type_error(response)
        if _is_success(response):
            stream: Stream[Any] = Stream(response, decoder=self._decoder, format="sse")
        else:
            # httpx-sse decodes an event stream whatever the status; fastsse's Stream would
            # report the status instead, so it reads the body as plain bytes.
            stream = Stream(_closing(response), decoder=self._decoder, format="sse")
        try:
            yield from stream
        except ConnectionLost as lost:
            _raise_httpx_error(lost)
            raise
        finally:
            stream.close()

    async def aiter_sse(self) -> AsyncGenerator[ServerSentEvent, None]:
        """:meth:`iter_sse` for a response of an :class:`httpx.AsyncClient`, with ``async for``."""
        response = self._response
        if not _is_event_stream(response):
            raise _content_type_error(response)
        if _is_success(response):
            stream: AsyncStream[Any] = AsyncStream(response, decoder=self._decoder, format="sse")
        else:
            stream = AsyncStream(_aclosing(response), decoder=self._decoder, format="sse")
        try:
            async for sse in stream:
                yield sse
        except ConnectionLost as lost:
            _raise_httpx_error(lost)
            raise
        finally:
            await stream.aclose()


def _closing(response: httpx.Response) -> Iterator[bytes]:
    try:
        yield from response.iter_bytes()
    finally:
        response.close()


async def _aclosing(response: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_bytes():
            yield chunk
    finally:
        await response.aclose()


def _sse_headers(kwargs: Any) -> Any:
    # As httpx-sse: the caller's headers object itself gets the two headers.
    headers = kwargs.pop("headers", {})
    headers["Accept"] = "text/event-stream"
    headers["Cache-Control"] = "no-store"
    return headers


@contextmanager
def connect_sse(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    decoder: DecoderOption = "auto",
    **kwargs: Any,
) -> Generator[EventSource, None, None]:
    """Send a streamed request and give its :class:`EventSource`, as httpx-sse does.

    The request gets ``Accept: text/event-stream`` and ``Cache-Control: no-store`` (set
    in the ``headers`` given, if any); other keyword arguments go to
    :meth:`httpx.Client.stream`. The response is closed when the ``with`` block ends.
    """
    headers = _sse_headers(kwargs)
    with client.stream(method, url, headers=headers, **kwargs) as response:
        yield EventSource(response, decoder=decoder)


@asynccontextmanager
async def aconnect_sse(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    decoder: DecoderOption = "auto",
    **kwargs: Any,
) -> AsyncGenerator[EventSource, None]:
    """:func:`connect_sse` for an :class:`httpx.AsyncClient`, with ``async with``."""
    headers = _sse_headers(kwargs)
    async with client.stream(method, url, headers=headers, **kwargs) as response:
        yield EventSource(response, decoder=decoder)
