"""One call to a reconnecting stream: fastsse makes every request with the client it is given.

The client is recognised by the module its type comes from (as the response adapters
do), so no HTTP library is imported here.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Dict, Mapping, Optional, Set, Tuple, Union

import orjson

from ._stream import AsyncStream, Stream

__all__ = ["connect", "aconnect", "request_headers"]

Headers = Union[Mapping[str, Any], Any]

_SYNC_CLIENTS = "an httpx.Client, a requests.Session or a urllib3 PoolManager"
_ASYNC_CLIENTS = "an httpx.AsyncClient or an aiohttp.ClientSession"


def _library(client: Any) -> str:
    return type(client).__module__.partition(".")[0]


def _pairs(headers: Optional[Headers]) -> Tuple[Tuple[str, Any], ...]:
    if headers is None:
        return ()
    items: Any = headers.items() if hasattr(headers, "items") else headers
    return tuple((str(name), value) for name, value in items)


def request_headers(
    headers: Optional[Headers], last_event_id: str, text_values: bool = False
) -> Dict[str, Any]:
    """The headers of one request of an event stream: ``headers`` as given, with
    ``Accept: text/event-stream`` and ``Cache-Control: no-store`` unless ``headers`` set
    them, and ``Last-Event-ID`` when there is one (replacing any in ``headers``).

    An ID that is not ASCII is sent as its UTF-8 bytes, as browsers do: as ``bytes``, or
    as ``str`` when ``text_values`` (for clients that encode header text as UTF-8).
    """
    result: Dict[str, Any] = {}
    given: Set[str] = set()
    for name, value in _pairs(headers):
        lower = name.lower()
        if lower == "last-event-id":
            continue
        given.add(lower)
        result[name] = value
    if "accept" not in given:
        result["Accept"] = "text/event-stream"
    if "cache-control" not in given:
        result["Cache-Control"] = "no-store"
    if last_event_id:
        if last_event_id.isascii() or text_values:
            result["Last-Event-ID"] = last_event_id
        else:
            result["Last-Event-ID"] = last_event_id.encode("utf-8")
    return result


def _given_last_event_id(headers: Optional[Headers]) -> Optional[str]:
    for name, value in _pairs(headers):
        if name.lower() == "last-event-id":
            return value.decode("utf-8") if isinstance(value, bytes) else str(value)
    return None


def _body(
    body: Optional[Union[bytes, str]], json: Any, headers: Optional[Headers]
) -> Tuple[Optional[bytes], Optional[Headers]]:
    if json is not None:
        if body is not None:
            raise TypeError("pass body= or json=, not both")
        pairs = _pairs(headers)
        if not any(name.lower() == "content-type" for name, _ in pairs):
            pairs += (("Content-Type", "application/json"),)
        return orjson.dumps(json), dict(pairs)
    if isinstance(body, str):
        return body.encode("utf-8"), headers
    if body is None:
        return None, headers
    if not isinstance(body, (bytes, bytearray, memoryview)):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError(f"body must be bytes or str, not {type(body).__name__}")
    return bytes(body), headers


def _sync_sender(
    client: Any, method: str, url: str, body: Optional[bytes], options: Dict[str, Any]
) -> Callable[[Dict[str, Any]], Any]:
    library = _library(client)
    if library in ("httpx", "httpx2") and hasattr(client, "build_request"):
        if inspect.iscoroutinefunction(getattr(client, "send", None)):
            raise TypeError(
                "an httpx.AsyncClient needs fastsse.aconnect; connect takes httpx.Client"
            )

        def send_httpx(headers: Dict[str, Any]) -> Any:
            request = client.build_request(method, url, headers=headers, content=body, **options)
            return client.send(request, stream=True)

        return send_httpx
    if library == "requests" and hasattr(client, "request"):
        return lambda headers: client.request(
            method, url, headers=headers, data=body, stream=True, **options
        )
    if library == "urllib3" and hasattr(client, "request"):
        return lambda headers: client.request(
            method, url, headers=headers, body=body, preload_content=False, **options
        )
    if library == "aiohttp":
        raise TypeError("an aiohttp.ClientSession needs fastsse.aconnect")
    raise TypeError(f"connect takes {_SYNC_CLIENTS}, not {type(client).__name__}")


def _async_sender(
    client: Any, method: str, url: str, body: Optional[bytes], options: Dict[str, Any]
) -> Tuple[Callable[[Dict[str, Any]], Any], bool]:
    library = _library(client)
    if library in ("httpx", "httpx2") and hasattr(client, "build_request"):
        if not inspect.iscoroutinefunction(getattr(client, "send", None)):
            raise TypeError(
                "an httpx.Client needs fastsse.connect; aconnect takes httpx.AsyncClient"
            )

        async def send_httpx(headers: Dict[str, Any]) -> Any:
            request = client.build_request(method, url, headers=headers, content=body, **options)
            return await client.send(request, stream=True)

        return send_httpx, False
    if library == "aiohttp" and hasattr(client, "request"):

        async def send_aiohttp(headers: Dict[str, Any]) -> Any:
            return await client.request(method, url, headers=headers, data=body, **options)

        # aiohttp writes header text as UTF-8; it takes no bytes values.
        return send_aiohttp, True
    if library in ("requests", "urllib3"):
        raise TypeError(f"a {type(client).__name__} is synchronous: use fastsse.connect")
    raise TypeError(f"aconnect takes {_ASYNC_CLIENTS}, not {type(client).__name__}")


def connect(
    client: Any,
    method: str,
    url: Any,
    *,
    headers: Optional[Headers] = None,
    body: Optional[Union[bytes, str]] = None,
    json: Any = None,
    request_options: Optional[Mapping[str, Any]] = None,
    **stream_options: Any,
) -> "Stream[Any]":
    """Open a reconnecting event stream with ``client`` and return its :class:`Stream`.

    ``client`` is an ``httpx.Client``, a ``requests.Session`` or a urllib3
    ``PoolManager`` (or connection pool); fastsse makes every request with it, the first
    one now and one per reconnection, each with ``headers`` plus ``Accept:
    text/event-stream``, ``Cache-Control: no-store`` and ``Last-Event-ID`` (the stream's
    last event ID, when there is one). ``body`` (bytes or str) or ``json`` (serialized by
    orjson, with ``Content-Type: application/json``) is sent with each request.
    ``request_options`` go to the client's request call as keyword arguments (httpx's
    ``build_request``: e.g. ``timeout``, ``params``; requests' ``request``; urllib3's
    ``request``). Every other keyword is a :class:`Stream` option (``reconnect=``, a
    :class:`ReconnectPolicy`; ``last_event_id=`` to resume; ``deserialization_callback``,
    ``terminal_event``...).

    Raises what the client raises when the first request cannot be sent, and
    :class:`TypeError` for a client it does not know. Use the stream with ``with`` (or
    close it): that closes the response being read.
    """
    if "reconnect_callback" in stream_options:
        raise TypeError("connect makes the reconnect_callback itself; use Stream to pass one")
    content, headers = _body(body, json, headers)
    send = _sync_sender(client, method, url, content, dict(request_options or {}))
    last_event_id = stream_options.pop("last_event_id", None)
    if last_event_id is None:
        last_event_id = _given_last_event_id(headers)

    def reconnect(last_event_id: str) -> Any:
        return send(request_headers(headers, last_event_id))

    response = reconnect(last_event_id or "")
    return Stream(
        response,
        reconnect_callback=reconnect,
        last_event_id=last_event_id,
        **stream_options,
    )


async def aconnect(
    client: Any,
    method: str,
    url: Any,
    *,
    headers: Optional[Headers] = None,
    body: Optional[Union[bytes, str]] = None,
    json: Any = None,
    request_options: Optional[Mapping[str, Any]] = None,
    **stream_options: Any,
) -> "AsyncStream[Any]":
    """Open a reconnecting event stream with an async ``client``; return its :class:`AsyncStream`.

    As :func:`connect`, for an ``httpx.AsyncClient`` or an ``aiohttp.ClientSession``
    (``request_options`` go to httpx's ``build_request`` or aiohttp's ``request``).
    Await it: ``stream = await fastsse.aconnect(client, "GET", url)``, then use the stream
    with ``async with`` (or ``await stream.aclose()``).
    """
    if "reconnect_callback" in stream_options:
        raise TypeError("aconnect makes the reconnect_callback itself; use AsyncStream to pass one")
    content, headers = _body(body, json, headers)
    send, text_values = _async_sender(client, method, url, content, dict(request_options or {}))
    last_event_id = stream_options.pop("last_event_id", None)
    if last_event_id is None:
        last_event_id = _given_last_event_id(headers)

    async def reconnect(last_event_id: str) -> Any:
        return await send(request_headers(headers, last_event_id, text_values))

    response = await reconnect(last_event_id or "")
    return AsyncStream(
        response,
        reconnect_callback=reconnect,
        last_event_id=last_event_id,
        **stream_options,
    )
