"""The event classes of both implementations, and the public classes the package exports.

``impl.ServerSentEvent`` / ``impl.JSONLEvent`` are exercised for each implementation
module; the public layer (``fastsse.ServerSentEvent``, the decoder classes) is checked
per backend: whichever backend decodes, users get one event class.
"""

from __future__ import annotations

import copy
import importlib
import pickle

import pytest
from _chunking import decode_all

import fastsse

INVALID = b"a\xffb\xe2\x82"  # a stray continuation byte and a truncated sequence


# ----------------------------------------------------------------------- ServerSentEvent


def test_sse_event_defaults(impl):
    event = impl.ServerSentEvent()
    assert (event.data, event.event, event.id, event.retry) == ("", "message", "", None)
    event = impl.ServerSentEvent("payload")
    assert (event.data, event.event, event.id, event.retry) == ("payload", "message", "", None)


def test_sse_event_fields_by_position_and_keyword(impl):
    positional = impl.ServerSentEvent("d", "update", "7", 1500)
    keyword = impl.ServerSentEvent(data="d", event="update", id="7", retry=1500)
    for event in (positional, keyword):
        assert (event.data, event.event, event.id, event.retry) == ("d", "update", "7", 1500)
    assert positional == keyword


def test_sse_event_from_bytes_equals_event_from_str(impl):
    text = "h\u00e9llo \u20ac \U0001f600\nsecond line"
    from_str = impl.ServerSentEvent(text, "e", "1", 5)
    from_bytes = impl.ServerSentEvent(text.encode(), "e", "1", 5)
    assert from_bytes.data == text
    assert from_str == from_bytes and not (from_str != from_bytes)
    assert hash(from_str) == hash(from_bytes)
    assert len({from_str, from_bytes}) == 1


def test_sse_event_bytes_are_decoded_with_replacement(impl):
    event = impl.ServerSentEvent(INVALID)
    assert event.data == "a\ufffdb\ufffd"
    assert event.data is event.data  # decoded once, then kept
    assert event == impl.ServerSentEvent("a\ufffdb\ufffd")
    assert hash(event) == hash(impl.ServerSentEvent("a\ufffdb\ufffd"))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": 1},
        {"data": None},
        {"data": bytearray(b"x")},
        {"event": b"e"},
        {"event": None},
        {"id": 1},
        {"retry": "5"},
        {"retry": 1.5},
    ],
    ids=repr,
)
def test_sse_event_rejects_wrong_types(impl, kwargs):
    with pytest.raises(TypeError):
        impl.ServerSentEvent(**kwargs)


@pytest.mark.parametrize(
    "changed",
    [{"data": "other"}, {"event": "other"}, {"id": "other"}, {"retry": 6}, {"retry": None}],
    ids=repr,
)
def test_sse_events_differing_in_one_field_are_unequal(impl, changed):
    fields = {"data": "d", "event": "e", "id": "1", "retry": 5}
    base = impl.ServerSentEvent(**fields)
    other = impl.ServerSentEvent(**{**fields, **changed})
    assert base != other and not (base == other)


def test_sse_event_is_not_equal_to_other_types(impl):
    event = impl.ServerSentEvent("x")
    assert event != "x" and not (event == "x")
    assert event != impl.JSONLEvent("x")
    assert event != ("message", "x", "", None)


@pytest.mark.parametrize(
    "event_args",
    [
        ("plain",),
        ("multi\nline \"quoted\" 'x'", "update", "id-1", 3000),
        ("\u2028\x00\ufeff", "", ""),
    ],
    ids=["plain", "all-fields", "odd-characters"],
)
def test_sse_event_repr_is_readable_and_evaluates_back(impl, event_args):
    event = impl.ServerSentEvent(*event_args)
    text = repr(event)
    assert text.startswith("ServerSentEvent(") and repr(event_args[0]) in text
    assert eval(text, {"ServerSentEvent": impl.ServerSentEvent}) == event


def test_sse_event_repr_never_raises_on_invalid_utf8(impl):
    text = repr(impl.ServerSentEvent(INVALID, "e", "i", 1))
    assert "a\ufffdb\ufffd" in text and "retry=1" in text


@pytest.mark.parametrize(
    "event_args",
    [("text",), ("t\u00e9xt".encode(), "e", "9", 0), (INVALID,), ("", "", "", 2**64 - 1)],
    ids=["str", "bytes", "invalid-utf8", "big-retry"],
)
def test_sse_event_pickles_and_copies(impl, event_args):
    event = impl.ServerSentEvent(*event_args)
    for again in (
        pickle.loads(pickle.dumps(event)),
        pickle.loads(pickle.dumps(event, protocol=pickle.HIGHEST_PROTOCOL)),
        copy.copy(event),
        copy.deepcopy(event),
    ):
        assert type(again) is type(event)
        assert again == event
        assert (again.data, again.event, again.id, again.retry) == (
            event.data,
            event.event,
            event.id,
            event.retry,
        )


@pytest.mark.parametrize("name", ["data", "event", "id", "retry"])
def test_sse_event_attributes_are_read_only(impl, name):
    event = impl.ServerSentEvent("d", "e", "i", 1)
    with pytest.raises(AttributeError):
        setattr(event, name, "changed")
    with pytest.raises(AttributeError):
        delattr(event, name)
    assert (event.data, event.event, event.id, event.retry) == ("d", "e", "i", 1)


def test_sse_event_takes_no_new_attributes(impl):
    with pytest.raises(AttributeError):
        impl.ServerSentEvent("d").extra = 1


def test_sse_event_json(impl):
    assert impl.ServerSentEvent('{"a": [1, "\u00e9"]}').json() == {"a": [1, "\u00e9"]}
    assert impl.ServerSentEvent('{"a": [1, "\u00e9"]}'.encode()).json() == {"a": [1, "\u00e9"]}
    assert impl.ServerSentEvent(b'"x\xff"').json() == "x\ufffd"
    with pytest.raises(fastsse.JSONDecodeError):
        impl.ServerSentEvent("[DONE]").json()
    with pytest.raises(fastsse.JSONDecodeError):
        impl.ServerSentEvent(b"").json()


# ---------------------------------------------------------------------------- JSONLEvent


def test_jsonl_event_defaults_and_fields(impl):
    event = impl.JSONLEvent()
    assert (event.data, event.line, event.offset) == ("", None, None)
    positional = impl.JSONLEvent('{"a": 1}', 3, 40)
    keyword = impl.JSONLEvent(data='{"a": 1}', line=3, offset=40)
    for record in (positional, keyword):
        assert (record.data, record.line, record.offset) == ('{"a": 1}', 3, 40)
    assert positional == keyword


def test_jsonl_event_from_bytes_equals_event_from_str(impl):
    text = '{"t": "h\u00e9llo \U0001f600"}'
    from_str = impl.JSONLEvent(text, 2, 10)
    from_bytes = impl.JSONLEvent(text.encode(), 2, 10)
    assert from_bytes.data == text
    assert from_str == from_bytes and hash(from_str) == hash(from_bytes)
    assert from_str.json() == from_bytes.json() == {"t": "h\u00e9llo \U0001f600"}


def test_jsonl_event_bytes_are_decoded_strictly_and_lazily(impl):
    # Construction never decodes: a bad record is only an error when it is read.
    event = impl.JSONLEvent(INVALID, 3, 17)
    for read in (lambda: event.data, event.json):
        with pytest.raises(fastsse.JSONDecodeError) as info:
            read()
        assert (info.value.line, info.value.offset) == (3, 17)
        assert "UTF-8" in str(info.value)
    # Without a position the message still says what is wrong.
    with pytest.raises(fastsse.JSONDecodeError, match="UTF-8") as info:
        impl.JSONLEvent(b"\xff").data
    assert info.value.line is None and info.value.offset is None


@pytest.mark.parametrize(
    "kwargs",
    [{"data": 1}, {"data": bytearray(b"x")}, {"data": None}, {"line": "1"}, {"offset": 1.0}],
    ids=repr,
)
def test_jsonl_event_rejects_wrong_types(impl, kwargs):
    with pytest.raises(TypeError):
        impl.JSONLEvent(**kwargs)


@pytest.mark.parametrize(
    "changed", [{"data": "2"}, {"line": 2}, {"offset": 1}, {"line": None}], ids=repr
)
def test_jsonl_events_differing_in_one_field_are_unequal(impl, changed):
    fields = {"data": "1", "line": 1, "offset": 0}
    assert impl.JSONLEvent(**fields) != impl.JSONLEvent(**{**fields, **changed})


def test_jsonl_event_with_invalid_utf8_never_equals_an_event_built_from_text(impl):
    # Equal events must read the same: one raises on .data, the other would not.
    invalid = impl.JSONLEvent(b'"\xff"', 1, 0)
    lookalike = impl.JSONLEvent('"\udcff"', 1, 0)
    assert invalid != lookalike
    assert impl.JSONLEvent(b'"\xff"', 1, 0) == invalid
    assert hash(impl.JSONLEvent(b'"\xff"', 1, 0)) == hash(invalid)


def test_jsonl_event_repr_is_readable_and_never_raises(impl):
    event = impl.JSONLEvent('{"a": "\'"}', 4, 12)
    text = repr(event)
    assert text.startswith("JSONLEvent(") and "line=4" in text and "offset=12" in text
    assert eval(text, {"JSONLEvent": impl.JSONLEvent}) == event
    invalid = repr(impl.JSONLEvent(INVALID, 1, 0))
    assert invalid.startswith("JSONLEvent(") and "line=1" in invalid


@pytest.mark.parametrize(
    "event_args",
    [("[1]", 1, 0), (b'{"b": 2}', 7, 99), (INVALID, 2, 5), ("x",)],
    ids=["str", "bytes", "invalid-utf8", "no-position"],
)
def test_jsonl_event_pickles_and_copies(impl, event_args):
    event = impl.JSONLEvent(*event_args)
    for again in (pickle.loads(pickle.dumps(event)), copy.copy(event), copy.deepcopy(event)):
        assert type(again) is type(event)
        assert again == event and hash(again) == hash(event)
        assert (again.line, again.offset) == (event.line, event.offset)
    again = pickle.loads(pickle.dumps(event))
    if event_args[0] is INVALID:
        # The raw bytes survive: the record is still reported as invalid, where it was.
        with pytest.raises(fastsse.JSONDecodeError) as info:
            again.data
        assert (info.value.line, info.value.offset) == (2, 5)
    else:
        assert again.data == event.data


@pytest.mark.parametrize("name", ["data", "line", "offset"])
def test_jsonl_event_attributes_are_read_only(impl, name):
    event = impl.JSONLEvent("1", 1, 0)
    with pytest.raises(AttributeError):
        setattr(event, name, 5)
    with pytest.raises(AttributeError):
        delattr(event, name)
    with pytest.raises(AttributeError):
        event.extra = 1
    assert (event.data, event.line, event.offset) == ("1", 1, 0)


def test_jsonl_event_json(impl):
    assert impl.JSONLEvent('{"a": null}').json() == {"a": None}
    assert impl.JSONLEvent(b" [1, 2] ").json() == [1, 2]
    with pytest.raises(fastsse.JSONDecodeError) as info:
        impl.JSONLEvent("NaN", 9, 80).json()
    assert (info.value.line, info.value.offset) == (9, 80)
    assert "line 9" in str(info.value) and "byte 80" in str(info.value)


# -------------------------------------------------------------------- the public layer


def test_public_event_classes_are_the_compiled_ones_when_loaded():
    if fastsse.IMPLEMENTATION == "cython":
        compiled = importlib.import_module("fastsse._decoder")
        assert fastsse.ServerSentEvent is compiled.ServerSentEvent
        assert fastsse.JSONLEvent is compiled.JSONLEvent
    else:
        pure = importlib.import_module("fastsse._decoder_py")
        assert fastsse.ServerSentEvent is pure.ServerSentEvent
        assert fastsse.JSONLEvent is pure.JSONLEvent


SSE_SAMPLE = b"retry: 10\nid: 1\nevent: e\ndata: a\ndata: \xff\n\ndata: b\n\n"
JSONL_SAMPLE = b'{"a": 1}\n\n"\xff"\n[2]'


def test_every_backend_returns_the_public_event_classes(backend):
    events = decode_all(fastsse.SSEDecoder(backend), [SSE_SAMPLE])
    records = decode_all(fastsse.JSONLDecoder(backend), [JSONL_SAMPLE])
    assert [type(ev) for ev in events] == [fastsse.ServerSentEvent] * 2
    assert [type(r) for r in records] == [fastsse.JSONLEvent] * 3


def test_every_backend_returns_events_equal_to_the_pure_backend(backend):
    # Equality across backends needs one shared class: a pure event and a compiled
    # event of different classes would compare unequal.
    reference_events = decode_all(fastsse.SSEDecoder("python"), [SSE_SAMPLE])
    reference_records = decode_all(fastsse.JSONLDecoder("python"), [JSONL_SAMPLE])
    events = decode_all(fastsse.SSEDecoder(backend), [SSE_SAMPLE])
    records = decode_all(fastsse.JSONLDecoder(backend), [JSONL_SAMPLE])
    assert events == reference_events
    assert records == reference_records
    assert [repr(ev) for ev in events] == [repr(ev) for ev in reference_events]
    assert events[0] == fastsse.ServerSentEvent("a\n\ufffd", "e", "1", 10)
    assert events[1] == fastsse.ServerSentEvent("b", "message", "1", None)
    assert records[0] == fastsse.JSONLEvent('{"a": 1}', 1, 0)
    assert records[2] == fastsse.JSONLEvent("[2]", 4, 14)


def test_public_decoder_classes_cover_every_backend(backend):
    for name in (backend, "auto"):
        sse = fastsse.SSEDecoder(name)
        jsonl = fastsse.JSONLDecoder(backend=name)
        assert isinstance(sse, fastsse.SSEDecoder) and isinstance(sse, fastsse.Decoder), name
        assert isinstance(jsonl, fastsse.JSONLDecoder) and isinstance(jsonl, fastsse.Decoder), name
        assert not isinstance(sse, fastsse.JSONLDecoder), name
        assert not isinstance(jsonl, fastsse.SSEDecoder), name


def test_backend_names_pick_their_implementation(impl, backend):
    assert type(fastsse.SSEDecoder(backend)) is impl.SSEDecoder
    assert type(fastsse.JSONLDecoder(backend)) is impl.JSONLDecoder


def test_implementation_names_what_auto_uses():
    assert fastsse.IMPLEMENTATION in ("cython", "python")
    module = "fastsse._decoder" if fastsse.IMPLEMENTATION == "cython" else "fastsse._decoder_py"
    impl = importlib.import_module(module)
    assert type(fastsse.SSEDecoder()) is impl.SSEDecoder
    assert type(fastsse.JSONLDecoder("auto")) is impl.JSONLDecoder
    assert isinstance(fastsse.__version__, str) and fastsse.__version__
    assert all(hasattr(fastsse, name) for name in fastsse.__all__)


def test_decoders_do_not_pickle(impl):
    # A decoder is the state of one live stream: pickling it would fork that state.
    for decoder in (impl.SSEDecoder(), impl.JSONLDecoder()):
        with pytest.raises(TypeError):
            pickle.dumps(decoder)
