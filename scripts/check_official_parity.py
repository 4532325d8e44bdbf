#!/usr/bin/env python
"""Parity of ``from_official`` with the official AS-GCN code (limaosen0/AS-GCN), on its own forward.

    python scripts/check_official_parity.py OFFICIAL_REPO_DIR [--out FILE] [--seed 0]

OFFICIAL_REPO_DIR is a checkout of https://github.com/limaosen0/AS-GCN (never copied into this
project). The script builds the official ``net.as_gcn.Model`` and ``net.utils.adj_learn.AdjacencyLearn``
from that directory with the arguments of its ``config/as_gcn/ntu-xsub/train.yaml``, on the CPU (its
``.cuda()`` calls are made no-ops while it runs), gives them random weights (the official
initialisation, then every parameter and batch-norm statistic perturbed with seeded noise, so no two
tensors of one shape are alike), converts their two state dicts with
``skelact.models.from_official`` and runs both on one fixed NTU-shaped input ``(N, C, T, V, M) =
(2, 3, 300, 25, 2)`` (290 observed frames, 10 target frames, the AIM window of 50 frames) in eval
mode. Compared, as ``max |ours - official| / max |official|``:

(a) the A-link encoder's link logits (``AdjacencyLearn.logits``, eq. 2-3 before sampling);
(b) the recognition logits, ours given the A-links the official module sampled (its Gumbel noise);
(c) the predicted poses of body 0 (the official ``pred[::2]``), given the same A-links;

and, as further checks: the S-link buffer ``A``, the AGC kernels built from the sampled links, and
the A-link decoder's next-pose means given the sampled links. Exit status 0 when every difference is
at most 1e-4, 1 otherwise; the largest relative differences are printed last. ``--out`` writes the
same report as Markdown.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import shlex
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
import yaml

from skelact.models import from_official
from skelact.models.asgcn.links import actional_kernels
from skelact.models.asgcn.official import (
    kernel_order,
    pairs_from_official,
    pairs_to_official,
    unused_official_keys,
)

TOLERANCE = 1e-4
HORIZON = 10  # the official feeder's target frames


@contextlib.contextmanager
def cpu_only() -> Iterator[None]:
    """The official code's ``.cuda()`` / ``.cuda(gpu_id)`` calls as no-ops (restored afterwards)."""
    saved = torch.Tensor.cuda, torch.nn.Module.cuda
    torch.Tensor.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]
    torch.nn.Module.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its implicit softmax dims and legacy sparse constructor
            yield
    finally:
        torch.Tensor.cuda, torch.nn.Module.cuda = saved  # type: ignore[method-assign]


def load_official(repo: Path):
    """The official ``Model`` and ``AdjacencyLearn`` classes and the NTU x-sub training config."""
    for rel in ("net/as_gcn.py", "net/utils/adj_learn.py", "config/as_gcn/ntu-xsub/train.yaml"):
        if not (repo / rel).is_file():
            raise SystemExit(f"{repo} is not a checkout of limaosen0/AS-GCN: {rel} is missing")
    sys.path.insert(0, str(repo))
    try:
        model_cls = importlib.import_module("net.as_gcn").Model
        aim_cls = importlib.import_module("net.utils.adj_learn").AdjacencyLearn
    finally:
        sys.path.remove(str(repo))
    config = yaml.safe_load((repo / "config/as_gcn/ntu-xsub/train.yaml").read_text())
    return model_cls, aim_cls, config


def perturb(module: torch.nn.Module, gen: torch.Generator) -> None:
    """Every floating parameter and buffer but the graph ``A`` gets seeded noise: running variances
    uniform in [0.5, 1.5], other tensors ``t + 0.3 std(t) N(0, 1)`` (``t + 0.1 N(0, 1)`` where the
    initialisation is constant: biases, BN scales, edge importance)."""
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if not t.is_floating_point() or name == "A":
                continue
            noise = torch.randn(t.shape, generator=gen)
            if name.endswith("running_var"):
                t.copy_(0.5 + torch.rand(t.shape, generator=gen))
            elif t.numel() > 1 and float(t.std()) > 0:
                t.add_(0.3 * float(t.std()) * noise)
            else:
                t.add_(0.1 * noise)


def rel_diff(ours: torch.Tensor, official: torch.Tensor) -> tuple[float, float, float]:
    """``(max |ours - official|, max |official|, relative)``."""
    if ours.shape != official.shape:
        raise AssertionError(f"shapes differ: ours {tuple(ours.shape)}, official {tuple(official.shape)}")
    diff = float((ours.double() - official.double()).abs().max())
    scale = float(official.double().abs().max())
    return diff, scale, diff / scale if scale > 0 else diff


def official_commit(repo: Path, given: str | None) -> str:
    if given:
        return given
    try:
        out = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True)
        return out.stdout.strip() or "unknown (not a git checkout)"
    except OSError:
        return "unknown (no git)"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("official_repo", type=Path, help="checkout of limaosen0/AS-GCN")
    p.add_argument("--out", type=Path, help="also write the report as Markdown to this file")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights, the input and the Gumbel noise")
    p.add_argument("--batch", type=int, default=2, help="samples N (default: %(default)s)")
    p.add_argument("--official-ref", help="the official commit, for the report (default: git rev-parse)")
    args = p.parse_args()
    started = time.time()
    repo = args.official_repo.resolve()
    model_cls, aim_cls, config = load_official(repo)
    m1_args, m2_args, lam = config["model1_args"], config["model2_args"], float(config["lamda_act"])

    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    with cpu_only():
        official1, official2 = model_cls(**m1_args), aim_cls(**m2_args)
    perturb(official1, gen)
    perturb(official2, gen)
    official1.eval()
    official2.eval()
    sd1, sd2 = official1.state_dict(), official2.state_dict()

    model = from_official("asgcn", sd1, sd2, num_classes=m1_args["num_class"], layout="ntu25").eval()
    cfg = model.config
    n, c, v, m = args.batch, m1_args["in_channels"], m2_args["node_num"], 2
    x = torch.randn(n, c, 290 + HORIZON, v, m, generator=gen)  # (N, C, T, V, M)
    x_obs = x[:, :, :-HORIZON]
    window = model.aim.window(x_obs)  # (N M, F, V, C): 50 frames, evenly spaced (eval)
    frames = window.shape[1]
    downsampled = window.view(n, m, frames, v, c).permute(0, 4, 2, 3, 1).contiguous()  # (N, C, F, V, M)

    # every block's output, both sides (the official class_layer_1 runs twice: same output, kept once)
    captured: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def hook(_mod, _inp, out):
            captured[name] = (out[0] if isinstance(out, tuple) else out).detach().clone()

        return hook

    official_blocks = [getattr(official1, f"class_layer_{i}") for i in range(len(model.backbone))]
    official_blocks += [
        getattr(official1, f"recon_layer_{i}") for i in range(len(model.predictor.collapse) + 1)
    ]
    our_blocks = [*model.backbone, *model.predictor.collapse, model.predictor.out]
    handles = [b.register_forward_hook(keep(f"official{i}")) for i, b in enumerate(official_blocks)]
    handles += [b.register_forward_hook(keep(f"ours{i}")) for i, b in enumerate(our_blocks)]

    with torch.no_grad():
        torch.manual_seed(args.seed + 1)  # the official A-links are Gumbel samples, even in eval mode
        with cpu_only():
            a_batch, _, official_means, _ = official2(downsampled.clone())
            official_logits, official_links = official2.logits, official2.edges
            official_class, official_pred, _ = official1(
                x_obs.clone(), x[:, :, -HORIZON:].clone(), x_obs[:, :, -1:].clone(), a_batch, lam
            )

        # ours, given the official module's sampled links
        ours_logits = pairs_to_official(model.aim.logits(window))
        links = pairs_from_official(official_links, v)  # (N M, V, V-1, types)
        act = actional_kernels(model.aim.actional(links), cfg.act_self_loops, cfg.act_scale)
        model._actional = lambda _x: act  # the backbone and the head use these A-links
        ours_class = model(x)
        ours_pred = model.forecast(x_obs, steps=HORIZON)[..., 0]  # (N, C, T', V), body 0
        ours_means = model.aim.decoder(window, links[..., int(model.aim.ghost) :], model.aim.senders)
        for h in handles:
            h.remove()
        # control: the backbone output with another body's A-links must differ, or (b) proves nothing
        other = act.roll(1, dims=0)
        model._actional = lambda _x: other
        control_features = model.features(x_obs)[0]

    structural = model.backbone[0].gcn.structural  # ours: row form, our kernel order
    perm = kernel_order(structural.shape[0])
    rows = [
        ("", "S-link kernels `A` (buffer vs ours)",
         structural.transpose(-1, -2)[torch.argsort(perm)], official1.A),
        ("(a)", "A-link encoder: link logits", ours_logits, official_logits),
        ("", "AGC kernels from the sampled links", act.transpose(-1, -2), a_batch),
        ("(b)", "recognition logits, same A-links", ours_class, official_class),
        ("(c)", "predicted poses (body 0), same A-links", ours_pred, official_pred),
        ("", "A-link decoder: next-pose means, same links", ours_means.permute(0, 2, 1, 3), official_means),
    ]  # fmt: skip
    results = [(tag, what, tuple(o.shape), *rel_diff(o, r)) for tag, what, o, r in rows]
    blocks = [rel_diff(captured[f"ours{i}"], captured[f"official{i}"]) for i in range(len(our_blocks))]
    worst = max(range(len(blocks)), key=lambda i: blocks[i][-1])
    results.insert(
        4, ("", f"block outputs, same A-links (worst of {len(blocks)}: block {worst})", (), *blocks[worst])
    )
    last = len(model.backbone) - 1
    control = rel_diff(control_features, captured[f"official{last}"])[-1]
    ok = all(rel <= TOLERANCE for *_, rel in results) and control > 10 * TOLERANCE

    count = lambda mod: sum(p.numel() for p in mod.parameters())  # noqa: E731
    unused = unused_official_keys(model)
    n_unused = sum((sd1 if k.startswith("recognition:") else sd2)[k.split(":", 1)[1]].numel() for k in unused)
    lines = [
        "# Official AS-GCN parity",
        "",
        f"Command: `{shlex.join(['python', 'scripts/check_official_parity.py', *sys.argv[1:]])}`",
        f"Official code: limaosen0/AS-GCN @ {official_commit(repo, args.official_ref)}, run on the CPU "
        "with its `.cuda()` calls patched out; `config/as_gcn/ntu-xsub/train.yaml` (60 classes, max_hop 4, "
        "AIM hidden 128, lambda 0.5).",
        f"Input: N={n}, C={c}, T=300 (290 observed + 10 target), V={v}, M={m}; AIM window {frames} frames; "
        f"seed {args.seed}; torch {torch.__version__}; {time.time() - started:.0f} s.",
        "",
        "| | quantity | shape | max abs diff | max abs official | relative |",
        "|---|---|---|---|---|---|",
    ]
    for tag, what, shape, diff, scale, rel in results:
        lines.append(f"| {tag} | {what} | {shape or ''} | {diff:.2e} | {scale:.3g} | {rel:.2e} |")
    lines += [
        "",
        f"Control: the backbone's output with another body's A-links differs from the official one by "
        f"{control:.2e} relative (must exceed 1e-3, or (b), (c) would not test the A-link path).",
        "",
        f"Parameters: official model1 {count(official1):,} + model2 {count(official2):,}; of these "
        f"{n_unused:,} are never read by the official forward "
        f"({', '.join(k.split(':', 1)[1] for k in unused)}); "
        f"ours {count(model):,} (= {count(official1) + count(official2) - n_unused:,}).",
        "",
        "Largest relative differences (tolerance 1e-4):",
    ]
    lines += [f"  {tag} {what}: {rel:.2e}" for tag, what, _, _, _, rel in results if tag]
    lines.append(f"  all checks: max {max(r[-1] for r in results):.2e} -> {'PASS' if ok else 'FAIL'}")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        body = text.replace("\nLargest relative", "\n```\nLargest relative") + "\n```\n"
        args.out.write_text(body)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
