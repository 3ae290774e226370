"""Deep equality of what two SDK clients gave: items, their classes all the way down, errors;
and what the accelerated-SDK tests share: the server of a corpus, the clients, the loops."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

import pydantic
from llm_server import LLMServer, Reply

Outcome = Tuple[List[Any], Optional[BaseException]]

MESSAGES = [{"role": "user", "content": "Hi"}]


def serve(corpus: Dict[str, Reply]) -> Iterator[LLMServer]:
    """A module fixture's body: an :class:`LLMServer` of ``corpus``, stopped at the end."""
    server = LLMServer(dict(corpus)).start()
    try:
        yield server
    finally:
        server.stop()


def sdk_client(server: LLMServer, cls: Any) -> Any:
    """An SDK client of class ``cls`` for ``server``."""
    # No retries: an HTTP error must reach the loop at once, for both clients alike.
    return cls(base_url=server.url, api_key="test", max_retries=0)


def outcome(fill: Callable[[List[Any]], None]) -> Outcome:
    """The items ``fill(items)`` appended, and the exception it ended with."""
    items: List[Any] = []
    try:
        fill(items)
    except Exception as exc:  # the exception is part of what is compared
        return items, exc
    return items, None


def outcome_async(fill: Callable[[List[Any]], Awaitable[None]], client: Any) -> Outcome:
    """As :func:`outcome`, for a coroutine function, in a new event loop; ``client`` (the
    async SDK client) is closed in that loop, which its connections belong to."""

    async def run() -> Outcome:
        items: List[Any] = []
        try:
            await fill(items)
        except Exception as exc:
            return items, exc
        finally:
            await client.close()
        return items, None

    return asyncio.run(run())


def collect(make_stream: Callable[[], Iterable[Any]]) -> Outcome:
    """The items a sync loop over ``make_stream()`` got, and the exception it ended with."""
    return outcome(lambda items: items.extend(make_stream()))


def collect_async(make_stream: Callable[[], Awaitable[Any]], client: Any) -> Outcome:
    """As :func:`collect`, for ``async for item in await make_stream()``."""

    async def fill(items: List[Any]) -> None:
        async for item in await make_stream():
            items.append(item)

    return outcome_async(fill, client)


def assert_same(a: Any, b: Any, where: str = "item") -> None:
    """``a`` and ``b`` are equal, of the same types at every level (models, lists, floats)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, pydantic.BaseModel):
        assert a.model_dump() == b.model_dump(), where
        assert a.model_fields_set == b.model_fields_set, f"{where}: fields set"
        assert_same(a.__dict__, b.__dict__, f"{where}.__dict__")
        assert_same(a.__pydantic_extra__, b.__pydantic_extra__, f"{where} extras")
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for key in a:
            assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: length"
        for k, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{k}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def assert_same_outcome(accelerated: Outcome, plain: Outcome) -> None:
    items, error = accelerated
    plain_items, plain_error = plain
    assert len(items) == len(plain_items), (len(items), len(plain_items), error, plain_error)
    for k, (x, y) in enumerate(zip(items, plain_items)):
        assert_same(x, y, f"item {k}")
    assert type(error) is type(plain_error), (error, plain_error)
    if error is not None:
        assert str(error) == str(plain_error)
        for attribute in ("status_code", "body", "message", "type", "code"):
            assert_same(
                getattr(error, attribute, None), getattr(plain_error, attribute, None), attribute
            )


def assert_raised(outcome: Outcome, raises: Optional[str], sdk: Any) -> None:
    """The outcome's exception is an instance of the class named ``raises`` (of the SDK or
    of :mod:`json`), or there is none when ``raises`` is None."""
    error = outcome[1]
    if raises is None:
        assert error is None, repr(error)
        return
    import json

    expected = getattr(sdk, raises, None) or getattr(json, raises)
    assert isinstance(error, expected), repr(error)
