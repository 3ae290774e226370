"""Write the demo stream bundled with fastsse: ``src/fastsse/samples/openai_chat.sse``.

An OpenAI-style chat completion stream (``chat.completion.chunk`` events, one token of
text each, then a ``finish_reason: "stop"`` chunk, a usage chunk and ``data: [DONE]``)
carrying a few paragraphs of prose about Server-Sent Events. The output is a pure
function of this file: no clock, no randomness, so regenerating it gives the same bytes.

    python bench/make_demo_sample.py [OUTPUT]
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any, Dict, List

DEFAULT_OUTPUT = (
    Path(__file__).resolve().parent.parent / "src" / "fastsse" / "samples" / "openai_chat.sse"
)

MODEL = "gpt-4o-mini-2024-07-18"
CREATED = 1732457400  # a fixed time, so the file is reproducible
PROMPT_TOKENS = 41

# Original prose, written for this sample. It holds non-ASCII characters (curly quotes,
# an em dash, accented letters) and an emoji so that the demo exercises UTF-8 decoding.
TEXT = """\
Server-Sent Events are the quiet workhorse behind most streaming chat interfaces. The idea is old and simple: the client makes one ordinary HTTP request, and instead of sending a complete body, the server keeps the response open and writes small text records as they become ready. Each record is a few lines of the form `field: value`, and a blank line marks the end of an event. The media type is `text/event-stream`, the encoding is always UTF-8, and there is no framing beyond line breaks — which is why a decoder must treat CR, LF and CRLF alike, even when a CR arrives at the end of one network read and its LF at the start of the next.

The fields are few. `data` carries the payload; several `data` lines in one event are joined with newlines. `event` names the type, which defaults to “message”. `id` sets the last event ID, which a browser sends back in the `Last-Event-ID` header when it reconnects, and `retry` tells the client how many milliseconds to wait before trying again. A line that starts with a colon is a comment: servers send `: ping` every few seconds to keep proxies from closing an idle connection, and a correct client dispatches nothing for it.

When a language model answers through this protocol, every event holds one small JSON chunk with a fragment of text, often a single word or a piece of one, such as “ing”. The client parses each chunk, appends the fragment to what it has so far, and stops when it sees the sentinel `[DONE]`. That is thousands of tiny events per minute, so the cost of splitting lines and decoding JSON adds up: a naïve parser that copies its whole buffer on every read can spend more time than the network itself.

Two details catch many implementations. First, a multi-byte character such as é, ü or 🚀 may be split across two reads, so its bytes must wait until the character is complete. Second, an invalid byte should become U+FFFD rather than end the stream. Get both right, keep the work linear in the input, and the events arrive as fast as the server can write them. Happy streaming! 🚀"""

# Pre-tokenization in the manner of byte-level BPE tokenizers: a word keeps the space in
# front of it, punctuation runs are their own tokens, and a paragraph break is one token.
_PRE_TOKEN = re.compile(
    r"'(?:s|t|re|ve|m|ll|d)\b"
    r"| ?[^\W\d_]+"
    r"| ?\d{1,3}"
    r"| ?[^\s\w]+"
    r"|\s+(?!\S)"
    r"|\s+"
)
# Long words come out of a BPE vocabulary as a stem plus a common ending.
_SUFFIXES = ("ations", "ation", "ments", "ment", "ing", "ness", "able", "ers", "ed", "ly")
_MIN_SPLIT_LENGTH = 8


def tokenize(text: str) -> List[str]:
    """Split ``text`` into token-sized pieces; joined, they give ``text`` back."""
    tokens: List[str] = []
    for piece in _PRE_TOKEN.findall(text):
        word = piece.lstrip(" ")
        if len(word) >= _MIN_SPLIT_LENGTH and word.isalpha():
            for suffix in _SUFFIXES:
                if word.endswith(suffix) and len(word) - len(suffix) >= 4:
                    tokens.append(piece[: len(piece) - len(suffix)])
                    tokens.append(suffix)
                    break
            else:
                tokens.append(piece)
        else:
            tokens.append(piece)
    if "".join(tokens) != text:
        raise AssertionError("tokenization lost text")
    return tokens


def _stable_id(alphabet: str, length: int, salt: str) -> str:
    digest = int.from_bytes(hashlib.sha256((salt + TEXT).encode()).digest(), "big")
    chars = []
    for _ in range(length):
        digest, index = divmod(digest, len(alphabet))
        chars.append(alphabet[index])
    return "".join(chars)


def chunks(tokens: List[str]) -> List[Dict[str, Any]]:
    """The ``chat.completion.chunk`` objects of a streamed answer made of ``tokens``."""
    base = {
        "id": "chatcmpl-"
        + _stable_id("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 29, "id"),
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": MODEL,
        "service_tier": "default",
        "system_fingerprint": "fp_" + _stable_id("0123456789abcdef", 10, "fp"),
    }

    def chunk(delta: Dict[str, Any], finish_reason: Any = None) -> Dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        # With stream_options={"include_usage": true} every chunk carries "usage": null
        # until the final usage chunk.
        return dict(base, choices=[choice], usage=None)

    out = [chunk({"role": "assistant", "content": "", "refusal": None})]
    out.extend(chunk({"content": token}) for token in tokens)
    out.append(chunk({}, "stop"))
    usage = {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": len(tokens),
        "total_tokens": PROMPT_TOKENS + len(tokens),
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    out.append(dict(base, choices=[], usage=usage))
    return out


def render(objects: List[Dict[str, Any]]) -> bytes:
    """The event stream: one ``data:`` line and a blank line per object, then ``[DONE]``."""
    lines = []
    for obj in objects:
        # Compact separators and raw UTF-8, as the API sends them.
        payload = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
        lines.append(f"data: {payload}\n\n")
    lines.append("data: [DONE]\n\n")
    return "".join(lines).encode("utf-8")


def main(argv: List[str]) -> int:
    output = Path(argv[0]) if argv else DEFAULT_OUTPUT
    tokens = tokenize(TEXT)
    stream = render(chunks(tokens))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(stream)
    events = stream.count(b"\n\n")
    print(f"wrote {output}: {events} events, {len(tokens)} content tokens, {len(stream)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
