"""Hooks shared by the openai and anthropic accelerators: both SDKs come from one generator.

Each SDK's client builds its SSE decoder with ``client._make_sse_decoder()`` and each event's
item with ``client._process_response_data(data=..., cast_to=..., response=...)``; their
``Stream`` classes call both through the client instance. :func:`install` shadows those two
methods, and ``copy`` / ``with_options`` (so derived clients stay accelerated), with
attributes of that one instance: the classes, other clients and other threads are untouched.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
import threading
import types
import typing
from functools import partial
from typing import Any, AsyncIterator, Callable, Dict, Iterator, List, Optional, Set, Tuple

try:
    # Gives what json.loads gives (integers of any size, NaN, duplicate keys), at a
    # fraction of the cost; orjson would turn integers past 64 bits into floats.
    from pydantic_core import from_json

    _loads: Callable[[str], Any] = from_json
except ImportError:  # an old pydantic: both SDKs depend on pydantic, not on this
    _loads = json.loads

from .._decoders import SSEDecoder
from .._errors import StreamError

__all__ = ["UnsupportedVersion", "require_version", "install"]

Build = Callable[[Any], Any]


class UnsupportedVersion(StreamError, RuntimeError):
    """The installed SDK (or pydantic) is a version the accelerator was not built for.

    ``package`` is its distribution name, ``version`` the version found, ``supported`` the
    range the accelerator supports (e.g. ``">=3.0,<4"``).
    """

    def __init__(self, package: str, version: str, supported: str) -> None:
        super().__init__(
            f"fastsse cannot accelerate {package} {version}: it supports {package}{supported}; "
            f"install a supported {package}, or use the client without accelerate()"
        )
        self.package = package
        self.version = version
        self.supported = supported


def _release(version: str) -> Tuple[int, ...]:
    match = re.match(r"(\d+)\.(\d+)", version)
    return (int(match.group(1)), int(match.group(2))) if match else ()


def require_version(
    package: str, version: str, minimum: Tuple[int, int], below: Tuple[int, int]
) -> None:
    """Raise :class:`UnsupportedVersion` unless ``minimum <= version < below``."""
    release = _release(version)
    if not release or not minimum <= release < below:
        supported = f">={minimum[0]}.{minimum[1]},<{below[0]}"
        raise UnsupportedVersion(package, version, supported)


class _Event:
    """An event as the SDKs' ``Stream`` reads it: ``event`` is None when the stream named none."""

    __slots__ = ("event", "data", "id", "retry", "_payloads")

    def __init__(self, event: Any, payloads: threading.local) -> None:
        name = event.event
        # The SDKs tell "no event field" by None; the standard's default name stands for it.
        self.event: Optional[str] = None if name == "message" else name
        self.data: str = event.data
        self.id: Optional[str] = event.id or None
        self.retry: Optional[int] = event.retry
        self._payloads = payloads

    def json(self) -> Any:
        try:
            value = _loads(self.data)
        except ValueError:
            # What json takes and the fast parser refuses (lone surrogates) must still
            # parse, and what neither takes must raise json's own error, as the SDK does.
            value = json.loads(self.data)
        # Marks the payload as one fastsse decoded, for the item builder (no await can come
        # between this call and the SDK's next one, in any thread or task).
        self._payloads.last = value
        return value

    def __repr__(self) -> str:
        return f"ServerSentEvent(event={self.event}, data={self.data}, id={self.id}, retry={self.retry})"


class _Decoder:
    """The SDKs' ``SSEBytesDecoder`` protocol over a fastsse decoder."""

    def __init__(self, settings: "_Settings") -> None:
        self._settings = settings

    def new_decoder(self) -> Any:
        settings = self._settings
        new: Any = SSEDecoder  # builds the backend's own class
        return new(
            settings.backend,
            max_line_size=settings.max_line_size,
            max_event_size=settings.max_event_size,
        )

    def iter_bytes(self, iterator: Iterator[bytes]) -> Iterator[_Event]:
        feed = self.new_decoder().feed
        payloads = self._settings.payloads
        for chunk in iterator:
            for event in feed(chunk):
                yield _Event(event, payloads)
        # The end of the body discards an unterminated event, as the standard says.

    async def aiter_bytes(self, iterator: AsyncIterator[bytes]) -> AsyncIterator[_Event]:
        feed = self.new_decoder().feed
        payloads = self._settings.payloads
        async for chunk in iterator:
            for event in feed(chunk):
                yield _Event(event, payloads)


class _Settings:
    __slots__ = ("backend", "max_line_size", "max_event_size", "payloads")

    def __init__(
        self, backend: str, max_line_size: Optional[int], max_event_size: Optional[int]
    ) -> None:
        self.backend = backend
        # The SDKs set no size ceiling; the accelerated client sets none unless asked to.
        self.max_line_size = sys.maxsize if max_line_size is None else max_line_size
        self.max_event_size = sys.maxsize if max_event_size is None else max_event_size
        self.payloads = threading.local()


def install(
    client: Any,
    sdk: Any,
    backend: str,
    max_line_size: Optional[int],
    max_event_size: Optional[int],
) -> Any:
    """Accelerate ``client`` (an instance of ``sdk``'s client classes) in place; return it."""
    cls: Any = client.__class__
    for hook in ("_make_sse_decoder", "_process_response_data", "copy"):
        if not callable(getattr(cls, hook, None)):
            raise UnsupportedVersion(sdk.name, _installed_version(sdk), "without " + hook)
    base_client: Any = sdk.base_client
    if cls._make_sse_decoder is not base_client._make_sse_decoder:
        raise TypeError(
            f"{cls.__name__} decodes its streams with its own decoder, not as SSE; "
            "fastsse cannot accelerate it"
        )
    settings = _Settings(backend, max_line_size, max_event_size)
    # A decoder is built now so that a bad backend name or limit fails here, not mid-stream.
    _Decoder(settings).new_decoder()
    _install(client, sdk, settings)
    return client


def _install(client: Any, sdk: Any, settings: _Settings) -> None:
    decoder = _Decoder(settings)
    cls: Any = client.__class__
    original_process: Callable[..., Any] = partial(cls._process_response_data, client)
    original_copy: Callable[..., Any] = partial(cls.copy, client)
    builders = _builders(sdk)
    payloads = settings.payloads
    # The type of the last item built, and its builder: a stream asks for one type every
    # time, and hashing a typing construct (a union of a dozen models) costs a lookup.
    last: List[Tuple[Any, Optional[Build]]] = [(None, None)]

    def make_sse_decoder() -> _Decoder:
        return decoder

    def process_response_data(*, data: Any, cast_to: Any, response: Any) -> Any:
        if data is getattr(payloads, "last", None):
            payloads.last = None
            last_type, build = last[0]
            if last_type is not cast_to:
                try:
                    build = builders[cast_to]
                except KeyError:
                    build = builders[cast_to] = _plan(cast_to, sdk)
                except TypeError:  # an unhashable type: never seen from the SDKs' streams
                    build = None
                last[0] = (cast_to, build)
            if build is not None:
                try:
                    return build(data)
                except sdk.pydantic.ValidationError:
                    pass  # the SDK decides what such a payload becomes
        return original_process(data=data, cast_to=cast_to, response=response)

    def copy(*args: Any, **kwargs: Any) -> Any:
        derived = original_copy(*args, **kwargs)
        _install(derived, sdk, settings)
        return derived

    client._make_sse_decoder = make_sse_decoder
    client._process_response_data = process_response_data
    client.copy = copy
    client.with_options = copy
    client._fastsse_settings = settings


def _installed_version(sdk: "SDK") -> str:
    return str(getattr(sys.modules.get(sdk.name), "__version__", "?"))


class SDK:
    """What the builders need from one SDK: its model base class and helpers."""

    def __init__(self, name: str) -> None:
        import importlib

        import pydantic

        self.name = name
        self.pydantic = pydantic
        self.models = importlib.import_module(f"{name}._models")
        self.compat = importlib.import_module(f"{name}._compat")
        self.types = importlib.import_module(f"{name}._types")
        self.base_client: type = importlib.import_module(f"{name}._base_client").BaseClient
        self.base_model: type = self.models.BaseModel
        self.pydantic_v2 = not getattr(self.compat, "PYDANTIC_V1", True)


_BUILDERS: Dict[str, Dict[Any, Optional[Build]]] = {}


def _builders(sdk: SDK) -> Dict[Any, Optional[Build]]:
    return _BUILDERS.setdefault(sdk.name, {})


def _plan(cast_to: Any, sdk: SDK) -> Optional[Build]:
    """How to build an item of ``cast_to`` faster with the same result as the SDK, or None.

    The SDK builds a model with ``construct_type``: no validation, nested models constructed
    the same way, each union validated (lax) first. Strict validation, where it succeeds,
    gives what construction gives, field by field, when no validator, default factory,
    non-None default or typed extras can make them part; where it fails, the SDK builds the
    item itself. A union's item is what the SDK's own first step, lax validation of the
    union, gives.
    """
    if not sdk.pydantic_v2:
        return None
    from pydantic import TypeAdapter

    if inspect.isclass(cast_to):
        model: Any = cast_to
        if _is_model_builder(cast_to, sdk) or not issubclass(cast_to, sdk.base_model):
            return None
        if not _construct_matches_strict(cast_to, sdk, set()):
            return None
        return _strict_builder(_validator(model), _nested_plan(model))
    if _is_type_alias(cast_to):
        return None
    bare = cast_to
    if typing.get_origin(bare) is typing.Annotated:
        bare = typing.get_args(bare)[0]
    if _is_union(bare):
        validate_union = TypeAdapter(bare).validate_python
        tagged = _tagged_variants(typing.get_args(bare))
        if tagged is None:
            return validate_union
        key, variants = tagged
        return partial(_validate_tagged, key, variants, validate_union)
    return None


def _validator(model: Any) -> Callable[..., Any]:
    """``model.model_validate`` without its Python frame, the model's schema built first."""
    from pydantic_core import SchemaValidator

    if not isinstance(model.__pydantic_validator__, SchemaValidator):
        try:  # a model whose forward references were not resolved yet
            model.model_rebuild()
        except Exception:
            return model.model_validate  # type: ignore[no-any-return]
    validator = model.__pydantic_validator__
    if not isinstance(validator, SchemaValidator):
        return model.model_validate  # type: ignore[no-any-return]
    tagged = _tagged_fields_validator(model, validator.validate_python)
    return validator.validate_python if tagged is None else tagged


# A union of models each with its own ``Literal`` tag, among a model's own fields: pydantic
# validates the payload against every variant to find the one that fits (about a microsecond
# each); only the variant whose tag the payload carries can fit, so a tagged union, which
# validates that variant alone, gives the same item or fails where the union fails.
#
# pydantic builds a model's validator from the class's own, ignoring a changed schema, so the
# rewritten schema is that of the model's fields, and the instance is made from their values
# as pydantic makes it: allocated without ``__init__``, its four slots set.


def _tagged_fields_validator(model: Any, validate: Callable[..., Any]) -> Optional[Build]:
    """A validator of ``model`` whose fields' unions of tagged models are tagged unions, or
    None where it has none or where pydantic would make the instance in another way."""
    from pydantic_core import SchemaValidator

    schema = _as_dict(getattr(model, "__pydantic_core_schema__", None))
    if schema is None:
        return None
    refs: Dict[str, Schema] = {}
    _collect_refs(schema, refs)
    top = _resolve(schema.get("schema") if schema.get("type") == "definitions" else schema, refs)
    fields_schema = _as_dict(top.get("schema")) if top is not None else None
    if (
        top is None
        or fields_schema is None
        or top.get("type") != "model"
        or top.get("cls") is not model
        or top.get("custom_init")
        or top.get("root_model")
        or top.get("post_init")
        or fields_schema.get("type") != "model-fields"
        or getattr(model, "__private_attributes__", None)
        or getattr(model, "__pydantic_post_init__", None)
        or model.__new__ is not object.__new__
    ):
        return None
    rewritten: Any = _with_tagged_unions(fields_schema, refs)
    if rewritten is fields_schema:
        return None
    if schema.get("type") == "definitions":  # the fields may refer to its definitions
        rewritten = {**schema, "schema": rewritten}
    validate_fields = SchemaValidator(rewritten, top.get("config")).validate_python
    return partial(_validate_tagged_fields, model, validate_fields, validate)


def _validate_tagged_fields(
    model: Any,
    validate_fields: Callable[..., Any],
    validate: Callable[..., Any],
    data: Any,
    strict: Any = None,
) -> Any:
    if type(data) is not dict:
        return validate(data, strict=strict)
    values, extra, fields_set = validate_fields(data, strict=strict)
    item = _new(model)
    _set(item, "__dict__", values)
    _set(item, "__pydantic_extra__", extra)
    _set(item, "__pydantic_private__", None)
    _set(item, "__pydantic_fields_set__", fields_set)
    return item


_new = object.__new__
_set = object.__setattr__
Schema = Dict[str, Any]


def _as_dict(node: Any) -> Optional[Schema]:
    return typing.cast(Schema, node) if isinstance(node, dict) else None


def _resolve(node: Any, refs: Dict[str, Schema]) -> Optional[Schema]:
    schema = _as_dict(node)
    if schema is not None and schema.get("type") == "definition-ref":
        return refs.get(str(schema.get("schema_ref")))
    return schema


def _collect_refs(node: Any, refs: Dict[str, Schema]) -> None:
    schema = _as_dict(node)
    if schema is not None:
        ref = schema.get("ref")
        if isinstance(ref, str) and schema.get("type") != "definition-ref":
            refs[ref] = schema
        for value in schema.values():
            _collect_refs(value, refs)
    elif type(node) in (list, tuple):
        for value in node:
            _collect_refs(value, refs)


def _with_tagged_unions(node: Any, refs: Dict[str, Schema]) -> Any:
    """``node`` with each smart union of tagged models made a tagged union; ``node`` itself
    where nothing changed. A nested model keeps its own validator, so its schema is left."""
    if type(node) in (list, tuple):
        new_items = [_with_tagged_unions(item, refs) for item in node]
        if all(new is old for new, old in zip(new_items, node)):
            return node
        return new_items if type(node) is list else tuple(new_items)
    schema = _as_dict(node)
    if schema is None or schema.get("type") in ("model", "definition-ref"):
        return node
    changed = {key: _with_tagged_unions(value, refs) for key, value in schema.items()}
    if all(changed[key] is schema[key] for key in schema):
        changed = schema
    if changed.get("type") == "union" and changed.get("mode", "smart") == "smart":
        tagged = _as_tagged_union(changed, refs)
        if tagged is not None:
            return tagged
    return changed


def _as_tagged_union(union: Schema, refs: Dict[str, Schema]) -> Optional[Schema]:
    if set(union) - {"type", "choices", "mode", "ref", "metadata", "serialization"}:
        return None  # a custom error or strictness of its own: left as it is
    choices: List[Any] = [
        choice[0] if type(choice) is tuple else choice for choice in union.get("choices", ())
    ]
    if len(choices) < 2:
        return None
    tags = [_literal_tags(choice, refs) for choice in choices]
    for key in tags[0] or ():
        by_tag: Dict[str, Any] = {}
        for choice, tag in zip(choices, tags):
            value = (tag or {}).get(key)
            if value is None or value in by_tag:
                break
            by_tag[value] = choice
        else:
            tagged: Schema = {"type": "tagged-union", "choices": by_tag, "discriminator": key}
            for kept in ("ref", "metadata", "serialization"):
                if kept in union:
                    tagged[kept] = union[kept]
            return tagged
    return None


def _only_str(values: Any) -> Optional[str]:
    """The value of a one-value literal, if it is a ``str``."""
    if type(values) is not list:
        return None
    only = typing.cast("typing.Sequence[Any]", values)
    return only[0] if len(only) == 1 and type(only[0]) is str else None


def _literal_tags(choice: Any, refs: Dict[str, Schema]) -> Optional[Dict[str, str]]:
    """A model choice's required fields of one ``str`` literal each: payload key to value."""
    model = _resolve(choice, refs)
    fields_schema = _as_dict(model.get("schema")) if model is not None else None
    fields = _as_dict(fields_schema.get("fields")) if fields_schema is not None else None
    if model is None or model.get("type") != "model" or fields is None:
        return None
    tags: Dict[str, str] = {}
    for name, field_node in fields.items():
        field = _as_dict(field_node) or {}
        inner = _as_dict(field.get("schema")) or {}
        expected: Any = inner.get("expected")
        alias: Any = field.get("validation_alias", name)
        if inner.get("type") == "literal" and isinstance(alias, str):
            tag = _only_str(expected)
            if tag is not None:
                tags[alias] = tag
    return tags


def _tagged_variants(variants: Tuple[Any, ...]) -> Optional[Tuple[str, Dict[str, Build]]]:
    """For a union of models each with its own ``Literal`` tag in one field: that field's
    key in the payload, and each tag's validator; else None.

    A payload whose tag is a variant's can only validate as that variant (every other
    variant's tag rejects it, strict or lax), so validating that variant alone gives what
    validating the union gives, without trying the others.
    """
    if not variants or not all(_is_model_class(variant) for variant in variants):
        return None
    first: Dict[str, Any] = variants[0].model_fields
    for name in first:
        keys: Set[str] = set()
        by_tag: Dict[str, Build] = {}
        for variant in variants:
            field = variant.model_fields.get(name)
            if field is None or typing.get_origin(field.annotation) is not typing.Literal:
                break
            tags = typing.get_args(field.annotation)
            if len(tags) != 1 or not isinstance(tags[0], str) or tags[0] in by_tag:
                break
            keys.add(field.alias or name)
            by_tag[tags[0]] = _validator(variant)
        else:
            if len(keys) == 1:
                return keys.pop(), by_tag
    return None


def _validate_tagged(key: str, variants: Dict[str, Build], validate_union: Build, data: Any) -> Any:
    if type(data) is dict:
        payload = typing.cast(Dict[str, Any], data)
        tag: Any = payload.get(key)
        if type(tag) is str:
            validate = variants.get(tag)
            if validate is not None:
                return validate(data)
    return validate_union(data)


# Per model class, the fields the SDK constructs (not validates) and whose values hold
# models: ``(name, shape)``, shape 0 for a model, 1 for a list of models, 2 for a dict.
_NESTED: Dict[type, List[Tuple[str, int]]] = {}


def _nested_plan(model: type) -> List[Tuple[str, int]]:
    plan = _NESTED.get(model)
    if plan is not None:
        return plan
    plan = _NESTED[model] = []
    fields: Dict[str, Any] = getattr(model, "model_fields", {})
    for name, field in fields.items():
        # construct_type validates a union (Optional[...] included) as a whole, and pydantic
        # is what built it; a model, a list or a dict of models it constructs, recursively.
        annotation = field.annotation
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if inspect.isclass(annotation) and issubclass(annotation, _pydantic_base()):
            plan.append((name, 0))
            _nested_plan(annotation)
        elif origin is list and args and _is_model_class(args[0]):
            plan.append((name, 1))
            _nested_plan(args[0])
        elif origin is dict and len(args) == 2 and _is_model_class(args[1]):
            plan.append((name, 2))
            _nested_plan(args[1])
    return plan


def _pydantic_base() -> type:
    import pydantic

    return pydantic.BaseModel


def _is_model_class(tp: Any) -> bool:
    return inspect.isclass(tp) and issubclass(tp, _pydantic_base())


def _strict_builder(validate: Callable[..., Any], plan: List[Tuple[str, int]]) -> Build:
    # A closure, not partials: a partial with a keyword builds a dict on every call.
    def build(data: Any) -> Any:
        item = validate(data, strict=True)
        _as_constructed(item, plan)
        return item

    return build


def _as_constructed(item: Any, plan: List[Tuple[str, int]]) -> None:
    # Validation counts undeclared fields as set; the SDK's construction does not.
    extra = item.__pydantic_extra__
    if extra:
        item.__pydantic_fields_set__.difference_update(extra)
    if not plan:
        return
    values = item.__dict__
    for name, shape in plan:
        value = values[name]
        if value is None:
            continue
        if shape == 0:
            _as_constructed(value, _NESTED[type(value)])
        else:
            for inner in value if shape == 1 else value.values():
                _as_constructed(inner, _NESTED[type(inner)])


def _is_model_builder(cls: type, sdk: SDK) -> bool:
    protocol = getattr(sdk.types, "ModelBuilderProtocol", None)
    return protocol is not None and issubclass(cls, protocol)


def _is_type_alias(tp: Any) -> bool:
    return type(tp).__name__ == "TypeAliasType"


def _is_union(tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if origin is typing.Union:
        return True
    union_type = getattr(types, "UnionType", None)  # X | Y, Python 3.10+
    return union_type is not None and origin is union_type


def _admits_none(annotation: Any) -> bool:
    if annotation in (None, type(None), Any, object):
        return True
    if typing.get_origin(annotation) is typing.Annotated:
        return _admits_none(typing.get_args(annotation)[0])
    if _is_union(annotation):
        return any(_admits_none(arg) for arg in typing.get_args(annotation))
    return _is_type_alias(annotation)


def _models_in(annotation: Any) -> Iterator[Any]:
    if _is_type_alias(annotation):
        annotation = annotation.__value__
    if inspect.isclass(annotation):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


def _construct_matches_strict(model: type, sdk: SDK, seen: Set[type]) -> bool:
    if model in seen:
        return True
    seen.add(model)
    decorators: Any = getattr(model, "__pydantic_decorators__", None)
    if decorators is None or any(
        getattr(decorators, kind, None)
        for kind in ("validators", "field_validators", "root_validators", "model_validators")
    ):
        return False
    extras_type = getattr(sdk.models, "_get_extra_fields_type", None)
    if extras_type is None or extras_type(model) is not None:
        return False
    from pydantic_core import PydanticUndefined

    fields: Dict[str, Any] = getattr(model, "model_fields", {})
    for field in fields.values():
        if field.default_factory is not None:
            return False
        # Construction turns null into the field's default; strict validation keeps None.
        if (
            field.default is not PydanticUndefined
            and field.default is not None
            and _admits_none(field.annotation)
        ):
            return False
        for inner in _models_in(field.annotation):
            if issubclass(inner, sdk.pydantic.BaseModel) and not (
                issubclass(inner, sdk.base_model) and _construct_matches_strict(inner, sdk, seen)
            ):
                return False
    return True


_SDKS: Dict[str, SDK] = {}


def accelerate_client(
    client: Any,
    package: Any,
    client_classes: Tuple[str, str],
    minimum: Tuple[int, int],
    below: Tuple[int, int],
    backend: str,
    max_line_size: Optional[int],
    max_event_size: Optional[int],
) -> Any:
    """Each SDK's ``accelerate()``: check the version of ``package`` (the SDK's module) and
    that ``client`` is one of its ``client_classes``, then :func:`install`; returns it."""
    name: str = package.__name__
    require_version(name, package.__version__, minimum, below)
    if not isinstance(client, tuple(getattr(package, cls) for cls in client_classes)):
        expected = " or ".join(f"{name}.{cls}" for cls in client_classes)
        raise TypeError(f"accelerate() takes an {expected} client, not {type(client).__name__}")
    sdk = _SDKS.get(name)
    if sdk is None:
        sdk = _SDKS[name] = SDK(name)
    return install(client, sdk, backend, max_line_size, max_event_size)
