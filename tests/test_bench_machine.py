"""``benchmarks/machine.py``: the CPU line every results file carries (sessions ran on different CPUs
under the same ``x86_64, 2 cores``, and a ratio against sgemm depends on which)."""

from __future__ import annotations

import pathlib

import pytest
from script_modules import load_script

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "machine.py"


@pytest.fixture(scope="module")
def machine():
    return load_script(SCRIPT)


def cpuinfo(model: str, flags: str) -> str:
    first = f"processor\t: 0\nmodel name\t: {model}\nflags\t\t: {flags}\n\n"
    return first + "processor\t: 1\nmodel name\t: another model\nflags\t\t: sse2\n"


def test_names_the_first_processors_model_and_widest_extension(machine, monkeypatch):
    monkeypatch.setattr(machine, "l2_per_core", lambda: "2048K")
    xeon = cpuinfo("Intel(R) Xeon(R) Processor", "fpu avx avx2 fma avx512f avx512bw amx_bf16 amx_tile")
    assert machine.cpu_description(xeon, cores=2) == (
        "Intel(R) Xeon(R) Processor (AVX-512 + AMX, L2 2048K per core), 2 cores")
    epyc = cpuinfo("AMD EPYC 7B13 64-Core Processor", "fpu avx avx2 fma")
    assert machine.cpu_description(epyc, cores=2) == (
        "AMD EPYC 7B13 64-Core Processor (AVX2, L2 2048K per core), 2 cores")


def test_unknown_cache_and_no_cpuinfo(machine, monkeypatch, tmp_path):
    assert machine.l2_per_core(tmp_path / "absent") is None
    (tmp_path / "index0").mkdir()
    (tmp_path / "index0" / "level").write_text("1\n")
    (tmp_path / "index2").mkdir()
    (tmp_path / "index2" / "level").write_text("2\n")
    (tmp_path / "index2" / "size").write_text("512K\n")
    assert machine.l2_per_core(tmp_path) == "512K"
    monkeypatch.setattr(machine, "l2_per_core", lambda: None)
    assert machine.cpu_description(cpuinfo("Some CPU", "sse2"), cores=4) == "Some CPU (no AVX), 4 cores"
    monkeypatch.setattr(machine.platform, "machine", lambda: "aarch64")
    assert machine.cpu_description("", cores=8) == "aarch64, 8 cores"
