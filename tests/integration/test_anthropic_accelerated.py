"""The anthropic SDK accelerated by fastsse gives what the plain SDK gives, stream by stream.

Both clients talk to the same server on 127.0.0.1 (``llm_server.py``), which speaks the
Messages API's streaming format (named events, ``ping``, ``error`` events, HTTP errors);
every stream of its corpus goes through both, with ``messages.create(stream=True)`` and the
``messages.stream()`` helper, sync and async, on both fastsse backends.
"""

from __future__ import annotations

import asyncio
from typing import Any, Iterator, List

import pytest
from _sdk_compare import (
    MESSAGES,
    Outcome,
    assert_raised,
    assert_same,
    assert_same_outcome,
    collect,
    collect_async,
    outcome,
    outcome_async,
    sdk_client,
    serve,
)
from llm_server import ANTHROPIC, LLMServer

import fastsse
from fastsse.integrations import anthropic as accelerated_anthropic
from fastsse.integrations.anthropic import UnsupportedVersion, accelerate

# The releases accelerate() supports need Python 3.10; older Pythons get none of them.
anthropic: Any = pytest.importorskip("anthropic", minversion="2.0")


@pytest.fixture(scope="module")
def server() -> Iterator[LLMServer]:
    yield from serve(ANTHROPIC)


def make_client(server: LLMServer, cls: Any = anthropic.Anthropic) -> Any:
    return sdk_client(server, cls)


def create(client: Any, name: str) -> Any:
    return client.messages.create(model=name, max_tokens=64, messages=MESSAGES, stream=True)


def helper(client: Any, name: str) -> Outcome:
    """``messages.stream()``: its events, its text, and the final message it assembled."""

    def fill(items: List[Any]) -> None:
        with client.messages.stream(model=name, max_tokens=64, messages=MESSAGES) as stream:
            items.extend(stream)
            items.append(stream.get_final_message())

    return outcome(fill)


def helper_async(client: Any, name: str) -> Outcome:
    async def fill(items: List[Any]) -> None:
        async with client.messages.stream(model=name, max_tokens=64, messages=MESSAGES) as stream:
            async for event in stream:
                items.append(event)
            items.append(await stream.get_final_message())

    return outcome_async(fill, client)


@pytest.mark.parametrize("name", sorted(ANTHROPIC))
def test_sync_stream_equals_plain_sdk(server: LLMServer, backend: str, name: str) -> None:
    plain = make_client(server)
    fast = accelerate(make_client(server), backend=backend)
    expected = collect(lambda: create(plain, name))
    assert_same_outcome(collect(lambda: create(fast, name)), expected)
    assert_raised(expected, ANTHROPIC[name].raises, anthropic)
    if ANTHROPIC[name].raises is None:
        assert expected[0]


@pytest.mark.parametrize("name", sorted(ANTHROPIC))
def test_async_stream_equals_plain_sdk(server: LLMServer, backend: str, name: str) -> None:
    plain = make_client(server, anthropic.AsyncAnthropic)
    fast = accelerate(make_client(server, anthropic.AsyncAnthropic), backend=backend)
    expected = collect_async(lambda: create(plain, name), plain)
    assert_same_outcome(collect_async(lambda: create(fast, name), fast), expected)
    assert_raised(expected, ANTHROPIC[name].raises, anthropic)


# The helper assembles a message; a stream the SDK cannot assemble fails alike in both.
@pytest.mark.parametrize("name", sorted(ANTHROPIC))
def test_stream_helper_equals_plain_sdk(server: LLMServer, backend: str, name: str) -> None:
    plain = make_client(server)
    fast = accelerate(make_client(server), backend=backend)
    expected = helper(plain, name)
    assert_same_outcome(helper(fast, name), expected)


@pytest.mark.parametrize("name", ["text", "tools", "thinking", "error-event", "http-529"])
def test_async_stream_helper_equals_plain_sdk(server: LLMServer, backend: str, name: str) -> None:
    plain = make_client(server, anthropic.AsyncAnthropic)
    fast = accelerate(make_client(server, anthropic.AsyncAnthropic), backend=backend)
    assert_same_outcome(helper_async(fast, name), helper_async(plain, name))


def test_helper_text_and_tool_input(server: LLMServer, backend: str) -> None:
    fast = accelerate(make_client(server), backend=backend)
    with fast.messages.stream(model="text", max_tokens=64, messages=MESSAGES) as stream:
        assert "".join(stream.text_stream) == "Hello! How can I help?"
    with fast.messages.stream(model="tools", max_tokens=64, messages=MESSAGES) as stream:
        message = stream.get_final_message()
    assert message.content[1].input == {"location": "San Francisco, CA", "unit": "fahrenheit"}


def test_events_are_validated_not_constructed(
    server: LLMServer, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import anthropic._base_client as base_client

    calls: list = []
    original = base_client.construct_type

    def construct_type(**kwargs: Any) -> Any:
        calls.append(kwargs["type_"])
        return original(**kwargs)

    monkeypatch.setattr(base_client, "construct_type", construct_type)
    fast = accelerate(make_client(server), backend=backend)
    items, error = collect(lambda: create(fast, "text"))
    assert error is None and len(items) == 12  # the ping is skipped, as by the SDK
    assert calls == []
    items, error = collect(lambda: create(fast, "odd"))
    assert error is None and calls


def test_error_event_raises_the_sdk_error(server: LLMServer, backend: str) -> None:
    fast = accelerate(make_client(server), backend=backend)
    stream = create(fast, "error-event")
    with pytest.raises(anthropic.APIStatusError, match="overloaded_error") as info:
        list(stream)
    assert info.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }
    assert stream.response.is_closed


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
def test_response_closed_when_the_loop_is_left_early(
    server: LLMServer, backend: str, sync: bool
) -> None:
    if sync:
        stream = create(accelerate(make_client(server), backend=backend), "text")
        for _ in stream:
            break
        stream.close()
        assert stream.response.is_closed
        return

    async def run() -> None:
        client = accelerate(make_client(server, anthropic.AsyncAnthropic), backend=backend)
        async with client:
            stream = await create(client, "text")
            async for _ in stream:
                break
            await stream.close()
            assert stream.response.is_closed

    asyncio.run(run())


def test_other_clients_are_untouched_and_copies_accelerated(server: LLMServer) -> None:
    fast = accelerate(make_client(server))
    plain = make_client(server)
    assert isinstance(create(plain, "text")._decoder, anthropic._streaming.SSEDecoder)
    assert "_make_sse_decoder" not in vars(plain)
    derived = fast.with_options(timeout=5)
    stream = create(derived, "text")
    assert type(stream._decoder).__module__ == "fastsse.integrations._sdk"
    stream.close()


def test_limits_apply_when_set(server: LLMServer, backend: str) -> None:
    fast = accelerate(make_client(server), backend=backend, max_line_size=64)
    with pytest.raises(fastsse.LineTooLong):
        list(create(fast, "text"))


def test_unsupported_versions_are_refused(
    server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(server)
    for version in ("1.17.0", "3.0.0"):
        monkeypatch.setattr(anthropic, "__version__", version)
        with pytest.raises(UnsupportedVersion, match=r"anthropic>=2\.0,<3"):
            accelerate(client)
    assert "_make_sse_decoder" not in vars(client)


def test_only_sse_clients_are_taken() -> None:
    with pytest.raises(TypeError, match="anthropic.Anthropic"):
        accelerate(object())


def test_supported_versions_include_the_installed_one() -> None:
    assert accelerated_anthropic.SUPPORTED_VERSIONS == ">=2.0,<3"
    assert anthropic.__version__.split(".")[0] == "2"


def test_items_are_the_sdk_classes(server: LLMServer) -> None:
    fast = accelerate(make_client(server))
    events = list(create(fast, "thinking"))
    kinds = [type(event).__name__ for event in events]
    assert kinds[0] == "RawMessageStartEvent" and kinds[-1] == "RawMessageStopEvent"
    assert_same(events, list(create(make_client(server), "thinking")))


DELTAS = [
    {"type": "text_delta", "text": "x"},
    {"type": "text_delta", "text": "x", "extra": [1]},
    {"type": "input_json_delta", "partial_json": "{"},
    {"type": "thinking_delta", "thinking": "t"},
    {"type": "signature_delta", "signature": "s"},
    {"type": "citations_delta", "citation": {"type": "future_location"}},
    {"type": "input_json_delta", "text": "the fields of text_delta"},
    {"type": "future_delta", "value": 1},
    {"type": 1, "text": "x"},
    {"text": "no tag"},
    "not an object",
    None,
]


@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize("delta", DELTAS, ids=repr)
def test_a_union_of_tagged_models_validates_as_the_union_does(delta: Any, strict: bool) -> None:
    """A model's own union of tagged models is validated as a tagged union: the same item,
    its fields set and undeclared fields, or a validation error where the union gives one."""
    import pydantic
    from anthropic.types import RawContentBlockDeltaEvent as Event

    from fastsse.integrations import _sdk

    validate = _sdk._validator(Event)
    assert validate != Event.__pydantic_validator__.validate_python  # the tagged union is used
    payload = {"type": "content_block_delta", "index": 0, "delta": delta}
    for data in (payload, [payload], "not an object"):
        try:
            expected = Event.__pydantic_validator__.validate_python(data, strict=strict)
        except pydantic.ValidationError:
            with pytest.raises(pydantic.ValidationError):
                validate(data, strict=strict)
            continue
        item = validate(data, strict=strict)
        assert_same(item, expected)
        assert item.__pydantic_private__ == expected.__pydantic_private__
