"""The API reference covers every public name, and the site's nav points at real pages.

Reads the reference pages' mkdocstrings directives (``::: dotted.path``) and the nav of
mkdocs.yml as text, so it needs neither mkdocs nor a docs build.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

import fastsse

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference"
INTEGRATIONS = ("httpx_sse", "typespec", "openai", "anthropic")
# What the pure-Python twin documents for both backends: the compiled classes mirror it.
TWIN = "fastsse._decoder_py"


_DIRECTIVE = re.compile(r"^:::\s+([\w.]+)\s*$", re.MULTILINE)

# A wheel's test run copies tests/ alone; the docs are checked from the repository.
pytestmark = pytest.mark.skipif(
    not (ROOT / "mkdocs.yml").is_file(), reason="no docs beside this copy of the tests"
)


def _resolve(path: str) -> Any:
    parts = path.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for name in parts[split:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(path)


def _directives() -> List[Tuple[Path, str]]:
    found = []
    for page in sorted(REFERENCE.rglob("*.md")):
        for path in _DIRECTIVE.findall(page.read_text(encoding="utf-8")):
            found.append((page, path))
    return found


def _documented() -> Dict[str, Any]:
    # The integrations are modules of their own, checked by test_integration_reference_page.
    return {
        path.rsplit(".", 1)[-1]: _resolve(path)
        for _, path in _directives()
        if not path.startswith("fastsse.integrations.")
    }


def _public_members(cls: type) -> List[str]:
    names = []
    for klass in cls.__mro__:
        if klass is object or not klass.__module__.startswith("fastsse"):
            continue
        names.extend(n for n in vars(klass) if not n.startswith("_"))
    return sorted(set(names))


def test_every_directive_resolves() -> None:
    directives = _directives()
    assert len(directives) >= len(fastsse.__all__)
    for page, path in directives:
        if path.startswith("fastsse.integrations."):
            continue  # checked below, once the module exists
        try:
            _resolve(path)
        except (ImportError, AttributeError) as exc:
            pytest.fail(f"{page.relative_to(ROOT)}: ::: {path} does not resolve ({exc})")


@pytest.mark.parametrize("name", fastsse.__all__)
def test_public_name_in_reference(name: str) -> None:
    documented = _documented()
    assert name in documented, f"fastsse.{name} has no ::: directive under docs/reference/"
    public = getattr(fastsse, name)
    shown = documented[name]
    if shown is not public:
        # The events are the compiled classes when the extension is built; the reference
        # shows their twins, which type checkers read too.
        assert getattr(shown, "__module__", None) == TWIN, (name, shown)
        assert shown.__name__ == name


@pytest.mark.parametrize(
    "name", [n for n in fastsse.__all__ if inspect.isclass(getattr(fastsse, n))]
)
def test_public_class_has_docstrings(name: str) -> None:
    shown = _documented()[name]
    assert inspect.getdoc(shown), f"fastsse.{name} has no docstring"
    if name in ("SSEDecoder", "JSONLDecoder"):
        # The facade builds a backend's decoder; its methods are the twin's.
        shown = getattr(importlib.import_module(TWIN), name)
    for member in _public_members(shown):
        value = inspect.getattr_static(shown, member)
        if not callable(value) and not isinstance(value, property):
            continue  # data attributes such as ResponseError.BODY_EXCERPT
        assert inspect.getdoc(value), f"{name}.{member} has no docstring"


@pytest.mark.parametrize("module", INTEGRATIONS)
def test_integration_reference_page(module: str) -> None:
    page = REFERENCE / "integrations" / f"{module}.md"
    dotted = f"fastsse.integrations.{module}"
    assert dotted in _DIRECTIVE.findall(page.read_text(encoding="utf-8"))
    if importlib.util.find_spec(dotted) is None:
        pytest.skip(f"{dotted} is not in this tree; its page builds once it is")
    mod = importlib.import_module(dotted)
    public = getattr(mod, "__all__", None)
    assert public, f"{dotted} has no __all__: the reference documents what it lists"
    assert inspect.getdoc(mod), f"{dotted} has no module docstring"
    for name in public:
        value = getattr(mod, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{dotted}.{name} has no docstring"


def _nav_pages() -> List[str]:
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = text[text.index("\nnav:") :]
    return re.findall(r"([\w./-]+\.md)\s*$", nav, re.MULTILINE)


def test_nav_lists_every_reference_page() -> None:
    nav = set(_nav_pages())
    for page in REFERENCE.rglob("*.md"):
        assert page.relative_to(DOCS).as_posix() in nav
