"""Deterministic benchmark corpora (DESIGN.md section 5) and the ways they are chunked.

Every corpus is a pure function of its size and seed: text comes from a seeded
``random.Random``, times are fixed, nothing reads the clock. Each corpus carries

- ``body``: the whole stream, as a server would send it;
- ``expected``: the ``(event name, data)`` pairs a spec-exact decoder dispatches, in
  order (JSON Lines records have no name: ``None``), against which every decoder's
  output is checked;
- ``payloads``: the JSON payload of every event as bytes, which is what ``orjson.loads``
  alone is timed on (an end marker such as ``[DONE]`` is not JSON and is left out);
- ``blocks``: the body cut at event boundaries, for the "one event per chunk" chunking
  (a server flushing once per token).

Events use LF line ends and compact JSON with raw UTF-8, as the APIs they imitate send.
The prose includes non-ASCII text (accented letters, curly quotes, an emoji), so UTF-8
decoding is exercised and a 4 KiB chunk boundary sometimes falls inside a character.
"""

from __future__ import annotations

import base64
import datetime
import json
import random
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional, Tuple

KiB = 1024
MiB = 1024 * KiB


def _dumps(value: object) -> str:
    # Compact separators and raw UTF-8: what the OpenAI and Anthropic APIs send.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass
class Corpus:
    """A stream and what decoding it must give; see the module's docstring."""

    name: str
    description: str
    format: str  # "sse" or "jsonl"
    body: bytes
    expected: List[Tuple[Optional[str], str]]
    payloads: List[bytes]
    blocks: List[bytes]
    terminal: Optional[str] = None  # the data of the end-marker event, if the stream has one
    chunkings: Tuple[str, ...] = ("event", "4 KiB", "64 KiB")
    modes: Tuple[str, ...] = ("parse", "json")  # what the benchmarks measure on it

    @property
    def events(self) -> int:
        return len(self.expected)

    def chunks(self, chunking: str) -> List[bytes]:
        """The body cut as ``chunking`` says: ``"event"`` or a size such as ``"4 KiB"``."""
        if chunking == "event":
            return list(self.blocks)
        return fixed_chunks(self.body, chunk_size(chunking))


def chunk_size(chunking: str) -> int:
    """Bytes in a chunking named like ``"4 KiB"`` or ``"1 MiB"``."""
    number, unit = chunking.split()
    return int(number) * {"B": 1, "KiB": KiB, "MiB": MiB}[unit]


def fixed_chunks(body: bytes, size: int) -> List[bytes]:
    return [body[start : start + size] for start in range(0, len(body), size)]


# --- text that reads like a model's answer -------------------------------------------

_WORDS = (
    "the a an of to in on for with that this it is are was be can will not and or but "
    "stream server client event events data line lines token tokens model answer reply "
    "request response chunk chunks buffer decoder parser bytes text field value blank "
    "connection network proxy browser message messages latency throughput memory linear "
    "simple quiet small large first second every each while because when which would "
    "read write send receive parse decode split join arrive wait close open keep"
).split()
_SUFFIXES = ("ing", "ed", "s", "ly", "er", "tion", "ness")
_PUNCTUATION = (",", ".", ".", ":", ";", "?", "!", " (", ")", " -")
_NON_ASCII = (" café", " naïve", " déjà", " über", " —", " “quoted”", " 🚀", " 12 °C", " Ωmega")


def _tokens(rng: random.Random) -> Iterator[str]:
    """An endless run of token-sized text pieces, as a byte-level BPE model emits them."""
    while True:
        roll = rng.random()
        if roll < 0.70:
            word = rng.choice(_WORDS)
            yield " " + word.capitalize() if rng.random() < 0.05 else " " + word
        elif roll < 0.80:
            yield rng.choice(_SUFFIXES)
        elif roll < 0.92:
            yield rng.choice(_PUNCTUATION)
        elif roll < 0.96:
            yield "\n\n" if rng.random() < 0.5 else "\n"
        else:
            yield rng.choice(_NON_ASCII)


def _id(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_HEX = "0123456789abcdef"


def _base64_text(rng: random.Random, length: int) -> str:
    """``length`` characters of base64, as binary content (an image, a file) is sent in JSON."""
    return base64.b64encode(rng.randbytes(length * 3 // 4 + 3)).decode("ascii")[:length]


def _sse_block(data: str, name: Optional[str] = None) -> bytes:
    """One SSE event: an optional ``event:`` line, a ``data:`` line per data line, a blank line."""
    lines = [f"event: {name}"] if name is not None else []
    lines.extend(f"data: {line}" for line in data.split("\n"))
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def _sse_corpus(
    name: str,
    description: str,
    events: List[Tuple[Optional[str], str]],
    terminal: Optional[str] = None,
) -> Corpus:
    blocks = [_sse_block(data, event_name) for event_name, data in events]
    return Corpus(
        name=name,
        description=description,
        format="sse",
        body=b"".join(blocks),
        expected=[(event_name or "message", data) for event_name, data in events],
        payloads=[data.encode("utf-8") for _, data in events if data != terminal],
        blocks=blocks,
        terminal=terminal,
    )


# --- the corpora ---------------------------------------------------------------------


def openai_chat(tokens: int = 40_000, seed: int = 1) -> Corpus:
    """OpenAI ``chat.completion.chunk`` events, 250 to 300 B each, ending ``data: [DONE]``.

    A role chunk, one chunk per token, a ``finish_reason: "stop"`` chunk and a usage
    chunk, as the Chat Completions API streams with ``include_usage``.
    """
    rng = random.Random(seed)
    base = {
        "id": "chatcmpl-" + _id(rng, _ALNUM, 29),
        "object": "chat.completion.chunk",
        "created": 1_741_946_400,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_" + _id(rng, _HEX, 10),
    }

    def chunk(delta: dict, finish_reason: Optional[str] = None) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return _dumps(dict(base, choices=[choice], usage=None))

    text = _tokens(rng)
    data = [chunk({"role": "assistant", "content": "", "refusal": None})]
    data.extend(chunk({"content": next(text)}) for _ in range(tokens))
    data.append(chunk({}, "stop"))
    usage = {"prompt_tokens": 57, "completion_tokens": tokens, "total_tokens": 57 + tokens}
    data.append(_dumps(dict(base, choices=[], usage=usage)))
    data.append("[DONE]")
    return _sse_corpus(
        "openai",
        f"OpenAI chat.completion.chunk events ({tokens:,} tokens), ending data: [DONE]",
        [(None, payload) for payload in data],
        terminal="[DONE]",
    )


def anthropic_messages(deltas: int = 40_000, seed: int = 2, ping_every: int = 50) -> Corpus:
    """Anthropic Messages API named events: ``message_start``, ``content_block_start``,
    many ``content_block_delta`` with a ``ping`` every ``ping_every`` or so,
    ``content_block_stop``, ``message_delta``, ``message_stop``."""
    rng = random.Random(seed)
    message = {
        "id": "msg_" + _id(rng, _ALNUM, 24),
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 472,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 2,
            "service_tier": "standard",
        },
    }
    ping = ("ping", '{"type": "ping"}')  # the API's own spacing

    def named(kind: str, **fields: object) -> Tuple[str, str]:
        return kind, _dumps({"type": kind, **fields})

    events = [
        named("message_start", message=message),
        named("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        ping,
    ]
    text = _tokens(rng)
    next_ping = ping_every
    for sent in range(deltas):
        events.append(
            named("content_block_delta", index=0, delta={"type": "text_delta", "text": next(text)})
        )
        if sent + 1 == next_ping:
            events.append(ping)
            next_ping += rng.randint(ping_every // 2, ping_every * 3 // 2)
    events.append(named("content_block_stop", index=0))
    events.append(
        named(
            "message_delta",
            delta={"stop_reason": "end_turn", "stop_sequence": None},
            usage={"output_tokens": deltas},
        )
    )
    events.append(named("message_stop"))
    return _sse_corpus(
        "anthropic", f"Anthropic named events ({deltas:,} text deltas, pings)", events
    )


def large_events(
    count: int = 1024, size: int = 32 * KiB, line_size: int = 4 * KiB, seed: int = 3
) -> Corpus:
    """Events of ``size`` bytes of data over several ``data:`` lines: a JSON tool result
    whose base64 content is split into strings of about ``line_size`` bytes, one per line
    (the LFs that join the data lines are JSON whitespace, so the data is one JSON value)."""
    rng = random.Random(seed)
    events = []
    for number in range(count):
        head = _dumps({"type": "tool_result", "tool_use_id": "toolu_" + _id(rng, _ALNUM, 24)})
        head = head[:-1] + ',"content":['  # the object stays open for the strings below
        # A string line is '"' + text + '",' and an LF before it: len(text) + 4 bytes. The
        # last one swaps its comma for "]}", one byte more.
        room = size - len(head) - 1
        lines = [head]
        while room > 0:
            text_length = line_size if room > line_size + 9 else room - 4
            lines.append(f'"{_base64_text(rng, text_length)}",')
            room -= text_length + 4
        lines[-1] = lines[-1][:-1] + "]}"
        data = "\n".join(lines)
        if len(data) != size:
            raise AssertionError(f"event {number} has {len(data)} bytes of data, not {size}")
        events.append((None, data))
    json.loads(events[0][1])  # the data lines joined by LF are one JSON value
    lines_per_event = events[0][1].count("\n") + 1
    return _sse_corpus(
        "large",
        f"{count:,} events of {size // KiB} KiB data on {lines_per_event} data: lines (JSON)",
        events,
    )


def jsonl_records(records: int = 40_000, seed: int = 4) -> Corpus:
    """JSON Lines log records of about 256 B each, every line ending in LF."""
    rng = random.Random(seed)
    start = datetime.datetime(2025, 3, 14, 9, 26, 53, tzinfo=datetime.timezone.utc)
    elapsed_us = 0
    routes = ("/v1/chat/completions", "/v1/embeddings", "/v1/responses", "/healthz")
    levels = ("info", "info", "info", "debug", "warning", "error")
    text = _tokens(rng)
    lines = []
    for _ in range(records):
        elapsed_us += rng.randint(50, 5_000)
        when = start + datetime.timedelta(microseconds=elapsed_us)
        message = "".join(next(text) for _ in range(rng.randint(3, 9))).strip() or "ok"
        record = {
            "ts": when.isoformat().replace("+00:00", "Z"),
            "level": rng.choice(levels),
            "logger": "api.stream",
            "msg": message,
            "trace_id": f"{rng.getrandbits(128):032x}",
            "span_id": f"{rng.getrandbits(64):016x}",
            "attrs": {
                "http.method": "POST",
                "http.route": rng.choice(routes),
                "http.status_code": rng.choice((200, 200, 200, 429, 500)),
                "duration_ms": round(rng.uniform(0.2, 900.0), 3),
            },
        }
        lines.append(_dumps(record))
    blocks = [(line + "\n").encode("utf-8") for line in lines]
    return Corpus(
        name="jsonl",
        description=f"JSON Lines log records ({records:,} lines), LF-terminated",
        format="jsonl",
        body=b"".join(blocks),
        expected=[(None, line) for line in lines],
        payloads=[line.encode("utf-8") for line in lines],
        blocks=blocks,
    )


def long_line(size: int = MiB) -> Corpus:
    """One SSE event whose single ``data:`` line is ``size`` bytes long (a JSON string),
    cut into 1 KiB or 64 KiB chunks: is decoding linear in the line's length?"""
    rng = random.Random(5)
    data = f'"{_base64_text(rng, size - 2)}"'
    corpus = _sse_corpus(
        "long line", f"one {size // KiB:,} KiB data: line (a JSON string)", [(None, data)]
    )
    corpus.chunkings = ("1 KiB", "64 KiB")
    corpus.modes = ("parse",)
    return corpus


# The default sizes: one pass of the compiled decoder takes a few milliseconds (on a
# 2-core x86-64 machine), the slowest peer a fraction of a second.
CORPORA: Dict[str, Callable[[float], Corpus]] = {
    "openai": lambda scale: openai_chat(tokens=int(40_000 * scale)),
    "anthropic": lambda scale: anthropic_messages(deltas=int(40_000 * scale)),
    "large": lambda scale: large_events(count=max(16, int(1024 * scale))),
    "jsonl": lambda scale: jsonl_records(records=int(40_000 * scale)),
    "long line": lambda scale: long_line(),  # its size is what it measures
}


def build(name: str, scale: float = 1.0) -> Corpus:
    """The named corpus at ``scale`` times its default size."""
    return CORPORA[name](scale)


# --- a stream too large to hold: for the memory measurement --------------------------


def endless_stream(total: int, chunk: int = 64 * KiB) -> Iterator[bytes]:
    """At least ``total`` bytes of SSE in ``chunk``-byte chunks, made as they are consumed.

    The stream repeats a cycle of whole events (OpenAI chunks with a 32 KiB event every
    so often) a whole number of times, so it is valid SSE that ends after a complete
    event; only the cycle (a few MB) is ever held.
    """
    openai = openai_chat(tokens=8_000, seed=11)
    large = large_events(count=16, seed=12)
    blocks: List[bytes] = []
    for index, block in enumerate(openai.blocks[:-1]):  # not [DONE]: the stream goes on
        blocks.append(block)
        if index % 500 == 0:
            blocks.append(large.blocks[(index // 500) % len(large.blocks)])
    cycle = b"".join(blocks)
    twice = cycle + cycle  # a chunk may wrap around the cycle's end
    end = -(-total // len(cycle)) * len(cycle)
    offset = 0
    sent = 0
    while sent < end:
        size = min(chunk, end - sent)
        yield twice[offset : offset + size]
        offset = (offset + size) % len(cycle)
        sent += size
