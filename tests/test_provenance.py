"""Provenance of reproduction units: the commit and machine each number was trained with."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from prerequisites import require

from skelact import machine
from skelact.repro.provenance import code_version, summarize, time_by_device, unit_provenance
from skelact.repro.templating import _environment

REPO = Path(__file__).resolve().parents[1]


def _git(cwd: Path, *args: str) -> str:
    cmd = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-C", str(cwd), *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def fresh_cache():
    code_version.cache_clear()
    yield
    code_version.cache_clear()


def test_code_version_of_this_checkout(fresh_cache):
    import skelact

    package = Path(skelact.__file__).resolve().parent
    require(
        package.is_relative_to(REPO / "src") and (REPO / ".git").exists(),
        "skelact is not imported from a git checkout of this repository",
    )
    assert code_version() == _git(REPO, "describe", "--always", "--dirty", "--abbrev=12")


def test_code_version_needs_a_tracked_package(tmp_path, monkeypatch, fresh_cache):
    """An untracked copy inside a repository (an installed package in a clone's venv) has no commit;
    a tracked one has its commit, marked dirty when a tracked file changed."""
    package = tmp_path / "site-packages" / "skelact"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("x = 1\n")
    _git(tmp_path, "init", "-q")
    (tmp_path / "README").write_text("repo\n")
    _git(tmp_path, "add", "README")
    _git(tmp_path, "commit", "-q", "-m", "readme")
    monkeypatch.setattr(machine, "_PACKAGE_DIR", package)
    assert code_version() is None  # inside a repository, but not tracked by it

    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "package")
    code_version.cache_clear()
    head = _git(tmp_path, "rev-parse", "--short=12", "HEAD")
    assert code_version() == head

    (package / "__init__.py").write_text("x = 2\n")
    code_version.cache_clear()
    assert code_version() == f"{head}-dirty"


def test_code_version_outside_any_repository(tmp_path, monkeypatch, fresh_cache):
    monkeypatch.setattr(machine, "_PACKAGE_DIR", tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert code_version() is None


def test_unit_provenance_fields():
    import torch

    p = unit_provenance()
    assert set(p) == {"skelact", "code", "torch", "device", "threads", "finished"}
    assert p["torch"] == torch.__version__ and p["threads"] == torch.get_num_threads()
    assert p["finished"].endswith("+00:00")


def test_summarize_counts_units_per_version_and_machine():
    a = {"skelact": "0.1.0", "code": "abc", "torch": "2.13.0", "device": "CPU X"}
    b = {**a, "code": "def", "device": "GPU Y"}
    results = [{"trained_with": a}, {"trained_with": b}, {"trained_with": a}, {}, {"trained_with": None}]
    groups = summarize(results)
    assert [(g["recorded"], g["code"], g["units"]) for g in groups] == [
        (True, "abc", 2), (False, None, 2), (True, "def", 1),
    ]  # fmt: skip
    summary_text = _environment().get_template("provenance.md.j2").module.trained_with  # the report's line
    text = str(summary_text(groups))
    assert "skelact 0.1.0 at commit `abc` (torch 2.13.0, CPU X): 2 units" in text
    assert "not recorded (finished before the record existed): 2 units" in text
    assert text.endswith("`def` (torch 2.13.0, GPU Y): 1 unit")
    assert str(summary_text(summarize([{"trained_with": {**a, "code": None}}]))).count("no git commit") == 1


def test_time_by_device_sums_training_time_where_units_were_trained():
    a = {"device": "AMD EPYC", "threads": 1}
    b = {"device": "Intel Xeon", "threads": 1}
    results = [
        {"trained_with": a, "wall_time_s": 100.0},
        {"trained_with": b, "wall_time_s": 30.0},
        {"trained_with": a, "wall_time_s": 50.0},
        {"wall_time_s": 7.0},
    ]
    assert time_by_device(results) == [
        {"device": "AMD EPYC", "threads": 1, "wall_time_s": 150.0, "units": 2},
        {"device": "Intel Xeon", "threads": 1, "wall_time_s": 30.0, "units": 1},
        {"device": None, "threads": None, "wall_time_s": 7.0, "units": 1},
    ]
