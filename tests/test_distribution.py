"""The installed distribution: its name, version and license, as pip and the index see them.

``fastsse.__version__`` is a literal (importing fastsse reads no metadata); these tests keep
it equal to the version in pyproject.toml and in the installed metadata.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pytest

import fastsse

DISTRIBUTION = "fastsse-decoder"
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


@pytest.fixture(scope="module")
def distribution() -> importlib.metadata.Distribution:
    return importlib.metadata.distribution(DISTRIBUTION)


def project_field(name: str) -> str:
    # tomllib is 3.11+; the [project] table's plain string fields are one line each.
    text = PYPROJECT.read_text(encoding="utf-8")
    table = text.split("\n[project]\n", 1)[1].split("\n[", 1)[0]
    found = re.search(rf'^{name} = "([^"]*)"$', table, re.M)
    assert found, f"no {name} in [project] of {PYPROJECT}"
    return found.group(1)


def test_installed_under_the_distribution_name(distribution):
    assert distribution.metadata["Name"] == DISTRIBUTION
    assert distribution.metadata["Requires-Python"] == ">=3.9"


def test_version_is_the_same_everywhere(distribution):
    assert distribution.version == fastsse.__version__
    if PYPROJECT.exists():
        assert project_field("version") == fastsse.__version__
        assert project_field("name") == DISTRIBUTION


def test_license_is_in_the_metadata(distribution):
    assert distribution.metadata["License-Expression"] == "MIT"
    assert distribution.metadata.get_all("License-File") == ["LICENSE"]
    licenses = [
        path
        for path in distribution.files or []
        if path.name == "LICENSE" and ".dist-info" in str(path)
    ]
    assert len(licenses) == 1, distribution.files
    text = licenses[0].read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 The fastsse developers" in text
