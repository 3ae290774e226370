"""Heterogeneous events: one stream, several event types, each turned into its own model.

A chat service streams a discriminated family of events: each JSON object names its
variant in a ``kind`` field (the TypeSpec discriminator style). The deserialization
callback picks the model class by that field, so the loop gets typed objects, and an
EventHandler reacts to each type through its own method.

Run it: ``python examples/heterogeneous_events.py`` (it decodes an in-memory stream).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Type, Union

import fastsse


@dataclass
class UserConnect:
    username: str
    time: str
    kind: str = "userconnect"


@dataclass
class UserMessage:
    username: str
    time: str
    text: str
    kind: str = "usermessage"


@dataclass
class UserDisconnect:
    username: str
    time: str
    kind: str = "userdisconnect"


ChannelEvent = Union[UserConnect, UserMessage, UserDisconnect]
MODELS: Dict[str, Type[Any]] = {
    "userconnect": UserConnect,
    "usermessage": UserMessage,
    "userdisconnect": UserDisconnect,
}


def to_channel_event(response: Any, payload: Dict[str, Any]) -> ChannelEvent:
    """The deserialization callback: the ``kind`` field picks the model."""
    model = MODELS[payload["kind"]]
    return model(**payload)  # type: ignore[no-any-return]


class ChannelEventHandler(fastsse.EventHandler):
    """Reacts per event type; methods are named after the ``kind`` values."""

    def __init__(self) -> None:
        self.log: List[str] = []

    def on_userconnect(self, event: UserConnect) -> None:
        self.log.append(f"{event.username} joined")

    def on_usermessage(self, event: UserMessage) -> None:
        self.log.append(f"{event.username}: {event.text}")

    def on_unhandled_event(self, event: Any) -> None:
        self.log.append(f"(no handler for {event.kind})")


SAMPLE = (
    b'data: {"kind": "userconnect", "username": "ada", "time": "10:00"}\n\n'
    b'data: {"kind": "usermessage", "username": "ada", "time": "10:01", "text": "hello"}\n\n'
    b": keep-alive\n\n"
    b'data: {"kind": "userdisconnect", "username": "ada", "time": "10:02"}\n\n'
    b"data: [DONE]\n\n"
)


def main() -> List[ChannelEvent]:
    handler = ChannelEventHandler()
    stream: fastsse.Stream[ChannelEvent] = fastsse.Stream(
        [SAMPLE],
        format="sse",
        deserialization_callback=to_channel_event,
        terminal_event="[DONE]",
        event_handler=handler,
    )
    events = []
    for event in stream:
        if isinstance(event, UserMessage):
            print(f"message from {event.username}: {event.text}")
        events.append(event)
    print("\n".join(handler.log))
    return events


if __name__ == "__main__":
    main()
