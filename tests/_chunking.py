"""Feeding helpers: the same bytes whole, one byte at a time and in random splits."""

from __future__ import annotations

import random
from typing import Any, Iterator, List, Optional, Sequence, Tuple


def whole(data: bytes) -> List[bytes]:
    return [data]


def bytewise(data: bytes) -> List[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def random_split(data: bytes, rng: random.Random, max_piece: int = 16) -> List[bytes]:
    pieces = []
    i = 0
    while i < len(data):
        n = rng.randint(1, max_piece)
        pieces.append(data[i : i + n])
        i += n
    return pieces


def chunkings(data: bytes, seed: int = 0, splits: int = 5) -> Iterator[Tuple[str, List[bytes]]]:
    """Named chunkings of ``data``: whole, bytewise and ``splits`` random splits."""
    yield "whole", whole(data)
    yield "bytewise", bytewise(data)
    rng = random.Random(seed)
    for n in range(splits):
        yield f"random-{n}", random_split(data, rng, max_piece=rng.choice((2, 3, 7, 64)))


def decode_all(decoder: Any, chunks: Sequence[bytes]) -> List[Any]:
    """Feed every chunk, then flush; return all events in order."""
    events: List[Any] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.flush())
    return events


def decode_until_error(
    decoder: Any, chunks: Sequence[bytes]
) -> Tuple[List[Any], Optional[BaseException]]:
    """Like :func:`decode_all`, but return the events delivered before an error, and it."""
    events: List[Any] = []
    try:
        for chunk in chunks:
            events.extend(decoder.feed(chunk))
        events.extend(decoder.flush())
    except Exception as exc:  # noqa: BLE001 - the caller checks the type
        return events, exc
    return events, None
