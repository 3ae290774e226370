"""Typed items: each event's data decoded straight from its bytes into a model.

Neither msgspec nor pydantic is imported here until a stream asks for a model, and the
choice of library is made from the model alone (never from what happens to be
installed), so a model validates the same way wherever it runs:

- a ``pydantic.TypeAdapter`` instance: pydantic;
- a ``msgspec.Struct`` subclass or a ``msgspec.json.Decoder`` instance: msgspec;
- a pydantic ``BaseModel`` subclass or pydantic dataclass, or a type built with pydantic
  or ``annotated_types`` parts (``Annotated[Union[...], Field(discriminator="kind")]``,
  ``list[SomeModel]``): pydantic, through a ``TypeAdapter``;
- any other type (plain dataclasses, ``TypedDict``, unions, containers): msgspec, the
  faster decoder, strict about JSON types as JSON itself is; a type msgspec cannot decode
  goes to pydantic. Pass ``pydantic.TypeAdapter(T)`` to have pydantic's lax validation.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from typing import (
    Any,
    Callable,
    Dict,
    Mapping,
    NoReturn,
    Optional,
    Tuple,
    cast,
    get_args,
    get_type_hints,
)

from ._errors import JSONDecodeError, ValidationError
from ._handlers import event_type_of

__all__ = ["TypedPlan", "decoder_for", "kind_of"]

Decode = Callable[[Any], Any]

_INSTALL = "pip install 'fastsse-decoder[{extra}]'"
_PYDANTIC_MODULES = ("pydantic", "pydantic_core", "annotated_types")
_CAUSE_EXCERPT = 300


def _model_name(model: Any) -> str:
    adapted = getattr(model, "_type", None)  # a TypeAdapter's type
    target = model if adapted is None else adapted
    name = getattr(target, "__qualname__", None)
    return name if isinstance(name, str) else repr(target)


def _mentions_pydantic(model: Any, pydantic: Any, depth: int = 0) -> bool:
    if depth > 10:
        return False
    if isinstance(model, type):
        cls: Any = model
        if issubclass(cls, pydantic.BaseModel) or hasattr(cls, "__pydantic_validator__"):
            return True
        # A plain dataclass or TypedDict holding pydantic types is pydantic's to decode.
        if dataclasses.is_dataclass(cls) or hasattr(cls, "__total__"):
            try:
                hints = get_type_hints(cls, include_extras=True)
            except Exception:  # unresolvable annotations: the decoder will say so
                return False
            return any(_mentions_pydantic(hint, pydantic, depth + 1) for hint in hints.values())
        return False
    for part in getattr(model, "__metadata__", ()):  # Annotated[...]'s constraints
        if type(part).__module__.split(".", 1)[0] in _PYDANTIC_MODULES:
            return True
    return any(_mentions_pydantic(arg, pydantic, depth + 1) for arg in get_args(model))


def _pydantic_decode(adapter: Any) -> Decode:
    # The adapter's own validator: what TypeAdapter.validate_json calls, minus its
    # Python-level wrapper.
    return adapter.validator.validate_json  # type: ignore[no-any-return]


def _msgspec() -> Any:
    try:
        import msgspec
    except ImportError:
        return None
    return msgspec


def _pydantic() -> Any:
    try:
        import pydantic
    except ImportError:
        return None
    return pydantic


def _resolve(model: Any) -> Decode:
    pydantic = sys.modules.get("pydantic")
    msgspec = sys.modules.get("msgspec")
    if pydantic is not None:
        if isinstance(model, pydantic.TypeAdapter):
            return _pydantic_decode(model)
        if _mentions_pydantic(model, pydantic):
            return _pydantic_decode(pydantic.TypeAdapter(model))
    if msgspec is not None and isinstance(model, msgspec.json.Decoder):
        return model.decode  # type: ignore[no-any-return]
    msgspec = _msgspec()
    if msgspec is None:
        raise ImportError(
            f"model={_model_name(model)} is decoded with msgspec, which is not installed: "
            f"{_INSTALL.format(extra='msgspec')} (or pass model=pydantic.TypeAdapter(...) "
            "to validate it with pydantic)"
        )
    try:
        return msgspec.json.Decoder(model).decode  # type: ignore[no-any-return]
    except TypeError as unsupported:
        pydantic = _pydantic()
        if pydantic is None:
            raise TypeError(
                f"msgspec cannot decode model={_model_name(model)} ({unsupported}), and "
                f"pydantic, which might, is not installed: {_INSTALL.format(extra='pydantic')}"
            ) from unsupported
        return _pydantic_decode(pydantic.TypeAdapter(model))


@functools.lru_cache(maxsize=256)
def _cached(model: Any) -> Decode:
    return _resolve(model)


def decoder_for(model: Any) -> Decode:
    """The function decoding JSON bytes (or text) into ``model``; raises ``ValueError``
    subclasses (the library's) for data that does not decode. Built once per type."""
    try:
        return _cached(model)
    except TypeError:
        try:
            hash(model)
        except TypeError:  # unhashable, such as a TypeAdapter: nothing to cache by
            return _resolve(model)
        raise


def _excerpt(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= _CAUSE_EXCERPT else text[:_CAUSE_EXCERPT] + "..."


class TypedPlan:
    """Which decode function each event goes to, and the item it gives.

    ``decode`` is ``model``'s function (``None`` without ``model``: events with no model
    of their own are items as without typing); ``by_name`` maps SSE event names to theirs
    (``None`` without ``models``); ``post`` is the deserialization callback, given
    ``(response, typed item)``.
    """

    def __init__(
        self,
        model: Any,
        models: Any,
        post: Optional[Callable[[Any, Any], Any]],
        response: Any,
    ) -> None:
        if models is not None and not isinstance(models, Mapping):
            raise TypeError("models must be a mapping of SSE event names to types")
        self.decode: Optional[Decode] = None if model is None else decoder_for(model)
        self.by_name: Optional[Dict[str, Decode]] = None
        self._names: Dict[Any, str] = {}
        if model is not None:
            self._names[self.decode] = _model_name(model)
        if models:
            self.by_name = {}
            pairs: Any = models.items()
            name: Any
            each: Any
            for name, each in pairs:
                if not isinstance(name, str):
                    raise TypeError(f"models keys must be SSE event names (str), not {name!r}")
                decode = decoder_for(each)
                self.by_name[name] = decode
                self._names.setdefault(decode, _model_name(each))
        self.post = post
        self.response = response

    def decode_for(self, name: Optional[str]) -> Optional[Decode]:
        """The decode function of an event named ``name`` (``None``: no model)."""
        if self.by_name is not None and name is not None:
            return self.by_name.get(name, self.decode)
        return self.decode

    def item_of(self, event: Any, index: int) -> Tuple[Any, Any, bool]:
        """``(item, value, typed)`` for an event: ``value`` is what the item was made
        from (the typed value, or the JSON payload when a callback made an untyped
        item, else ``None``) and ``typed`` says which. Raises :class:`ValidationError`."""
        name = getattr(event, "event", None)
        decode = self.decode_for(name)
        if decode is None:
            if self.post is None:
                return event, None, False
            payload = event.json()
            return self.post(self.response, payload), payload, False
        if name is None:  # JSON Lines
            try:
                value = decode(event.data)
            except ValueError as exc:  # fastsse.JSONDecodeError for bad UTF-8 included
                self.record_failed(exc, decode, event, index)
        else:
            text = event.data
            try:
                value = decode(text)
            except ValueError as exc:
                self._raise(exc, decode, index, name, event.id, None, None, text)
        item = value if self.post is None else self.post(self.response, value)
        return item, value, True

    def failed(
        self, exc: BaseException, decode: Decode, raw: bytes, index: int, name: str, event_id: str
    ) -> Any:
        """An SSE event's data bytes did not decode: the item of its data as text (when
        the bytes were not UTF-8, what the event's ``data`` reads), else raise."""
        text = raw.decode("utf-8", "replace")
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            try:
                return decode(text)
            except ValueError as again:
                exc = again
        self._raise(exc, decode, index, name, event_id, None, None, text)

    def record_failed(self, exc: BaseException, decode: Decode, event: Any, index: int) -> NoReturn:
        """A JSON Lines record did not decode: raise, with the record's UTF-8 error as the
        cause when that is the fault."""
        try:
            text = event.data
        except JSONDecodeError as not_utf8:
            exc = not_utf8
            text = ""
        self._raise(exc, decode, index, None, None, event.line, event.offset, text)

    def _raise(
        self,
        exc: BaseException,
        decode: Decode,
        index: int,
        name: Optional[str],
        event_id: Optional[str],
        line: Optional[int],
        offset: Optional[int],
        text: str,
    ) -> NoReturn:
        model = self._names.get(decode, "the model")
        if name is not None:
            where = f"event {index} (event {name!r}, id {event_id!r})"
        elif line is not None:
            where = f"JSON Lines record {index} (line {line}, byte {offset})"
        else:
            where = f"JSON Lines record {index}"
        raise ValidationError(
            f"{where} does not decode as {model}: {_excerpt(exc)}",
            index=index,
            event=name,
            id=event_id,
            line=line,
            offset=offset,
            model=model,
            data=text,
        ) from exc


def kind_of(event: Any, value: Any, typed: bool) -> str:
    """The type an item is dispatched by: the SSE event name, else the typed value's
    ``type`` or ``kind`` attribute (or key), else ``"message"``; for an untyped item,
    what :func:`event_type_of` says of its event (``value``: its payload, if parsed)."""
    if not typed:
        return event_type_of(event, value)
    item = value
    name = getattr(event, "event", "message")
    if name != "message":
        return name
    for key in ("type", "kind"):
        value = (
            cast(Dict[str, Any], item).get(key)
            if isinstance(item, dict)
            else getattr(item, key, None)
        )
        if isinstance(value, str):
            return value
    return "message"
