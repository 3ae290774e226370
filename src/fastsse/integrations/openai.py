"""The openai SDK's streaming calls, decoded by fastsse: ``accelerate(client)``.

::

    from openai import OpenAI
    from fastsse.integrations.openai import accelerate

    client = accelerate(OpenAI())
    for chunk in client.chat.completions.create(model=..., messages=..., stream=True):
        ...

The loop is unchanged and gets what the SDK gives; only that client decodes with fastsse.
"""

from __future__ import annotations

from typing import Optional, TypeVar

from ._sdk import UnsupportedVersion, accelerate_client

__all__ = ["accelerate", "UnsupportedVersion", "SUPPORTED_VERSIONS"]

#: The openai releases :func:`accelerate` supports.
SUPPORTED_VERSIONS = ">=3.0,<4"
_MINIMUM = (3, 0)
_BELOW = (4, 0)

ClientT = TypeVar("ClientT")


def accelerate(
    client: ClientT,
    *,
    backend: str = "auto",
    max_line_size: Optional[int] = None,
    max_event_size: Optional[int] = None,
) -> ClientT:
    """Make ``client`` decode every streamed response with fastsse; return ``client`` itself.

    ``client`` is an ``openai.OpenAI`` or ``openai.AsyncOpenAI`` (``AzureOpenAI`` and
    ``AsyncAzureOpenAI`` included). Every SSE endpoint it calls with ``stream=True``
    (``chat.completions.create``, ``responses.create``, ``completions.create`` and the rest)
    then yields the same classes with the same field values as before, raises the same
    exceptions and closes its response on every exit, at a fraction of the CPU time: events
    are decoded by fastsse and each item is validated from its payload in one step, or,
    when that would not give exactly what the SDK builds, built by the SDK itself. Clients
    made from it with ``copy()`` / ``with_options()`` are accelerated too; other clients are
    untouched. Calling it again replaces the settings.

    ``backend``: the fastsse decoder backend (``"auto"``, ``"fast"``, ``"python"``).
    ``max_line_size`` / ``max_event_size``: fastsse's size limits (bytes); like the SDK,
    the accelerated client has none unless they are given.

    Raises :class:`UnsupportedVersion` (a :class:`fastsse.StreamError`) when the installed
    openai is outside :data:`SUPPORTED_VERSIONS`, ``TypeError`` when ``client`` is not an
    openai client, and :class:`fastsse.BackendUnavailable` for ``backend="fast"`` without
    the compiled decoder.
    """
    import openai

    return accelerate_client(  # type: ignore[no-any-return]
        client,
        openai,
        ("OpenAI", "AsyncOpenAI"),
        _MINIMUM,
        _BELOW,
        backend,
        max_line_size,
        max_event_size,
    )
