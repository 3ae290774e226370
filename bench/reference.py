"""The reference: the prototype ``Stream`` of the Azure SDK SSE proposal, as a baseline.

Written out from ``shared/design/azure-sse-proposal.txt`` (the ``Stream``,
``SSEDecoder``, ``JSONLDecoder``, ``ServerSentEvent`` and ``JSONLEvent`` code of the
proposal's "Stream interface", "Decoders" and "Event types" sections) and fixed only as
far as needed to run. Its algorithm is kept, defects and all: ``chunk.splitlines``,
``data += line`` per piece, event blocks found with ``endswith``, ``str.splitlines`` on
the decoded block, strict UTF-8, stdlib ``json``. That is the point of a baseline.

The changes, each marked ``# FIX n`` below, and why:

1. Imports. The proposal imports only ``Iterator, TypeVar, Type``, yet uses ``json``
   (in ``json()``), ``Any``, ``Callable``, ``Optional``, ``TracebackType`` and ``Self``;
   they are imported (the last two for type checkers only). ``from __future__ import
   annotations`` keeps annotations unevaluated, so ``PipelineResponse`` (azure-core)
   need not be installed.
2. ``SSEDecoder.event`` is both the attribute holding the event type and the method
   that builds the event; the attribute, set in ``__init__``, shadows the method, so
   calling it raises ``TypeError: 'NoneType' object is not callable``. The method is
   renamed ``make_event`` (in ``JSONLDecoder`` too, which ``Stream`` calls the same way).
3. JSON Lines never dispatched: ``_parse_chunk`` yields a block only at a blank line,
   which a JSON Lines stream never has, and ``_iter_events`` builds an event only on
   an empty line. ``Stream`` now notes once whether it decodes JSON Lines
   (``_per_line``); if so, ``_parse_chunk`` also yields at every line end and
   ``_iter_events`` builds an event after every line.

Nothing else was changed: not the algorithm, not the defects that let it run (a
``break`` on the terminal event that leaves only the inner loop, a dispatch on every
blank line, no BOM handling, and the rest listed in DESIGN.md section 6).

Below the prototype, marked as such, is what the benchmarks add to drive it: a
response object of the shape ``Stream`` reads, and the ``Stream`` loop without its JSON
step, for the "parse only" figures (the prototype parses every event's JSON inside
``Stream``, so it has no parse-only path of its own).
"""

from __future__ import annotations  # FIX 1

import json  # FIX 1
from typing import TYPE_CHECKING, Any, Callable, Iterator, List, Optional, TypeVar, Type  # FIX 1

if TYPE_CHECKING:  # FIX 1: names used only in annotations
    from types import TracebackType

    from typing_extensions import Self

ReturnType = TypeVar("ReturnType")


class Stream(Iterator[ReturnType]):
    """Stream class.

    :keyword response: The response object.
    :paramtype response: ~azure.core.pipeline.PipelineResponse
    :keyword deserialization_callback: A callback that takes HttpResponse and returns a deserialized object
    :paramtype deserialization_callback: Callable
    :keyword terminal_event: A terminal event that indicates the end of the SSE stream.
    :paramtype terminal_event: Optional[str]
    """
    def __init__(
        self,
        *,
        response: PipelineResponse,
        deserialization_callback: Callable[[Any, Any], ReturnType],
        terminal_event: Optional[str] = None,
    ) -> None:
        self._response = response.http_response
        self._decoder = SSEDecoder() if self._response.headers.get("Content-Type") == "text/event-stream" else JSONLDecoder()
        self._per_line = isinstance(self._decoder, JSONLDecoder)  # FIX 3: a JSON Lines record is one line
        self._deserialization_callback = deserialization_callback
        self._terminal_event = terminal_event
        self._iterator = self._iter_events()

    def __next__(self) -> ReturnType:
        return self._iterator.__next__()

    def __iter__(self) -> Iterator[ReturnType]:
        yield from self._iterator

    def _iter_events(self) -> Iterator[ReturnType]:
        for line in self._parse_chunk(self._response.iter_bytes()):
            for data in line.splitlines():
                if data:
                    self._decoder.decode(data)
                if not data or self._per_line:  # FIX 3: was `else:`
                    event = self._decoder.make_event()  # FIX 2: was `event()`
                    if self._terminal_event:
                        if event.data == self._terminal_event:
                            break

                    event_model = self._deserialization_callback(self._response, event.json())

                    yield event_model

    def _parse_chunk(self, iter_bytes: Iterator[bytes]) -> Iterator[str]:
        data = b''
        for chunk in iter_bytes:
            for line in chunk.splitlines(keepends=True):
                data += line
                if data.endswith((b'\r\r', b'\n\n', b'\r\n\r\n')) or (
                    self._per_line and data.endswith((b'\r', b'\n'))  # FIX 3
                ):
                    yield data.decode("utf-8")
                    data = b''

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self.close()

    def __enter__(self) -> Self:
        return self

    def close(self) -> None:
        self._response.close()


class SSEDecoder:
    def __init__(self) -> None:
        self.data: list[str] = []
        self.last_event_id = None
        self.event = None
        self.retry = None

    def decode(self, line: str) -> None:
        if line.startswith(":"):
            # comment, ignore the line
            return None

        if ":" in line:
            field, _, value = line.partition(":")
            if value.startswith(" "):
                # data:test and data: test are equivalent
                value = value[1:]
        else:
            field = line
            value = ""

        if field == "data":
            self.data.append(value)
        elif field == "event":
            self.event = value
        elif field == "id":
            if "\0" in value:
                pass
            else:
                self.last_event_id = value
        elif field == "retry":
            try:
                self.retry = int(value)
            except (TypeError, ValueError):
                pass

        # else: ignore the field

    def make_event(self) -> ServerSentEvent:  # FIX 2: was `event`, shadowed by the attribute
        sse = ServerSentEvent(
            event=self.event,
            data="\n".join(self.data),
            id=self.last_event_id,
            retry=self.retry,
        )

        self.data = []
        self.event = None
        self.retry = None
        return sse


class JSONLDecoder:
    def __init__(self) -> None:
        self.data: list[str] = []

    def decode(self, line: str) -> None:
        self.data.append(line)

    def make_event(self) -> JSONLEvent:  # FIX 2: renamed with SSEDecoder's
        jsonl = JSONLEvent(data="\n".join(self.data))
        self.data = []
        return jsonl


class ServerSentEvent:
    def __init__(
        self,
        *,
        data: Optional[str] = None,
        event: Optional[str] = None,
        id: Optional[str] = None,
        retry: Optional[int] = None,
    ) -> None:
        self.data = data
        self.event = event
        self.id = id
        self.retry = retry

    def json(self) -> Any:
        return json.loads(self.data)


class JSONLEvent:
    def __init__(
        self,
        *,
        data: Optional[str] = None,
    ) -> None:
        self.data = data

    def json(self) -> Any:
        return json.loads(self.data)


# --- not the prototype: what the benchmarks use to drive it --------------------------

CONTENT_TYPES = {"sse": "text/event-stream", "jsonl": "application/jsonl"}


class ChunkResponse:
    """An ``HttpResponse`` as far as ``Stream`` uses one: headers, ``iter_bytes()``, ``close()``;
    its body is a list of chunks."""

    def __init__(self, chunks: List[bytes], format: str) -> None:
        self.headers = {"Content-Type": CONTENT_TYPES[format]}
        self._chunks = chunks

    def iter_bytes(self) -> Iterator[bytes]:
        return iter(self._chunks)

    def close(self) -> None:
        pass


class ChunkPipelineResponse:
    """A ``PipelineResponse`` as far as ``Stream`` uses one: its ``http_response``."""

    def __init__(self, chunks: List[bytes], format: str) -> None:
        self.http_response = ChunkResponse(chunks, format)


def stream(chunks: List[bytes], format: str, terminal_event: Optional[str] = None) -> Stream:
    """The prototype's ``Stream`` over ``chunks``, yielding each event's parsed JSON."""
    return Stream(
        response=ChunkPipelineResponse(chunks, format),
        deserialization_callback=lambda response, payload: payload,
        terminal_event=terminal_event,
    )


def iter_events(chunks: List[bytes], format: str) -> Iterator[Any]:
    """The events of ``Stream._iter_events``, before it calls ``event.json()``: the same
    block splitting, line splitting, decoder calls and event objects, with no JSON."""
    prototype = stream(chunks, format)
    decoder = prototype._decoder
    per_line = prototype._per_line
    for block in prototype._parse_chunk(prototype._response.iter_bytes()):
        for line in block.splitlines():
            if line:
                decoder.decode(line)
            if not line or per_line:
                yield decoder.make_event()
