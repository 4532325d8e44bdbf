"""AS-GCN training step against the official code (limaosen0/AS-GCN) on this CPU: speed and memory.

Each configuration runs in its own child process, the children alternating round by round, for
each thread count of ``--threads`` (default 1 and 2: the ratio depends on it, as the official code
gains less from a second thread than ours; these
machines are noisy: a ratio of two runs far apart in time means little, and peak memory is only
measurable per process):

* ``ours``: ``skelact.models.build("asgcn", preset="official")``, one joint-phase training step as
  ``AIMScheduleModule`` runs it (``losses`` = cross-entropy + 0.01 x prediction L2, backward, SGD
  with Nesterov momentum on the backbone and heads from ``build_optimizer``, its fused update
  since 4940b58; the official preset's AIM is frozen), with glibc's default allocator as
  ``skelact train`` runs by default;
* ``ours, products stored``: the same with every ASGC's ``recompute=False`` (plain autograd keeps
  the ``K``-fold graph products of every block for the backward), the memory the recomputation saves;
* ``official code``: the official ``Model`` and ``AdjacencyLearn`` with the arguments of its
  ``config/as_gcn/ntu-xsub/train.yaml``, imported as ``scripts/check_official_parity.py`` does
  (``.cuda()`` patched out at run time, never copied), one step of its
  ``processor/recognition.py`` ``train(training_A=False)``: the A-link module's forward on the
  feeder's 50 downsampled frames, the recognition and prediction forward, the same loss, SGD;
* ``official code, keep_freed_memory()``: the same in a child that calls
  :func:`skelact.allocator.keep_freed_memory` first (``train.keep_freed_memory=true`` in skelact):
  the official code's step spends much of its time faulting in freshly mapped memory, which this
  setting removes, so the ratio depends on the allocator as much as on the code; both are reported.

Input: an NTU-shaped batch ``(N, 3, 300, 25, 2)`` (the last 10 frames are the prediction target),
half the samples with body 2 absent, 60 classes. Per child: ``--warmup`` steps (default 2: glibc
2.36 reuses freed blocks only after a few steps), then ``--steps``
timed steps (median); per configuration the fastest child over ``--rounds`` (other jobs only ever
add time). Peak memory = the child's peak resident set (``ru_maxrss``: interpreter, libraries,
model, batch and the step's activations); "step peak" subtracts the resident set measured just
before the first step.

Run: ``.venv/bin/python benchmarks/bench_asgcn_official.py --official DIR`` (DIR: a checkout of
https://github.com/limaosen0/AS-GCN). It rewrites the section of ``benchmarks/results/asgcn.md``
between the markers below (``bench_asgcn.py`` keeps that section when it rewrites the rest);
``--quick`` for a smoke run that writes nothing.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import cpu_description  # beside this file

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "asgcn.md"
BEGIN = "<!-- bench_asgcn_official.py: begin -->"
END = "<!-- bench_asgcn_official.py: end -->"
CONFIGS = {
    "ours": "skelact, `official` preset",
    "before": "skelact at `{before}` (`--before`), `official` preset",
    "ours-stored": "skelact, `official` preset, graph products stored (`recompute=False`)",
    "official": "official code (limaosen0/AS-GCN)",
    "official-kept": "official code, `keep_freed_memory()`",
}
NUM_CLASSES = 60


def rss_gib() -> float:
    """The current resident set of this process in GiB (Linux ``/proc/self/statm``)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**30


def build_step(key: str, batch: int, official: Path | None):
    """A zero-argument training step of configuration ``key`` and its parameter count."""
    import torch
    import torch.nn.functional as F

    sys.path[:0] = [str(REPO / "benchmarks"), str(REPO / "scripts")]
    from bench_gpu import AIM_FRAMES, HORIZON, ntu_batch, official_runtime

    device = torch.device("cpu")
    x, y = ntu_batch(batch, 300, device)
    if key.startswith("ours") or key == "before":
        from skelact.models import build
        from skelact.models.asgcn.links import ASGC

        model = build("asgcn", num_classes=NUM_CLASSES, layout="ntu25", preset="official").train()
        for module in model.modules():
            if isinstance(module, ASGC):
                module.recompute = key != "ours-stored"
        from skelact.train.config import OptimConfig
        from skelact.train.optim import build_optimizer

        groups = model.parameter_groups()
        sgd_cfg = OptimConfig(name="sgd", lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
        sgd = build_optimizer(sgd_cfg, groups["backbone"])  # as skelact trains: the fused update

        def step() -> None:
            sgd.zero_grad(set_to_none=True)
            model.losses(x, y)["loss"].backward()
            sgd.step()

        return step, sum(p.numel() for p in model.parameters())

    from check_official_parity import load_official

    model_cls, aim_cls, config = load_official(official)
    with official_runtime(device):
        model1 = model_cls(**config["model1_args"]).train()
        model2 = aim_cls(**config["model2_args"]).train()
    sgd = torch.optim.SGD(model1.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
    lam = float(config["lamda_act"])
    data, target, last = x[:, :, :-HORIZON], x[:, :, -HORIZON:], x[:, :, -HORIZON - 1 : -HORIZON]
    idx = torch.linspace(0, data.shape[2] - 1, AIM_FRAMES).long()
    downsampled = data.index_select(2, idx).contiguous()  # the feeder's 50 frames (not timed)

    def step() -> None:  # processor/recognition.py, train(training_A=False)
        with official_runtime(device):
            a_batch, _prob, _outputs, _ = model2(downsampled)
            x_class, pred, tgt = model1(data, target, last, a_batch, lam)
            loss = F.cross_entropy(x_class, y) + 0.01 * F.mse_loss(pred, tgt)
            sgd.zero_grad()
            loss.backward()
            sgd.step()

    return step, sum(p.numel() for p in model1.parameters()) + sum(p.numel() for p in model2.parameters())


def child(key: str, batch: int, steps: int, threads: int, official: Path | None, warmup: int) -> None:
    import torch

    if key == "official-kept":  # ours run as skelact train does by default: without the setting
        from skelact.allocator import keep_freed_memory

        keep_freed_memory()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    step, params = build_step(key, batch, official)
    import skelact

    base = rss_gib()
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    result = dict(times=times, peak_gib=peak, base_gib=base, params=params, skelact=skelact.__file__)
    print(json.dumps(result))


def run_child(key: str, threads: int, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--child", key, "--batch", str(args.batch), "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--threads", str(threads)]
    if args.official:
        cmd += ["--official", str(args.official)]
    src = args.before_src if key == "before" else REPO / "src"
    res = run_json_child(cmd, key, src)
    if key in ("ours", "ours-stored", "before") and not Path(res["skelact"]).is_relative_to(src):
        raise SystemExit(f"{key} child imported skelact from {res['skelact']}, not from {src}")
    return res


def run_json_child(cmd: list[str], what: str, src: Path = REPO / "src") -> dict:
    """Run a benchmark's child process ``cmd`` with ``src`` (default: this checkout's) first on
    ``PYTHONPATH``; the JSON object on the last line of its output (a failed child stops the run,
    naming ``what``)."""
    path = os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")]))
    out = subprocess.run(cmd, env={**os.environ, "PYTHONPATH": path}, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{what} child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def export_src(rev: str, into: Path) -> Path:
    """``src/`` of this repository at git revision ``rev``, written under ``into``: the ``--before``
    children import skelact from it (its optional compiled extensions are not built: AS-GCN has none)."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "src"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / "src"


def render(results: dict[tuple[int, str], list[dict]], args: argparse.Namespace, official_ref: str) -> str:
    """The section: one row per thread count and configuration; ratios within a thread count."""
    import torch

    best = {k: min(statistics.median(r["times"]) for r in rs) for k, rs in results.items()}
    peak = {k: max(r["peak_gib"] for r in rs) for k, rs in results.items()}
    step_peak = {k: max(r["peak_gib"] - r["base_gib"] for r in rs) for k, rs in results.items()}
    load = os.getloadavg()[0]
    threads = ", ".join(str(t) for t in args.threads)
    most = max(args.threads)
    lines = [
        BEGIN,
        f"## Training step against the official code (batch {args.batch}, NTU shape)",
        "",
        "Written by `.venv/bin/python benchmarks/bench_asgcn_official.py --official DIR "
        f"--batch {args.batch} --warmup {args.warmup} --steps {args.steps} --rounds {args.rounds} --threads "
        f"{' '.join(str(t) for t in args.threads)}"
        + (f" --before {args.before}" if getattr(args, "before", None) else "")
        + "` (DIR: limaosen0/AS-GCN @ "
        f"{official_ref}, `.cuda()` patched out at run time).",
        "",
        f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}; torch {torch.__version__}; "
        f"{cpu_description()}; {threads} thread(s) per child; "
        f"1-min load average {load:.1f} at the end, of which the running child is up to {most}"
        + (" (other jobs ran beside it: times are noisy, ratios of alternating children less so)."
           if load > most + 0.5 else ": nothing else ran beside it."),
        f"- input `({args.batch}, 3, 300, 25, 2)`, half the samples with body 2 absent, 60 classes; one "
        "joint-phase training step (cross-entropy + 0.01 x prediction L2, backward, SGD); each configuration "
        f"in its own child process, alternating over {args.rounds} round(s) per thread count; median of "
        f"{args.steps} steps after {args.warmup} warm-up step(s), fastest child.",
        "",
        "| threads | configuration | parameters | s / step | speed vs official code "
        "| speed vs official code, `keep_freed_memory()` | peak memory (GiB) | step peak (GiB) "
        "| memory vs official code |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n in args.threads:
        ref = (n, "official") if (n, "official") in best else None
        kept = (n, "official-kept") if (n, "official-kept") in best else None
        for key, label in CONFIGS.items():
            k = (n, key)
            if k not in best:
                continue
            label = label.format(before=getattr(args, "before", None))
            speed = f"{best[ref] / best[k]:.2f}x" if ref else ""
            speed_kept = f"{best[kept] / best[k]:.2f}x" if kept else ""
            mem = f"{peak[k] / peak[ref]:.2f}" if ref else ""
            params = results[k][0]["params"]
            lines.append(
                f"| {n} | {label} | {params:,} | {best[k]:.2f} | {speed} | {speed_kept} | {peak[k]:.2f} "
                f"| {step_peak[k]:.2f} | {mem} |"
            )
    before = [n for n in args.threads if (n, "before") in best and (n, "ours") in best]
    if before:
        lines += ["", "This checkout against `" + args.before + "`: " + ", ".join(
            f"{best[(n, 'before')] / best[(n, 'ours')]:.2f}x at {n} thread(s)" for n in before
        ) + " (the same step, alternating children)."]
    lines += [
        "",
        "Peak memory is the child's whole resident set (interpreter, PyTorch, model, batch, activations); "
        "step peak subtracts what was resident before the first step. The parameter counts differ by the "
        "official model's never-read parameters (`benchmarks/results/official_parity.md`).",
        END,
    ]
    return "\n".join(lines)


def write_section(section: str, out: Path) -> None:
    text = out.read_text() if out.exists() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    out.write_text(text)


def measure(keys: list[str], results: dict[tuple[int, str], list[dict]], args: argparse.Namespace) -> None:
    """Each of ``keys`` in its own child, alternating, ``args.rounds`` rounds per thread count."""
    for n in args.threads:
        for r in range(args.rounds):
            for key in keys if r % 2 == 0 else reversed(keys):
                res = run_child(key, n, args)
                results[(n, key)].append(res)
                median = statistics.median(res["times"])
                print(f"{n} thread(s), round {r + 1} {key}: median {median:.2f} s/step, "
                      f"peak {res['peak_gib']:.2f} GiB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", type=Path, help="a checkout of limaosen0/AS-GCN (else: ours only)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="thread counts per child, each measured in its own alternating rounds")
    parser.add_argument("--quick", action="store_true", help="batch 1, one step, one round; writes nothing")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--before", metavar="REV",
                        help="also time skelact's step as of git revision REV (its src/, alternating)")
    parser.add_argument("--child", choices=CONFIGS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.batch, args.steps, args.threads[0], args.official, args.warmup)
        return
    if args.quick:
        args.batch, args.steps, args.warmup, args.rounds, args.threads = 1, 1, 1, 1, args.threads[:1]
    keys = [k for k in CONFIGS if (not k.startswith("official") or args.official)
            and (k != "before" or args.before)]
    results: dict[tuple[int, str], list[dict]] = {(n, k): [] for n in args.threads for k in keys}
    with tempfile.TemporaryDirectory() as tmp:
        args.before_src = export_src(args.before, Path(tmp)) if args.before else None
        measure(keys, results, args)
    ref = "none"
    if args.official:
        git = subprocess.run(
            ["git", "-C", str(args.official), "rev-parse", "HEAD"], capture_output=True, text=True
        )
        ref = git.stdout.strip() or "unknown commit"
    section = render(results, args, ref)
    print(section)
    if not args.quick:
        write_section(section, args.out)


if __name__ == "__main__":
    main()
