"""Training steps with and without ``skelact.allocator.keep_freed_memory`` on this CPU.

glibc's ``malloc`` maps every block above its mmap threshold afresh and unmaps it on ``free``, so a
training step that frees its activations faults all of them in again in the next step (the kernel
zeroes each page first). ``keep_freed_memory()`` (what ``skelact train`` applies with
``train.keep_freed_memory=true``) keeps freed memory in the heap for reuse. Measured here, each in its own
child process (the setting is per process), the two variants alternating round by round:

* ``arrn-ntu``: the two-stream ARRN-LSTM at the NTU preset (T = 100, both bodies present), batch 16,
  one training step (losses, backward, skelact's fused Adam), as ``bench_arrn.py`` times it;
* ``asgcn``: AS-GCN's ``official`` preset, NTU shape, batch 4, one joint-phase training step, as
  ``bench_asgcn_official.py`` times it (the official code itself, both ways, is in that benchmark).

Per child: ``--warmup`` steps (glibc 2.36 needs a few before the 64-byte aligned blocks
PyTorch asks for fit the freed ones), then ``--steps`` timed steps: the median time, minor page
faults and system CPU time per step; the peak resident set of the child. Per configuration the
fastest child over ``--rounds``.

Run: ``.venv/bin/python benchmarks/bench_allocator.py``; results go to
``benchmarks/results/allocator.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import bench_asgcn_official  # beside this file: its training step and its child-process runner
from machine import cpu_description

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "allocator.md"
MODELS = {
    "arrn-ntu": "two-stream ARRN-LSTM, NTU preset, batch 16, 2 bodies",
    "asgcn": "AS-GCN, `official` preset, NTU shape, batch 4",
}
VARIANTS = {"system": "glibc defaults", "keep": "`keep_freed_memory()`"}


def build_step(model: str):
    """A zero-argument training step of ``model``."""
    if model == "arrn-ntu":
        import bench_arrn

        return bench_arrn.prepare_model("ntu", "ntu25", 16, 16, 100, 2, 2)["train"]
    return bench_asgcn_official.build_step("ours", 4, None)[0]


def child(model: str, variant: str, warmup: int, steps: int, threads: int) -> None:
    import torch

    from skelact.allocator import keep_freed_memory

    if variant == "keep" and not keep_freed_memory():
        raise SystemExit("keep_freed_memory() does not apply here (not Linux with glibc)")
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    step = build_step(model)
    for _ in range(warmup):
        step()
    times, faults, system = [], [], []
    for _ in range(steps):
        before = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_SELF)
        faults.append(after.ru_minflt - before.ru_minflt)
        system.append(after.ru_stime - before.ru_stime)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    print(json.dumps(dict(times=times, faults=faults, system=system, peak_gib=peak)))


def run_child(model: str, variant: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--child", model, variant, "--warmup", str(args.warmup),
           "--steps", str(args.steps), "--threads", str(args.threads)]
    return bench_asgcn_official.run_json_child(cmd, f"{model} / {variant}")


def render(results: dict[tuple[str, str], list[dict]], args: argparse.Namespace) -> str:
    import torch

    best = {k: min(rs, key=lambda r: statistics.median(r["times"])) for k, rs in results.items()}
    load = os.getloadavg()[0]
    lines = [
        "# Training steps with and without `keep_freed_memory()` (CPU)",
        "",
        f"Written by `.venv/bin/python benchmarks/bench_allocator.py --threads {args.threads} "
        f"--warmup {args.warmup} --steps {args.steps} --rounds {args.rounds}`.",
        "",
        f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}; torch {torch.__version__}; "
        f"glibc {platform.libc_ver()[1] or 'unknown'}; {cpu_description()}; "
        f"{args.threads} thread(s) per child; 1-min load average {load:.1f} at the end, of which the "
        f"running child is up to {args.threads}.",
        f"- each (model, variant) in its own child process, the variants alternating over {args.rounds} "
        f"round(s); {args.warmup} warm-up steps, then the median of {args.steps} steps; per configuration "
        "the fastest child. Page faults and system time: per step, of that child.",
        "",
        "| model | allocator | s / step | speed-up | minor page faults / step | system CPU s / step "
        "| peak memory (GiB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for model, label in MODELS.items():
        ref = statistics.median(best[(model, "system")]["times"])
        for variant, name in VARIANTS.items():
            r = best[(model, variant)]
            t = statistics.median(r["times"])
            lines.append(
                f"| {label} | {name} | {t:.2f} | {ref / t:.2f}x | {statistics.median(r['faults']):,.0f} "
                f"| {statistics.median(r['system']):.2f} | {r['peak_gib']:.2f} |"
            )
    lines += [
        "",
        "Peak memory is the child's whole resident set (interpreter, PyTorch, model, batch, activations). "
        "With `keep_freed_memory()` freed blocks stay resident for reuse, so the resident set does not "
        "shrink between steps, and glibc 2.36 can hold a few freed blocks beside the ones it reuses.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.warmup, args.steps, args.threads)
        return
    results: dict[tuple[str, str], list[dict]] = {(m, v): [] for m in MODELS for v in VARIANTS}
    for r in range(args.rounds):
        for model in MODELS:
            for variant in VARIANTS if r % 2 == 0 else reversed(list(VARIANTS)):
                res = run_child(model, variant, args)
                results[(model, variant)].append(res)
                median = statistics.median(res["times"])
                print(f"round {r + 1} {model} {variant}: median {median:.2f} s/step, "
                      f"{statistics.median(res['faults']):,.0f} faults/step", flush=True)
    text = render(results, args)
    print(text)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
