"""Session-wide test servers on 127.0.0.1: see ``servers.py`` for their API."""

from __future__ import annotations

from typing import Iterator

import pytest
from servers import AsgiServer, RawServer


@pytest.fixture(scope="session")
def asgi_server() -> Iterator[AsgiServer]:
    """The ASGI app under uvicorn, started once per session."""
    server = AsgiServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def raw_server() -> Iterator[RawServer]:
    """The raw-socket server for hostile framing, started once per session."""
    server = RawServer().start()
    try:
        yield server
    finally:
        server.stop()
