"""``benchmarks/bench_gpu.py`` without a GPU: a clear refusal, and the committed results file is the
table the script writes (every cell "not measured yet" until a GPU run replaces it). The dry run of
every cell takes minutes on a small CPU, so only one cheap row runs here."""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import pytest
import torch

REPO = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "bench_gpu.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_gpu", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_without_cuda_it_says_so_and_exits(bench, capsys):
    assert bench.main([]) == 2
    assert "no CUDA device here" in capsys.readouterr().err


def test_the_committed_results_are_the_placeholder_or_a_gpu_run(bench, tmp_path):
    committed = (REPO / "benchmarks" / "results" / "gpu.md").read_text()
    if "Status: **not measured yet" not in committed:  # a GPU run replaced it
        assert "- GPU: " in committed
        return
    out = tmp_path / "gpu.md"
    assert bench.main(["--placeholder", "--out", str(out)]) == 0
    assert out.read_text() == committed
    rows = [
        line for line in committed.splitlines() if line.startswith("| AS-GCN") or line.startswith("| ARRN")
    ]
    assert len(rows) == 4 + 4 + 2 + 4  # two AS-GCN presets, the official code, ARRN-LSTM
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")][3:]
        assert cells and all(c == bench.NOT_MEASURED for c in cells), row
    assert bench.COMMAND in committed


@pytest.mark.slow
def test_a_dry_run_measures_a_row_in_every_mode(bench, tmp_path):
    out = tmp_path / "dry.md"
    assert bench.main(["--dry-run", "--only", "arrn-ntu", "--out", str(out)]) == 0
    text = out.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ARRN-LSTM")]
    assert [r.split("|")[3].strip() for r in rows] == list(bench.MODES)
    assert all(float(r.split("|")[4]) > 0 for r in rows)  # samples/s
    assert "compile backend: eager" in text
