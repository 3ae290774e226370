"""Ordinary user code against Stream[T] / AsyncStream[T]: checked, never run, by
``mypy --strict`` and ``pyright`` (strict) as a user's checker would see it."""

from __future__ import annotations

from typing import Any, Dict, List, Union

import msgspec
import pydantic
from typing_extensions import assert_type

import fastsse
from fastsse import JSONLEvent, ServerSentEvent


class Chunk(msgspec.Struct):
    id: str


class ChunkModel(pydantic.BaseModel):
    id: str


def to_dict(response: Any, payload: Any) -> Dict[str, Any]:
    return dict(payload)


async def to_list(response: Any, payload: Any) -> List[Any]:
    return list(payload)


def sync_streams(response: Any) -> None:
    for event in fastsse.Stream(response):
        assert_type(event, Union[ServerSentEvent, JSONLEvent])
        print(event.data, event.json())
    for sse in fastsse.Stream(response, format="sse"):
        assert_type(sse, ServerSentEvent)
        print(sse.event, sse.id, sse.retry)
    for record in fastsse.Stream(response, format="jsonl"):
        assert_type(record, JSONLEvent)
        print(record.line, record.offset)
    for value in fastsse.Stream(response, deserialization_callback=to_dict):
        assert_type(value, Dict[str, Any])
    for chunk in fastsse.Stream(response, model=Chunk, terminal_event="[DONE]"):
        assert_type(chunk, Chunk)
        print(chunk.id)
    for model in fastsse.Stream(response, model=ChunkModel):
        assert_type(model, ChunkModel)
    for adapted in fastsse.Stream(response, model=pydantic.TypeAdapter(ChunkModel)):
        assert_type(adapted, ChunkModel)
    for decoded in fastsse.Stream(response, model=msgspec.json.Decoder(Chunk)):
        assert_type(decoded, Chunk)
    for named in fastsse.Stream(response, models={"delta": Chunk}):
        print(named)
    with fastsse.Stream(response, model=Chunk) as stream:
        assert_type(stream, "fastsse.Stream[Chunk]")
        assert_type(next(stream), Chunk)
        assert_type(list(stream.iter_events()), List[Chunk])


async def async_streams(response: Any) -> None:
    async for event in fastsse.AsyncStream(response):
        assert_type(event, Union[ServerSentEvent, JSONLEvent])
    async for sse in fastsse.AsyncStream(response, format="sse"):
        assert_type(sse, ServerSentEvent)
    async for value in fastsse.AsyncStream(response, deserialization_callback=to_dict):
        assert_type(value, Dict[str, Any])
    # mypy leaves a coroutine callback's stream AsyncStream[Any] (pyright infers the
    # awaited type): an annotation makes it precise for both.
    awaiting: fastsse.AsyncStream[List[Any]] = fastsse.AsyncStream(
        response, deserialization_callback=to_list
    )
    async for awaited in awaiting:
        assert_type(awaited, List[Any])
    async for chunk in fastsse.AsyncStream(response, model=Chunk):
        assert_type(chunk, Chunk)
    async with fastsse.AsyncStream(response, model=ChunkModel) as stream:
        assert_type(await stream.__anext__(), ChunkModel)
    try:
        pass
    except fastsse.ValidationError as exc:
        assert_type(exc.index, int)
