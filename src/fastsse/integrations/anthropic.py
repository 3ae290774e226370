"""The anthropic SDK's streaming calls, decoded by fastsse: ``accelerate(client)``.

::

    from anthropic import Anthropic
    from fastsse.integrations.anthropic import accelerate

    client = accelerate(Anthropic())
    with client.messages.stream(model=..., max_tokens=..., messages=...) as stream:
        for text in stream.text_stream:
            ...

The loop is unchanged and gets what the SDK gives; only that client decodes with fastsse.
"""

from __future__ import annotations

from typing import Optional, TypeVar

from ._sdk import UnsupportedVersion, accelerate_client

__all__ = ["accelerate", "UnsupportedVersion", "SUPPORTED_VERSIONS"]

#: The anthropic releases :func:`accelerate` supports.
SUPPORTED_VERSIONS = ">=2.0,<3"
_MINIMUM = (2, 0)
_BELOW = (3, 0)

ClientT = TypeVar("ClientT")


def accelerate(
    client: ClientT,
    *,
    backend: str = "auto",
    max_line_size: Optional[int] = None,
    max_event_size: Optional[int] = None,
) -> ClientT:
    """Make ``client`` decode every streamed response with fastsse; return ``client`` itself.

    ``client`` is an ``anthropic.Anthropic`` or ``anthropic.AsyncAnthropic``. Every call it
    makes with ``stream=True`` (``messages.create``, ``beta.messages.create``,
    ``completions.create``) and the ``messages.stream()`` helpers built on them then yield
    the same classes with the same field values as before, skip ``ping`` events as before,
    raise the SDK's own error for an ``error`` event or an HTTP error, and close their
    response on every exit, at less CPU time: events are decoded by fastsse and each item
    is validated from its payload in one step, or, when that would not give exactly what
    the SDK builds, built by the SDK itself. Clients made from it with ``copy()`` /
    ``with_options()`` are accelerated too; other clients are untouched. Calling it again
    replaces the settings.

    ``backend``: the fastsse decoder backend (``"auto"``, ``"fast"``, ``"python"``).
    ``max_line_size`` / ``max_event_size``: fastsse's size limits (bytes); like the SDK,
    the accelerated client has none unless they are given.

    Raises :class:`UnsupportedVersion` (a :class:`fastsse.StreamError`) when the installed
    anthropic is outside :data:`SUPPORTED_VERSIONS`, ``TypeError`` when ``client`` is not
    an anthropic client that speaks SSE (the Bedrock and Vertex clients' own stream formats
    are not), and :class:`fastsse.BackendUnavailable` for ``backend="fast"`` without the
    compiled decoder.
    """
    import anthropic

    return accelerate_client(  # type: ignore[no-any-return]
        client,
        anthropic,
        ("Anthropic", "AsyncAnthropic"),
        _MINIMUM,
        _BELOW,
        backend,
        max_line_size,
        max_event_size,
    )
