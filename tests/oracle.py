"""Reference parsers for the tests: slow, whole-stream, and as literal as possible.

``parse_sse`` follows WHATWG HTML, "9.2.5 Parsing an event stream" and "9.2.6
Interpreting an event stream", step by step on the decoded text. ``parse_jsonl`` follows
docs DESIGN.md section 3. Neither shares code or structure with the decoders under test:
no incremental state, no byte-level tricks, so that agreeing with them means something.
"""

from __future__ import annotations

from typing import List, NamedTuple, Optional, Tuple

# --- Project choices the standard leaves open (fastsse's DESIGN.md and the vectors) ---

# A retry value is used only if it is non-empty ASCII digits and fits in 64 bits;
# larger values are ignored, as browsers do.
MAX_RETRY = 2**64 - 1
# An id value containing U+0000 is ignored (the standard says so; listed for clarity).
ID_REJECTED_CHARACTER = "\u0000"
# An event's ``retry`` is the last valid retry seen in its own block (reset at every
# blank line), else None. An event's ``id`` is the last event ID string at dispatch.
# An unterminated final block is discarded (the standard: "pending data" at end of file).

ASCII_DIGITS = "0123456789"
LF = "\n"
CR = "\r"


class SSEOutcome(NamedTuple):
    events: List[Tuple[str, str, str, Optional[int]]]  # (type, data, id, retry)
    last_event_id: str
    reconnection_time: Optional[int]


def split_terminated_lines(text: str) -> List[str]:
    """The lines of ``text`` that end in CRLF, LF or CR; a trailing unterminated line is dropped.

    Written as a scan on purpose: ``str.splitlines`` also splits on U+2028, U+0085, VT,
    FF and others, which are data in an event stream.
    """
    lines = []
    line_start = 0
    position = 0
    while position < len(text):
        character = text[position]
        if character == CR or character == LF:
            lines.append(text[line_start:position])
            if character == CR and text[position + 1 : position + 2] == LF:
                position += 1  # CRLF is one line ending
            line_start = position + 1
        position += 1
    return lines


def parse_sse(stream: bytes) -> SSEOutcome:
    """Every event a conforming user agent dispatches for the whole ``stream``."""
    text = stream.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]

    events: List[Tuple[str, str, str, Optional[int]]] = []
    data_buffer = ""
    event_type_buffer = ""
    last_event_id_buffer = ""
    last_event_id_string = ""
    reconnection_time: Optional[int] = None
    block_retry: Optional[int] = None

    for line in split_terminated_lines(text):
        if line == "":
            # "Dispatch the event"
            last_event_id_string = last_event_id_buffer
            if data_buffer != "":
                if data_buffer.endswith(LF):
                    data_buffer = data_buffer[:-1]
                event_type = event_type_buffer if event_type_buffer != "" else "message"
                events.append((event_type, data_buffer, last_event_id_string, block_retry))
            data_buffer = ""
            event_type_buffer = ""
            block_retry = None
            continue
        if line.startswith(":"):
            continue  # a comment
        if ":" in line:
            field, value = line.split(":", 1)
            if value.startswith(" "):
                value = value[1:]
        else:
            field, value = line, ""

        if field == "event":
            event_type_buffer = value
        elif field == "data":
            data_buffer += value + LF
        elif field == "id":
            if ID_REJECTED_CHARACTER not in value:
                last_event_id_buffer = value
        elif field == "retry":
            if value != "" and all(character in ASCII_DIGITS for character in value):
                if int(value) <= MAX_RETRY:
                    reconnection_time = int(value)
                    block_retry = reconnection_time
        # any other field name is ignored

    return SSEOutcome(events, last_event_id_string, reconnection_time)


# --- JSON Lines ---

UTF8_BOM = b"\xef\xbb\xbf"
JSON_WHITESPACE = b" \t\r"  # LF, the fourth, cannot occur inside a line


class JSONLRecord(NamedTuple):
    text: bytes  # the record's bytes, without its line ending
    line: int  # 1-based line number; blank lines count
    offset: int  # byte offset of the line's first byte in the stream, BOM included


def parse_jsonl(stream: bytes, at_end_of_stream: bool = True) -> List[JSONLRecord]:
    """The records of ``stream``.

    With ``at_end_of_stream=False`` the stream is only a prefix, so a final line without
    LF is not (yet) a record.
    """
    offset = len(UTF8_BOM) if stream.startswith(UTF8_BOM) else 0
    pieces = stream[offset:].split(b"\n")
    records = []
    for index, piece in enumerate(pieces):
        ends_with_lf = index < len(pieces) - 1
        if not ends_with_lf and not at_end_of_stream:
            break
        text = piece[:-1] if ends_with_lf and piece.endswith(b"\r") else piece
        if text.strip(JSON_WHITESPACE) != b"":
            records.append(JSONLRecord(text, index + 1, offset))
        offset += len(piece) + 1
    return records
