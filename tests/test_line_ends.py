"""The SSE scanner's line-end search at every offset around its 16- and 32-byte blocks.

The compiled scanner finds CR and LF 32 bytes at a time on x86 (``LINE_END_SEARCH ==
"sse2"``) and with memchr elsewhere; CI builds both. Each line end is placed at every
offset from 0 to 80 of a chunk, alone or with the other kind of line end before it, and
the events must be the twin's. A chunk that is one whole event takes a shorter path in
a loop with a callback, which only checks that no line end is inside its line: the same
placements go through it.
"""

from __future__ import annotations

import importlib

import pytest
from _chunking import decode_all

import fastsse

ENDINGS = [b"\n", b"\r", b"\r\n"]


def summary(events):
    return [(ev.event, ev.data, ev.id) for ev in events]


@pytest.mark.parametrize("ending", ENDINGS, ids=["LF", "CR", "CRLF"])
def test_a_line_end_at_every_offset(impl, ending):
    twin = importlib.import_module("fastsse._decoder_py")
    for size in range(0, 81):
        # The first line end is at offset 6 + size of the chunk; a NUL and bytes above
        # 0x7f in the line must not be taken for line ends.
        line = b"data: " + (b"x\x00\xff\r" * 21)[:size].replace(b"\r", b"y")
        stream = line + ending + ending + b"data: " + b"z" * size + ending + ending
        for chunks in ([stream], [stream[: size + 3], stream[size + 3 :]]):
            expected = summary(decode_all(twin.SSEDecoder(), chunks))
            assert summary(decode_all(impl.SSEDecoder(), chunks)) == expected, (size, chunks)
            assert len(expected) == 2


@pytest.mark.parametrize("inside", [None, *ENDINGS], ids=["none", "LF", "CR", "CRLF"])
def test_whole_event_chunks_with_a_line_end_at_every_offset(impl, inside):
    twin = importlib.import_module("fastsse._decoder_py")

    def items(module, chunks):
        loop = module.StreamItems(
            module.SSEDecoder(),
            iter(chunks),
            lambda response, payload: payload,
            None,
            None,
            lambda: None,
        )
        return list(loop)

    for size in range(0, 81):
        for at in range(0, size + 1) if inside else [None]:
            # A JSON array of spaces: still [] when a line end inside splits it into two
            # data lines (joined by LF, which JSON allows), invalid if it were kept whole.
            value = b"[" + b" " * size + b"]"
            if inside:
                value = value[: at + 1] + inside + b"data:" + value[at + 1 :]
            chunks = [b"data: 0\n\n", b"data:" + value + b"\n\n", b"data: 2\n\n"]
            assert items(twin, chunks) == [0, [], 2]
            assert items(impl, chunks) == [0, [], 2], (size, at, chunks)


def test_the_build_says_how_it_searches(backend, impl):
    if backend != "fast":
        pytest.skip("only the compiled decoder has a line-end search to report")
    assert impl.LINE_END_SEARCH in ("sse2", "memchr")
    assert fastsse.IMPLEMENTATION == "cython"
