"""ARRN-LSTM throughput on this CPU: training step and inference, NTU and MSRAction3D presets.

Measures, in one process, at each thread count of ``--threads`` (default 1 and 2):

* a same-process sgemm baseline (``torch.mm`` of two 1024 x 1024 float32 matrices): the FLOP/s
  this machine reaches on dense, well-shaped matrix products right now;
* the two-stream model at the NTU preset (T=100, J=25, M=50, E=5; batches of 16, once with the
  second body absent, as in NTU's single-person actions, once with both) and the MSRAction3D
  preset (T=20, J=20, M=20, E=5; one body): inference (eval, no_grad) and one training step
  (losses, backward, skelact's fused Adam step);
* model FLOPs from ``torch.utils.flop_counter.FlopCounterMode`` (it does not see ``aten::lstm``,
  so the LSTM's ``8 h (in + h)`` FLOPs per step and sample are added analytically, x3 for a
  training step), achieved FLOP/s and its ratio to the sgemm baseline;
* the message function (eqs. 5-6) with the first-layer split and last-layer folding against the
  literal ``f([h_i; h_j])`` over all ordered pairs, forward + backward, same node sets;
* the top operators of one NTU inference pass (torch.profiler), to show where the time goes;
* the training step of one stream (joint, line) at the MSRAction3D preset, batch 16, 1 thread,
  against a plain PyTorch implementation of the same architecture: the same model and weights with
  the RRN written as one would plainly write it, the message function evaluated literally,
  ``f([h_i; h_j])`` on all ``J^2`` ordered pairs with the self-pairs masked out (vectorised over
  pairs, plain autograd), each iteration's ``nn.GRUCell`` fed ``cat([v, m])``, and
  ``torch.optim.Adam``'s default update (skelact: its fused one, as ``build_optimizer`` gives);
  everything else (embedding, attention, ``nn.LSTM``, classifier) shared. With ``--before REV``
  the RRN (message function and iterations) of ``src/skelact/models/arrn/rrn.py`` at git
  revision ``REV`` is timed in turn as a third variant (with the default Adam update unless
  ``--before-fused``).

Run: ``.venv/bin/python benchmarks/bench_arrn.py``; results go to ``benchmarks/results/arrn.md``.
Timings on a shared machine are noisy: every timed function (the sgemm baseline included) runs in
turn, ``--reps`` rounds, and the fastest run of each is kept.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import pathlib
import subprocess
import time
import types
from collections.abc import Callable

import torch
import torch.nn.functional as F
from flops import counted_flops as _counted_flops  # beside this file
from machine import cpu_description

from skelact.models import build
from skelact.models.arrn import ARRNLSTM, MessageFunction, native
from skelact.models.arrn.rrn import RecurrentRelationalNetwork
from skelact.train.config import OptimConfig
from skelact.train.optim import build_optimizer

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "arrn.md"


def sgemm(n: int = 1024) -> Callable[[], object]:
    """One ``n x n x n`` float32 matrix product (``2 n^3`` FLOPs)."""
    a, b = torch.randn(n, n), torch.randn(n, n)

    def run():
        for _ in range(5):
            torch.mm(a, b)

    return run


def lstm_flops(model: ARRNLSTM, n: int, t: int) -> int:
    """Forward FLOPs of the LSTM stacks (``FlopCounterMode`` does not count ``aten::lstm``)."""
    total = 0
    for stream in model.streams.values():
        for layer in stream.temporal.layers:
            total += 2 * 4 * layer.hidden_size * (layer.input_size + layer.hidden_size) * n * t
    return total


def counted_flops(fn: Callable[[], object]) -> int:
    """FLOPs of ``fn`` as PyTorch ops count them (in-place products included, :mod:`flops`): the
    compiled pair kernels (invisible to the counter) are switched off while it runs, so their sums and
    products count as the ops they replace."""
    with native.disabled():
        return _counted_flops(fn)


def make_input(n: int, t: int, v: int, bodies: int, present: int) -> torch.Tensor:
    x = torch.randn(n, 3, t, v, bodies) * 0.3
    x[..., present:] = 0  # absent bodies are zeros, as skelact pads them
    return x


def prepare_model(name: str, layout: str, n: int, n_train: int, t: int, bodies: int, present: int,
                  **options) -> dict:
    """Inference on a batch of ``n``, a training step on a batch of ``n_train``."""
    model = build("arrn_lstm", num_classes=60, layout=layout, stream="two_stream", **options)
    v = model.streams["joint"].attention.num_nodes
    x = make_input(n, t, v, bodies, present)
    xt, yt = x[:n_train], torch.randint(0, 60, (n_train,))
    opt = build_optimizer(ADAM, model.parameters())  # as skelact trains: the fused update

    def infer():
        model.eval()
        with torch.no_grad():
            model(x)

    def train_step():
        model.train()
        opt.zero_grad(set_to_none=True)
        model.losses(xt, yt)["loss"].backward()
        opt.step()

    model.eval()
    f_inf = counted_flops(infer) + lstm_flops(model, n, t)
    model.train()
    f_train = counted_flops(lambda: model.losses(xt, yt)["loss"].backward())
    f_train += 3 * lstm_flops(model, n_train, t)  # forward + ~2x for the backward
    return {"name": name, "n": n, "n_train": n_train, "t": t, "hp": model.hparams,
            "infer": infer, "train": train_step, "f_inf": f_inf, "f_train": f_train,
            "params": sum(p.numel() for p in model.parameters())}


def plain_messages(self: MessageFunction, h: torch.Tensor) -> torch.Tensor:
    """Eqs. 5-6 as a plain implementation writes them: ``f([h_i; h_j])`` on all ``J^2`` pairs, masked."""
    joints = h.shape[1]
    hi = h.unsqueeze(2).expand(-1, -1, joints, -1)  # (B, J, J, D): receiver i
    hj = h.unsqueeze(1).expand(-1, joints, -1, -1)  # (B, J, J, D): sender j
    offdiag = (1 - torch.eye(joints, dtype=h.dtype)).unsqueeze(-1)  # (J, J, 1)
    return (self.pairwise(hi, hj) * offdiag).sum(2)


def plain_rrn(self: RecurrentRelationalNetwork, v: torch.Tensor) -> torch.Tensor:
    """Eqs. 5-8 as a plain implementation writes them: literal messages, ``GRUCell(cat([v, m]), h)``."""
    batch, joints, dim = v.shape
    h = v
    for _ in range(self.iterations):
        m = plain_messages(self.message, h)  # (B, J, M)
        gru_in = torch.cat([v, m], dim=-1).reshape(batch * joints, 2 * dim)
        h = self.node(gru_in, h.reshape(batch * joints, dim)).view(batch, joints, dim)
    return h


#: The RRN of a plain implementation: both forwards replaced (the model's weights are used as they are).
PLAIN = {MessageFunction: plain_messages, RecurrentRelationalNetwork: plain_rrn}
#: Adam as skelact trains (``build_optimizer``: the fused update) and as a plain implementation
#: writes it (``torch.optim.Adam(params, lr)``, PyTorch's default foreach update).
ADAM = OptimConfig(name="adam", lr=1e-3)
PLAIN_ADAM = OptimConfig(name="adam", lr=1e-3, fused=False)


def prepare_messages(sets: int, joints: int, dim: int) -> dict:
    f = MessageFunction(dim)
    h = torch.randn(sets, joints, dim, requires_grad=True)

    def literal_sum():  # f([h_i; h_j]) on all J^2 ordered pairs, diagonal masked out, summed over j
        return plain_messages(f, h)

    def literal():
        literal_sum().sum().backward()

    def split():
        f(h).sum().backward()

    with torch.no_grad():
        err = (literal_sum() - f(h)).abs().max().item()
    return {"sets": sets, "literal": literal, "split": split, "err": err,
            "f_lit": counted_flops(literal), "f_split": counted_flops(split)}


def rrn_at(rev: str) -> dict[type, Callable]:
    """The forwards of ``MessageFunction`` and ``RecurrentRelationalNetwork`` in
    ``src/skelact/models/arrn/rrn.py`` at git revision ``rev``."""
    root = pathlib.Path(__file__).resolve().parents[1]
    source = subprocess.run(["git", "show", f"{rev}:src/skelact/models/arrn/rrn.py"], cwd=root,
                            check=True, capture_output=True, text=True).stdout
    module = types.ModuleType(f"rrn_{rev}")  # rrn.py imports only torch: no package context needed
    exec(compile(source, f"{rev}:src/skelact/models/arrn/rrn.py", "exec"), module.__dict__)
    return {MessageFunction: module.MessageFunction.forward,
            RecurrentRelationalNetwork: module.RecurrentRelationalNetwork.forward}


@contextlib.contextmanager
def forwards_replaced(forwards: dict[type, Callable]):
    """Run the block with each class's ``forward`` replaced (an empty dict: unchanged)."""
    originals = {cls: cls.forward for cls in forwards}
    for cls, fwd in forwards.items():
        cls.forward = fwd
    try:
        yield
    finally:
        for cls, fwd in originals.items():
            cls.forward = fwd


def prepare_stream_steps(stream: str, n: int, variants: dict[str, tuple[dict[type, Callable], bool]]) -> dict:
    """One training step of one MSRAction3D-preset stream per variant (same model and weights).

    ``variants``: name -> (the forwards to replace, whether the Adam update is skelact's fused one
    or PyTorch's default); each variant keeps its own optimiser state.
    """
    torch.manual_seed(0)
    model = build("arrn_lstm", num_classes=20, layout="kinect20", stream=stream)
    x, y = make_input(n, 20, 20, 1, 1), torch.randint(0, 20, (n,))
    model.train()

    def step_with(forwards, fused):
        opt = build_optimizer(ADAM if fused else PLAIN_ADAM, model.parameters())

        def step():
            with forwards_replaced(forwards):
                opt.zero_grad(set_to_none=True)
                model.losses(x, y)["loss"].backward()
                opt.step()
        return step

    return {"params": sum(p.numel() for p in model.parameters()),
            "steps": {name: step_with(*variant) for name, variant in variants.items()}}


def round_robin(fns: dict[str, Callable[[], object]], reps: int) -> dict[str, float]:
    """Fastest of ``reps`` runs of each function, taking turns (one warm-up each first).

    On a shared machine other jobs come and go; interleaving spreads every measurement over the
    whole run instead of letting one busy minute spoil one setting.
    """
    best = {}
    for key, fn in fns.items():
        fn()
        best[key] = float("inf")
    for _ in range(reps):
        for key, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[key] = min(best[key], time.perf_counter() - t0)
    return best


def profile_top(layout: str, n: int, t: int, bodies: int, present: int,
                top: int = 8) -> list[tuple[str, float]]:
    model = build("arrn_lstm", num_classes=60, layout=layout, stream="two_stream").eval()
    x = make_input(n, t, model.streams["joint"].attention.num_nodes, bodies, present)
    with torch.no_grad():
        model(x)
        with torch.profiler.profile() as prof:
            model(x)
    rows = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in rows)
    return [(e.key, e.self_cpu_time_total / total) for e in rows[:top]]


def step_table(steps: dict[str, dict], variants: list[str]) -> list[str]:
    """Markdown rows: ms per step of every variant, and each other variant's time over ours."""
    others = [v for v in variants if v != "ours"]
    head = ["stream", "params", *(f"{v} ms/step" for v in variants), *(f"{v} / ours" for v in others)]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for stream, st in steps.items():
        cells = [stream, f"{st['params'] / 1e6:.2f} M", *(f"{st[v] * 1e3:.0f}" for v in variants),
                 *(f"**{st[v] / st['ours']:.2f}x**" if v == "plain" else f"{st[v] / st['ours']:.2f}x"
                   for v in others)]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="thread counts of the throughput table, each with its own sgemm baseline")
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    parser.add_argument("--before", metavar="REV",
                        help="also time the message function of rrn.py at this git revision")
    parser.add_argument("--before-fused", action="store_true",
                        help="the --before revision already used the fused Adam update")
    parser.add_argument("--step-reps", type=int, default=8, help="rounds of the plain-vs-ours training steps")
    args = parser.parse_args()
    load = os.getloadavg()
    torch.manual_seed(0)
    F.relu(torch.zeros(1))  # load kernels before timing

    b = args.batch
    cases = [
        prepare_model("NTU preset, 1 of 2 bodies", "ntu25", b, b, 100, 2, 1),
        # both bodies present doubles the RRN's node sets; the relu-mask store of the pair messages
        # (rrn.py) keeps a training step of 16 within 5 GiB (the preset itself trains at 64)
        prepare_model("NTU preset, 2 of 2 bodies", "ntu25", b, b, 100, 2, 2),
        prepare_model("MSRAction3D preset", "kinect20", b, b, 20, 1, 1),
    ]
    msg = prepare_messages(sets=4 * 100, joints=25, dim=50)
    most = max(args.threads)
    rows, peaks = [], {}
    for threads in args.threads:  # each thread count against its own sgemm, timed in turn with it
        torch.set_num_threads(threads)
        fns: dict[str, Callable[[], object]] = {"sgemm": sgemm()}
        for i, case in enumerate(cases):
            fns[f"{i}/infer"], fns[f"{i}/train"] = case["infer"], case["train"]
        if threads == most:
            fns["msg/literal"], fns["msg/split"] = msg["literal"], msg["split"]
        best = round_robin(fns, args.reps)
        peaks[threads] = 5 * 2 * 1024**3 / best["sgemm"]
        rows += [{**c, "threads": threads, "peak": peaks[threads], "t_inf": best[f"{i}/infer"],
                  "t_train": best[f"{i}/train"]} for i, c in enumerate(cases)]
        if threads == most:
            msg.update(t_lit=best["msg/literal"], t_split=best["msg/split"])
    torch.set_num_threads(most)
    top = profile_top("ntu25", 4, 100, 2, 1)

    # one stream's training step against the plain implementation: 1 thread, batch 16, MSR preset
    variants: dict[str, tuple[dict[type, Callable], bool]] = {
        "plain": (PLAIN, False), "ours": ({}, True), "ours, default Adam": ({}, False)}
    if args.before:
        variants[f"before ({args.before})"] = (rrn_at(args.before), args.before_fused)
    torch.set_num_threads(1)
    steps = {}
    for stream in ("joint", "line"):
        case = prepare_stream_steps(stream, 16, variants)
        timed = round_robin(case["steps"], args.step_reps)
        steps[stream] = {"params": case["params"], **timed}
    rrn_times = {}
    if args.before:  # the RRN alone at the NTU preset's size: 16 samples x 100 frames, one body
        rrn = RecurrentRelationalNetwork(50, 5)
        v = torch.randn(16 * 100, 25, 50, requires_grad=True)

        def rrn_step(forwards):
            def run():
                with forwards_replaced(forwards):
                    rrn(v).sum().backward()
            return run

        rrn_times = round_robin({k: rrn_step(variants[k][0]) for k in ("ours", f"before ({args.before})")}, 3)
    torch.set_num_threads(most)

    variant = native.variant()
    kernel = (f"fused compiled kernels ({variant} build, kernels.cpp)" if variant
              else "chunked pairs, hand-written backward")
    lines = [
        "# ARRN-LSTM benchmark (CPU)",
        "",
        f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}; torch {torch.__version__}; "
        f"{cpu_description()}; "
        f"best of {args.reps} interleaved reps; 1-min load average {load[0]:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end (this process adds up to {most}; more means other jobs "
        "shared the machine: times are noisy, same-process ratios less so).",
        "- same-process sgemm baseline (1024^3 `torch.mm`, timed in turn with the models at the same "
        "thread count): " + ", ".join(f"**{p / 1e9:.1f} GFLOP/s** at {t} thread(s)" for t, p in peaks.items())
        + "; the message function and the profile below ran at " + f"{most} thread(s).",
        "- model: two-stream ARRN-LSTM (both streams), 60 classes, default options of the preset;",
        "  FLOPs from `FlopCounterMode` + analytic LSTM FLOPs; training step = losses + backward + Adam.",
        "",
        "| setting | threads | T | params | infer batch | infer ms/batch | infer samples/s | infer GFLOP | "
        "infer GFLOP/s (vs sgemm) | train batch | train ms/step | train samples/s | train GFLOP | "
        "train GFLOP/s (vs sgemm) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        gi, gt, peak = r["f_inf"] / r["t_inf"], r["f_train"] / r["t_train"], r["peak"]
        lines.append(
            f"| {r['name']} (M={r['hp']['embed_dim']}, E={r['hp']['iterations']}, "
            f"LSTM {'/'.join(map(str, r['hp']['lstm_sizes']))}) | {r['threads']} | {r['t']} | "
            f"{r['params'] / 1e6:.1f} M | "
            f"{r['n']} | {r['t_inf'] * 1e3:.0f} | {r['n'] / r['t_inf']:.1f} | {r['f_inf'] / 1e9:.1f} | "
            f"{gi / 1e9:.1f} ({gi / peak:.2f}) | {r['n_train']} | {r['t_train'] * 1e3:.0f} | "
            f"{r['n_train'] / r['t_train']:.1f} | {r['f_train'] / 1e9:.1f} | "
            f"{gt / 1e9:.1f} ({gt / peak:.2f}) |")
    lines += [
        "",
        f"## Message function (eqs. 5-6), {msg['sets']} node sets x 25 nodes x 50 dims, forward + backward",
        "",
        "| implementation | ms | GFLOP | speed-up |",
        "|---|---|---|---|",
        f"| literal `f([h_i; h_j])` on all J^2 pairs, diagonal masked | {msg['t_lit'] * 1e3:.0f} | "
        f"{msg['f_lit'] / 1e9:.2f} | 1.00 |",
        f"| first-layer split + last-layer fold, {kernel} (ours) | "
        f"{msg['t_split'] * 1e3:.0f} | "
        f"{msg['f_split'] / 1e9:.2f} | {msg['t_lit'] / msg['t_split']:.2f} |",
        "",
        f"Max abs difference between the two: {msg['err']:.2e}.",
        "",
        "## Where the time goes (one NTU inference pass, batch 4, self CPU time)",
        "",
        "| op | share |",
        "|---|---|",
        *[f"| `{k}` | {s:.0%} |" for k, s in top],
        "",
        "## Training step of one stream against a plain implementation",
        "",
        "MSRAction3D preset, batch 16, 1 thread. Plain: the same model and weights with the RRN",
        "written plainly: the message function evaluated literally, `f([h_i; h_j])` on all J^2 ordered",
        "pairs with the self-pairs masked (vectorised, plain autograd), and `nn.GRUCell` fed",
        "`cat([v, m])` each iteration, and `torch.optim.Adam`'s default update; embedding, attention,",
        "`nn.LSTM` and classifier shared (ours: skelact's fused Adam update; *ours, default Adam*:",
        "the same with PyTorch's default update, to show what each part gives).",
        f"Fastest of {args.step_reps} interleaved rounds.",
        "",
        *step_table(steps, list(variants)),
        "",
    ]
    if rrn_times:
        ours, before = rrn_times["ours"], rrn_times[f"before ({args.before})"]
        lines += [
            "## The RRN alone at the NTU preset's size (1,600 node sets x 25 joints, M = 50, E = 5)",
            "",
            "Forward and backward, 1 thread, fastest of 3 interleaved rounds.",
            "",
            f"| ours s | before ({args.before}) s | before / ours |",
            "|---|---|---|",
            f"| {ours:.2f} | {before:.2f} | {before / ours:.2f}x |",
            "",
        ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
