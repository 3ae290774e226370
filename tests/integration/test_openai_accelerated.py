"""The openai SDK accelerated by fastsse gives what the plain SDK gives, stream by stream.

Both clients talk to the same server on 127.0.0.1 (``llm_server.py``), which speaks the
API's streaming format; every stream of its corpus goes through both, sync and async, on
both fastsse backends, and the items (classes at every level, field values, fields set,
undeclared fields) and the exceptions must be equal.
"""

from __future__ import annotations

import gc
import sys
import threading
from typing import Any, Iterator

import pytest
from _sdk_compare import (
    MESSAGES,
    assert_raised,
    assert_same,
    assert_same_outcome,
    collect,
    collect_async,
    sdk_client,
    serve,
)
from llm_server import OPENAI, LLMServer, Reply, data_event

import fastsse
from fastsse.integrations import openai as accelerated_openai
from fastsse.integrations.openai import UnsupportedVersion, accelerate

# The releases accelerate() supports need Python 3.10; older Pythons get none of them.
openai: Any = pytest.importorskip("openai", minversion="3.0")


@pytest.fixture(scope="module")
def server() -> Iterator[LLMServer]:
    yield from serve(OPENAI)


def make_client(server: LLMServer, cls: Any = openai.OpenAI) -> Any:
    return sdk_client(server, cls)


def start(client: Any, name: str) -> Any:
    """The streaming call for corpus stream ``name`` (awaitable for an async client)."""
    if name.startswith("responses"):
        return client.responses.create(model=name, input="Hi", stream=True)
    if name == "completions":
        return client.completions.create(model=name, prompt="Hi", stream=True)
    return client.chat.completions.create(model=name, messages=MESSAGES, stream=True)


@pytest.mark.parametrize("name", sorted(OPENAI))
def test_sync_stream_equals_plain_sdk(server: LLMServer, backend: str, name: str) -> None:
    plain = make_client(server)
    fast = accelerate(make_client(server), backend=backend)
    expected = collect(lambda: start(plain, name))
    got = collect(lambda: start(fast, name))
    assert_same_outcome(got, expected)
    reply = OPENAI[name]
    assert_raised(expected, reply.raises, openai)
    if reply.status == 200 and reply.raises is None:
        assert got[0], "the stream gave no items"


@pytest.mark.parametrize("name", sorted(OPENAI))
def test_async_stream_equals_plain_sdk(server: LLMServer, backend: str, name: str) -> None:
    plain = make_client(server, openai.AsyncOpenAI)
    fast = accelerate(make_client(server, openai.AsyncOpenAI), backend=backend)
    expected = collect_async(lambda: start(plain, name), plain)
    got = collect_async(lambda: start(fast, name), fast)
    assert_same_outcome(got, expected)
    assert_raised(expected, OPENAI[name].raises, openai)


def counting_construct_type(monkeypatch: pytest.MonkeyPatch) -> list:
    import openai._base_client as base_client

    calls: list = []
    original = base_client.construct_type

    def construct_type(**kwargs: Any) -> Any:
        calls.append(kwargs["type_"])
        return original(**kwargs)

    monkeypatch.setattr(base_client, "construct_type", construct_type)
    return calls


def test_models_are_validated_not_constructed(
    server: LLMServer, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = counting_construct_type(monkeypatch)
    fast = accelerate(make_client(server), backend=backend)
    items, error = collect(lambda: start(fast, "chat-text"))
    assert error is None and len(items) == 12
    assert calls == []
    # and payloads the models do not fit are handed to the SDK's own construction
    items, error = collect(lambda: start(fast, "chat-fallback"))
    assert error is None and len(items) == 13
    assert 0 < len(calls) < len(items)


def test_each_endpoint_decodes_with_fastsse(server: LLMServer, backend: str) -> None:
    fast = accelerate(make_client(server), backend=backend)
    for name in ("chat-text", "completions", "responses"):
        stream = start(fast, name)
        assert type(stream._decoder).__module__ == "fastsse.integrations._sdk"
        assert list(stream)


def test_other_clients_and_the_classes_are_untouched(server: LLMServer) -> None:
    fast = accelerate(make_client(server))
    plain = make_client(server)
    assert isinstance(start(plain, "chat-text")._decoder, openai._streaming.SSEDecoder)
    assert not hasattr(plain, "_fastsse_settings")
    assert "_make_sse_decoder" not in vars(plain)
    assert openai.OpenAI._make_sse_decoder is openai._base_client.BaseClient._make_sse_decoder
    assert "_make_sse_decoder" in vars(fast)


def test_copies_stay_accelerated(server: LLMServer) -> None:
    fast = accelerate(make_client(server), backend="python")
    for derived in (fast.with_options(timeout=5), fast.copy(max_retries=0)):
        assert derived is not fast
        stream = start(derived, "chat-text")
        assert type(stream._decoder).__module__ == "fastsse.integrations._sdk"
        assert derived._fastsse_settings is fast._fastsse_settings
        stream.close()


def test_same_object_returned_and_accelerate_is_repeatable(server: LLMServer) -> None:
    client = make_client(server)
    assert accelerate(client) is client
    assert accelerate(client, backend="python") is client
    assert client._fastsse_settings.backend == "python"
    assert len(list(start(client, "chat-text"))) == 12


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
def test_response_closed_when_the_loop_is_left_early(
    server: LLMServer, backend: str, sync: bool
) -> None:
    if sync:
        stream = start(accelerate(make_client(server), backend=backend), "chat-text")
        for _ in stream:
            break
        stream.close()
        assert stream.response.is_closed
        with start(accelerate(make_client(server), backend=backend), "chat-text") as stream:
            next(iter(stream))
        assert stream.response.is_closed
        return

    import asyncio

    async def run() -> None:
        client = accelerate(make_client(server, openai.AsyncOpenAI), backend=backend)
        async with client, await start(client, "chat-text") as stream:
            async for _ in stream:
                break
        assert stream.response.is_closed

    asyncio.run(run())


def test_response_closed_at_done_and_on_errors(server: LLMServer, backend: str) -> None:
    fast = accelerate(make_client(server), backend=backend)
    stream = start(fast, "chat-text")
    list(stream)
    assert stream.response.is_closed
    stream = start(fast, "chat-error")
    with pytest.raises(openai.APIError):
        list(stream)
    assert stream.response.is_closed


def test_an_event_past_64_mib_is_accepted_as_by_the_sdk(server: LLMServer, backend: str) -> None:
    # The SDK has no size ceiling and neither has the accelerated client by default.
    size = 64 * 1024 * 1024 + 1
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    chunk["choices"] = [{"index": 0, "delta": {"content": "x" * size}, "finish_reason": None}]
    body = data_event(chunk)
    pieces = [body[k : k + (1 << 20)] for k in range(0, len(body), 1 << 20)]
    assert b"".join(pieces) == body
    server.add("huge", Reply(pieces + [b"data: [DONE]\n\n"]))
    fast = accelerate(make_client(server), backend=backend)
    items = list(fast.chat.completions.create(model="huge", messages=MESSAGES, stream=True))
    assert len(items) == 1 and len(items[0].choices[0].delta.content) == size
    del items, body, pieces, chunk
    gc.collect()


def test_limits_apply_when_set(server: LLMServer, backend: str) -> None:
    fast = accelerate(make_client(server), backend=backend, max_event_size=100)
    stream = start(fast, "chat-text")
    with pytest.raises(fastsse.EventTooLarge):
        list(stream)
    assert stream.response.is_closed


def test_threads_share_one_accelerated_client(server: LLMServer, backend: str) -> None:
    fast = accelerate(make_client(server), backend=backend)
    expected = collect(lambda: start(make_client(server), "chat-logprobs"))
    results: list = []

    def worker() -> None:
        for _ in range(5):
            results.append(collect(lambda: start(fast, "chat-logprobs")))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 20
    for outcome in results:
        assert_same_outcome(outcome, expected)


def test_unsupported_versions_are_refused(
    server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(server)
    for version in ("2.54.0", "4.0.0", "not-a-version"):
        monkeypatch.setattr(openai, "__version__", version)
        with pytest.raises(UnsupportedVersion, match=r"openai>=3\.0,<4") as info:
            accelerate(client)
        assert isinstance(info.value, fastsse.StreamError)
        assert info.value.version == version
    assert "_make_sse_decoder" not in vars(client)


def test_only_openai_clients_are_taken() -> None:
    with pytest.raises(TypeError, match="openai.OpenAI"):
        accelerate(object())


def test_a_bad_backend_fails_at_once(server: LLMServer) -> None:
    with pytest.raises(ValueError):
        accelerate(make_client(server), backend="no-such-backend")
    with pytest.raises(ValueError):
        accelerate(make_client(server), max_event_size=0)


def test_supported_versions_include_the_installed_one() -> None:
    assert accelerated_openai.SUPPORTED_VERSIONS == ">=3.0,<4"
    major = int(openai.__version__.split(".")[0])
    assert major == 3, openai.__version__


def test_items_are_the_sdk_classes(server: LLMServer) -> None:
    from openai.types.chat import ChatCompletionChunk
    from openai.types.responses import ResponseTextDeltaEvent

    fast = accelerate(make_client(server))
    chunks = list(start(fast, "chat-tools"))
    assert all(type(chunk) is ChatCompletionChunk for chunk in chunks)
    arguments = "".join(
        call.function.arguments or ""
        for chunk in chunks
        for choice in chunk.choices
        for call in choice.delta.tool_calls or []
        if call.index == 0
    )
    assert arguments == '{"location": "Paris, France"}'
    events = list(start(fast, "responses"))
    deltas = [e.delta for e in events if isinstance(e, ResponseTextDeltaEvent)]
    assert deltas[-2:] == ["\u2028", "\u2029"]
    assert_same(events[0], events[0])
    assert sys.getrefcount(fast) > 1
