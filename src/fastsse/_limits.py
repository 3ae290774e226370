"""Size limits shared by both decoder implementations, and the errors they raise."""

from __future__ import annotations

import sys

from ._errors import EventTooLarge, LineTooLong

# Generous on purpose: tool results and base64 images travel as single lines of many
# megabytes; the limits exist to bound memory against a broken or hostile server.
DEFAULT_MAX_LINE_SIZE = 64 * 1024 * 1024
DEFAULT_MAX_EVENT_SIZE = 64 * 1024 * 1024


def line_too_long(limit: int, size: int) -> LineTooLong:
    return LineTooLong(
        f"line exceeds max_line_size ({size} > {limit} bytes); "
        "raise max_line_size if such lines are expected",
        limit=limit,
        size=size,
    )


def event_too_large(limit: int, size: int) -> EventTooLarge:
    return EventTooLarge(
        f"event data exceeds max_event_size ({size} > {limit} bytes); "
        "raise max_event_size if such events are expected",
        limit=limit,
        size=size,
    )


def check_limit(name: str, value: object) -> int:
    # bool is not a size; above sys.maxsize no buffer could be allocated anyway
    if type(value) is not int or value < 1 or value > sys.maxsize:
        raise ValueError(f"{name} must be a positive int no larger than sys.maxsize, not {value!r}")
    return value
