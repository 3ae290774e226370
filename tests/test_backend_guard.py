"""The guard: the compiled decoder is what loaded, unless it was deselected on purpose.

A broken or missing build must fail this suite, not fall back to the pure twin in
silence. The compiled checks are deselected only by FASTSSE_NO_EXTENSIONS or
``--no-extensions``; the pure-only behaviour under FASTSSE_NO_EXTENSIONS is checked
in-process when that variable is set, and in a subprocess on every run.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import subprocess
import sys
import textwrap

import pytest

import fastsse

NO_EXTENSIONS_ENV = bool(os.environ.get("FASTSSE_NO_EXTENSIONS"))


@pytest.fixture
def compiled_required(request):
    if NO_EXTENSIONS_ENV or request.config.getoption("--no-extensions"):
        pytest.skip("compiled backend deselected (FASTSSE_NO_EXTENSIONS / --no-extensions)")


def test_compiled_module_imports(compiled_required):
    module = importlib.import_module("fastsse._decoder")
    for name in ("SSEDecoder", "JSONLDecoder", "ServerSentEvent", "JSONLEvent"):
        assert hasattr(module, name), name


def test_compiled_module_is_an_extension_not_python_source(compiled_required):
    module = importlib.import_module("fastsse._decoder")
    assert module.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)), module.__file__
    assert isinstance(module.__loader__, importlib.machinery.ExtensionFileLoader)
    # The extension must be the one beside the package this suite tests.
    assert os.path.dirname(module.__file__) == os.path.dirname(fastsse.__file__)


def test_implementation_is_cython(compiled_required):
    assert fastsse.IMPLEMENTATION == "cython"


def test_auto_backend_is_the_compiled_class(compiled_required):
    module = importlib.import_module("fastsse._decoder")
    assert type(fastsse.SSEDecoder(backend="auto")) is module.SSEDecoder
    assert type(fastsse.JSONLDecoder(backend="auto")) is module.JSONLDecoder
    assert type(fastsse.SSEDecoder()) is module.SSEDecoder
    assert fastsse.ServerSentEvent is module.ServerSentEvent


@pytest.mark.skipif(not NO_EXTENSIONS_ENV, reason="FASTSSE_NO_EXTENSIONS is not set")
def test_no_extensions_env_selects_the_pure_twin_in_process():
    pure = importlib.import_module("fastsse._decoder_py")
    assert fastsse.IMPLEMENTATION == "python"
    assert type(fastsse.SSEDecoder(backend="auto")) is pure.SSEDecoder
    assert type(fastsse.JSONLDecoder(backend="auto")) is pure.JSONLDecoder
    with pytest.raises(fastsse.BackendUnavailable, match="FASTSSE_NO_EXTENSIONS"):
        fastsse.SSEDecoder(backend="fast")


def test_no_extensions_env_selects_the_pure_twin_in_a_subprocess():
    code = f"""
        import fastsse, fastsse._decoder_py as pure
        assert fastsse.__file__ == {fastsse.__file__!r}, fastsse.__file__
        assert fastsse.IMPLEMENTATION == "python", fastsse.IMPLEMENTATION
        assert type(fastsse.SSEDecoder(backend="auto")) is pure.SSEDecoder
        assert type(fastsse.JSONLDecoder(backend="auto")) is pure.JSONLDecoder
        assert fastsse.ServerSentEvent is pure.ServerSentEvent
        events = fastsse.SSEDecoder().feed(b"data: ok\\n\\n")
        assert [ev.data for ev in events] == ["ok"] and type(events[0]) is pure.ServerSentEvent
        print("pure twin in use")
    """
    env = dict(os.environ, FASTSSE_NO_EXTENSIONS="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "pure twin in use"


def test_backend_unavailable_advice_installs_this_distribution():
    # "fastsse" on the package index is another project: the advice must name ours.
    code = """
        import fastsse
        try:
            fastsse.SSEDecoder(backend="fast")
        except fastsse.BackendUnavailable as exc:
            print(exc)
    """
    env = dict(os.environ, FASTSSE_NO_EXTENSIONS="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "pip install --force-reinstall --no-binary fastsse-decoder fastsse-decoder" in (
        result.stdout
    )
