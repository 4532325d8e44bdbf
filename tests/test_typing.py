"""The public API is typed: py.typed ships with the package and mypy (configured in pyproject.toml,
[tool.mypy]) is clean on the public modules listed there."""

from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys

import pytest
from prerequisites import require

REPO = pathlib.Path(__file__).resolve().parents[1]
SRC = REPO / "src"


def test_py_typed_marker_exists():
    assert (SRC / "skelact" / "py.typed").is_file()
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert '"py.typed"' in pyproject, "py.typed must be listed in [tool.setuptools.package-data]"


@pytest.mark.slow
def test_mypy_clean_on_public_modules():
    if importlib.util.find_spec("mypy") is None:
        require(False, "mypy is not installed", "it is in the 'test' extra: pip install -e '.[test]'")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"mypy found errors in the public modules:\n{output}"
