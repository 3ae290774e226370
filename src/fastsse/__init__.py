"""fastsse: fast, spec-exact decoding of Server-Sent Events and JSON Lines streams."""

from ._backend import IMPLEMENTATION, JSONLEvent, ServerSentEvent
from ._connect import aconnect, connect
from ._decoders import Decoder, JSONLDecoder, SSEDecoder
from ._errors import (
    BackendUnavailable,
    ConnectionLost,
    DecodeError,
    EventError,
    EventTooLarge,
    FormatError,
    JSONDecodeError,
    LimitExceeded,
    LineTooLong,
    ReconnectError,
    ResponseError,
    StreamError,
    ValidationError,
)
from ._handlers import AsyncEventHandler, EventHandler
from ._limits import DEFAULT_MAX_EVENT_SIZE, DEFAULT_MAX_LINE_SIZE
from ._reconnect import Reconnection, ReconnectPolicy
from ._stream import AsyncStream, Stream

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "IMPLEMENTATION",
    "DEFAULT_MAX_LINE_SIZE",
    "DEFAULT_MAX_EVENT_SIZE",
    "Decoder",
    "SSEDecoder",
    "JSONLDecoder",
    "ServerSentEvent",
    "JSONLEvent",
    "Stream",
    "AsyncStream",
    "connect",
    "aconnect",
    "ReconnectPolicy",
    "Reconnection",
    "EventHandler",
    "AsyncEventHandler",
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
