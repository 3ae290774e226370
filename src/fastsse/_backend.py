"""Picks the decoder implementation: the compiled extension or its pure-Python twin."""

from __future__ import annotations

import importlib
import os
import platform
from types import ModuleType
from typing import TYPE_CHECKING, Any, Optional

from . import _decoder_py
from ._errors import BackendUnavailable

__all__ = [
    "NO_EXTENSIONS",
    "IMPLEMENTATION",
    "compiled",
    "module_for",
    "module_of",
    "ServerSentEvent",
    "JSONLEvent",
]

# Set FASTSSE_NO_EXTENSIONS to any non-empty value to run on the pure-Python twin only.
NO_EXTENSIONS = bool(os.environ.get("FASTSSE_NO_EXTENSIONS")) or (
    platform.python_implementation() != "CPython"
)

compiled: Optional[ModuleType] = None
compiled_import_error: Optional[BaseException] = None

if TYPE_CHECKING or NO_EXTENSIONS:
    from ._decoder_py import JSONLEvent, ServerSentEvent
else:
    try:
        compiled = importlib.import_module("fastsse._decoder")
    except ImportError as exc:  # a pure install, or a broken build: say which on "fast"
        compiled_import_error = exc
    if compiled is None:
        from ._decoder_py import JSONLEvent, ServerSentEvent
    else:
        JSONLEvent = compiled.JSONLEvent
        ServerSentEvent = compiled.ServerSentEvent
        _decoder_py._use_event_types(ServerSentEvent, JSONLEvent)

IMPLEMENTATION = "cython" if compiled is not None else "python"

BACKENDS = ("auto", "fast", "python")


def module_for(backend: str) -> ModuleType:
    """The implementation module for a backend name; raises if "fast" is unavailable."""
    if backend == "auto":
        return compiled if compiled is not None else _decoder_py
    if backend == "python":
        return _decoder_py
    if backend == "fast":
        if compiled is not None:
            return compiled
        if NO_EXTENSIONS:
            why = (
                "FASTSSE_NO_EXTENSIONS is set"
                if os.environ.get("FASTSSE_NO_EXTENSIONS")
                else f"{platform.python_implementation()} runs the pure-Python decoder only"
            )
        else:
            why = f"the extension fastsse._decoder failed to import ({compiled_import_error})"
        raise BackendUnavailable(
            f'backend="fast" needs the compiled extension, but {why}. '
            "Reinstall fastsse-decoder with a C compiler available and FASTSSE_NO_EXTENSIONS "
            "unset (pip install --force-reinstall --no-binary fastsse-decoder fastsse-decoder), "
            'or use backend="auto" or backend="python".'
        )
    raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, not {backend!r}")


def module_of(decoder: Any) -> ModuleType:
    """The implementation module a decoder instance comes from; the twin's for any other
    decoder, whose loops rely only on ``feed``/``flush`` and the events' ``data``/``json()``."""
    if compiled is not None and isinstance(decoder, (compiled.SSEDecoder, compiled.JSONLDecoder)):
        return compiled
    return _decoder_py
