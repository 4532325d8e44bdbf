"""Training step in float32 against ``train.precision=bf16-mixed`` (``torch.autocast``) on this CPU.

Whether bfloat16 pays on a CPU depends on the CPU: with AMX (Intel Sapphire Rapids and newer) its
matrix products run several times faster than float32, without it they are emulated. The two
models also differ: AS-GCN's step is mostly convolutions and matrix products, ARRN-LSTM's mostly
the RRN's pair messages, which run in float32 in the fused kernels (``skelact.models.arrn.native``)
under a CPU's autocast too (``skelact.models.arrn.rrn.pair_message_sums``); its LSTM and linear
layers run in bfloat16 there.

* ARRN-LSTM: two-stream, NTU preset, batch 16, 100 frames, both bodies present, fused Adam;
* AS-GCN: ``official`` preset, NTU shape, batch 4, one joint-phase step with SGD;

the same steps as ``bench_allocator.py`` (its ``MODELS`` and ``build_step``).

Both precisions of a model alternate in one process; fastest of ``--reps`` rounds after a warm-up.

Run: ``.venv/bin/python benchmarks/bench_precision.py``; results go to
``benchmarks/results/precision.md``. As on a CPU without bfloat16 instructions:
``ONEDNN_MAX_CPU_ISA=AVX512_CORE .venv/bin/python benchmarks/bench_precision.py --out
benchmarks/results/precision_no_amx.md`` (oneDNN, which runs the products and convolutions, is
limited to AVX-512 without AMX and AVX-512 BF16; the report says so).
"""

from __future__ import annotations

import argparse
import datetime
import os
import pathlib
from collections.abc import Callable

import torch
from bench_allocator import MODELS, build_step
from bench_arrn import round_robin
from machine import cpu_description

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "precision.md"


def under_bf16(step: Callable[[], None]) -> Callable[[], None]:
    """``step`` under CPU autocast with bfloat16, as ``train.precision=bf16-mixed`` runs it."""

    def run() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            step()

    return run


def command_line(threads: int, reps: int, out: pathlib.Path, isa: str | None) -> str:
    """The command that wrote the report, as the report states it: the oneDNN ISA limit
    (``ONEDNN_MAX_CPU_ISA``) in front when one was set, ``--out`` when it is not the default file."""
    env = f"ONEDNN_MAX_CPU_ISA={isa} " if isa else ""
    out_arg = "" if out.resolve() == RESULTS else f" --out {out}"
    return f"{env}.venv/bin/python benchmarks/bench_precision.py --threads {threads} --reps {reps}{out_arg}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = []
    for model, name in MODELS.items():
        step = build_step(model)
        best = round_robin({"fp32": step, "bf16": under_bf16(step)}, args.reps)
        speed = best["fp32"] / best["bf16"]
        rows.append(f"| {name} | {best['fp32']:.2f} | {best['bf16']:.2f} | {speed:.2f}x |")
        print(rows[-1], flush=True)
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA")
    lines = [
        "# Training step: float32 against bf16-mixed (CPU)",
        "",
        f"Written by `{command_line(args.threads, args.reps, args.out, isa)}`.",
        "",
        *([f"- oneDNN limited to the `{isa}` instructions (`ONEDNN_MAX_CPU_ISA`): its products and "
           "convolutions run as on a CPU without those above them (AMX, AVX-512 BF16); PyTorch's own "
           "kernels are not limited."] if isa else []),
        f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}; torch {torch.__version__}; "
        f"{cpu_description()}; {args.threads} thread(s); "
        f"1-min load average {os.getloadavg()[0]:.1f} at the end.",
        "- both precisions of a model alternate in one process; fastest of "
        f"{args.reps} rounds after a warm-up. bf16-mixed: the step under `torch.autocast(\"cpu\", "
        "dtype=torch.bfloat16)`, as `train.precision=bf16-mixed` runs it.",
        "",
        "| model | float32 s / step | bf16-mixed s / step | speed of bf16-mixed |",
        "|---|---|---|---|",
        *rows,
        "",
    ]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
