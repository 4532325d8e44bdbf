"""Dropout on CPU: ``nn.Dropout`` (``bernoulli_`` mask) against skelact's ``units.Dropout``.

``units.Dropout`` draws a uniform mask (``rand_like``), and at ``p = 1/2`` eight mask bits per random
byte; the table gives both of its paths. Times a training-mode forward and backward of each layer
(``p = 0.5``, as AS-GCN's blocks) on the
activations of AS-GCN's three block widths for an NTU batch of 8 bodies x 300 frames, in one
process, taking turns; the fastest of ``--reps`` rounds of each. Writes
``benchmarks/results/dropout.md``.

Run: ``.venv/bin/python benchmarks/bench_dropout.py [--threads 1]``.
"""

from __future__ import annotations

import argparse
import datetime
import pathlib
import time

import torch
import torch.nn as nn
from machine import cpu_description

from skelact.models.units import Dropout, _uniform_mask


class UniformMaskDropout(Dropout):
    """``units.Dropout``'s path for ``p != 1/2`` (one uniform number per element), here at 1/2."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * _uniform_mask(x, self.p)

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "dropout.md"
SHAPES = [(8, 64, 290, 25), (8, 128, 145, 25), (8, 256, 73, 25)]  # AS-GCN block outputs, NTU batch


def timed(layer: nn.Module, x: torch.Tensor) -> float:
    t0 = time.perf_counter()
    layer(x).backward(torch.ones_like(x))
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    layers = {
        "nn.Dropout": nn.Dropout(0.5).train(),
        "uniform mask": UniformMaskDropout(0.5).train(),
        "units.Dropout": Dropout(0.5).train(),
    }
    rows = []
    for shape in SHAPES:
        x = torch.randn(shape).to(memory_format=torch.channels_last).requires_grad_()
        best = {name: float("inf") for name in layers}
        for _ in range(args.reps + 1):  # the first round warms up; min over all is kept
            for name, layer in layers.items():
                best[name] = min(best[name], timed(layer, x))
        rows.append((shape, best))
    lines = [
        "# Dropout on CPU: `nn.Dropout` against `skelact.models.units.Dropout`",
        "",
        f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}; torch {torch.__version__}; "
        f"{cpu_description()}; threads: {args.threads}; fastest of {args.reps + 1} interleaved rounds;"
        f" 1-min load average {open('/proc/loadavg').read().split()[0]} at the end.",
        "- training-mode forward + backward, p = 0.5, float32, channels-last activations of AS-GCN's blocks.",
        "",
        "| activation | elements | nn.Dropout ms | uniform mask ms (p != 1/2 path) "
        "| units.Dropout ms (random bits) | speed-up vs nn.Dropout |",
        "|---|---|---|---|---|---|",
    ]
    for shape, best in rows:
        n = torch.Size(shape).numel()
        a, u, b = best["nn.Dropout"], best["uniform mask"], best["units.Dropout"]
        lines.append(
            f"| {tuple(shape)} | {n / 1e6:.1f} M | {a * 1e3:.1f} | {u * 1e3:.1f} | {b * 1e3:.1f} "
            f"| {a / b:.2f}x |"
        )
    lines.append("")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
