"""Checkpoints of the official AS-GCN code (limaosen0/AS-GCN) as skelact models, and back.

The official training (``main.py recognition``) saves two state dicts per epoch: ``epoch<k>_model1.pt``,
the recognition + prediction network (``net.as_gcn.Model``), and ``epoch<k>_model2.pt``, the A-link
inference module (``net.utils.adj_learn.AdjacencyLearn``: NRI encoder + recurrent decoder).
:func:`from_official_state_dicts` turns the pair into an :class:`~.model.ASGCN` built from the
``official`` preset, whose forward is the official forward (``scripts/check_official_parity.py``
compares them on the official code itself); :func:`to_official_state_dicts` goes back.

The mapping is a list of :class:`Rule` s, each taking a group of official tensors to a group of ours
and back, built from the model's own structure (any size of the official architecture: channels,
classes, layout, AIM width). The layouts differ in these ways:

* **Kernels.** The official graph convolution is a ``1x1`` convolution to ``K d_out`` channels
  (kernel-major), then ``einsum('nkctv,kvw->nctw')`` with the kernels in *column* form
  (``A[k, sender, receiver]``). Ours keeps ``W`` as ``(K, d_in, d_out)`` and kernels in row form, so
  the edge importance ``M`` (eq. 5) is transposed; the convolution's bias is ``ASGC.bias``
  ``(K, d_out)`` (option ``gcn_bias``). The S-link kernels of each hop ``h >= 1`` come in the other
  order: the official ``(root + close, further)`` (ST-GCN's), ours (centrifugal, centripetal) in the
  sense of messages (:func:`~skelact.models.graph.structural_kernels`), so kernels ``2h - 1`` and ``2h``
  swap (:func:`kernel_order`).
* **Edge importance.** The official model keeps ``M`` in two model-level lists (``edge_importance.i``
  for the 9 recognition blocks, ``edge_importance_recon.i`` for the 7 prediction blocks); ours keeps
  each block's in its :class:`~.links.ASGC`.
* **Prediction output block.** ``ConvTranspose2d`` weights ``(d_in, d_out, 1, 1)`` where ours are
  convolutions ``(d_out, d_in, 1, 1)``: transposed.
* **Classifier.** A ``1x1`` ``Conv2d`` there, ``nn.Linear`` here.
* **AIM.** The first layer of each pair MLP is one ``Linear`` over ``[h_receiver, h_sender(, Q)]``
  there, split into receiver / sender (/ skip) halves here (:class:`~.aim.PairMLP`); the decoder's
  per-type message MLPs (``msg_fc1.c``, ``msg_fc2.c``) are stacked by type
  (:class:`~.aim.TypedLinear`, weights transposed), its ``input_{r,i,n}`` / ``hidden_{r,i,n}`` gates
  stacked (:class:`~.aim.RecurrentDecoder`).
* **Never read.** The official forward never reads ``edge_importance_recon.7`` and ``.8`` (nine lists
  for seven prediction blocks: 11,250 parameters) nor the ghost type's decoder messages
  ``decoder.msg_fc1.0`` and ``decoder.msg_fc2.0`` (``skip_first=True``: 49,408 parameters):
  :func:`unused_official_keys` lists them; their shapes are checked, their values dropped (they get
  ones and zeros on the way back). ``A``, the official S-link buffer, must equal our kernels (it
  fixes the layout and ``max_hop``).

Pair order: the official code orders the ``V (V - 1)`` links sender-major (link ``e`` = sender ``r``,
receiver ``c``, row-major over the off-diagonal of a ``V x V`` grid); ours are receiver-major
``(V, V - 1)`` (:func:`~.aim.sender_index`). :func:`pairs_to_official` and
:func:`pairs_from_official` convert (link logits, sampled links).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..registry import build
from .aim import sender_index
from .model import ASGCN, ASGCNBlock

__all__ = [
    "OFFICIAL_AIM_ARGS",
    "OFFICIAL_MODEL_ARGS",
    "Rule",
    "from_official",
    "from_official_state_dicts",
    "kernel_order",
    "official_rules",
    "pairs_from_official",
    "pairs_to_official",
    "to_official_state_dicts",
    "unused_official_keys",
]

#: The official NTU configuration the ``official`` preset matches at ``num_classes=60``,
#: ``layout="ntu25"`` (``config/as_gcn/ntu-xsub/train.yaml``): ``model1_args`` ...
OFFICIAL_MODEL_ARGS: dict[str, Any] = {
    "in_channels": 3,
    "num_class": 60,
    "dropout": 0.5,
    "edge_importance_weighting": True,
    "graph_args": {"layout": "ntu-rgb+d", "strategy": "spatial", "max_hop": 4},
}
#: ... and ``model2_args``.
OFFICIAL_AIM_ARGS: dict[str, Any] = {
    "n_in_enc": 150,
    "n_hid_enc": 128,
    "edge_types": 3,
    "n_in_dec": 3,
    "n_hid_dec": 128,
    "node_num": 25,
}

_BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
Tensors = list[torch.Tensor]


@dataclass(frozen=True)
class Rule:
    """One group of official tensors <-> one group of ours.

    ``official`` keys are ``"recognition:<key>"`` (``model1``) or ``"aim:<key>"`` (``model2``);
    ``ours`` are keys of the :class:`~.model.ASGCN` state dict. ``to_ours`` maps the official tensors
    (in ``official`` order) to ours (in ``ours`` order); ``to_official`` is its inverse.
    """

    official: tuple[str, ...]
    ours: tuple[str, ...]
    to_ours: Callable[[Tensors], Tensors]
    to_official: Callable[[Tensors], Tensors]


def _same(official: Sequence[str], ours: Sequence[str]) -> Rule:
    return Rule(tuple(official), tuple(ours), list, list)


def _one(official: str, ours: str, fwd: Callable, back: Callable) -> Rule:
    return Rule((official,), (ours,), lambda t: [fwd(t[0])], lambda t: [back(t[0])])


def _bn(official: str, ours: str) -> Rule:
    return _same([f"{official}.{n}" for n in _BN], [f"{ours}.{n}" for n in _BN])


def _linear(official: str, ours: str) -> Rule:
    return _same([f"{official}.weight", f"{official}.bias"], [f"{ours}.weight", f"{ours}.bias"])


# ------------------------------------------------------------------------------ tensor layouts ---
def kernel_order(num_structural: int, num_actional: int = 0) -> torch.Tensor:
    """``perm`` with our kernel ``k`` = official kernel ``perm[k]``: the S-links ``0, 2, 1, 4, 3, ...``
    (each hop's pair swapped), then the A-links in order."""
    perm = [0] + [i for h in range(1, (num_structural - 1) // 2 + 1) for i in (2 * h, 2 * h - 1)]
    return torch.tensor(perm + list(range(num_structural, num_structural + num_actional)))


def _conv_kernels(k: int, out: int, perm: torch.Tensor) -> tuple[Callable, Callable]:
    """``1x1`` conv weight ``(K d_out, d_in, 1, 1)`` (kernel-major) <-> ``ASGC.weight``
    ``(K, d_in, d_out)``."""
    inv = torch.argsort(perm)

    def fwd(w: torch.Tensor) -> torch.Tensor:
        return w.reshape(k, out, w.shape[1]).transpose(1, 2)[perm]

    def back(w: torch.Tensor) -> torch.Tensor:
        return w[inv].transpose(1, 2).reshape(k * out, w.shape[1], 1, 1)

    return fwd, back


def _deconv_kernels(k: int, out: int, perm: torch.Tensor) -> tuple[Callable, Callable]:
    """``1x1`` transposed-conv weight ``(d_in, K d_out, 1, 1)`` <-> ``ASGC.weight`` ``(K, d_in, d_out)``."""
    inv = torch.argsort(perm)

    def fwd(w: torch.Tensor) -> torch.Tensor:
        return w.reshape(w.shape[0], k, out).transpose(0, 1)[perm]

    def back(w: torch.Tensor) -> torch.Tensor:
        return w[inv].transpose(0, 1).reshape(w.shape[1], k * out, 1, 1)

    return fwd, back


def _kernel_bias(k: int, out: int, perm: torch.Tensor) -> tuple[Callable, Callable]:
    """Conv bias ``(K d_out,)`` <-> ``ASGC.bias`` ``(K, d_out)``."""
    inv = torch.argsort(perm)
    return (lambda b: b.reshape(k, out)[perm]), (lambda b: b[inv].reshape(k * out))


def _column_kernels(perm: torch.Tensor) -> tuple[Callable, Callable]:
    """Official column-form S-link kernels / edge importance ``[k, sender, receiver]`` <-> ours
    (row form, our kernel order)."""
    inv = torch.argsort(perm)
    return (lambda t: t.transpose(-1, -2)[perm]), (lambda t: t[inv].transpose(-1, -2))


def _transpose_01(t: torch.Tensor) -> torch.Tensor:
    """``ConvTranspose2d`` ``(d_in, d_out, 1, 1)`` <-> ``Conv2d`` ``(d_out, d_in, 1, 1)``."""
    return t.transpose(0, 1)


def _split_columns(sizes: Sequence[int]) -> tuple[Callable, Callable]:
    """One ``Linear`` over a concatenation ``(out, sum(sizes))`` (+ bias) <-> the per-part
    ``Linear`` s (``weight`` each, the bias with the first): official ``[W | b]`` -> ours
    ``[W_0, b, W_1, ...]``."""

    def fwd(t: Tensors) -> Tensors:
        w, b = t
        parts = list(torch.split(w, list(sizes), dim=1))
        return [parts[0], b, *parts[1:]]

    def back(t: Tensors) -> Tensors:
        return [torch.cat([t[0], *t[2:]], dim=1), t[1]]

    return fwd, back


# ------------------------------------------------------------------------------------- rules ---
def _check_official_architecture(model: ASGCN) -> None:
    cfg = model.config
    wanted = {
        "links": "as",
        "s_links": "hops",
        "edge_importance": True,
        "gcn_bias": True,
        "data_bn": "vc",
        "prediction_head": True,
        "pred_readout": "official",
        "pred_refine": (),
        "aim_encoder": "nri",
        "aim_decoder": "recurrent",
        "aim_iterations": 2,
    }
    wrong = {k: getattr(cfg, k) for k, v in wanted.items() if getattr(cfg, k) != v}
    if not cfg.has_ghost:
        wrong["ghost_prior"] = cfg.ghost_prior
    if wrong:
        raise ValueError(
            "the official AS-GCN layout needs the official architecture "
            f"({', '.join(f'{k}={v!r}' for k, v in wanted.items())}, ghost_prior > 0); this model has "
            + ", ".join(f"{k}={v!r}" for k, v in wrong.items())
        )


def _block_rules(off: str, blk: ASGCNBlock, ours: str, importance: str, deconv: bool = False) -> list[Rule]:
    """One official ``StgcnBlock`` (``StgcnReconBlock`` when ``deconv``) <-> one :class:`ASGCNBlock`."""
    k, out, ks = blk.gcn.weight.shape[0], blk.gcn.out_channels, blk.gcn.num_structural
    perm = kernel_order(ks, k - ks)
    gcn, tcn = ("gcn_recon.deconv", "tcn_recon") if deconv else ("gcn.conv", "tcn")
    w_fwd, w_back = _deconv_kernels(k, out, perm) if deconv else _conv_kernels(k, out, perm)
    b_fwd, b_back = _kernel_bias(k, out, perm)
    rules = [
        _one(f"recognition:{off}.{gcn}.weight", f"{ours}.gcn.weight", w_fwd, w_back),
        _one(f"recognition:{off}.{gcn}.bias", f"{ours}.gcn.bias", b_fwd, b_back),
        _one(f"recognition:{importance}", f"{ours}.gcn.importance", *_column_kernels(perm[:ks])),
        _bn(f"recognition:{off}.{tcn}.0", f"{ours}.bn"),
        _bn(f"recognition:{off}.{tcn}.3", f"{ours}.tcn.1"),
    ]
    if deconv:  # a (1, 1) transposed convolution of stride 1 is the transposed convolution
        rules += [
            _one(f"recognition:{off}.{tcn}.2.weight", f"{ours}.tcn.0.weight", _transpose_01, _transpose_01),
            _same([f"recognition:{off}.{tcn}.2.bias"], [f"{ours}.tcn.0.bias"]),
        ]
    else:
        rules.append(_linear(f"recognition:{off}.{tcn}.2", f"{ours}.tcn.0"))
    if isinstance(blk.residual, torch.nn.Sequential):  # strided 1x1 conv + BN
        rules += [
            _linear(f"recognition:{off}.residual.0", f"{ours}.residual.0"),
            _bn(f"recognition:{off}.residual.1", f"{ours}.residual.1"),
        ]
    return rules


def official_rules(model: ASGCN) -> list[Rule]:
    """The complete mapping between the official state dicts and ``model``'s (an official-preset
    AS-GCN of any size). Every key of ours and every official key but the never-read ones
    (:func:`unused_official_keys`) and ``A`` appears in exactly one rule
    (``tests/models/test_from_official.py``)."""
    _check_official_architecture(model)
    assert model.predictor is not None and model.aim is not None
    rules: list[Rule] = [_bn("recognition:data_bn", "data_bn")]
    for i, blk in enumerate(model.backbone):
        rules += _block_rules(f"class_layer_{i}", blk, f"backbone.{i}", f"edge_importance.{i}")
    head = model.predictor
    for i, blk in enumerate(head.collapse):
        rules += _block_rules(
            f"recon_layer_{i}", blk, f"predictor.collapse.{i}", f"edge_importance_recon.{i}"
        )
    n = len(head.collapse)
    rules += _block_rules(
        f"recon_layer_{n}", head.out, "predictor.out", f"edge_importance_recon.{n}", deconv=True
    )
    rules.append(
        _one("recognition:fcn.weight", "fc.weight", lambda w: w.flatten(1), lambda w: w[:, :, None, None])
    )
    rules.append(_same(["recognition:fcn.bias"], ["fc.bias"]))

    # A-link inference module: encoder (NRI wiring, K = 2: mlp1 .. mlp4, fc_out)
    enc, hid = model.aim.encoder, model.config.aim_hidden
    for k, (node, edge) in enumerate(((1, 2), (3, 4))):
        f_v, f_e = f"aim.encoder.node_mlps.{k}", f"aim.encoder.edge_mlps.{k}"
        rules += [
            _linear(f"aim:encoder.mlp{node}.fc1", f"{f_v}.0"),
            _linear(f"aim:encoder.mlp{node}.fc2", f"{f_v}.3"),
            _bn(f"aim:encoder.mlp{node}.bn", f"{f_v}.5"),
        ]
        parts = (hid, hid) + ((hid,) if enc.edge_mlps[k].skip is not None else ())
        fwd, back = _split_columns(parts)
        ours = [f"{f_e}.receiver.weight", f"{f_e}.receiver.bias", f"{f_e}.sender.weight"]
        ours += [f"{f_e}.skip.weight"] if len(parts) == 3 else []
        rules += [
            Rule(
                (f"aim:encoder.mlp{edge}.fc1.weight", f"aim:encoder.mlp{edge}.fc1.bias"),
                tuple(ours),
                fwd,
                back,
            ),
            _linear(f"aim:encoder.mlp{edge}.fc2", f"{f_e}.rest.2"),
            _bn(f"aim:encoder.mlp{edge}.bn", f"{f_e}.rest.4"),
        ]
    rules.append(_linear("aim:encoder.fc_out", "aim.encoder.out"))

    # decoder: per-type message MLPs (type 0, the ghost, is never used), gates, output MLP
    c = model.config.num_link_types
    fc1 = [f"aim:decoder.msg_fc1.{t + 1}.{n}" for t in range(c) for n in ("weight", "bias")]
    fc2 = [f"aim:decoder.msg_fc2.{t + 1}.{n}" for t in range(c) for n in ("weight", "bias")]

    def msg1_fwd(t: Tensors) -> Tensors:
        w = torch.stack(t[0::2])  # (C, H, 2H)
        return [w[..., :hid].transpose(1, 2), torch.stack(t[1::2]), w[..., hid:].transpose(1, 2)]

    def msg1_back(t: Tensors) -> Tensors:
        w = torch.cat([t[0], t[2]], dim=1).transpose(1, 2)  # (C, H, 2H)
        return [x for i in range(c) for x in (w[i], t[1][i])]

    def msg2_fwd(t: Tensors) -> Tensors:
        return [torch.stack(t[0::2]).transpose(1, 2), torch.stack(t[1::2])]

    def msg2_back(t: Tensors) -> Tensors:
        return [x for i in range(c) for x in (t[0][i].transpose(0, 1), t[1][i])]

    dec = "aim.decoder"
    gates_in = [f"aim:decoder.input_{g}.{n}" for g in "rin" for n in ("weight", "bias")]
    gates_h = [f"aim:decoder.hidden_{g}.weight" for g in "rin"]

    def gates_in_fwd(t: Tensors) -> Tensors:
        return [torch.cat(t[0::2]), torch.cat(t[1::2])]

    def gates_in_back(t: Tensors) -> Tensors:
        ws, bs = torch.chunk(t[0], 3), torch.chunk(t[1], 3)
        return [x for g in range(3) for x in (ws[g], bs[g])]

    pair_ours = (f"{dec}.pair_receiver.weight", f"{dec}.pair_receiver.bias", f"{dec}.pair_sender.weight")
    gates_ours = (f"{dec}.gates_input.weight", f"{dec}.gates_input.bias")
    rules += [
        Rule(tuple(fc1), pair_ours, msg1_fwd, msg1_back),
        Rule(tuple(fc2), (f"{dec}.pair_out.weight", f"{dec}.pair_out.bias"), msg2_fwd, msg2_back),
        Rule(tuple(gates_in), gates_ours, gates_in_fwd, gates_in_back),
        Rule(tuple(gates_h), (f"{dec}.gates_message.weight",),
             lambda t: [torch.cat(t)], lambda t: list(torch.chunk(t[0], 3))),
        _linear("aim:decoder.out_fc1", f"{dec}.f_out.0"),
        _linear("aim:decoder.out_fc2", f"{dec}.f_out.3"),
        _linear("aim:decoder.out_fc3", f"{dec}.f_out.6"),
    ]  # fmt: skip
    return rules


# ---------------------------------------------------------------------------------- pair order ---
def _official_pair_index(num_joints: int) -> torch.Tensor:
    """``(V, V - 1)``: the official link index of our pair ``(receiver i, k-th sender)``."""
    senders = sender_index(num_joints)  # (V, V-1)
    receivers = torch.arange(num_joints)[:, None].expand_as(senders)
    # official link e: sender r, receiver c, row-major over the off-diagonal: e = r (V-1) + c - (c > r)
    return senders * (num_joints - 1) + receivers - (receivers > senders).long()


def pairs_to_official(pairs: torch.Tensor) -> torch.Tensor:
    """Our pair tensor ``(B, V, V - 1, K)`` (receiver-major) -> the official ``(B, V (V - 1), K)``."""
    b, v, _, k = pairs.shape
    out = pairs.new_empty(b, v * (v - 1), k)
    out[:, _official_pair_index(v).flatten().to(pairs.device)] = pairs.reshape(b, -1, k)
    return out


def pairs_from_official(links: torch.Tensor, num_joints: int) -> torch.Tensor:
    """The official ``(B, V (V - 1), K)`` (sender-major) -> our pair tensor ``(B, V, V - 1, K)``."""
    idx = _official_pair_index(num_joints).to(links.device)
    return links[:, idx]


# ------------------------------------------------------------------------------------ convert ---
def _strip_module(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``DataParallel`` prefixes removed, as the official loader does."""
    return {k.split("module.")[-1]: v for k, v in state.items()}


def _unused_official(model: ASGCN, like: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The never-read official tensors, as the official code has them for ``model``'s size (ones for
    the edge importance, zeros for the ghost messages), shaped like their used siblings in ``like``."""
    out = {}
    recon = len(model.predictor.collapse) + 1  # type: ignore[union-attr]
    imp = like[f"recognition:edge_importance_recon.{recon - 1}"]
    for i in range(recon, len(model.backbone)):  # one recon list per backbone block (9 for 7 blocks)
        out[f"recognition:edge_importance_recon.{i}"] = torch.ones_like(imp)
    for n in ("msg_fc1", "msg_fc2"):  # the ghost type's messages (skip_first)
        for p in ("weight", "bias"):
            out[f"aim:decoder.{n}.0.{p}"] = torch.zeros_like(like[f"aim:decoder.{n}.1.{p}"])
    return out


def unused_official_keys(model: ASGCN) -> list[str]:
    """The official keys (``"recognition:<key>"`` / ``"aim:<key>"``) the official forward never reads,
    for an official-preset ``model``: on NTU ``edge_importance_recon.7``, ``.8`` and the decoder's
    ``msg_fc1.0.*``, ``msg_fc2.0.*``."""
    return sorted(_unused_official(model, _mapped_official(model, official_rules(model))))


def _mapped_official(model: ASGCN, rules: list[Rule]) -> dict[str, torch.Tensor]:
    ours = model.state_dict()
    out: dict[str, torch.Tensor] = {}
    for rule in rules:
        for key, t in zip(rule.official, rule.to_official([ours[k] for k in rule.ours]), strict=True):
            out[key] = t.contiguous()
    return out


def _expected_official(model: ASGCN, rules: list[Rule]) -> dict[str, torch.Tensor]:
    """All the official tensors ``model`` corresponds to: mapped, never-read (ones / zeros), ``A``."""
    out = _mapped_official(model, rules)
    out.update(_unused_official(model, out))
    gcn = model.backbone[0].gcn
    out["recognition:A"] = _column_kernels(kernel_order(gcn.num_structural))[1](gcn.structural).contiguous()
    return out


def to_official_state_dicts(model: ASGCN) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """``(model1, model2)`` state dicts the official code loads (``load_state_dict``, strict) for an
    official-preset ``model``. The never-read keys (:func:`unused_official_keys`) get ones (edge
    importance, as they are in every official checkpoint: never trained) and zeros (ghost messages)."""
    full = _expected_official(model, official_rules(model))
    rec = {k.split(":", 1)[1]: v.clone() for k, v in full.items() if k.startswith("recognition:")}
    aim = {k.split(":", 1)[1]: v.clone() for k, v in full.items() if k.startswith("aim:")}
    return rec, aim


def _mismatch(what: str, missing: list[str], unexpected: list[str], shapes: list[str]) -> ValueError:
    parts = []
    if missing:
        parts.append(f"missing keys ({len(missing)}): {', '.join(sorted(missing))}")
    if unexpected:
        parts.append(f"unexpected keys ({len(unexpected)}): {', '.join(sorted(unexpected))}")
    if shapes:
        parts.append(f"wrong shapes ({len(shapes)}): {'; '.join(shapes)}")
    return ValueError(f"{what} does not fit the official AS-GCN architecture asked for: " + "; ".join(parts))


def from_official_state_dicts(
    recognition: Mapping[str, torch.Tensor],
    aim: Mapping[str, torch.Tensor],
    *,
    num_classes: int,
    layout: str = "ntu25",
    in_channels: int = 3,
    sources: tuple[str, str] = ("recognition state dict (model1)", "A-link state dict (model2)"),
    **options: Any,
) -> ASGCN:
    """An ``official``-preset :class:`~.model.ASGCN` holding the official code's weights.

    Args:
        recognition: the official ``Model`` state dict (``epoch<k>_model1.pt``).
        aim: the official ``AdjacencyLearn`` state dict (``epoch<k>_model2.pt``).
        num_classes, layout, in_channels: as the official ``num_class``, graph layout and
            ``in_channels`` (``"ntu25"`` is the official ``"ntu-rgb+d"``).
        sources: names of the two inputs used in error messages (the file paths).
        options: further :class:`~.config.ASGCNConfig` options (e.g. ``aim_hidden`` for another
            ``n_hid_enc``); they must keep the official architecture.

    Raises:
        ValueError: a key is missing or unexpected, a shape differs, or the official S-link buffer
            ``A`` is not this layout's (another ``max_hop`` or layout), naming the keys and the input.

    Returns:
        The model in eval mode. Its forward matches the official forward given the same A-links
        (``scripts/check_official_parity.py``); evaluation links differ by design: the official
        code samples Gumbel noise at test time, ours take the noiseless argmax.
    """
    model = build(
        "asgcn", num_classes=num_classes, layout=layout, in_channels=in_channels, preset="official", **options
    )
    rules = official_rules(model)
    expected = _expected_official(model, rules)
    given = {
        "recognition": _strip_module(recognition),
        "aim": _strip_module(aim),
    }
    for i, (file, state) in enumerate(given.items()):
        want = {k.split(":", 1)[1]: v for k, v in expected.items() if k.startswith(file + ":")}
        optional = {k for k in want if k.endswith(".num_batches_tracked")}  # absent before PyTorch 0.4.1
        missing = [k for k in want if k not in state and k not in optional]
        unexpected = [k for k in state if k not in want]
        shapes = [
            f"{k} is {tuple(state[k].shape)}, expected {tuple(want[k].shape)}"
            for k in want
            if k in state and tuple(state[k].shape) != tuple(want[k].shape)
        ]
        if missing or unexpected or shapes:
            raise _mismatch(sources[i], missing, unexpected, shapes)
    a = given["recognition"]["A"].to(expected["recognition:A"].dtype)
    if not torch.allclose(a, expected["recognition:A"], atol=1e-6):
        raise ValueError(
            f"{sources[0]}: its S-link buffer 'A' is not the official 'spatial' graph of layout {layout!r} "
            f"with max_hop={model.config.order} (pass layout= / order= as it was trained)"
        )
    state: dict[str, torch.Tensor] = {}
    ours = model.state_dict()
    for rule in rules:
        tensors = []
        for key in rule.official:
            file, name = key.split(":", 1)
            t = given[file].get(name)
            if t is None:  # an optional num_batches_tracked
                t = torch.zeros((), dtype=torch.long)
            tensors.append(t)
        for key, t in zip(rule.ours, rule.to_ours(tensors), strict=True):
            state[key] = t.to(ours[key].dtype).reshape(ours[key].shape)
    model.load_state_dict(state, strict=True)
    return model.eval()


def _load(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    state = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping):
        raise ValueError(f"{path}: expected a state dict (the official code's torch.save of state_dict())")
    return dict(state)


def from_official(
    family: str,
    recognition_ckpt: str | os.PathLike[str] | Mapping[str, torch.Tensor],
    aim_ckpt: str | os.PathLike[str] | Mapping[str, torch.Tensor],
    *,
    num_classes: int,
    layout: str = "ntu25",
    **options: Any,
) -> ASGCN:
    """A skelact model from the two state dicts an official code base saves.

    ``family="asgcn"`` (the only one with a released training code here): ``recognition_ckpt`` is
    limaosen0/AS-GCN's ``epoch<k>_model1.pt``, ``aim_ckpt`` its ``epoch<k>_model2.pt``, each a path
    (read with ``torch.load(weights_only=True)``) or a loaded state dict. See
    :func:`from_official_state_dicts`.

    >>> import torch
    >>> from skelact.models import build, from_official
    >>> from skelact.models.asgcn.official import to_official_state_dicts
    >>> m1, m2 = to_official_state_dicts(build("asgcn", num_classes=60, preset="official"))
    >>> model = from_official("asgcn", m1, m2, num_classes=60, layout="ntu25")
    >>> model(torch.zeros(1, 3, 40, 25, 2)).shape
    torch.Size([1, 60])
    """
    if family != "asgcn":
        raise ValueError(f"from_official: no official converter for family {family!r} (known: 'asgcn')")
    states, names = [], []
    for ckpt, what in ((recognition_ckpt, "recognition (model1)"), (aim_ckpt, "A-link (model2)")):
        if isinstance(ckpt, Mapping):
            states.append(ckpt)
            names.append(f"{what} state dict")
        else:
            states.append(_load(ckpt))
            names.append(str(ckpt))
    return from_official_state_dicts(
        states[0], states[1], num_classes=num_classes, layout=layout, sources=(names[0], names[1]), **options
    )
