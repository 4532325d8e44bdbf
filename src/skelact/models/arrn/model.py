"""Two-stream ARRN-LSTM: embedding, RRN, attention, multi-layer LSTM, classifier and score fusion.

Li, Lin, Xie, Chen, Ma, Zheng, "Skeleton-Based Action Recognition with Attentional Recurrent
Relational Network-LSTM" (arrn-lstm.txt). One stream (Sec. 3.2, Fig. 2) per frame ``t``:

    v_{t,i} = Emb(c_{t,i})  or  Emb(l_{t,i})          joint / line embedding     (eqs. 1, 3)
    w_t     = Rrn(v_{t,1}, ..., v_{t,J})              relational network         (eqs. 4-8)
    p_t     = Fc(m_1 w_{t,1}, ..., m_J w_{t,J})       attention mask + FC        (eq. 9)
    q_1..T  = Multi_lstm(p_1, ..., p_T)               H stacked LSTM layers      (eq. 10)
    y       = softmax(Fc(q_1, ..., q_T))              classifier                 (eq. 11)

and the two streams are fused on their softmax scores, ``y = a y_joint + (1 - a) y_line`` (eq. 12).

Choices where the paper is silent are documented on the classes and in docs/models/arrn_lstm.md:
bodies are separate node sets pooled per frame after the RRN, the classifier reads the mean of
``q_t`` over time by default, the LSTM stack is ``[h, mid, h]`` for ``H = 3``, the attention mask
starts at ones.

Input: a batch ``(N, C, T, V, M)`` of hip-centred joints (Sec. 4.1 subtracts the mean of the 5 joints
nearest the hip; that is the data pipeline's ``CenterOnHip`` transform, not done here: the model
works on whatever coordinates it is given). Any ``T`` works unless ``readout="concat"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...data.layouts import Layout, get_layout
from ...data.lines import line_features
from ...errors import ConfigError
from ..registry import register_model
from .config import (  # noqa: F401  (ATTENTION_INITS, LAYOUT_PRESETS, PRESETS, ARRNOptions: re-exported)
    ATTENTION_INITS,
    BODY_POOLS,
    LAYOUT_PRESETS,
    PRESETS,
    READOUTS,
    STREAMS,
    ARRNOptions,
    resolve_config,
)
from .fusion import fit_fusion_alpha, fused_log_scores
from .rrn import RecurrentRelationalNetwork

__all__ = [
    "ARRNLSTM",
    "ARRNStream",
    "NodeAttention",
    "StackedLSTM",
    "arrn_lstm",
    "build_arrn_lstm",
]


class NodeAttention(nn.Module):
    """Attentional module (eq. 9): a learnable per-node mask, then one FC layer to ``out_dim``.

    ``p_t = Fc(m_1 w_{t,1}, ..., m_J w_{t,J})``: node ``i``'s features are scaled by ``m_i``, the
    ``J`` scaled nodes are concatenated (node-major) and mapped to ``out_dim`` (paper: 256) by a
    linear layer. With ``attention=False`` there is no mask (the RRN-LSTM rows of Table 2), the FC
    stays.

    The paper says the mask "could be a random vector"; ``init="ones"`` (default) starts from no
    reweighting so an ARRN starts as its RRN-LSTM, ``init="random"`` draws ``U(0, 1)``.
    """

    def __init__(self, num_nodes: int, dim: int, out_dim: int = 256, attention: bool = True,
                 init: str = "ones"):
        super().__init__()
        self.num_nodes = num_nodes
        if attention:
            mask = torch.ones(num_nodes) if init == "ones" else torch.rand(num_nodes)
            self.mask = nn.Parameter(mask)  # (J,)
        else:
            self.register_parameter("mask", None)
        self.fc = nn.Linear(num_nodes * dim, out_dim)

    def weights(self) -> torch.Tensor:
        """The node weights ``m`` (J,); all ones when attention is off."""
        if self.mask is None:
            return self.fc.weight.new_ones(self.num_nodes)
        return self.mask

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        """``(..., J, D) -> (..., out_dim)``."""
        if self.mask is not None:
            w = w * self.mask.unsqueeze(-1)  # (..., J, D)
        return self.fc(w.flatten(-2))  # (..., out_dim)


class StackedLSTM(nn.Module):
    """Multi-layer LSTM of eq. 10 whose layers may differ in width (``nn.LSTM`` needs equal ones).

    ``sizes`` are the output sizes of the ``H`` layers (paper, Sec. 4.1: input 256, output
    ``h = 512``, mid layer 512 / 256 / 256 for NTU / Florence3D / MSRAction3D). Dropout ``p``
    between layers. ``(N, T, input_size) -> (N, T, sizes[-1])``.
    """

    def __init__(self, input_size: int, sizes: Sequence[int], dropout: float = 0.0):
        super().__init__()
        ins = [input_size, *sizes[:-1]]
        self.layers = nn.ModuleList(nn.LSTM(i, o, batch_first=True) for i, o in zip(ins, sizes, strict=True))
        self.dropout = nn.Dropout(dropout)
        self.output_size = sizes[-1]

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        q = p
        for k, layer in enumerate(self.layers):
            if k:
                q = self.dropout(q)
            q, _ = layer(q)  # (N, T, sizes[k])
        return q


def _bodies_to_compute(x: torch.Tensor) -> torch.Tensor:
    """Which (sample, frame, body) node sets take part, ``(N, T, M)`` bool, from ``x (N, C, T, V, M)``.

    A body is present in a frame when any of its coordinates is non-zero (skelact pads missing
    bodies and frames with zeros). A frame with no body at all (zero padding) keeps body 0 only:
    every body of it has the same all-zero input and so the same features, so one stands for all.
    """
    present = x.ne(0).any(dim=1).any(dim=2)  # (N, T, M)
    first = torch.arange(x.shape[-1], device=x.device) == 0  # (M,)
    return present | (~present.any(dim=-1, keepdim=True) & first)


class ARRNStream(nn.Module):
    """One stream of ARRN-LSTM (Fig. 2): joints (eq. 1) or lines (eqs. 2-3) -> class logits (eq. 11).

    Args:
        num_classes: ``K``.
        num_joints: ``J``.
        in_channels: ``C`` of the input joints (3 for x, y, z).
        line: ``False`` for the joint stream, ``True`` for the line stream (input per joint: its
            ``C (J-1)`` differences to the other joints, :func:`~skelact.data.lines.line_features`).
        embed_dim: ``M`` of eqs. 1/3, also the RRN state size.
        iterations: ``E`` RRN iterations.
        message_hidden: hidden width of the message MLP ``f`` (default ``embed_dim``).
        attention: learnable node mask of eq. 9 (ARRN) or not (RRN).
        attention_init: ``"ones"`` or ``"random"``, see :class:`NodeAttention`.
        attention_dim: output size of the FC of eq. 9 (paper: 256).
        lstm_sizes: output size of each LSTM layer (eq. 10).
        readout: which LSTM outputs feed the classifier of eq. 11: ``"mean"`` over time (default;
            any ``T``), ``"last"`` step, or ``"concat"`` of all ``T`` steps (eq. 11 read literally;
            needs exactly ``frames`` input frames).
        frames: the expected input length ``T`` (only enforced by ``readout="concat"``).
        dropout: dropout on the LSTM input, between LSTM layers and before the classifier.
        body_pool: ``"mean"`` or ``"max"`` over the bodies present in a frame (see :meth:`forward`).
        skip_empty_bodies: run the RRN only on present bodies (identical output, less work when a
            second body is missing); turn off for exporters that cannot handle data-dependent shapes.
        checkpoint: recompute the RRN's per-pair message activations in the backward pass instead
            of storing them (less memory, ~30 % more training compute; same gradients).
    """

    def __init__(self, num_classes: int, num_joints: int, in_channels: int = 3, *, line: bool = False,
                 embed_dim: int = 50, iterations: int = 5, message_hidden: int | None = None,
                 attention: bool = True, attention_init: str = "ones", attention_dim: int = 256,
                 lstm_sizes: Sequence[int] = (512, 512, 512), readout: str = "mean",
                 frames: int | None = None, dropout: float = 0.0, body_pool: str = "mean",
                 skip_empty_bodies: bool = True, checkpoint: bool = False):
        super().__init__()
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
        if body_pool not in BODY_POOLS:
            raise ValueError(f"body_pool must be one of {BODY_POOLS}, got {body_pool!r}")
        if readout == "concat" and not frames:
            raise ValueError("readout='concat' needs the number of input frames")
        self.line, self.readout, self.frames = line, readout, frames
        self.body_pool, self.skip_empty_bodies = body_pool, skip_empty_bodies
        node_in = in_channels * (num_joints - 1) if line else in_channels
        self.embed = nn.Linear(node_in, embed_dim)  # Emb, eq. 1 (joints) / eq. 3 (lines)
        self.rrn = RecurrentRelationalNetwork(embed_dim, iterations, message_hidden, checkpoint)  # eqs. 4-8
        self.attention = NodeAttention(num_joints, embed_dim, attention_dim, attention, attention_init)
        self.input_dropout = nn.Dropout(dropout)
        self.temporal = StackedLSTM(attention_dim, lstm_sizes, dropout)  # eq. 10
        self.dropout = nn.Dropout(dropout)
        feat = lstm_sizes[-1] * (frames if readout == "concat" else 1)
        self.classifier = nn.Linear(feat, num_classes)  # Fc of eq. 11

    def relate(self, x: torch.Tensor) -> torch.Tensor:
        """Embedding and RRN per frame and body, pooled over bodies: ``(N, C, T, V, M) -> (N, T, V, D)``.

        Multi-body input (the paper is silent; NTU has M = 2): each body of a frame is its own
        node set of ``J`` nodes (no messages between persons, as each skeleton is "a single
        skeleton" in Sec. 3.2.2); the RRN outputs ``w_t`` (eq. 8) are then pooled node-wise over
        the bodies present in that frame (``body_pool``), so a missing second person (all zeros)
        does not dilute the features of the first. Pooling before eq. 9 keeps one node set per
        frame for the attention mask, and mean pooling there equals mean pooling after the
        (linear) attention FC.
        """
        n, _, t, v, m = x.shape
        nodes = x.permute(0, 2, 4, 3, 1)  # (N, T, M, V, C)
        if self.line:
            nodes = line_features(nodes)  # (N, T, M, V, C (V-1)), eq. 2
        emb = self.embed(nodes)  # (N, T, M, V, D), eq. 1 / 3
        d = emb.shape[-1]
        keep = _bodies_to_compute(x)  # (N, T, M)
        sets = emb.reshape(n * t * m, v, d)  # (B, V, D): one node set per frame and body
        if self.skip_empty_bodies and m > 1:
            sel = keep.reshape(-1).nonzero().squeeze(1)  # (B',)
            w_sel = self.rrn(sets.index_select(0, sel))  # (B', V, D)
            w = torch.zeros_like(sets).index_copy(0, sel, w_sel)  # (B, V, D), zeros where skipped
        else:
            w = self.rrn(sets)  # (B, V, D)
        w = w.view(n, t, m, v, d)
        mask = keep[..., None, None]  # (N, T, M, 1, 1)
        if self.body_pool == "max":
            return w.masked_fill(~mask, float("-inf")).amax(dim=2)  # (N, T, V, D)
        return (w * mask).sum(dim=2) / mask.sum(dim=2)  # (N, T, V, D)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The LSTM outputs ``q_1..q_T`` (eq. 10), ``(N, T, h)``."""
        w = self.relate(x)  # (N, T, V, D)
        p = self.attention(w)  # (N, T, attention_dim), eq. 9
        return self.temporal(self.input_dropout(p))  # (N, T, h), eq. 10

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, T, V, M) -> (N, K)`` logits; ``softmax`` of them is ``y_j`` / ``y_l`` of eq. 11."""
        return self.classify(self.features(x))

    def classify(self, q: torch.Tensor) -> torch.Tensor:
        """The readout of eq. 11 over LSTM outputs ``q`` ``(N, T, h)`` (mean, last or concat), then
        dropout and the classifier: ``(N, K)`` logits."""
        if self.readout == "mean":
            z = q.mean(dim=1)
        elif self.readout == "last":
            z = q[:, -1]
        else:
            if q.shape[1] != self.frames:
                raise ValueError(f"readout='concat' needs T={self.frames} input frames, got {q.shape[1]}")
            z = q.flatten(1)
        return self.classifier(self.dropout(z))  # (N, K)


class ARRNLSTM(nn.Module):
    """Two-stream Attentional Recurrent Relational Network-LSTM (Li et al., arrn-lstm.txt).

    ``stream="joint"`` or ``"line"`` is one :class:`ARRNStream` (eq. 11); ``"two_stream"`` holds
    both and fuses their softmax scores with the weight ``fusion_alpha`` (eq. 12), a buffer saved
    in the state dict and set on validation scores by :meth:`fit_fusion` (0.5 until then). Stream
    keyword arguments are those of :class:`ARRNStream`. ``label_smoothing`` smooths the targets
    of every stream's cross-entropy in :meth:`losses` (0: the paper's plain cross-entropy).

    Build it through the registry: ``skelact.models.build("arrn_lstm", num_classes=60)``.
    """

    def __init__(self, num_classes: int, num_joints: int, in_channels: int = 3,
                 stream: str = "two_stream", label_smoothing: float = 0.0, **stream_kwargs: Any):
        super().__init__()
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {label_smoothing!r}")
        self.label_smoothing = float(label_smoothing)
        names = STREAMS if stream == "two_stream" else (stream,)
        if any(s not in STREAMS for s in names):
            raise ValueError(f"stream must be 'joint', 'line' or 'two_stream', got {stream!r}")
        self.stream = stream
        self.num_classes = num_classes
        self.streams = nn.ModuleDict({
            s: ARRNStream(num_classes, num_joints, in_channels, line=(s == "line"), **stream_kwargs)
            for s in names
        })
        if stream == "two_stream":
            self.register_buffer("fusion_alpha", torch.tensor(0.5))
        self.hparams: dict[str, Any] = {}

    def stream_logits(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each stream's logits ``{"joint": (N, K), "line": (N, K)}`` (the streams present)."""
        return {name: s(x) for name, s in self.streams.items()}

    def fuse(self, joint_logits: torch.Tensor, line_logits: torch.Tensor) -> torch.Tensor:
        """Fused log-scores (eq. 12) with the stored ``fusion_alpha``, ``(N, K)``."""
        return fused_log_scores(joint_logits, line_logits, self.fusion_alpha)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, T, V, M) -> (N, K)`` logits; for two streams ``log y`` of eq. 12 (softmax = ``y``)."""
        logits = self.stream_logits(x)
        if self.stream != "two_stream":
            return logits[self.stream]
        return self.fuse(logits["joint"], logits["line"])

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Training objective: cross-entropy of each stream, summed (both streams are trained).

        Two streams: ``{"loss", "ce"}`` = ``ce_joint + ce_line``, plus ``"ce_joint"``, ``"ce_line"``
        and ``"ce_fused"`` (NLL of the fused score, detached: for monitoring only).
        One stream: ``{"loss", "ce"}``.
        """
        logits = self.stream_logits(x)
        smooth = self.label_smoothing
        if self.stream != "two_stream":
            ce = F.cross_entropy(logits[self.stream], y, label_smoothing=smooth)
            return {"loss": ce, "ce": ce}
        ce_j = F.cross_entropy(logits["joint"], y, label_smoothing=smooth)
        ce_l = F.cross_entropy(logits["line"], y, label_smoothing=smooth)
        total = ce_j + ce_l
        with torch.no_grad():
            ce_fused = F.nll_loss(self.fuse(logits["joint"], logits["line"]), y)
        return {"loss": total, "ce": total, "ce_joint": ce_j, "ce_line": ce_l, "ce_fused": ce_fused}

    def fit_fusion(self, joint_scores: Any, line_scores: Any, labels: Any,
                   grid: Iterable[float] | None = None, logits: bool = True) -> float:
        """Pick ``fusion_alpha`` on validation scores, store and return it
        (:func:`skelact.models.arrn.fusion.fit_fusion_alpha`).

        ``grid`` defaults to :data:`skelact.models.arrn.fusion.ALPHA_GRID` (0, 0.05, ..., 1). Scores are
        the per-stream logits of :meth:`stream_logits` (e.g. from
        :func:`skelact.evaluation.collect_scores`), or probabilities with ``logits=False``.
        """
        if self.stream != "two_stream":
            raise RuntimeError("fit_fusion needs a two-stream model")
        alpha, _ = fit_fusion_alpha(joint_scores, line_scores, labels, grid, logits)
        self.fusion_alpha.fill_(alpha)
        return alpha

    def attention_weights(self) -> dict[str, torch.Tensor]:
        """The learned node mask ``m`` of eq. 9 per stream, ``{stream: (V,)}`` (detached copies).

        Ones for a stream without attention (RRN-LSTM), i.e. the weighting it effectively applies.
        """
        return {name: s.attention.weights().detach().clone() for name, s in self.streams.items()}


# --------------------------------------------------------------------------- builder ------------


@register_model("arrn_lstm")
def build_arrn_lstm(num_classes: int, layout: str | Layout = "ntu25", in_channels: int = 3,
                    stream: str = "two_stream", preset: str | None = None, frames: int | None = None,
                    **options: Any) -> ARRNLSTM:
    """Build (two-stream) (A)RRN-LSTM for ``layout``; options are the fields of
    :class:`~skelact.models.arrn.config.ARRNOptions`.

    ``preset`` (``"ntu"``, ``"florence3d"``, ``"msr3d"``) sets M and the mid LSTM size of Sec. 4.1;
    by default it follows the layout (:data:`~skelact.models.arrn.config.LAYOUT_PRESETS`). Explicit
    options win over the preset (:func:`~skelact.models.arrn.config.resolve_config`).
    ``frames`` is the clip length ``T`` (the training engine passes ``data.frames``); only
    ``readout="concat"`` depends on it, and needs it. The resolved settings are stored as
    ``model.hparams``.

    >>> build_arrn_lstm(num_classes=20, layout="kinect20", stream="joint", attention=False)  # doctest: +SKIP
    """
    lay = get_layout(layout)
    if stream not in (*STREAMS, "two_stream"):
        raise ConfigError(f"arrn_lstm: stream must be 'joint', 'line' or 'two_stream', got {stream!r}")
    opts = resolve_config(preset, lay, **options)
    if num_classes < 1 or in_channels < 1:
        raise ConfigError("arrn_lstm: num_classes and in_channels must be >= 1")
    if frames is not None and int(frames) < 1:
        raise ConfigError(f"arrn_lstm: frames must be >= 1, got {frames!r}")
    if opts.readout == "concat" and frames is None:
        raise ConfigError("arrn_lstm: readout='concat' needs frames= (the clip length T; a config's "
                          "data.frames)")
    model = ARRNLSTM(
        num_classes, lay.num_joints, in_channels, stream,
        embed_dim=opts.embed_dim, iterations=opts.iterations, message_hidden=opts.message_hidden,
        attention=opts.attention, attention_init=opts.attention_init, attention_dim=opts.attention_dim,
        lstm_sizes=opts.lstm_sizes, readout=opts.readout, frames=frames, dropout=opts.dropout,
        body_pool=opts.body_pool, skip_empty_bodies=opts.skip_empty_bodies, checkpoint=opts.checkpoint,
        label_smoothing=opts.label_smoothing,
    )
    hparams = asdict(opts)
    hparams["lstm_sizes"] = list(opts.lstm_sizes)  # plain lists: YAML/JSON friendly
    hparams["frames"] = None if frames is None else int(frames)
    model.hparams = {"num_classes": num_classes, "layout": lay.name, "in_channels": in_channels,
                     "stream": stream, "preset": opts.preset, **hparams}
    return model


#: The builder's former name, kept as an alias of :func:`build_arrn_lstm` (same function).
arrn_lstm = build_arrn_lstm
