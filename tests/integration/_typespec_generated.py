"""A client shaped like what the TypeSpec Python emitter generates for streaming operations.

Written for the tests, in the emitter's style: a request builder, an operation that runs
the pipeline with ``stream=True``, checks the status, and returns the runtime's ``Stream``
(``AsyncStream``) with a ``_deserialize_event(_response, _event)`` callback that reads the
event object (``_event.event``, ``_event.data``), a terminal predicate on the payload's
discriminator, and, for resumable operations, ``last_event_id`` and a
``reconnect_callback`` that re-sends the request with ``Last-Event-ID``.

Generated packages import the runtime from their vendored ``_streaming`` module; here the
one import line points at fastsse's, and nothing else differs. ``CORE`` picks azure-core
or corehttp, as the emitter's two flavors do.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Optional, Union

from fastsse.integrations import typespec as _streaming

CORES = ("azure", "corehttp")


def _core(core: str) -> Any:
    if core == "azure":
        from azure.core import AsyncPipelineClient, PipelineClient
        from azure.core.exceptions import HttpResponseError
        from azure.core.rest import HttpRequest
    else:
        from corehttp.exceptions import HttpResponseError
        from corehttp.rest import HttpRequest
        from corehttp.runtime import AsyncPipelineClient, PipelineClient
    return PipelineClient, AsyncPipelineClient, HttpRequest, HttpResponseError


class _Model:
    def __init__(self, payload: Dict[str, Any]) -> None:
        self._data = payload

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._data == self._data  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._data!r})"


class Connected(_Model):
    pass


class Delta(_Model):
    pass


class Disconnected(_Model):
    pass


class Record(_Model):
    pass


def build_chat_stream_request(
    url: str, *, http_request: Any, last_event_id: Optional[str] = None
) -> Any:
    _headers = {"Accept": "text/event-stream, application/jsonl"}
    if last_event_id is not None:
        _headers["Last-Event-ID"] = last_event_id
    return http_request(method="GET", url=url, headers=_headers)


def _deserialize_event(_response: Any, _event: Any) -> Union[Connected, Delta, Disconnected]:
    _event_json = json.loads(_event.data)
    if isinstance(_event_json, dict) and _event_json.get("kind") == "connected":
        return Connected(_event_json)
    if isinstance(_event_json, dict) and _event_json.get("kind") == "delta":
        return Delta(_event_json)
    if isinstance(_event_json, dict) and _event_json.get("kind") == "disconnected":
        return Disconnected(_event_json)
    raise ValueError(f"Unknown SSE event type: {_event.event!r}")


def _is_terminal_event(_event: Any) -> bool:
    _event_json = json.loads(_event.data)
    return isinstance(_event_json, dict) and _event_json.get("kind") in ["disconnected"]


def _deserialize_record(_response: Any, _event: Any) -> Record:
    return Record(json.loads(_event.data))


class ChatClient:
    """``chat_stream`` (SSE, discriminated events), ``named_stream`` (SSE, terminal event
    names and ``[DONE]``), ``records`` (JSON Lines)."""

    def __init__(self, endpoint: str, *, core: str = "azure") -> None:
        pipeline_client, _, self._http_request, self._error = _core(core)
        self._client = pipeline_client(endpoint)
        # azure-core's client keeps its pipeline as _pipeline, corehttp's as pipeline.
        self._pipeline = self._client._pipeline if core == "azure" else self._client.pipeline

    def _send(self, url: str, last_event_id: Optional[str] = None) -> Any:
        _request = build_chat_stream_request(
            url, http_request=self._http_request, last_event_id=last_event_id
        )
        pipeline_response = self._pipeline.run(_request, stream=True)
        response = pipeline_response.http_response
        if response.status_code not in [200, 204]:
            response.read()
            raise self._error(response=response)
        return response

    def chat_stream(
        self, url: str, *, last_event_id: Optional[str] = None, resumable: bool = False
    ) -> "_streaming.Stream[Union[Connected, Delta, Disconnected]]":
        response = self._send(url, last_event_id)

        def _reconnect(_last_event_id: Optional[str]) -> Any:
            return self._send(url, _last_event_id)

        deserialized: _streaming.Stream[Union[Connected, Delta, Disconnected]] = _streaming.Stream(
            response=response,
            deserialization_callback=_deserialize_event,
            terminal_event_predicate=_is_terminal_event,
            last_event_id=last_event_id,
            reconnect_callback=_reconnect if resumable else None,
        )
        return deserialized

    def named_stream(self, url: str) -> "_streaming.Stream[Any]":
        response = self._send(url)
        return _streaming.Stream(
            response=response,
            deserialization_callback=lambda _response, _event: (_event.event, _event.data),
            terminal_event="[DONE]",
            terminal_event_names=["message_stop"],
        )

    def records(self, url: str) -> "_streaming.Stream[Record]":
        response = self._send(url)
        return _streaming.Stream(response=response, deserialization_callback=_deserialize_record)

    def close(self) -> None:
        self._client.close()


class AsyncChatClient:
    """:class:`ChatClient` over the async pipeline."""

    def __init__(self, endpoint: str, *, core: str = "azure") -> None:
        _, pipeline_client, self._http_request, self._error = _core(core)
        self._client = pipeline_client(endpoint)
        # azure-core's client keeps its pipeline as _pipeline, corehttp's as pipeline.
        self._pipeline = self._client._pipeline if core == "azure" else self._client.pipeline

    async def _send(self, url: str, last_event_id: Optional[str] = None) -> Any:
        _request = build_chat_stream_request(
            url, http_request=self._http_request, last_event_id=last_event_id
        )
        pipeline_response = await self._pipeline.run(_request, stream=True)
        response = pipeline_response.http_response
        if response.status_code not in [200, 204]:
            await response.read()
            raise self._error(response=response)
        return response

    async def chat_stream(
        self, url: str, *, last_event_id: Optional[str] = None, resumable: bool = False
    ) -> "_streaming.AsyncStream[Union[Connected, Delta, Disconnected]]":
        response = await self._send(url, last_event_id)

        async def _reconnect(_last_event_id: Optional[str]) -> Any:
            return await self._send(url, _last_event_id)

        deserialized: _streaming.AsyncStream[Union[Connected, Delta, Disconnected]] = (
            _streaming.AsyncStream(
                response=response,
                deserialization_callback=_deserialize_event,
                terminal_event_predicate=_is_terminal_event,
                last_event_id=last_event_id,
                reconnect_callback=_reconnect if resumable else None,
            )
        )
        return deserialized

    async def named_stream(self, url: str) -> "_streaming.AsyncStream[Any]":
        response = await self._send(url)
        return _streaming.AsyncStream(
            response=response,
            deserialization_callback=lambda _response, _event: (_event.event, _event.data),
            terminal_event="[DONE]",
            terminal_event_names=["message_stop"],
        )

    async def records(self, url: str) -> "_streaming.AsyncStream[Record]":
        response = await self._send(url)
        return _streaming.AsyncStream(
            response=response, deserialization_callback=_deserialize_record
        )

    async def close(self) -> None:
        await self._client.close()
