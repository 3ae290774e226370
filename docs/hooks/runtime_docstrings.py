"""Griffe extension: a class whose docstring is built at import time gets it in the docs.

Static analysis reads only a literal first statement; ``Stream`` and ``AsyncStream``
assemble ``__doc__`` from the options text they share, so the imported class is asked.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import griffe


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
