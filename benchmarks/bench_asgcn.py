"""AS-GCN throughput on this CPU: inference and training step at the paper's NTU configuration.

Measures, in one process with ``torch.set_num_threads(2)``:

* a same-process sgemm baseline (``torch.mm`` of two 2048 x 2048 float32 matrices, fastest of a
  few runs), measured before and after the models;
* AS-GCN (``"paper"`` preset: AS-links, L = 4, C = 3, prediction head; and the ``"official"``
  preset) on an NTU batch of 8 samples, T = 300 frames (the last 10 are the prediction target, so
  the backbone sees 290, as in the official code), V = 25 joints, M = 2 bodies:
  inference (eval mode, ``inference_mode``: logits only) and one training step (``losses`` =
  cross-entropy + prediction L2, backward, SGD step on the backbone + Adam step on the AIM encoder:
  the joint phase of the paper's schedule);
* model FLOPs from ``torch.utils.flop_counter.FlopCounterMode`` (forward for inference; forward +
  backward for training), achieved FLOP/s and the ratio to the sgemm baseline;
* one ASGC layer (15 kernels, per-sample A-links) in our graph-first channels-last form (the
  kernels' non-zero rows only, ``links.row_groups``) against
  the ST-GCN code's form (1x1 convolution to ``K d_out`` channels, then ``einsum`` with the
  kernels), same weights, forward only;
* the top operators of one inference pass (torch.profiler): where the time goes;
* paper-preset inference again in a child process with ``THP_MEM_ALLOC_ENABLE=1`` (PyTorch then
  backs large CPU tensors with transparent huge pages): the factored graph convolution allocates
  ``K`` times the activations per block, and on this VM the page faults of those fresh
  allocations cost a visible share of the time.

Run: ``.venv/bin/python benchmarks/bench_asgcn.py`` (``--quick`` for a smoke run); results go to
``benchmarks/results/asgcn.md`` (its section on the official code, written by
``bench_asgcn_official.py``, is kept as it was). Timings on a shared machine are noisy: each number
is the fastest of a few repetitions (other jobs only ever add time).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import resource
import subprocess
import sys
import time
from collections.abc import Callable

import torch
from flops import counted_flops  # beside this file
from machine import cpu_description

from skelact.models import build
from skelact.models.asgcn.links import ASGC, actional_kernels
from skelact.models.graph import structural_kernels

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "asgcn.md"
#: the section of the results that ``bench_asgcn_official.py`` writes (kept here as it was)
OFFICIAL_BEGIN = "<!-- bench_asgcn_official.py: begin -->"
OFFICIAL_END = "<!-- bench_asgcn_official.py: end -->"


def best_time(fn: Callable[[], object], reps: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def sgemm_flops_per_s(n: int = 2048, reps: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n**3 / best_time(lambda: torch.mm(a, b), reps, warmup=2)


def make_batch(n: int, t: int) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    x = torch.randn(n, 3, t, 25, 2) * 0.3
    x[: n // 2, ..., 1] = 0  # half the samples single-person: body 2 absent (zeros), as in NTU
    return x, torch.randint(0, 60, (n,))


def bench_model(preset: str, n: int, t: int, reps: int) -> dict:
    model = build("asgcn", num_classes=60, layout="ntu25", preset=preset)
    params = sum(p.numel() for p in model.parameters())
    x, y = make_batch(n, t)
    model.eval()
    with torch.inference_mode():
        infer_flops = counted_flops(lambda: model(x))
        infer_s = best_time(lambda: model(x), reps)
    model.train()
    groups = model.parameter_groups()
    sgd = torch.optim.SGD(groups["backbone"], lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
    adam = torch.optim.Adam(groups["aim_encoder"], lr=5e-4) if groups["aim_encoder"] else None

    def step():
        sgd.zero_grad(set_to_none=True)
        if adam is not None:
            adam.zero_grad(set_to_none=True)
        model.losses(x, y)["loss"].backward()
        sgd.step()
        if adam is not None:
            adam.step()

    train_flops = counted_flops(step)
    train_s = best_time(step, max(1, reps - 1))
    return dict(
        preset=preset,
        params=params,
        n=n,
        t=t,
        infer_s=infer_s,
        infer_flops=infer_flops,
        train_s=train_s,
        train_flops=train_flops,
    )


def bench_asgc_layer(n: int, t: int, channels: int, reps: int) -> dict:
    """Our ASGC against the ST-GCN code's formulation (conv to K*d_out channels, then einsum)."""
    torch.manual_seed(0)
    structural = torch.from_numpy(structural_kernels("ntu25", order=4))  # 12 kernels
    layer = ASGC(channels, channels, structural, num_actional=3).eval()
    links = torch.rand(n, 3, 25, 25) * (1 - torch.eye(25))
    act = actional_kernels(links)
    x = torch.randn(n, channels, t, 25)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    k = layer.weight.shape[0]
    conv_w = layer.weight.detach().permute(0, 2, 1).reshape(k * channels, channels, 1, 1)

    def stgcn_form():  # official code: one 1x1 conv, then einsum per kernel family
        y = torch.nn.functional.conv2d(x, conv_w).view(n, k, channels, t, 25)
        s = torch.einsum("nkctv,kwv->nctw", y[:, :12], layer.structural_kernels())
        return s + layer.lambda_act * torch.einsum("nkctv,nkwv->nctw", y[:, 12:], act)

    with torch.inference_mode():
        diff = float((layer(x_cl, act) - stgcn_form()).abs().max())
        ours = best_time(lambda: layer(x_cl, act), reps)
        ref = best_time(stgcn_form, reps)
        flops = counted_flops(lambda: layer(x_cl, act))
    return dict(ours=ours, ref=ref, diff=diff, flops=flops, n=n, t=t, c=channels)


def thp_inference(n: int, t: int, reps: int) -> dict | None:
    """Paper-preset inference in a child process with huge-page allocations (its own sgemm)."""
    env = {**os.environ, "THP_MEM_ALLOC_ENABLE": "1"}
    cmd = [sys.executable, __file__, "--inference-child", str(n), str(t), str(reps)]
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, timeout=900)
    except (subprocess.SubprocessError, OSError) as e:  # report, do not fail the whole run
        print(f"THP child failed: {e}", file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def inference_child(n: int, t: int, reps: int) -> None:
    torch.set_num_threads(2)
    model = build("asgcn", num_classes=60, layout="ntu25").eval()
    x, _ = make_batch(n, t)
    before = sgemm_flops_per_s()
    with torch.inference_mode():
        flops = counted_flops(lambda: model(x))
        seconds = best_time(lambda: model(x), reps)
    sgemm = max(before, sgemm_flops_per_s())
    print(json.dumps(dict(infer_s=seconds, infer_flops=flops, sgemm=sgemm)))


def top_ops(preset: str, n: int, t: int, rows: int = 10) -> list[tuple[str, float]]:
    model = build("asgcn", num_classes=60, layout="ntu25", preset=preset).eval()
    x, _ = make_batch(n, t)
    with torch.inference_mode():
        model(x)
        with torch.profiler.profile() as prof:
            model(x)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    return [(e.key, e.self_cpu_time_total / total) for e in events[:rows]]


def keep_official_section(text: str, previous: str) -> str:
    """``text`` followed by the section ``bench_asgcn_official.py`` wrote into ``previous``, if any."""
    if OFFICIAL_BEGIN not in previous or OFFICIAL_END not in previous:
        return text
    kept = previous.split(OFFICIAL_BEGIN, 1)[1].split(OFFICIAL_END, 1)[0]
    return text.rstrip("\n") + "\n\n" + OFFICIAL_BEGIN + kept + OFFICIAL_END + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small batch and T, one repetition")
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    parser.add_argument("--inference-child", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inference_child:
        inference_child(*args.inference_child)
        return
    torch.set_num_threads(2)
    n, t, reps = (2, 60, 1) if args.quick else (8, 300, 3)

    load_before = os.getloadavg()[0]
    sgemm_before = sgemm_flops_per_s()
    rows = [bench_model(v, n, t, reps) for v in ("paper", "official")]
    layer = bench_asgc_layer(2 * n, t // 4, 256, reps)
    sgemm_after = sgemm_flops_per_s()
    ops = top_ops("paper", n, t)
    thp = thp_inference(n, t, reps)
    load_after = os.getloadavg()[0]
    peak_rss_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # ru_maxrss is in KiB
    sgemm = max(sgemm_before, sgemm_after)  # the better of the two: the conservative ratio

    lines = [
        "# AS-GCN benchmark (CPU)",
        "",
        f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}; torch {torch.__version__}; "
        f"{cpu_description()}; threads: {torch.get_num_threads()}; fastest of {reps} reps; "
        "machine shared with other jobs (numbers are noisy); "
        f"1-min load average {load_before:.1f} before, {load_after:.1f} after.",
        f"- same-process sgemm baseline (2048^3 `torch.mm`): **{sgemm / 1e9:.1f} GFLOP/s** "
        f"(before {sgemm_before / 1e9:.1f}, after {sgemm_after / 1e9:.1f}); ratios below use the higher.",
        f"- peak resident memory of the process: {peak_rss_gib:.1f} GiB (training recomputes the K-fold "
        "graph products in the backward instead of storing them: `ASGC.recompute`).",
        f"- input: NTU batch of {n}, T = {t} frames (the last 10 are the prediction target: the backbone "
        f"sees {t - 10}), V = 25, M = 2 (half the samples with body 2 absent); 60 classes.",
        "- inference = eval mode, logits only; training step = losses (CE + 0.01 x prediction L2) + "
        "backward + SGD (backbone, heads) + Adam (AIM encoder). FLOPs from `FlopCounterMode`.",
        "",
        "| preset | params | infer ms/batch | infer samples/s | infer GFLOP | infer GFLOP/s (vs sgemm) "
        "| train ms/step | train samples/s | train GFLOP | train GFLOP/s (vs sgemm) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        inf_rate, tr_rate = r["infer_flops"] / r["infer_s"], r["train_flops"] / r["train_s"]
        lines.append(
            f"| {r['preset']} | {r['params'] / 1e6:.2f} M | {r['infer_s'] * 1e3:.0f} "
            f"| {r['n'] / r['infer_s']:.2f} "
            f"| {r['infer_flops'] / 1e9:.1f} | {inf_rate / 1e9:.1f} ({inf_rate / sgemm:.2f}) "
            f"| {r['train_s'] * 1e3:.0f} | {r['n'] / r['train_s']:.2f} | {r['train_flops'] / 1e9:.1f} "
            f"| {tr_rate / 1e9:.1f} ({tr_rate / sgemm:.2f}) |"
        )
    lines += []
    if thp is not None:
        rate = thp["infer_flops"] / thp["infer_s"]
        lines.append(
            f"| paper, `THP_MEM_ALLOC_ENABLE=1` (child process, its sgemm {thp['sgemm'] / 1e9:.1f}) | | "
            f"{thp['infer_s'] * 1e3:.0f} | {n / thp['infer_s']:.2f} | {thp['infer_flops'] / 1e9:.1f} "
            f"| {rate / 1e9:.1f} ({rate / thp['sgemm']:.2f}) | | | | |"
        )
    lines += [
        "",
        f"## One ASGC layer: 256 -> 256 channels, {layer['n']} bodies x {layer['t']} frames, "
        "12 S-link + 3 A-link kernels, forward",
        "",
        "| implementation | ms | GFLOP/s (vs sgemm) | speed-up |",
        "|---|---|---|---|",
        f"| ST-GCN code form: 1x1 conv to K d_out channels + einsum | {layer['ref'] * 1e3:.0f} "
        f"| {layer['flops'] / layer['ref'] / 1e9:.1f} ({layer['flops'] / layer['ref'] / sgemm:.2f}) | 1.00 |",
        "| ours: the kernels' non-zero rows in row groups, graph-first, channels-last "
        f"| {layer['ours'] * 1e3:.0f} "
        f"| {layer['flops'] / layer['ours'] / 1e9:.1f} ({layer['flops'] / layer['ours'] / sgemm:.2f}) "
        f"| {layer['ref'] / layer['ours']:.2f} |",
        "",
        f"Same weights; max abs difference {layer['diff']:.1e}. GFLOP/s of both use our layer's FLOP count "
        f"({layer['flops'] / 1e9:.1f} GFLOP; the ST-GCN form also computes the kernels' zero rows).",
        "",
        f"## Where the time goes (one paper-preset inference pass, batch {n}, self CPU time)",
        "",
        "| op | share |",
        "|---|---|",
        *[f"| `{name}` | {share:.0%} |" for name, share in ops],
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    previous = args.out.read_text() if args.out.exists() else ""
    args.out.write_text(keep_official_section("\n".join(lines), previous))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
