"""Griffe extension: fastsse's docstrings as the reference pages should show them.

A class whose docstring is built at import time gets it: static analysis reads only a
literal first statement, and ``Stream`` and ``AsyncStream`` assemble ``__doc__`` from the
options text they share, so the imported class is asked. A reST literal block
(a paragraph ending ``::`` before an indented block) becomes the Markdown code block the
indentation already makes, without the colons.
"""

from __future__ import annotations

import importlib
import inspect
import re
from typing import Any

import griffe

# "::" alone on its line is dropped; "text::" keeps one colon, as reST renders it.
_LITERAL_MARKER = re.compile(
    r"(?m)^(?:[ \t]*::[ \t]*\n|(\S.*\S):(:)[ \t]*$)(?=\n?[ \t]*\n[ \t]+\S)"
)


def _markdown_literals(text: str) -> str:
    return _LITERAL_MARKER.sub(lambda m: "" if m.group(1) is None else m.group(1) + ":", text)


class RuntimeDocstrings(griffe.Extension):
    def on_class_instance(self, *, cls: griffe.Class, **kwargs: Any) -> None:
        if cls.docstring is not None or not cls.path.startswith("fastsse."):
            return
        try:
            runtime = getattr(importlib.import_module(cls.module.path), cls.name)
        except (ImportError, AttributeError):
            return
        # Only a docstring of the class's own, never one inherited from a base.
        if "__doc__" in vars(runtime) and isinstance(runtime.__doc__, str):
            cls.docstring = griffe.Docstring(inspect.cleandoc(runtime.__doc__), parent=cls)

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        docstring = obj.docstring
        if docstring is not None and obj.path.startswith("fastsse.") and "::" in docstring.value:
            docstring.value = _markdown_literals(docstring.value)
