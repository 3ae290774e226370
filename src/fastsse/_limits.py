"""Size limits shared by both decoder implementations, and the errors they raise."""

from __future__ import annotations

import copy
import sys
from typing import TypeVar

from ._errors import EventTooLarge, LineTooLong

E = TypeVar("E", bound=BaseException)

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


def check_last_event_id(value: object) -> str:
    # An ID read from a stream can hold none of these; one given to resume a stream
    # with is sent back as a Last-Event-ID header, where CR or LF would end the header.
    if not isinstance(value, str):
        raise TypeError(f"last_event_id must be a str, not {type(value).__name__}")
    if "\x00" in value or "\r" in value or "\n" in value:
        raise ValueError(f"last_event_id cannot contain NUL, CR or LF: {value!r}")
    return value if type(value) is str else str.__str__(value)


def fresh_copy(error: E) -> E:
    """A new exception equal to ``error``, with no traceback, cause or context.

    A decoder records the error that ended its stream as such a copy and raises a new
    one on every later call, so that retrying a failed decoder accumulates nothing: a
    re-raised exception object would collect one traceback entry per raise, and keep
    alive every frame (and chunk) it names.
    """
    try:
        clone = copy.copy(error)
    except Exception:  # an exception type that cannot be rebuilt from its reduce
        return error.with_traceback(None)
    if type(clone) is not type(error):
        return error.with_traceback(None)
    return clone


def reinitialised(decoder: object) -> RuntimeError:
    return RuntimeError(
        f"{type(decoder).__name__}.__init__ was called on a decoder already in use: a decoder "
        "is tied to one stream; make a new one, or call flush() to start the next stream"
    )
