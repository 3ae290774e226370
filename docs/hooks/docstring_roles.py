"""MkDocs hook: the reST roles of fastsse's docstrings as code linking to the reference.

The docstrings are written for ``help()`` and Sphinx-style readers (``:class:`X```);
rendered as Markdown, a role would show as literal text before its code span.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:class|meth|func|attr|data|exc|obj|mod):<code>~?([\w.]+)</code>")


def _autoref(match: "re.Match[str]") -> str:
    name = match.group(1)
    identifier = name if name.startswith("fastsse.") else f"fastsse.{name}"
    # "optional": a name with no reference entry (a method named relative to its class)
    # stays plain code instead of failing the strict build.
    return f'<autoref identifier="{identifier}" optional><code>{name}</code></autoref>'


def on_page_content(html: str, **kwargs: Any) -> str:
    return _ROLE.sub(_autoref, html)
