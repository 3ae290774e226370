"""The exceptions fastsse raises, all under :class:`StreamError`."""

from __future__ import annotations

from typing import Any, Optional, Tuple

import orjson

__all__ = [
    "StreamError",
    "DecodeError",
    "JSONDecodeError",
    "ValidationError",
    "LimitExceeded",
    "LineTooLong",
    "EventTooLarge",
    "BackendUnavailable",
    "FormatError",
    "ResponseError",
    "EventError",
    "ConnectionLost",
    "ReconnectError",
]


class StreamError(Exception):
    """Base class of every error fastsse raises."""


class DecodeError(StreamError):
    """The stream's bytes cannot be decoded as the format says they should."""


class JSONDecodeError(DecodeError, orjson.JSONDecodeError):
    """An event's data or a JSON Lines record is not valid JSON (or not valid UTF-8).

    Also an :class:`orjson.JSONDecodeError` (so a :class:`json.JSONDecodeError` and a
    :class:`ValueError`), so code written against plain ``orjson.loads`` keeps working.
    ``line`` and ``offset`` locate a JSON Lines record in its stream: the 1-based line
    number and the byte offset of the line's first byte; both are ``None`` for SSE events.
    """

    def __init__(
        self,
        msg: str,
        doc: str = "",
        pos: int = 0,
        *,
        line: Optional[int] = None,
        offset: Optional[int] = None,
    ) -> None:
        super().__init__(msg, doc, pos)
        self.line = line
        self.offset = offset

    def __str__(self) -> str:
        # json.JSONDecodeError appends "line 1 column 2 (char 1)" of the doc; the message
        # built by fastsse already names the position that matters to the user.
        return self.msg

    def __reduce__(self) -> Tuple[Any, ...]:
        return (_rebuild_json_error, (self.msg, self.doc, self.pos, self.line, self.offset))


def _rebuild_json_error(
    msg: str, doc: str, pos: int, line: Optional[int], offset: Optional[int]
) -> JSONDecodeError:
    return JSONDecodeError(msg, doc, pos, line=line, offset=offset)


class ValidationError(DecodeError):
    """An event's data (or a JSON Lines record) does not decode as the stream's ``model``.

    Raised for data that is not valid JSON too, when the stream decodes to a model. The
    model library's own error (a ``msgspec.ValidationError`` / ``msgspec.DecodeError``, a
    ``pydantic.ValidationError``, or :class:`fastsse.JSONDecodeError` for a JSON Lines
    record that is not UTF-8) is ``__cause__``; every item before the event was delivered.

    ``index`` is the event's 0-based position among the stream's events (records);
    ``event`` the SSE event name and ``id`` its last event ID (both ``None`` for JSON
    Lines); ``line`` and ``offset`` locate a JSON Lines record (``None`` for SSE);
    ``model`` names the type the data was decoded as; ``data`` is the event's data.
    """

    def __init__(
        self,
        msg: str,
        *,
        index: int,
        event: Optional[str] = None,
        id: Optional[str] = None,
        line: Optional[int] = None,
        offset: Optional[int] = None,
        model: str = "",
        data: str = "",
    ) -> None:
        super().__init__(msg)
        self.index = index
        self.event = event
        self.id = id
        self.line = line
        self.offset = offset
        self.model = model
        self.data = data

    def __reduce__(self) -> Tuple[Any, ...]:
        fields = (self.index, self.event, self.id, self.line, self.offset, self.model, self.data)
        return (_rebuild_validation_error, (self.args[0],) + fields)


def _rebuild_validation_error(
    msg: str,
    index: int,
    event: Optional[str],
    id: Optional[str],
    line: Optional[int],
    offset: Optional[int],
    model: str,
    data: str,
) -> ValidationError:
    return ValidationError(
        msg, index=index, event=event, id=id, line=line, offset=offset, model=model, data=data
    )


class LimitExceeded(StreamError):
    """A configured size limit was exceeded; the stream cannot go on.

    ``limit`` is the limit in bytes, ``size`` how many bytes had been seen when it tripped.
    """

    def __init__(self, msg: str, *, limit: int, size: int) -> None:
        super().__init__(msg)
        self.limit = limit
        self.size = size

    def __reduce__(self) -> Tuple[Any, ...]:
        return (_rebuild_limit_error, (type(self), self.args[0], self.limit, self.size))


def _rebuild_limit_error(
    cls: type[LimitExceeded], msg: str, limit: int, size: int
) -> LimitExceeded:
    return cls(msg, limit=limit, size=size)


class LineTooLong(LimitExceeded):
    """A line is longer than the decoder's ``max_line_size``."""


class EventTooLarge(LimitExceeded):
    """An SSE event's data is larger than the decoder's ``max_event_size``."""


class BackendUnavailable(StreamError, ImportError):
    """``backend="fast"`` was asked for but the compiled extension is not available."""


class FormatError(StreamError, ValueError):
    """The stream's format (SSE or JSON Lines) is unknown, missing or unsupported."""


class ResponseError(StreamError):
    """The server answered with a non-2xx status instead of a stream.

    ``status_code`` is the HTTP status, ``reason`` its phrase (or ``None``), ``body`` the
    first bytes of the response body (at most :data:`ResponseError.BODY_EXCERPT` bytes),
    ``response`` the response object, already closed.
    """

    BODY_EXCERPT = 4096

    def __init__(
        self, status_code: int, reason: Optional[str], body: bytes, response: object = None
    ) -> None:
        text = " ".join(body[:300].decode("utf-8", "replace").split())
        more = "..." if len(body) > 300 else ""
        phrase = f" {reason}" if reason else ""
        super().__init__(
            f"the server answered HTTP {status_code}{phrase} instead of a stream"
            + (f": {text}{more}" if text else "")
        )
        self.status_code = status_code
        self.reason = reason
        self.body = body
        self.response = response

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.status_code, self.reason, self.body))


class EventError(StreamError):
    """The stream sent an event whose name is one of ``error_event_names``.

    ``event`` is the event; ``payload`` its data parsed as JSON, or its data as text
    when that is not JSON.
    """

    def __init__(self, event: object, payload: object) -> None:
        name = getattr(event, "event", "?")
        text = " ".join(str(getattr(event, "data", ""))[:300].split())
        super().__init__(f"the server sent an {name!r} event: {text}")
        self.event = event
        self.payload = payload

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.event, self.payload))


class ConnectionLost(StreamError):
    """The connection ended before the body did.

    Raised for a connection reset, a truncated chunked body, a body shorter than its
    Content-Length or a read timeout, whichever HTTP client read it; the client's own
    exception is ``__cause__`` (``None`` only for a body short of its Content-Length that
    the client let pass). Every complete event that arrived before the loss was
    delivered; the one cut off is not, and the response is closed, its connection not
    returned to a pool. ``last_event_id`` is the stream's last event ID at that moment
    (``""`` if none, and for JSON Lines), what a reconnection sends; ``events_delivered``
    how many events (or records) the stream had delivered. Errors of the user's own code
    and decoding errors are never turned into this.
    """

    def __init__(self, msg: str, *, last_event_id: str = "", events_delivered: int = 0) -> None:
        super().__init__(msg)
        self.last_event_id = last_event_id
        self.events_delivered = events_delivered

    def __reduce__(self) -> Tuple[Any, ...]:
        return (_rebuild_connection_lost, (self.args[0], self.last_event_id, self.events_delivered))


def _rebuild_connection_lost(msg: str, last_event_id: str, events_delivered: int) -> ConnectionLost:
    return ConnectionLost(msg, last_event_id=last_event_id, events_delivered=events_delivered)


class ReconnectError(StreamError):
    """A reconnecting stream gave up: its policy's ``max_attempts`` or ``max_time`` ran out.

    ``attempts`` is how many reconnection attempts were made in a row without an event
    arriving, ``elapsed`` the seconds since the connection that delivered the last event
    ended, ``last_event_id`` what the next attempt would have sent. ``__cause__`` is why the
    last attempt failed (the client's error, a :class:`ConnectionLost`, a retryable
    :class:`ResponseError`), or ``None`` when the server ended the body cleanly without
    sending an event.
    """

    def __init__(
        self, msg: str, *, attempts: int, elapsed: float = 0.0, last_event_id: str = ""
    ) -> None:
        super().__init__(msg)
        self.attempts = attempts
        self.elapsed = elapsed
        self.last_event_id = last_event_id

    def __reduce__(self) -> Tuple[Any, ...]:
        return (
            _rebuild_reconnect_error,
            (self.args[0], self.attempts, self.elapsed, self.last_event_id),
        )


def _rebuild_reconnect_error(
    msg: str, attempts: int, elapsed: float, last_event_id: str
) -> ReconnectError:
    return ReconnectError(msg, attempts=attempts, elapsed=elapsed, last_event_id=last_event_id)


def sse_json_error(exc: orjson.JSONDecodeError, doc: str) -> JSONDecodeError:
    return JSONDecodeError(
        f"event data is not valid JSON: {exc.msg} (char {exc.pos})", doc, exc.pos
    )


def jsonl_error(
    what: str, line: Optional[int], offset: Optional[int], doc: str, pos: int
) -> JSONDecodeError:
    where = (
        "JSON Lines record" if line is None else f"JSON Lines record on line {line} (byte {offset})"
    )
    return JSONDecodeError(f"{where} {what}", doc, pos, line=line, offset=offset)
