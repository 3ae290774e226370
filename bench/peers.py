"""The decoders users would otherwise pick, driven the way their own libraries drive them,
and the two limits every decoder is measured against.

Each SSE peer turns a list of chunks into its own event objects:

- openai: ``openai._streaming.SSEDecoder().iter_bytes(chunks)``, which is what
  ``openai.Stream`` iterates (over ``response.iter_bytes()``);
- anthropic: ``anthropic._streaming.SSEDecoder().iter_bytes(chunks)``, likewise;
- httpx-sse: ``EventSource(response).iter_sse()`` on an ``httpx.Response`` whose body is
  the chunks: httpx decodes the text, httpx-sse splits lines and feeds its
  ``SSEDecoder`` one line at a time;
- sseclient-py: ``SSEClient(chunks).events()``.

For JSON Lines the peer is anthropic's ``JSONLDecoder``, which parses every line itself
(it has no parse-only path). The limits: ``orjson.loads`` alone on the payloads; a C
``memchr`` scan counting the LFs of the same chunks; and the floor of fastsse's API,
``api_floor.pyx``: event objects made from payloads located in advance (both compiled
here at run time).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator, List, Optional, Tuple

import orjson

MEMCHR_SOURCE = Path(__file__).resolve().parent / "memchr_scan.c"
FLOOR_SOURCE = Path(__file__).resolve().parent / "api_floor.pyx"


@dataclass(frozen=True)
class Peer:
    """One peer decoder.

    ``events(chunks)`` yields its event objects (``None`` when it has no parse-only
    path); ``event_name(event)`` is an event's type, ``"message"`` when unnamed. Its users
    parse an event's JSON with ``event.json()``, or with ``loads(event.data)`` when
    ``loads`` is set; ``json_via`` says which. ``json_values(chunks)``, when set, yields
    the parsed JSON of every record: a decoder that parses JSON itself.
    """

    name: str
    distribution: str  # the PyPI name
    module: str  # what must import for the peer to run
    format: str
    events: Optional[Callable[[List[bytes]], Iterator[Any]]]
    event_name: Callable[[Any], Optional[str]]
    json_via: str
    loads: Optional[Callable[[str], Any]] = None
    json_values: Optional[Callable[[List[bytes]], Iterator[Any]]] = None


def _named_or_message(event: Any) -> str:
    return event.event or "message"


def _no_name(record: Any) -> None:
    return None


def _openai_events(chunks: List[bytes]) -> Iterator[Any]:
    from openai._streaming import SSEDecoder

    return SSEDecoder().iter_bytes(iter(chunks))


def _anthropic_events(chunks: List[bytes]) -> Iterator[Any]:
    from anthropic._streaming import SSEDecoder

    return SSEDecoder().iter_bytes(iter(chunks))


def _httpx_sse_events(chunks: List[bytes]) -> Iterator[Any]:
    import httpx
    from httpx_sse import EventSource

    response = httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content=iter(chunks)
    )
    return EventSource(response).iter_sse()


def _sseclient_events(chunks: List[bytes]) -> Iterator[Any]:
    from sseclient import SSEClient

    return SSEClient(iter(chunks)).events()


def _anthropic_jsonl_values(chunks: List[bytes]) -> Iterator[Any]:
    from anthropic._decoders.jsonl import JSONLDecoder

    # line_type=object: each line's JSON as parsed, with no model built around it.
    return iter(JSONLDecoder(raw_iterator=iter(chunks), line_type=object, http_response=None))


_JSON = "ev.json(): json"
PEERS: Tuple[Peer, ...] = (
    Peer("openai", "openai", "openai._streaming", "sse", _openai_events, _named_or_message, _JSON),
    Peer(
        "anthropic",
        "anthropic",
        "anthropic._streaming",
        "sse",
        _anthropic_events,
        _named_or_message,
        _JSON,
    ),
    Peer("httpx-sse", "httpx-sse", "httpx_sse", "sse", _httpx_sse_events, _named_or_message, _JSON),
    # Its events have no json(): its users write json.loads(event.data).
    Peer(
        "sseclient-py",
        "sseclient-py",
        "sseclient",
        "sse",
        _sseclient_events,
        _named_or_message,
        "json.loads(ev.data)",
        loads=json.loads,
    ),
    Peer(
        "anthropic",
        "anthropic",
        "anthropic._decoders.jsonl",
        "jsonl",
        None,
        _no_name,
        "in decoder: json",
        json_values=_anthropic_jsonl_values,
    ),
)


def available_peers(format: str) -> Tuple[List[Peer], List[Tuple[str, str]]]:
    """The peers for ``format`` that import, and ``(name, why not)`` for those that do not."""
    usable, missing = [], []
    for peer in PEERS:
        if peer.format != format:
            continue
        try:
            importlib.import_module(peer.module)
        except ImportError as exc:
            missing.append((peer.name, f"{exc} (pip install -r bench/requirements.txt)"))
        else:
            usable.append(peer)
    return usable, missing


# --- the limits ----------------------------------------------------------------------


def orjson_alone(payloads: List[bytes]) -> int:
    """``orjson.loads`` on every payload: the cost of the JSON with no decoding around it."""
    loads = orjson.loads
    for payload in payloads:
        loads(payload)
    return len(payloads)


class MemchrScan:
    """Counts LF bytes with C ``memchr``, called once per chunk through ctypes: the floor
    for any decoder that must at least find every line end of every chunk it is given.

    ``bench/memchr_scan.c`` is compiled with the system ``cc`` into a temporary
    directory when the scanner is made; ``reason`` says why it is unavailable if not.
    """

    def __init__(self) -> None:
        self.reason: Optional[str] = None
        self._count: Optional[Callable[[bytes, int], int]] = None
        self._directory = tempfile.TemporaryDirectory(prefix="fastsse-bench-")
        compiler = os.environ.get("CC") or shutil.which("cc")
        if compiler is None:
            self.reason = "no C compiler (cc) found"
            return
        library = Path(self._directory.name) / "memchr_scan.so"
        command = [compiler, "-O2", "-shared", "-fPIC", "-o", str(library), str(MEMCHR_SOURCE)]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            self.reason = f"{' '.join(command)} failed: {result.stderr.strip()[:200]}"
            return
        count = ctypes.CDLL(str(library)).count_lf
        count.argtypes = (ctypes.c_char_p, ctypes.c_size_t)
        count.restype = ctypes.c_size_t
        self._count = count

    @property
    def available(self) -> bool:
        return self._count is not None

    def __call__(self, chunks: List[bytes]) -> int:
        """The number of LFs in ``chunks``."""
        count = self._count
        assert count is not None, self.reason
        lines = 0
        for chunk in chunks:
            lines += count(chunk, len(chunk))  # a bytes object is passed by pointer, uncopied
        return lines

    def close(self) -> None:
        self._directory.cleanup()


class ApiFloor:
    """``api_floor.pyx``, compiled with Cython into a temporary directory when made, with
    the optimisation fastsse's own build uses; ``reason`` says why it is unavailable if
    not. ``module`` has ``located_events`` and ``located_payloads``.
    """

    def __init__(self) -> None:
        self.reason: Optional[str] = None
        self.module: Optional[ModuleType] = None
        self._directory = tempfile.TemporaryDirectory(prefix="fastsse-bench-")
        try:
            from Cython.Build import cythonize
            from setuptools import Distribution, Extension
        except ImportError as exc:
            self.reason = f"{exc} (pip install -r bench/requirements.txt)"
            return
        build = self._directory.name
        extension = Extension(
            "api_floor",
            [str(FLOOR_SOURCE)],
            extra_compile_args=[] if sys.platform == "win32" else ["-O3"],
        )
        output = io.StringIO()
        try:
            with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
                distribution = Distribution(
                    {"ext_modules": cythonize([extension], build_dir=build, quiet=True)}
                )
                command = distribution.get_command_obj("build_ext")
                command.build_lib = command.build_temp = build
                distribution.run_command("build_ext")
            path = command.get_ext_fullpath("api_floor")
            spec = importlib.util.spec_from_file_location("api_floor", path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        except (Exception, SystemExit) as exc:  # distutils reports a failed compile by SystemExit
            self.reason = (
                f"compiling {FLOOR_SOURCE.name} failed: {exc} {output.getvalue().strip()[-200:]}"
            )
            return
        self.module = module

    @property
    def available(self) -> bool:
        return self.module is not None

    def close(self) -> None:
        self._directory.cleanup()
