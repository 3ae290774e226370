"""Typed items: ``Stream(model=...)`` / ``AsyncStream(model=...)`` and ``models=``.

Every test runs on both backends and, where bytes are decoded, over every chunking
(whole, bytewise, random splits); sync and async streams must give the same items.
"""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
import textwrap
from typing import Any, Dict, List, Optional, Union

import msgspec
import pydantic
import pytest
from _chunking import chunkings
from typing_extensions import Annotated, Literal, TypedDict

import fastsse
from fastsse._typed import decoder_for


class Delta(msgspec.Struct, tag_field="type", tag="delta"):
    text: str


class Stop(msgspec.Struct, tag_field="type", tag="stop"):
    reason: str


class Chunk(msgspec.Struct):
    id: str
    n: int


class ChunkModel(pydantic.BaseModel):
    id: str
    n: int


class Ping(pydantic.BaseModel):
    type: Literal["ping"]


@dataclasses.dataclass
class ChunkData:
    id: str
    n: int


class ChunkDict(TypedDict):
    id: str
    n: int


class UserJoined(pydantic.BaseModel):
    kind: Literal["joined"]
    user: str


class UserLeft(pydantic.BaseModel):
    kind: Literal["left"]
    user: str


ChannelEvent = Annotated[Union[UserJoined, UserLeft], pydantic.Field(discriminator="kind")]


def sse(*blocks: str) -> bytes:
    return "".join(blocks).encode()


CHUNKS_BODY = sse(
    ": keep-alive\n\n",
    'data: {"id":"a","n":1}\n\n',
    'id: 7\ndata: {"id":"b",\ndata: "n":2}\n\n',
    'event: message\ndata: {"id":"c","n":3}\n\n',
    'retry: 50\ndata: {"id":"d","n":4}\n\n',
    "data: [DONE]\n\n",
    'data: {"id":"after","n":0}\n\n',
)
CHUNKS_VALUES = [("a", 1), ("b", 2), ("c", 3), ("d", 4)]


def run_sync(chunks: List[bytes], **options: Any) -> List[Any]:
    options.setdefault("format", "sse")
    return list(fastsse.Stream(chunks, **options))


def run_async(chunks: List[bytes], **options: Any) -> List[Any]:
    options.setdefault("format", "sse")

    async def body() -> Any:
        for chunk in chunks:
            yield chunk

    async def collect() -> List[Any]:
        return [item async for item in fastsse.AsyncStream(body(), **options)]

    return asyncio.run(collect())


RUNNERS = {"sync": run_sync, "async": run_async}


@pytest.fixture(params=list(RUNNERS))
def run(request: Any) -> Any:
    return RUNNERS[request.param]


def outcome(run: Any, chunks: List[bytes], **options: Any) -> Any:
    """The items a stream gives before it ends or raises, and the error (or None)."""
    items: List[Any] = []
    options.setdefault("format", "sse")
    if run is run_sync:
        try:
            for item in fastsse.Stream(chunks, **options):
                items.append(item)
        except Exception as exc:  # noqa: BLE001 - the caller checks the type
            return items, exc
        return items, None

    async def body() -> Any:
        for chunk in chunks:
            yield chunk

    async def collect() -> Any:
        try:
            async for item in fastsse.AsyncStream(body(), **options):
                items.append(item)
        except Exception as exc:  # noqa: BLE001
            return items, exc
        return items, None

    return asyncio.run(collect())


@pytest.mark.parametrize(
    "model, make",
    [
        (Chunk, Chunk),
        (ChunkModel, ChunkModel),
        (pydantic.TypeAdapter(ChunkModel), ChunkModel),
        (ChunkData, ChunkData),
        (ChunkDict, lambda id, n: {"id": id, "n": n}),
        (msgspec.json.Decoder(Chunk), Chunk),
    ],
    ids=["struct", "basemodel", "typeadapter", "dataclass", "typeddict", "msgspec-decoder"],
)
def test_model_items_every_chunking(backend, run, model, make):
    expected = [make(id=i, n=n) for i, n in CHUNKS_VALUES]
    for name, chunks in chunkings(CHUNKS_BODY):
        items = run(chunks, model=model, decoder=backend, terminal_event="[DONE]")
        assert items == expected, name
        assert all(type(item) is type(expected[0]) for item in items), name


def test_tagged_union(backend, run):
    body = sse(
        'data: {"type":"delta","text":"Hi"}\n\n',
        'data: {"type":"delta","text":" there \u2028 \u00e9"}\n\n',
        'data: {"type":"stop","reason":"end"}\n\n',
    )
    for name, chunks in chunkings(body):
        items = run(chunks, model=Union[Delta, Stop], decoder=backend)
        assert items == [Delta("Hi"), Delta(" there \u2028 \u00e9"), Stop("end")], name


def test_discriminated_pydantic_union(backend, run):
    body = b'data: {"kind":"joined","user":"ann"}\r\n\r\ndata: {"kind":"left","user":"bo"}\r\r'
    for name, chunks in chunkings(body):
        items = run(chunks, model=ChannelEvent, decoder=backend)
        assert items == [UserJoined(kind="joined", user="ann"), UserLeft(kind="left", user="bo")]
        assert [type(item) for item in items] == [UserJoined, UserLeft], name


ANTHROPIC_BLOCKS = [
    'event: message_start\ndata: {"type":"message_start","id":"m1","n":0}\n\n',
    'event: ping\ndata: {"type": "ping"}\n\n',
    'event: content_block_delta\ndata: {"type":"delta","text":"a"}\n\n',
    'event: content_block_delta\ndata: {"type":"delta","text":"b"}\n\n',
    'data: {"id":"plain","n":5}\n\n',
    'event: message_stop\ndata: {"type":"message_stop"}\n\n',
]
ANTHROPIC_BODY = sse(*ANTHROPIC_BLOCKS)


def test_models_by_name_with_a_default(backend, run):
    models = {"content_block_delta": Delta, "ping": Ping}
    # Without models of their own, message_start and the unnamed event decode as Chunk.
    for name, chunks in chunkings(sse(*ANTHROPIC_BLOCKS[:-1])):
        items = run(chunks, models=models, model=Chunk, decoder=backend)
        assert items == [
            Chunk("m1", 0),
            Ping(type="ping"),
            Delta("a"),
            Delta("b"),
            Chunk("plain", 5),
        ], name


def test_models_by_name_default_fails_where_it_must(backend, run):
    models = {"content_block_delta": Delta, "ping": Ping}
    items, error = outcome(run, [ANTHROPIC_BODY], models=models, model=Chunk, decoder=backend)
    assert isinstance(error, fastsse.ValidationError)
    assert (error.index, error.event) == (5, "message_stop")
    assert len(items) == 5


def test_models_by_name_others_as_without_a_model(backend, run):
    models = {"content_block_delta": Delta}
    for name, chunks in chunkings(ANTHROPIC_BODY):
        items = run(chunks, models=models, decoder=backend)
        assert [type(item) for item in items] == [
            fastsse.ServerSentEvent,
            fastsse.ServerSentEvent,
            Delta,
            Delta,
            fastsse.ServerSentEvent,
            fastsse.ServerSentEvent,
        ], name
        assert items[0].event == "message_start" and items[4].data == '{"id":"plain","n":5}'
        # with a callback, the others' JSON goes to it, as without models=
        items = run(chunks, models=models, decoder=backend, deserialization_callback=lambda r, v: v)
        assert items[1] == {"type": "ping"} and items[2] == Delta("a"), name


def test_models_for_message_events(backend, run):
    for name, chunks in chunkings(CHUNKS_BODY):
        items = run(chunks, models={"message": Chunk}, decoder=backend, terminal_event="[DONE]")
        assert items == [Chunk(i, n) for i, n in CHUNKS_VALUES], name


def test_jsonl_records(backend, run):
    body = b'\xef\xbb\xbf{"id":"a","n":1}\r\n\n  \n{"id":"b","n":2}\n{"id":"c","n":3}'
    for model in (Chunk, ChunkModel):
        for name, chunks in chunkings(body):
            items = run(chunks, format="jsonl", model=model, decoder=backend)
            assert items == [model(id="a", n=1), model(id="b", n=2), model(id="c", n=3)], name


def test_callback_gets_the_typed_value(backend, run):
    seen = []

    def callback(response: Any, value: Any) -> Any:
        seen.append((response, value))
        return ("wrapped", value)

    for name, chunks in chunkings(CHUNKS_BODY, splits=2):
        seen.clear()
        items = run(
            chunks,
            model=Chunk,
            decoder=backend,
            terminal_event="[DONE]",
            deserialization_callback=callback,
        )
        expected = [Chunk(i, n) for i, n in CHUNKS_VALUES]
        assert items == [("wrapped", value) for value in expected], name
        assert [value for _, value in seen] == expected
        if run is run_sync:
            assert all(response is chunks for response, _ in seen)


def test_async_coroutine_callback_gets_the_typed_value(backend):
    async def callback(response: Any, value: Any) -> Any:
        await asyncio.sleep(0)
        return value.n

    items = run_async(
        [CHUNKS_BODY],
        model=Chunk,
        decoder=backend,
        terminal_event="[DONE]",
        deserialization_callback=callback,
    )
    assert items == [1, 2, 3, 4]


def test_terminal_event_names(backend, run):
    body = sse(
        'event: delta\ndata: {"type":"delta","text":"a"}\n\n',
        'event: done\ndata: {"type":"stop","reason":"r"}\n\n',
        'event: delta\ndata: {"type":"delta","text":"late"}\n\n',
    )
    for name, chunks in chunkings(body):
        items = run(
            chunks, model=Union[Delta, Stop], decoder=backend, terminal_event_names=["done"]
        )
        assert items == [Delta("a"), Stop("r")], name


def test_error_event_names(backend, run):
    body = sse(
        'data: {"id":"a","n":1}\n\n',
        'event: error\ndata: {"error":{"message":"overloaded"}}\n\n',
        'data: {"id":"b","n":2}\n\n',
    )
    for name, chunks in chunkings(body):
        items, error = outcome(
            run, chunks, model=Chunk, decoder=backend, error_event_names=["error"]
        )
        assert items == [Chunk("a", 1)], name
        assert isinstance(error, fastsse.EventError)
        assert error.payload == {"error": {"message": "overloaded"}}


DISPATCH_BODY = sse(
    'data: {"kind":"joined","user":"ann"}\n\n',
    'event: custom\ndata: {"kind":"left","user":"bo"}\n\n',
    'data: {"kind":"left","user":"cy"}\n\n',
)


class Recorder(fastsse.EventHandler):
    def __init__(self) -> None:
        self.calls: List[Any] = []

    def on_joined(self, item: Any) -> None:
        self.calls.append(("joined", item.user))

    def on_left(self, item: Any) -> None:
        self.calls.append(("left", item.user))

    def on_custom(self, item: Any) -> None:
        self.calls.append(("custom", item.user))


def test_handler_dispatch_by_name_then_kind(backend):
    for name, chunks in chunkings(DISPATCH_BODY, splits=2):
        handler = Recorder()
        fastsse.Stream(
            chunks, format="sse", model=ChannelEvent, decoder=backend, event_handler=handler
        ).run()
        assert handler.calls == [("joined", "ann"), ("custom", "bo"), ("left", "cy")], name


def test_add_callback_dispatch_typed(backend):
    got: List[Any] = []
    stream = fastsse.Stream([DISPATCH_BODY], format="sse", model=ChannelEvent, decoder=backend)
    stream.add_callback("left", lambda item: got.append(("left", item.user)))
    stream.add_callback("custom", lambda item: got.append(("custom", item.user)))
    items = list(stream)
    assert got == [("custom", "bo"), ("left", "cy")]
    assert [item.user for item in items] == ["ann", "bo", "cy"]


def test_dispatch_typed_dict_key(backend):
    body = b'data: {"type":"a","n":1}\n\ndata: {"type":"b","n":2}\n\n'

    class Typed(TypedDict):
        type: str
        n: int

    got: List[Any] = []
    stream = fastsse.Stream([body], format="sse", model=Typed, decoder=backend)
    stream.add_callback("b", got.append)
    stream.run()
    assert got == [{"type": "b", "n": 2}]


def test_async_handler_dispatch(backend):
    class AsyncRecorder(fastsse.AsyncEventHandler):
        def __init__(self) -> None:
            self.calls: List[Any] = []

        async def on_left(self, item: Any) -> None:
            self.calls.append(item.user)

    handler = AsyncRecorder()
    run_async([DISPATCH_BODY], model=ChannelEvent, decoder=backend, event_handler=handler)
    assert handler.calls == ["cy"]


# --------------------------------------------------------------------------- errors

BAD_BODY = sse(
    'data: {"id":"a","n":1}\n\n',
    "id: 41\n\n",  # commits the id; dispatches nothing
    'data: {"id":"b","n":2}\n\n',
    'id: 42\nevent: update\ndata: {"id":"c","n":"three"}\n\n',
    'data: {"id":"d","n":4}\n\n',
)


@pytest.mark.parametrize("model", [Chunk, ChunkModel], ids=["msgspec", "pydantic"])
def test_validation_error_names_the_event(backend, run, model):
    for name, chunks in chunkings(BAD_BODY):
        items, error = outcome(run, chunks, model=model, decoder=backend)
        assert items == [model(id="a", n=1), model(id="b", n=2)], name
        assert isinstance(error, fastsse.ValidationError), name
        assert isinstance(error, fastsse.DecodeError) and isinstance(error, fastsse.StreamError)
        assert (error.index, error.event, error.id) == (2, "update", "42"), name
        assert error.model == model.__qualname__
        assert error.data == '{"id":"c","n":"three"}'
        assert "event 2" in str(error) and "'update'" in str(error) and "'42'" in str(error)
        library_error = msgspec.ValidationError if model is Chunk else pydantic.ValidationError
        assert isinstance(error.__cause__, library_error), name


def test_validation_error_on_a_plain_event_has_its_id(backend, run):
    body = sse('data: {"id":"a","n":1}\n\n', "id: 9\n\n", 'data: {"id":"b"}\n\n')
    for name, chunks in chunkings(body):
        items, error = outcome(run, chunks, model=Chunk, decoder=backend)
        assert items == [Chunk("a", 1)], name
        assert isinstance(error, fastsse.ValidationError), name
        assert (error.index, error.event, error.id) == (1, "message", "9"), name


@pytest.mark.parametrize("model", [Chunk, ChunkModel], ids=["msgspec", "pydantic"])
def test_invalid_json_is_a_validation_error(backend, run, model):
    body = sse('data: {"id":"a","n":1}\n\n', "data: {not json\n\n")
    for name, chunks in chunkings(body):
        items, error = outcome(run, chunks, model=model, decoder=backend)
        assert items == [model(id="a", n=1)], name
        assert isinstance(error, fastsse.ValidationError), name
        assert (error.index, error.event, error.id) == (1, "message", "")
        library_error = msgspec.DecodeError if model is Chunk else pydantic.ValidationError
        assert isinstance(error.__cause__, library_error)


def test_invalid_utf8_in_sse_data_decodes_as_the_text_reads(backend, run):
    # SSE data is UTF-8 with replacement: the model gets what ev.data reads.
    body = b'data: {"id":"\xff","n":1}\n\n'
    for name, chunks in chunkings(body):
        assert run(chunks, model=Chunk, decoder=backend) == [Chunk("\ufffd", 1)], name


def test_jsonl_validation_error_locates_the_record(backend, run):
    body = b'{"id":"a","n":1}\n\n{"id":"b","n":"x"}\n'
    for name, chunks in chunkings(body):
        items, error = outcome(run, chunks, format="jsonl", model=Chunk, decoder=backend)
        assert items == [Chunk("a", 1)], name
        assert isinstance(error, fastsse.ValidationError)
        assert (error.index, error.line, error.offset, error.event, error.id) == (
            1,
            3,
            18,
            None,
            None,
        )
        assert "line 3" in str(error)


def test_jsonl_invalid_utf8_is_a_validation_error_from_the_record(backend, run):
    body = b'{"id":"a","n":1}\n{"id":"\xff","n":2}\n'
    for name, chunks in chunkings(body):
        items, error = outcome(run, chunks, format="jsonl", model=ChunkModel, decoder=backend)
        assert items == [ChunkModel(id="a", n=1)], name
        assert isinstance(error, fastsse.ValidationError), name
        assert isinstance(error.__cause__, fastsse.JSONDecodeError)
        assert error.__cause__.line == 2


def test_validation_error_closes_the_response(backend):
    class Body:
        closed = False

        def __iter__(self) -> Any:
            yield BAD_BODY

        def close(self) -> None:
            Body.closed = True

    with pytest.raises(fastsse.ValidationError):
        list(fastsse.Stream(Body(), format="sse", model=Chunk, decoder=backend))
    assert Body.closed


def test_validation_error_pickles():
    import pickle

    error = fastsse.ValidationError(
        "m", index=3, event="e", id="i", line=None, offset=None, model="M", data="d"
    )
    again = pickle.loads(pickle.dumps(error))
    assert (again.index, again.event, again.id, again.model, again.data, str(again)) == (
        3,
        "e",
        "i",
        "M",
        "d",
        "m",
    )


def test_other_errors_of_the_model_propagate_as_they_are(backend):
    class Boom(Exception):
        pass

    class Fussy(pydantic.BaseModel):
        n: int

        @pydantic.field_validator("n")
        @classmethod
        def check(cls, value: int) -> int:
            raise Boom("not a validation failure")

    with pytest.raises(Boom):
        list(fastsse.Stream([b'data: {"n":1}\n\n'], format="sse", model=Fussy, decoder=backend))


# ------------------------------------------------------------------ both backends alike

MIXED_BODY = sse(
    'data: {"id":"a","n":1}\n\n',
    'id: x\ndata: {"id":"b","n":2}\n\n',
    'data: {"id":"c","n":3}\n\n',
    "retry: 9\n\n",
    'retry: 10\ndata: {"id":"d","n":4}\n\n',
    'event: named\ndata: {"id":"e","n":5}\n\n',
    'data: {"id":"f","n":6}\n\n',
    "id\n\n",
    'data: {"id":"g","n":7}\n\n',
    'data: {"id":"h","n":"bad"}\n\n',
)


def test_backends_agree_on_items_and_error(run, compiled_wanted):
    if not compiled_wanted:
        pytest.skip("compares the compiled backend with the twin; the compiled one is deselected")
    seen = []
    for backend in ("fast", "python"):
        for name, chunks in chunkings(MIXED_BODY):
            items, error = outcome(run, chunks, model=Chunk, decoder=backend)
            seen.append(
                (items, type(error), error.index, error.event, error.id, error.data, backend, name)
            )
    first = seen[0]
    for other in seen[1:]:
        assert other[:6] == first[:6], (other[6:], first[6:])
    assert first[2:5] == (7, "message", "")


def test_one_event_per_chunk_after_an_id_only_block(backend, run):
    # Chunks that are each one whole event, the shape LLM servers send.
    chunks = [
        b'data: {"id":"a","n":1}\n\n',
        b"id: 5\n\n",
        b'data: {"id":"b","n":2}\n\n',
        b'data: {"id":"c"}\n\n',
    ]
    items, error = outcome(run, chunks, model=Chunk, decoder=backend)
    assert items == [Chunk("a", 1), Chunk("b", 2)]
    assert isinstance(error, fastsse.ValidationError)
    assert (error.index, error.id) == (2, "5")


def test_decoder_instance_keeps_its_last_event_id(backend):
    decoder = fastsse.SSEDecoder(backend)
    list(fastsse.Stream([b'id: 3\ndata: {"id":"a","n":1}\n\n'], decoder=decoder, model=Chunk))
    assert decoder.last_event_id == "3"


# ----------------------------------------------------------------- choice of decoder


def test_decoder_built_once_per_type():
    assert decoder_for(Chunk) is decoder_for(Chunk)
    assert decoder_for(ChannelEvent) is decoder_for(ChannelEvent)


def test_which_library_decodes():
    def library(model: Any) -> str:
        decode = decoder_for(model)
        owner = getattr(decode, "__self__", None)
        return type(owner).__module__.split(".")[0]

    assert library(Chunk) == "msgspec"
    assert library(Union[Delta, Stop]) == "msgspec"
    assert library(ChunkData) == "msgspec"
    assert library(ChunkDict) == "msgspec"
    assert library(List[Chunk]) == "msgspec"
    assert library(ChunkModel) == "pydantic_core"
    assert library(pydantic.TypeAdapter(ChunkData)) == "pydantic_core"
    assert library(ChannelEvent) == "pydantic_core"
    assert library(List[ChunkModel]) == "pydantic_core"
    assert library(Annotated[int, pydantic.Field(gt=0)]) == "pydantic_core"


@dataclasses.dataclass
class Holder:
    inner: ChunkModel


def test_a_dataclass_holding_pydantic_types_goes_to_pydantic():
    body = b'data: {"inner":{"id":"a","n":1}}\n\n'
    assert list(fastsse.Stream([body], format="sse", model=Holder)) == [
        Holder(ChunkModel(id="a", n=1))
    ]


def test_bad_models_argument():
    with pytest.raises(TypeError, match="models"):
        fastsse.Stream([b""], format="sse", models=[Chunk])  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="event names"):
        fastsse.Stream([b""], format="sse", models={1: Chunk})  # type: ignore[dict-item]


# -------------------------------------------------------------- optional libraries


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )


def test_importing_fastsse_imports_neither_library():
    result = run_python(
        """
        import sys
        import fastsse
        list(fastsse.Stream([b"data: {}\\n\\n"], format="sse"))
        loaded = [name for name in ("msgspec", "pydantic", "pydantic_core") if name in sys.modules]
        assert not loaded, loaded
        print("ok")
        """
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_missing_msgspec_names_its_extra():
    result = run_python(
        """
        import dataclasses, sys
        sys.modules["msgspec"] = None  # as if not installed
        import fastsse

        @dataclasses.dataclass
        class Point:
            x: int

        try:
            fastsse.Stream([b""], format="sse", model=Point)
        except ImportError as exc:
            print(exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'fastsse-decoder[msgspec]'" in result.stdout
    assert "TypeAdapter" in result.stdout


def test_missing_pydantic_names_its_extra():
    result = run_python(
        """
        import dataclasses, sys, typing
        sys.modules["pydantic"] = None  # as if not installed
        import fastsse

        @dataclasses.dataclass
        class A:
            x: int

        @dataclasses.dataclass
        class B:
            y: int

        try:  # msgspec decodes no union of two untagged object types
            fastsse.Stream([b""], format="sse", model=typing.Union[A, B])
        except TypeError as exc:
            print(exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'fastsse-decoder[pydantic]'" in result.stdout


class Inner(msgspec.Struct):
    v: Optional[List[int]] = None


class Outer(msgspec.Struct):
    inner: Inner
    extra: Dict[str, str] = {}


def test_nested_structs(backend):
    body = b'data: {"inner":{"v":[1,2]},"extra":{"k":"v"}}\n\ndata: {"inner":{}}\n\n'
    assert run_sync([body], model=Outer, decoder=backend) == [
        Outer(Inner([1, 2]), {"k": "v"}),
        Outer(Inner(None)),
    ]


# ------------------------------------------------------------- the compiled raw mode


class RecordingPlan:
    """A TypedPlan whose decode function records what it was given."""

    def __init__(self) -> None:
        self.given: List[Any] = []
        self.by_name = None
        self.post = None
        self.errors = (ValueError,)

    def decode(self, data: Any) -> Any:
        self.given.append(data)
        return msgspec.json.decode(data)

    def decode_for(self, name: Any) -> Any:
        return self.decode

    def failed(self, *args: Any) -> Any:
        raise AssertionError(args)


def test_compiled_loop_hands_plain_events_data_bytes(compiled_wanted):
    if not compiled_wanted:
        pytest.skip("compiled backend deselected")
    from fastsse import _decoder

    for name, chunks in chunkings(MIXED_BODY.replace(b'"bad"', b"8")):
        plan = RecordingPlan()
        decoder = fastsse.SSEDecoder("fast")
        items = list(
            _decoder.StreamItems(decoder, iter(chunks), None, None, None, lambda: None, plan)
        )
        assert [item["n"] for item in items] == [1, 2, 3, 4, 5, 6, 7, 8], name
        # Every event's data reaches the model as the bytes the decoder cut out: no str,
        # no event object, whether the event came as data bytes or (named, with a new id
        # or a retry) as an event.
        assert all(type(data) is bytes for data in plan.given), name
        assert len(plan.given) == 8


def test_bench_typed_checks_its_cases(monkeypatch):
    # bench/typed.py times loops whose values it checks first: run that check on a small
    # corpus, so that a change breaking a case fails here, not in a benchmark run.
    from pathlib import Path

    bench = Path(__file__).resolve().parent.parent / "bench"
    if not (bench / "typed.py").exists():
        pytest.skip("bench/ is not part of this tree (an sdist or wheel build)")
    monkeypatch.syspath_prepend(str(bench))
    import corpora
    import typed as bench_typed

    corpus = corpora.openai_chat(tokens=300)
    bench_typed.check(corpus, bench_typed.cases(corpus))


def test_resumed_decoder_names_its_last_event_id(backend, run):
    # A stream resumed with a previous connection's last event ID: its plain events
    # carry that ID until the stream changes it, and so does a failure.
    body = sse('data: {"id":"a","n":1}\n\n', 'data: {"id":"b"}\n\n')
    for name, chunks in chunkings(body, splits=2):
        decoder = fastsse.SSEDecoder(backend, last_event_id="resumed")
        items, error = outcome(run, chunks, model=Chunk, decoder=decoder)
        assert items == [Chunk("a", 1)], name
        assert isinstance(error, fastsse.ValidationError), name
        assert (error.index, error.id) == (1, "resumed"), name
