"""``benchmarks/bench_precision.py``: the report names the command that wrote it, the oneDNN ISA
limit included (the no-AMX report is only meaningful with it)."""

from __future__ import annotations

import pathlib

import pytest
from script_modules import load_script

BENCH = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "bench_precision.py"


@pytest.fixture(scope="module")
def bench():
    return load_script(BENCH)


def test_command_line_names_the_isa_limit_and_a_non_default_output(bench):
    base = ".venv/bin/python benchmarks/bench_precision.py --threads 2 --reps 3"
    assert bench.command_line(2, 3, bench.RESULTS, None) == base
    out = pathlib.Path("benchmarks/results/precision_no_amx.md")
    assert bench.command_line(2, 3, out, "AVX512_CORE") == (
        f"ONEDNN_MAX_CPU_ISA=AVX512_CORE {base} --out benchmarks/results/precision_no_amx.md")
    assert bench.command_line(1, 5, out, "") == (
        ".venv/bin/python benchmarks/bench_precision.py --threads 1 --reps 5"
        " --out benchmarks/results/precision_no_amx.md")


def test_the_default_output_named_relative_to_the_working_folder_is_still_the_default(bench, monkeypatch):
    monkeypatch.chdir(BENCH.parents[1])
    assert "--out" not in bench.command_line(2, 3, pathlib.Path("benchmarks/results/precision.md"), None)
