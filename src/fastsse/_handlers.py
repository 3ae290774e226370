"""Event handling by type: ``add_callback`` registries and ``EventHandler`` classes."""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Optional, cast

__all__ = ["EventHandler", "AsyncEventHandler", "event_type_of", "handler_method_name"]

_NOT_WORD = re.compile(r"[^0-9A-Za-z]+")
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_FALLBACKS = ("on_event", "on_unhandled_event")


def handler_method_name(event_type: str) -> str:
    """The ``on_...`` method that handles ``event_type``.

    ``"user.message"`` -> ``on_user_message``, ``"content_block_delta"`` ->
    ``on_content_block_delta``, ``"userConnect"`` -> ``on_user_connect``.
    """
    words = _NOT_WORD.sub("_", _CAMEL_HUMP.sub("_", event_type)).strip("_").lower()
    return "on_" + words


def event_type_of(event: Any, payload: Any = None) -> str:
    """The type an event is dispatched by.

    An SSE event's name when the stream gave one; else the ``type`` (or ``kind``) field of
    its JSON object, the discriminator of most event families; else ``"message"``.
    """
    name = getattr(event, "event", "message")
    if name != "message":
        return name
    if payload is None:
        try:
            payload = event.json()
        except ValueError:
            return "message"
    if isinstance(payload, dict):
        fields = cast("Dict[str, Any]", payload)
        for key in ("type", "kind"):
            value = fields.get(key)
            if isinstance(value, str):
                return value
    return "message"


class EventHandler:
    """Subclass and define ``on_<event type>`` methods; pass an instance as
    ``Stream(..., event_handler=...)``.

    For each item the stream yields, ``on_event(item)`` is called first, then the method
    named after the item's event type (see :func:`handler_method_name`), or
    ``on_unhandled_event(item)`` when there is none. The item is what the stream yields:
    the ``deserialization_callback``'s model, or the event itself.
    """

    def on_event(self, item: Any) -> None:
        """Called for every item."""

    def on_unhandled_event(self, item: Any) -> None:
        """Called for an item whose type has no ``on_...`` method."""


class AsyncEventHandler:
    """:class:`EventHandler` for :class:`AsyncStream`: its methods may be coroutines."""

    async def on_event(self, item: Any) -> None:
        """Called for every item."""

    async def on_unhandled_event(self, item: Any) -> None:
        """Called for an item whose type has no ``on_...`` method."""


class Dispatcher:
    """Finds the callables an item goes to: ``add_callback`` ones, then the handler's."""

    def __init__(self, handler: Any = None) -> None:
        self.callbacks: Dict[str, List[Callable[[Any], Any]]] = {}
        self.handler = handler
        self._methods: Dict[str, Optional[Callable[[Any], Any]]] = {}

    def __bool__(self) -> bool:
        return bool(self.callbacks) or self.handler is not None

    def add(self, event_type: str, callback: Callable[[Any], Any]) -> None:
        # Callers without a type checker can pass anything: say what was wrong.
        if not isinstance(event_type, str):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"event_type must be a str, not {type(event_type).__name__}")
        if not callable(callback):
            raise TypeError("callback must be callable")
        self.callbacks.setdefault(event_type, []).append(callback)

    def targets(self, event_type: str) -> List[Callable[[Any], Any]]:
        found = list(self.callbacks.get(event_type, ())) + list(self.callbacks.get("*", ()))
        handler = self.handler
        if handler is not None:
            found.append(handler.on_event)
            try:
                method = self._methods[event_type]
            except KeyError:
                name = handler_method_name(event_type)
                # The fallbacks' own names never double as an event type's handler.
                method = None if name in _FALLBACKS else getattr(handler, name, None)
                self._methods[event_type] = method
            found.append(method if method is not None else handler.on_unhandled_event)
        return found
