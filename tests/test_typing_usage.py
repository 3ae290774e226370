"""The typed-usage files (tests/typing/) run as the programs they are.

CI type-checks them with mypy --strict and pyright; running them here keeps every claim
they make about fastsse's behaviour true, so the checked code is code that works.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

USAGE = Path(__file__).resolve().parent / "typing"


@pytest.mark.parametrize("name", ["usage.py", "usage_async.py"])
def test_typed_usage_file_runs(name):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path for path in sys.path if path))
    result = subprocess.run(
        [sys.executable, str(USAGE / name)], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
