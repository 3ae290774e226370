"""Generated-style client code on fastsse.integrations.typespec, over azure-core and corehttp.

``_typespec_generated.py`` is written the way the TypeSpec Python emitter writes streaming
operations; only its runtime import points at fastsse. Its streams run here unchanged
against a real server on 127.0.0.1 (``reconnect_server.py``), through azure-core's and
corehttp's real pipelines and transports, sync and async, on both backends.
"""

from __future__ import annotations

import asyncio
from typing import Any, Iterator, List

import pytest
from _typespec_generated import (
    CORES,
    AsyncChatClient,
    ChatClient,
    Connected,
    Delta,
    Disconnected,
    Record,
)
from reconnect_server import ReconnectServer, Reply

import fastsse
from fastsse.integrations import typespec

CHAT = [
    b'id: 1\nretry: 10\ndata: {"kind": "connected"}\n\n',
    b'id: 2\ndata: {"kind": "delta", "text": "hi"}\n\n',
    b": keep-alive\n\n",
    b'id: 3\ndata: {"kind": "delta", "text": " there"}\n\n',
    b'id: 4\ndata: {"kind": "disconnected", "reason": "done"}\n\n',
    b'id: 5\ndata: {"kind": "delta", "text": "never read"}\n\n',
]
CHAT_ITEMS = [
    Connected({"kind": "connected"}),
    Delta({"kind": "delta", "text": "hi"}),
    Delta({"kind": "delta", "text": " there"}),
    Disconnected({"kind": "disconnected", "reason": "done"}),
]


@pytest.fixture(scope="module")
def server() -> Iterator[ReconnectServer]:
    server = ReconnectServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def default_backend(backend: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(typespec, "DEFAULT_BACKEND", backend)
    return backend


@pytest.fixture(params=CORES)
def core(request: Any) -> str:
    pytest.importorskip("azure.core" if request.param == "azure" else "corehttp")
    return str(request.param)


def _sync(core: str, server: ReconnectServer) -> ChatClient:
    return ChatClient(server.url, core=core)


def test_discriminated_events_until_the_terminal_predicate(
    server: ReconnectServer, core: str
) -> None:
    url = server.script([Reply(CHAT)])
    client = _sync(core, server)
    try:
        stream = client.chat_stream(url)
        with stream:
            assert list(stream) == CHAT_ITEMS
        assert stream.last_event_id == "4"
        assert stream.retry == 10
        assert stream._response.is_closed
    finally:
        client.close()


def test_async_discriminated_events(server: ReconnectServer, core: str) -> None:
    url = server.script([Reply(CHAT)])

    async def run() -> List[Any]:
        client = AsyncChatClient(server.url, core=core)
        try:
            stream = await client.chat_stream(url)
            async with stream:
                items = [item async for item in stream]
            assert stream.last_event_id == "4" and stream.retry == 10
            return items
        finally:
            await client.close()

    assert asyncio.run(run()) == CHAT_ITEMS


NAMED = [
    b"event: message_start\ndata: one\n\n",
    b"data: [DONE]\n\n",
    b"event: after\ndata: never\n\n",
]


def test_terminal_event_data_is_not_yielded(server: ReconnectServer, core: str) -> None:
    url = server.script([Reply(NAMED)])
    client = _sync(core, server)
    try:
        assert list(client.named_stream(url)) == [("message_start", "one")]
    finally:
        client.close()


def test_terminal_event_name_is_yielded_then_ends(server: ReconnectServer, core: str) -> None:
    writes = [b"data: a\n\n", b"event: message_stop\ndata: {}\n\n", b"data: after\n\n"]
    url = server.script([Reply(writes)])

    async def run() -> List[Any]:
        client = AsyncChatClient(server.url, core=core)
        try:
            return [item async for item in await client.named_stream(url)]
        finally:
            await client.close()

    assert asyncio.run(run()) == [("message", "a"), ("message_stop", "{}")]


@pytest.mark.parametrize("content_type", ["application/jsonl", "application/x-ndjson", None])
def test_records_of_a_json_lines_response(
    server: ReconnectServer, core: str, content_type: Any
) -> None:
    # The runtime decodes every response that is not text/event-stream as JSON Lines.
    url = server.script(
        [Reply([b'{"n": 1}\n{"n"', b': 2}\n\n{"n": 3}'], content_type=content_type)]
    )
    client = _sync(core, server)
    try:
        stream = client.records(url)
        assert list(stream) == [Record({"n": 1}), Record({"n": 2}), Record({"n": 3})]
        assert stream.last_event_id is None and stream.retry is None
    finally:
        client.close()


def test_204_has_no_events(server: ReconnectServer, core: str) -> None:
    url = server.script([Reply(status=204, content_type=None)])
    client = _sync(core, server)
    try:
        assert list(client.chat_stream(url)) == []
    finally:
        client.close()


def test_reconnects_with_the_last_event_id(server: ReconnectServer, core: str) -> None:
    url = server.script([Reply(CHAT[:3], end="drop"), Reply(CHAT[3:])])
    client = _sync(core, server)
    try:
        stream = client.chat_stream(url, resumable=True)
        assert list(stream) == CHAT_ITEMS
        assert [seen.last_event_id for seen in server.seen(url)] == [None, "2"]
    finally:
        client.close()


def test_reconnects_after_a_clean_end_and_stops_at_204(server: ReconnectServer, core: str) -> None:
    url = server.script([Reply(CHAT[:2]), Reply(CHAT[2:4]), Reply(status=204, content_type=None)])

    async def run() -> List[Any]:
        client = AsyncChatClient(server.url, core=core)
        try:
            return [item async for item in await client.chat_stream(url, resumable=True)]
        finally:
            await client.close()

    assert asyncio.run(run()) == CHAT_ITEMS[:3]
    assert [seen.last_event_id for seen in server.seen(url)] == [None, "2", "3"]


def test_close_mid_stream_closes_the_response(server: ReconnectServer, core: str) -> None:
    url = server.script([Reply(CHAT, pause=0.05)])
    client = _sync(core, server)
    try:
        stream = client.chat_stream(url)
        assert next(stream) == CHAT_ITEMS[0]
        stream.close()
        assert stream._response.is_closed
        with pytest.raises(StopIteration):
            next(stream)
    finally:
        client.close()


def test_async_close_mid_stream_closes_the_response(server: ReconnectServer, core: str) -> None:
    url = server.script([Reply(CHAT, pause=0.05)])

    async def run() -> None:
        client = AsyncChatClient(server.url, core=core)
        try:
            stream = await client.chat_stream(url)
            assert await stream.__anext__() == CHAT_ITEMS[0]
            await stream.close()
            assert stream._response.is_closed
            with pytest.raises(StopAsyncIteration):
                await stream.__anext__()
        finally:
            await client.close()

    asyncio.run(run())


def _resumes() -> bool:
    try:
        fastsse.SSEDecoder(last_event_id="1")
    except TypeError:
        return False
    return True


@pytest.mark.skipif(
    not _resumes(), reason="this build's fastsse.SSEDecoder has no last_event_id= yet"
)
def test_resumes_from_a_last_event_id(server: ReconnectServer, core: str) -> None:
    url = server.script([Reply([b'data: {"kind": "delta", "text": "x"}\n\n', CHAT[4]])])
    client = _sync(core, server)
    try:
        stream = client.chat_stream(url, last_event_id="2")
        assert stream.last_event_id == "2"
        assert list(stream) == [Delta({"kind": "delta", "text": "x"}), CHAT_ITEMS[3]]
        assert stream.last_event_id == "4"
        assert [seen.last_event_id for seen in server.seen(url)] == ["2"]
    finally:
        client.close()


def test_lost_connection_without_reconnection_raises_connection_lost(
    server: ReconnectServer, core: str
) -> None:
    # Declared difference: the vendored runtime lets the transport's own error through.
    url = server.script([Reply(CHAT[:2], end="drop")])
    client = _sync(core, server)
    items: List[Any] = []
    try:
        with pytest.raises(fastsse.ConnectionLost) as caught:
            for item in client.chat_stream(url):
                items.append(item)
        assert items == CHAT_ITEMS[:2]
        assert caught.value.__cause__ is not None
        assert caught.value.last_event_id == "2"
    finally:
        client.close()
