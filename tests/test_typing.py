"""The public API is typed: py.typed ships with the package and mypy (configured in pyproject.toml,
[tool.mypy]) is clean on the public modules listed there."""

from __future__ import annotations

import importlib.util
import pathlib
import re
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SRC = REPO / "src"


def test_py_typed_marker_exists():
    assert (SRC / "skelact" / "py.typed").is_file()
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert '"py.typed"' in pyproject, "py.typed must be listed in [tool.setuptools.package-data]"


def _missing_skelact_modules(output: str) -> list[str]:
    """skelact modules that mypy cannot find *and* that do not exist on disk (not written yet)."""
    missing = []
    pattern = r'Cannot find implementation or library stub for module named "(skelact[\w.]*)"'
    for name in re.findall(pattern, output):
        rel = pathlib.Path(*name.split("."))
        if not (SRC / rel).with_suffix(".py").is_file() and not (SRC / rel / "__init__.py").is_file():
            missing.append(name)
    return missing


@pytest.mark.slow
def test_mypy_clean_on_public_modules():
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (it is in the 'test' extra: pip install -e '.[test]')")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        absent = _missing_skelact_modules(output)
        errors = [line for line in output.splitlines() if ": error:" in line]
        only_absent = absent and all(any(f'"{m}"' in line for m in absent) for line in errors)
        if only_absent:
            pytest.skip(f"public modules import {sorted(set(absent))}, not written yet")
    assert proc.returncode == 0, f"mypy found errors in the public modules:\n{output}"
