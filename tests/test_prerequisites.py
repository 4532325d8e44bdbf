"""A missing prerequisite skips a test with a message that says how to get it, and fails it under CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


@pytest.mark.parametrize("ci, outcome", [("", "1 skipped"), ("true", "1 failed")])
def test_missing_data_skips_locally_and_fails_under_ci(tmp_path, ci, outcome):
    (tmp_path / "test_needs_data.py").write_text(
        "from prerequisites import require\n"
        "def test_it():\n"
        "    require(False, 'the real datasets are not at /nowhere', 'see PROVENANCE.md')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(CI=ci, PYTHONPATH=str(TESTS))
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", str(tmp_path)],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )
    assert outcome in out.stdout, out.stdout
    assert "the real datasets are not at /nowhere; see PROVENANCE.md" in out.stdout
    assert out.returncode == (1 if ci else 0)
