"""The loop objects ``Stream`` and ``AsyncStream`` are built from, on both backends:
``StreamItems`` / ``AsyncStreamItems`` (the items of a stream that only maps its events)
and ``GuardedItems`` (one ``for`` loop, which closes the stream however it ends). Their agreement with the oracle on hostile
streams is in ``test_differential.py``; here are the paths around it."""

from __future__ import annotations

import asyncio
import gc
import pickle
from typing import Any, List

import pytest

import fastsse


class Calls:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def items_of(
    impl: Any, chunks: Any, callback: Any = None, terminal: Any = None, fmt: str = "sse"
) -> Any:
    decoder = impl.SSEDecoder() if fmt == "sse" else impl.JSONLDecoder()
    return impl.StreamItems(decoder, iter(chunks), callback, "response", terminal, Calls())


def test_empty_and_none_chunks_are_skipped(impl):
    chunks = [b"", None, b"data: 1\n", bytearray(b"\n"), b"", memoryview(b"data: 2\n\n"), None]
    assert [ev.data for ev in items_of(impl, chunks)] == ["1", "2"]


def test_a_chunk_of_the_wrong_type_raises(impl):
    with pytest.raises(TypeError, match="feed\\(\\) takes bytes"):
        list(items_of(impl, ["data: 1\n\n"]))


def test_on_end_runs_once_after_the_flush_and_not_at_the_terminal(impl):
    on_end = Calls()
    decoder = impl.JSONLDecoder()
    items = impl.StreamItems(decoder, iter([b"1\n2"]), None, None, None, on_end)
    first = next(items)
    assert first.data == "1" and on_end.count == 0
    assert next(items).data == "2" and on_end.count == 1  # the final record comes from flush()
    with pytest.raises(StopIteration):
        next(items)
    with pytest.raises(StopIteration):
        next(items)
    assert on_end.count == 1

    on_end = Calls()
    items = impl.StreamItems(
        impl.SSEDecoder(),
        iter([b"data: [DONE]\n\n", b"data: later\n\n"]),
        None,
        None,
        "[DONE]",
        on_end,
    )
    assert list(items) == [] and on_end.count == 0


def test_callback_gets_the_response_and_the_json(impl):
    seen: List[Any] = []

    def callback(response: Any, payload: Any) -> Any:
        seen.append(response)
        return payload["n"]

    items = items_of(
        impl, [b'data: {"n": 1}\n\ndata: {"n": 2}\n\ndata: [DONE]\n\n'], callback, "[DONE]"
    )
    assert list(items) == [1, 2] and seen == ["response", "response"]


@pytest.mark.parametrize("callback", [None, lambda response, payload: payload])
def test_batches_of_any_size_follow_each_other(impl, callback):
    # The loop reuses one list for each chunk's events: a large batch (its storage is
    # released after) then small ones, then a large one again.
    def block(first: int, count: int) -> bytes:
        return b"".join(b"data: %d\n\n" % n for n in range(first, first + count))

    chunks = [block(0, 3000), block(3000, 1), block(3001, 2), block(3003, 1500), block(4503, 1)]
    items = items_of(impl, chunks, callback)
    got = [item if callback else int(item.data) for item in items]
    assert got == list(range(4504))


def test_whole_event_chunks_keep_the_limits(impl):
    # One event per chunk with a callback takes the compiled loop's shortest path; the
    # limits hold there exactly as in the decoder: at the limit passes, one over raises.
    def loop(decoder: Any, chunks: List[bytes]) -> Any:
        return impl.StreamItems(
            decoder, iter(chunks), lambda response, payload: payload, None, None, Calls()
        )

    at_limit, over = b"data: " + b"1" * 14 + b"\n\n", b"data: " + b"1" * 15 + b"\n\n"
    items = loop(
        impl.SSEDecoder(max_line_size=20), [b"data: 2\n\n", at_limit, over, b"data: 3\n\n"]
    )
    assert [next(items), next(items)] == [2, int(b"1" * 14)]
    with pytest.raises(fastsse.LineTooLong):
        next(items)

    at_limit, over = b"data:" + b"1" * 10 + b"\n\n", b"data: " + b"1" * 11 + b"\n\n"
    items = loop(impl.SSEDecoder(max_event_size=10), [at_limit, over, b"data: 3\n\n"])
    assert next(items) == int(b"1" * 10)
    with pytest.raises(fastsse.EventTooLarge):
        next(items)


def test_close_stops_the_items(impl):
    items = items_of(impl, [b"data: 1\n\ndata: 2\n\n", b"data: 3\n\n"])
    assert next(items).data == "1"
    items.close()
    with pytest.raises(StopIteration):
        next(items)


def test_errors_propagate_after_the_events_before_them(impl):
    decoder = impl.SSEDecoder(max_line_size=8)
    items = impl.StreamItems(
        decoder, iter([b"data: 1\n\ndata: 123456789\n"]), None, None, None, Calls()
    )
    assert next(items).data == "1"
    with pytest.raises(fastsse.LineTooLong):
        next(items)


def test_invalid_json_raises_the_decoders_error(impl):
    items = items_of(impl, [b"data: {\n\n"], lambda response, payload: payload)
    with pytest.raises(fastsse.JSONDecodeError):
        next(items)


def test_a_compiled_loop_needs_a_compiled_decoder(backend):
    if backend != "fast":
        pytest.skip("the twin's loop takes any decoder")
    from fastsse import _decoder, _decoder_py

    with pytest.raises(TypeError, match="compiled decoder"):
        _decoder.StreamItems(_decoder_py.SSEDecoder(), iter([]), None, None, None, Calls())


# ---------------------------------------------------------------------------- guarded


def guarded(impl: Any, items: Any) -> Any:
    closes = Calls()
    return impl.GuardedItems(lambda: items, closes), closes


def test_guard_closes_once_at_the_end(impl):
    loop, closes = guarded(impl, iter([1, 2]))
    assert list(loop) == [1, 2] and closes.count == 1
    assert list(loop) == [] and closes.count == 1


def test_guard_closes_when_an_item_raises(impl):
    def failing():
        yield 1
        raise ConnectionResetError("gone")

    loop, closes = guarded(impl, failing())
    assert next(loop) == 1 and closes.count == 0
    with pytest.raises(ConnectionResetError):
        next(loop)
    assert closes.count == 1
    with pytest.raises(StopIteration):
        next(loop)


def test_guard_closes_when_start_raises(impl):
    closes = Calls()

    def start() -> Any:
        raise fastsse.ResponseError(500, "Internal Server Error", b"", None)

    loop = impl.GuardedItems(start, closes)
    with pytest.raises(fastsse.ResponseError):
        next(loop)
    assert closes.count == 1


def test_guard_starts_at_the_first_item_not_before(impl):
    started = Calls()

    def start() -> Any:
        started()
        return iter([1])

    loop = impl.GuardedItems(start, Calls())
    assert started.count == 0
    assert next(loop) == 1 and started.count == 1


def test_dropping_an_unfinished_guard_closes(impl):
    loop, closes = guarded(impl, iter([1, 2]))
    assert next(loop) == 1
    del loop
    gc.collect()
    assert closes.count == 1


def test_guard_close_is_idempotent(impl):
    loop, closes = guarded(impl, iter([1, 2]))
    loop.close()
    loop.close()
    assert closes.count == 1
    with pytest.raises(StopIteration):
        next(loop)


# ------------------------------------------------------------------------- via Stream


def test_stream_runs_the_backends_own_loop(backend, impl):
    stream = fastsse.Stream([b"data: 1\n\ndata: 2\n\n"], format="sse", decoder=backend)
    loop = iter(stream)
    assert type(loop) is impl.GuardedItems
    assert next(loop).data == "1"
    assert type(stream._iterator) is impl.StreamItems
    assert [ev.data for ev in loop] == ["2"] and stream.closed


def test_stream_with_handlers_runs_the_general_loop(backend, impl):
    stream = fastsse.Stream([b"data: 1\n\n"], format="sse", decoder=backend)
    seen: List[Any] = []
    stream.add_callback("*", seen.append)
    assert [ev.data for ev in stream] == ["1"] and [ev.data for ev in seen] == ["1"]
    assert type(stream._iterator) is not impl.StreamItems


# ----------------------------------------------------------------------------- events


class Text(str):
    pass


class Raw(bytes):
    pass


class Number(int):
    pass


def test_events_keep_exact_types(impl):
    event = impl.ServerSentEvent(Text("x"), Text("kind"), Text("7"), Number(5))
    assert [type(v) for v in (event.data, event.event, event.id, event.retry)] == [
        str,
        str,
        str,
        int,
    ]
    assert event == impl.ServerSentEvent("x", "kind", "7", 5)
    assert type(impl.ServerSentEvent(Raw(b"x")).data) is str
    assert (
        impl.ServerSentEvent("x", retry=True).retry == 1
        and type(impl.ServerSentEvent("x", retry=True).retry) is int
    )
    record = impl.JSONLEvent(Raw(b"1"), Number(3), Number(9))
    assert (type(record.line), type(record.offset)) == (int, int)
    assert record == impl.JSONLEvent(b"1", 3, 9)


def test_compiled_events_stay_out_of_the_cycle_collector(backend, impl):
    if backend != "fast":
        pytest.skip("pure-Python events are ordinary objects")
    events = impl.SSEDecoder().feed(b"data: 1\n\n") + impl.JSONLDecoder().feed(b"1\n")
    events += [
        impl.ServerSentEvent(Text("x"), retry=Number(1)),
        impl.JSONLEvent(Raw(b"1"), Number(1), 0),
    ]
    assert [gc.is_tracked(event) for event in events] == [False] * 4


def test_decoded_records_know_their_place_before_it_is_read(impl):
    first, second = impl.JSONLDecoder().feed(b'\xef\xbb\xbf{"a": 1}\n\n[2]\n')
    # Equality, hashing, repr and pickling all see the location, read or not. (Both
    # backends' decoders make fastsse.JSONLEvent, the one public class of the process.)
    assert first == fastsse.JSONLEvent(b'{"a": 1}', 1, 3)
    assert hash(second) == hash(fastsse.JSONLEvent(b"[2]", 3, 13))
    assert repr(impl.JSONLDecoder().feed(b"7\n")[0]) == "JSONLEvent(data='7', line=1, offset=0)"
    assert pickle.loads(pickle.dumps(impl.JSONLDecoder().feed(b"\n7\n")[0])) == fastsse.JSONLEvent(
        "7", 2, 1
    )
    assert (second.line, second.offset) == (3, 13)


# ------------------------------------------------------------------------------ async


class AsyncBody:
    """An async response shape: ``aiter_bytes()``, ``headers``, ``aclose()``."""

    def __init__(self, chunks: List[Any]) -> None:
        self.headers = {"content-type": "text/event-stream"}
        self._chunks = chunks
        self.closed = 0

    async def aiter_bytes(self) -> Any:
        for chunk in self._chunks:
            yield chunk

    async def aclose(self) -> None:
        self.closed += 1


def test_async_stream_runs_the_backends_own_loop(backend, impl):
    async def main() -> None:
        body = AsyncBody(
            [b"data: 1\n\n", b"", None, b'data: {"n": 2}\n\ndata: [DONE]\n\ndata: 3\n\n']
        )

        async def callback(response: Any, payload: Any) -> Any:
            await asyncio.sleep(0)
            return (response is body, payload)

        stream = fastsse.AsyncStream(
            body, decoder=backend, deserialization_callback=callback, terminal_event="[DONE]"
        )
        assert [item async for item in stream] == [(True, 1), (True, {"n": 2})]
        assert type(stream._iterator) is impl.AsyncStreamItems
        assert body.closed == 1 and stream.closed

    asyncio.run(main())


def test_async_stream_over_a_sync_iterable_runs_the_loop_too(backend, impl):
    async def main() -> None:
        stream = fastsse.AsyncStream(
            [b"data: a\n\n", b"data: b\n", b"\n"], format="sse", decoder=backend
        )
        assert [ev.data async for ev in stream] == ["a", "b"]
        assert type(stream._iterator) is impl.AsyncStreamItems

    asyncio.run(main())


def test_async_stream_aclose_mid_stream_stops_it(backend):
    async def main() -> None:
        body = AsyncBody([b"data: 1\n\n", b"data: 2\n\n"])
        stream = fastsse.AsyncStream(body, decoder=backend)
        assert (await stream.__anext__()).data == "1"
        await stream.aclose()
        with pytest.raises(StopAsyncIteration):
            await stream.__anext__()
        assert body.closed == 1

    asyncio.run(main())


def test_async_stream_with_handlers_runs_the_general_loop(backend, impl):
    async def main() -> None:
        stream = fastsse.AsyncStream(AsyncBody([b"data: 1\n\n"]), decoder=backend)
        seen: List[Any] = []
        stream.add_callback("*", seen.append)
        assert [ev.data async for ev in stream] == ["1"] and len(seen) == 1
        assert type(stream._iterator) is not impl.AsyncStreamItems

    asyncio.run(main())
