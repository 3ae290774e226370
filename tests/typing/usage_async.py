"""Ordinary asynchronous code against fastsse's public API, as a user writes it.

Checked by mypy --strict and pyright (strict) in CI, and run by tests/test_typing_usage.py.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, AsyncIterator, Dict, List

import fastsse

if TYPE_CHECKING:
    from typing_extensions import assert_type
else:

    def assert_type(value, expected_type):
        return value


SSE_BODY = b'event: delta\ndata: {"text": "hi"}\n\nevent: delta\ndata: {"text": "!"}\n\n'


async def chunks(body: bytes, size: int = 7) -> AsyncIterator[bytes]:
    """A stand-in for an async response body: what aiter_bytes() yields."""
    for start in range(0, len(body), size):
        await asyncio.sleep(0)
        yield body[start : start + size]


async def events() -> None:
    names: List[str] = []
    async for event in fastsse.AsyncStream(chunks(SSE_BODY), format="sse"):
        names.append(event.event)
        assert isinstance(event.json(), dict)
    assert names == ["delta", "delta"]


async def typed_items() -> None:
    def text_of(response: object, chunk: Dict[str, Any]) -> str:
        return str(chunk["text"])

    stream: fastsse.AsyncStream[str] = fastsse.AsyncStream(
        chunks(SSE_BODY), format="sse", deserialization_callback=text_of
    )
    texts: List[str] = []
    async with stream:
        async for text in stream:
            assert_type(text, str)
            texts.append(text)
    assert texts == ["hi", "!"]


class Collector(fastsse.AsyncEventHandler):
    def __init__(self) -> None:
        self.deltas = 0

    async def on_delta(self, item: Any) -> None:
        self.deltas += 1


async def handlers() -> None:
    collector = Collector()
    await fastsse.AsyncStream(chunks(SSE_BODY), format="sse", event_handler=collector).run()
    assert collector.deltas == 2


async def errors() -> None:
    try:
        async for _ in fastsse.AsyncStream(chunks(b"data: {\n\n"), format="sse"):
            pass
    except fastsse.StreamError as exc:
        raise AssertionError(f"no error was due: {exc}") from exc


async def main() -> None:
    await events()
    await typed_items()
    await handlers()
    await errors()


if __name__ == "__main__":
    asyncio.run(main())
