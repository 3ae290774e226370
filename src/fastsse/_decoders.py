"""The public decoder classes: each call builds the chosen backend's decoder.

``SSEDecoder(backend=...)`` returns an instance of the backend's own class, so feeding
it costs no extra call; both backend classes are registered as virtual subclasses, so
``isinstance(dec, fastsse.SSEDecoder)`` holds whichever backend built it.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any, List, Optional, Union

from . import _decoder_py
from ._backend import JSONLEvent, ServerSentEvent, compiled, module_for
from ._limits import DEFAULT_MAX_EVENT_SIZE, DEFAULT_MAX_LINE_SIZE

__all__ = ["SSEDecoder", "JSONLDecoder", "Decoder"]

Bytes = Union[bytes, bytearray, memoryview]


class Decoder(abc.ABC):
    """What every decoder offers: ``feed(chunk)`` and ``flush()``."""

    @abc.abstractmethod
    def feed(self, chunk: Bytes) -> List[Any]:
        """Decode ``chunk`` and return the events (records) it completes, in order."""

    @abc.abstractmethod
    def flush(self) -> List[Any]:
        """End the stream and return what its end completes; the decoder starts anew."""


class SSEDecoder(Decoder):
    """Incremental ``text/event-stream`` decoder, as in the WHATWG HTML standard.

    ``backend``: ``"auto"`` (the compiled decoder when built, else the pure-Python
    one), ``"fast"`` (compiled, or :class:`fastsse.BackendUnavailable`), ``"python"``.
    ``max_line_size`` / ``max_event_size`` bound memory: a longer line or larger event
    raises :class:`fastsse.LineTooLong` / :class:`fastsse.EventTooLarge`.

    ``feed(chunk)`` returns the list of :class:`ServerSentEvent` the chunk completes;
    ``flush()`` ends the stream (an unterminated event is discarded, per the standard).
    ``last_event_id`` is the stream's last event ID (``""`` if none) and ``retry`` its
    reconnection time in ms (``None`` if never set).

    ``last_event_id=`` resumes a stream: the ID the connection before ended with, which
    events carry as ``id`` until the stream sets another (a ``str`` without NUL, CR or
    LF; else :class:`TypeError` / :class:`ValueError`). After ``flush()`` the decoder is
    at the start of a new stream, keeping ``last_event_id`` and ``retry``: a reconnection
    feeds the next body to the same decoder. ``dispatched`` counts the events returned
    so far; ``error`` is the limit error that ended the stream, or ``None``.
    """

    def __new__(
        cls,
        backend: str = "auto",
        *,
        max_line_size: int = DEFAULT_MAX_LINE_SIZE,
        max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
        last_event_id: str = "",
    ) -> "SSEDecoder":
        impl = module_for(backend)
        return impl.SSEDecoder(  # type: ignore[no-any-return]
            max_line_size=max_line_size,
            max_event_size=max_event_size,
            last_event_id=last_event_id,
        )

    # For type checkers: the interface every backend's decoder has (at run time each call
    # returns the backend's own class, so nothing here is ever looked up).
    if TYPE_CHECKING:
        last_event_id: str
        retry: Optional[int]
        max_line_size: int
        max_event_size: int
        discarded: int
        dispatched: int
        error: Optional[BaseException]

        def feed(self, chunk: Bytes) -> List[ServerSentEvent]: ...

        def flush(self) -> List[ServerSentEvent]: ...


class JSONLDecoder(Decoder):
    """Incremental JSON Lines decoder (``application/jsonl``, ``application/x-ndjson``).

    ``backend`` as for :class:`SSEDecoder`; ``max_line_size`` bounds one record.
    ``feed(chunk)`` returns the :class:`JSONLEvent` records the chunk completes;
    ``flush()`` returns the final record when the stream does not end with LF; the
    decoder is then at the start of a new stream. ``dispatched`` counts the records
    returned so far; ``error`` is the limit error that ended the stream, or ``None``.
    """

    def __new__(
        cls,
        backend: str = "auto",
        *,
        max_line_size: int = DEFAULT_MAX_LINE_SIZE,
    ) -> "JSONLDecoder":
        impl = module_for(backend)
        return impl.JSONLDecoder(max_line_size=max_line_size)  # type: ignore[no-any-return]

    if TYPE_CHECKING:
        max_line_size: int
        dispatched: int
        error: Optional[BaseException]

        def feed(self, chunk: Bytes) -> List[JSONLEvent]: ...

        def flush(self) -> List[JSONLEvent]: ...


for _impl in (_decoder_py, compiled):
    if _impl is not None:
        SSEDecoder.register(_impl.SSEDecoder)
        JSONLDecoder.register(_impl.JSONLDecoder)
        Decoder.register(_impl.SSEDecoder)
        Decoder.register(_impl.JSONLDecoder)
del _impl
