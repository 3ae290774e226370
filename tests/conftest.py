"""One suite, both backends: every decoder test runs on the compiled and the pure decoder.

The compiled leg imports ``fastsse._decoder`` directly, so a missing or broken build is a
test error, never a silent fallback. It is deselected only on purpose: with the
environment variable FASTSSE_NO_EXTENSIONS set, or with ``--no-extensions``.
"""

import importlib
import os

import pytest

NO_EXTENSIONS_ENV = bool(os.environ.get("FASTSSE_NO_EXTENSIONS"))


def pytest_addoption(parser):
    parser.addoption(
        "--no-extensions",
        action="store_true",
        default=False,
        help="skip the compiled backend (for a pure-Python install)",
    )


def compiled_deselected(config) -> bool:
    return NO_EXTENSIONS_ENV or config.getoption("--no-extensions")


@pytest.fixture(scope="session")
def compiled_wanted(request) -> bool:
    """Whether this run tests the compiled backend."""
    return not compiled_deselected(request.config)


@pytest.fixture(scope="session", params=["fast", "python"], ids=["c", "py"])
def backend(request):
    """The backend name, ``"fast"`` (compiled) or ``"python"`` (pure twin)."""
    if request.param == "fast" and compiled_deselected(request.config):
        pytest.skip("compiled backend deselected (FASTSSE_NO_EXTENSIONS / --no-extensions)")
    return request.param


@pytest.fixture(scope="session")
def impl(backend):
    """The implementation module of ``backend``, imported directly."""
    name = "fastsse._decoder" if backend == "fast" else "fastsse._decoder_py"
    return importlib.import_module(name)
