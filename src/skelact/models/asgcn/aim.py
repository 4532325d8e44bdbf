"""A-link inference module (AIM, Sec. 4.1, Fig. 4): encoder (eqs. 2, 3), decoder (steps a-d).

Per body, the AIM sees ``F`` frames of raw joint coordinates (``aim_frames``, sampled uniformly
from the valid part of the sequence, see :func:`sample_window`) and works on the ``V (V - 1)``
ordered joint pairs ``(i, j)``, ``i`` the *receiver*, ``j != i`` the *sender*. Pair tensors are
``(..., V, V - 1, H)``: receiver-major, senders of receiver ``i`` in increasing order
(:func:`sender_index`), so aggregating the links of a joint is a reduction over one axis and
joint -> link expansion is one gather. Nothing loops over joints, pairs or frames.

* **Encoder** (eq. 2): ``p_i^(0) = x_i = vec(X_i,:,:)``; for ``k = 0..K-1``:
  ``Q_ij^(k+1) = f_e^(k)(f_v^(k)(p_i^(k)) (+) f_v^(k)(p_j^(k)))`` and
  ``p_i^(k+1) = F(Q_i,:^(k+1)) (+) p_i^(k)`` (``F`` = mean over senders, ``(+)`` = concatenation).
  A linear layer maps ``Q^(K)`` to logits over the link types (ghost first, then ``C`` A-link types).
* **Links** (eq. 3): ``A_ij,: = softmax((Q_ij + r) / tau)``, ``r`` i.i.d. Gumbel(0, 1)
  (:func:`gumbel_softmax`); ``hard=True`` gives straight-through one-hot samples (official code).
* **Decoder**: (a) ``Q_ij^t = sum_c A_ijc f_e^(c)(f_v^(c)(x_i^t) (+) f_v^(c)(x_j^t))`` over the
  ``C`` A-link types (the ghost type carries no message); (b) ``p_i^t = F(Q_i,:^t) (+) x_i^t``;
  (c) ``S_i^(t+1) = GRU(S_i^t, p_i^t)``; (d) ``mu_i^(t+1) = x_i^t + f_out(S_i^(t+1))``.
  Messages depend on the observed poses only (teacher forcing), so (a), (b), (d) run on all frames
  at once and (c) is one ``nn.GRU`` call over the sequence. (d) predicts the *displacement* to the
  next pose, as the official / NRI decoder does; the paper writes ``f_out(S)`` for the mean itself.
* **Loss**: ``L_AIM = sum_i sum_t ||x_i^t - mu_i^t||^2 / (2 sigma^2) + KL(A || A^(0))`` with the
  prior ``A^(0)`` = ``P0`` on the ghost type and ``(1 - P0) / C`` on each A-link type
  (see :mod:`skelact.models.asgcn.losses`).

The first linear layer of every pair MLP is applied to the two joints separately
(``W [h_i; h_j] = W_r h_i + W_s h_j``) and then broadcast over pairs: the same function as the
concatenation, ``V - 1`` times fewer multiplications.

**Official / NRI variants** (the ``official`` preset; ``docs/models/asgcn.md``, "Paper vs official
code"): ``aim_encoder="nri"`` wires the encoder as the official code's NRI encoder,
``p_i^(k+1) = sum_j Q_ij^(k+1) / V`` (no concatenation with ``p^(k)``) and, from the second
iteration on, ``Q_ij^(k+1) = f_e^(k)(f_v^(k)(p_i) (+) f_v^(k)(p_j) (+) Q_ij^(k))`` (an edge skip);
``aim_decoder="recurrent"`` is its NRI recurrent decoder (:class:`RecurrentDecoder`): the messages
of step (a) come from the recurrent state ``S^t`` instead of the poses, so the frames run one after
the other.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .losses import gaussian_nll, kl_categorical

#: The AIM's wirings (``AIM(encoder=..., decoder=..., aggregation=...)``; ``model.options.aim_*``).
ENCODERS = ("eq2", "nri")
DECODERS = ("poses", "recurrent")
AGGREGATIONS = ("mean", "nri")

__all__ = [
    "AGGREGATIONS",
    "AIM",
    "AIMDecoder",
    "AIMEncoder",
    "DECODERS",
    "ENCODERS",
    "RecurrentDecoder",
    "gumbel_softmax",
    "link_prior",
    "sample_window",
    "sender_index",
    "to_dense",
]


# --------------------------------------------------------------------------- pair bookkeeping ---
def sender_index(num_joints: int) -> torch.Tensor:
    """``(V, V - 1)`` long: row ``i`` lists the senders ``j != i`` of receiver ``i`` in order."""
    cols = np.arange(num_joints - 1)[None, :]
    rows = np.arange(num_joints)[:, None]
    return torch.from_numpy(cols + (cols >= rows)).long()


def to_dense(pairs: torch.Tensor, senders: torch.Tensor, diagonal: float = 0.0) -> torch.Tensor:
    """Pair values ``(B, V, V - 1, K)`` -> dense ``(B, K, V, V)`` (row = receiver, column = sender).

    The diagonal (no pair) is filled with ``diagonal``.
    """
    b, v, _, k = pairs.shape
    dense = pairs.new_full((b, v, v, k), diagonal)
    rows = torch.arange(v, device=senders.device)[:, None].expand_as(senders)
    dense[:, rows, senders] = pairs  # differentiable scatter of all pairs at once
    return dense.permute(0, 3, 1, 2)


def link_prior(num_link_types: int, ghost_prior: float) -> torch.Tensor:
    """Prior ``A^(0)`` over the link types: ``[P0, (1-P0)/C, ...]`` (ghost first); uniform if ``P0 = 0``.

    The paper prints ``P0 / C`` for the A-link types, which does not sum to one; the official code
    (``prior = [0.95, 0.05/2, 0.05/2]``) and the text ("the ghost link still ensures that the
    probabilities sum up to one") give ``(1 - P0) / C``.
    """
    rest = [(1.0 - ghost_prior) / num_link_types] * num_link_types
    return torch.tensor(([ghost_prior] if ghost_prior > 0 else []) + rest, dtype=torch.float32)


# ------------------------------------------------------------------------------------ sampling ---
def sample_window(x: torch.Tensor, frames: int, random_offset: bool = False) -> torch.Tensor:
    """The AIM input: ``frames`` frames sampled uniformly over each sample's valid frames.

    Args:
        x: ``(N, C, T, V, M)``; frames after the last non-zero frame count as padding.
        frames: ``F``; any ``T >= 1`` works (frames repeat when ``T < F``).
        random_offset: shift the sampling grid by a random offset within one step (training),
            as the official data feeder does; else start at the first frame.

    Returns:
        ``(N M, F, V, C)``: one window per body, bodies folded into the batch (``n * M + m``).
    """
    n, c, t, v, m = x.shape
    valid = x.detach().abs().sum(dim=(1, 3, 4)) > 0  # (N, T)
    last = (valid * torch.arange(1, t + 1, device=x.device)).amax(dim=1)  # (N,) 0 = empty sample
    length = torch.where(last > 0, last, torch.full_like(last, t))  # valid frames, (N,) long
    # frame j of the window: floor(j L / F), in exact integer arithmetic
    idx = torch.arange(frames, device=x.device)[None] * length[:, None] // frames  # (N, F)
    if random_offset:
        span = (length + frames - 1) // frames  # ceil(L / F): the sampling step, rounded up
        idx = idx + (torch.rand(n, 1, device=x.device) * span[:, None]).long()
    idx = torch.minimum(idx, length[:, None] - 1)
    xb = x.permute(0, 4, 2, 3, 1)  # (N, M, T, V, C)
    gathered = torch.gather(xb, 2, idx[:, None, :, None, None].expand(n, m, frames, v, c))
    return gathered.reshape(n * m, frames, v, c)


def gumbel_softmax(logits: torch.Tensor, tau: float = 0.5, hard: bool = False) -> torch.Tensor:
    """Eq. 3: ``softmax((logits + r) / tau)`` over the last axis, ``r ~ Gumbel(0, 1)`` i.i.d.

    ``hard=True``: one-hot of the sample in the forward pass, soft gradient in the backward pass
    (straight-through, the official code's ``hard=True``).
    """
    u = torch.rand_like(logits).clamp_(1e-10, 1.0 - 1e-7)
    y = torch.softmax((logits - torch.log(-torch.log(u))) / tau, dim=-1)
    return _straight_through(y) if hard else y


def _straight_through(y: torch.Tensor) -> torch.Tensor:
    one_hot = F.one_hot(y.argmax(dim=-1), y.shape[-1]).to(y.dtype)
    return one_hot - y.detach() + y


# ------------------------------------------------------------------------------------- layers ---
class FeatureBatchNorm(nn.BatchNorm1d):
    """``BatchNorm1d`` over the last axis of a tensor with any number of leading axes."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.reshape(-1, x.shape[-1])).view(x.shape)


class MLP(nn.Sequential):
    """Two-layer ELU MLP with batch-norm (NRI / official AIM encoder): ``f_v``."""

    def __init__(self, in_features: int, hidden: int, out_features: int, dropout: float = 0.0):
        super().__init__(
            nn.Linear(in_features, hidden),
            nn.ELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, out_features),
            nn.ELU(),
            FeatureBatchNorm(out_features),
        )


class PairMLP(nn.Module):
    """``f_e(h_i (+) h_j [(+) e_ij])`` for every ordered pair: ``(..., V, H) -> (..., V, V - 1, out)``.

    ``skip > 0``: the first layer also reads a pair feature ``e_ij`` of that size (``W_e e_ij``),
    the NRI encoder's edge skip connection.
    """

    def __init__(self, in_features: int, hidden: int, out_features: int, dropout: float = 0.0, skip: int = 0):
        super().__init__()
        self.receiver = nn.Linear(in_features, hidden)  # W_r h_i + b
        self.sender = nn.Linear(in_features, hidden, bias=False)  # W_s h_j
        self.skip = nn.Linear(skip, hidden, bias=False) if skip else None  # W_e e_ij
        self.rest = nn.Sequential(
            nn.ELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, out_features),
            nn.ELU(),
            FeatureBatchNorm(out_features),
        )

    def forward(
        self, h: torch.Tensor, senders: torch.Tensor, pairs: torch.Tensor | None = None
    ) -> torch.Tensor:
        pre = self.receiver(h).unsqueeze(-2) + self.sender(h)[..., senders, :]  # (..., V, V-1, hidden)
        if self.skip is not None:
            pre = pre + self.skip(pairs)
        return self.rest(pre)


class TypedLinear(nn.Module):
    """One linear map per link type, applied together: ``(C, ..., in) -> (C, ..., out)``.

    An input without the leading type axis is broadcast to all types.
    """

    def __init__(self, num_types: int, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_types, in_features, out_features))
        self.bias = nn.Parameter(torch.empty(num_types, out_features)) if bias else None
        bound = 1.0 / math.sqrt(in_features)  # as nn.Linear
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor, typed: bool = True) -> torch.Tensor:
        c, fin, fout = self.weight.shape
        lead = x.shape[1:-1] if typed else x.shape[:-1]
        flat = x.reshape(c if typed else 1, -1, fin)
        y = torch.matmul(flat, self.weight)  # (C, rows, out)
        if self.bias is not None:
            y = y + self.bias[:, None, :]
        return y.view(c, *lead, fout)


# ------------------------------------------------------------------------------------ encoder ---
class AIMEncoder(nn.Module):
    """Eqs. 2-3: joint <-> link propagation, ``K`` iterations, then link-type logits.

    Args:
        in_features: per-joint input size ``F * channels`` (``x_i = vec(X_i,:,:)``).
        hidden: width of ``f_v``, ``f_e`` (paper: 128).
        num_types: number of link types including the ghost (``C + 1``; ``C`` when no ghost).
        iterations: ``K``.
        wiring: ``"eq2"`` (the paper's eq. 2) or ``"nri"`` (the official / NRI encoder: joints
            updated by ``sum_j Q_ij / V`` alone, every link MLP after the first also reads the
            previous links ``Q^(k)``; with ``K = 2`` the official ``mlp1 .. mlp4``).
    """

    def __init__(
        self,
        in_features: int,
        hidden: int,
        num_types: int,
        iterations: int = 2,
        dropout: float = 0.0,
        wiring: str = "eq2",
    ):
        super().__init__()
        self.wiring = wiring
        self.node_mlps = nn.ModuleList()  # f_v^(k)
        self.edge_mlps = nn.ModuleList()  # f_e^(k)
        width = in_features
        for k in range(iterations):
            skip = hidden if wiring == "nri" and k > 0 else 0
            self.node_mlps.append(MLP(width, hidden, hidden, dropout))
            self.edge_mlps.append(PairMLP(hidden, hidden, hidden, dropout, skip=skip))
            # p^(k+1) = F(Q^(k+1)) (+) p^(k) (eq. 2), or sum_j Q_ij / V alone (NRI)
            width = hidden if wiring == "nri" else hidden + width
        self.out = nn.Linear(hidden, num_types)

    def forward(self, x: torch.Tensor, senders: torch.Tensor) -> torch.Tensor:
        """``x`` ``(B, V, F C)`` -> logits ``(B, V, V - 1, num_types)``."""
        p = x
        q = None
        last = len(self.node_mlps) - 1
        for k, (f_v, f_e) in enumerate(zip(self.node_mlps, self.edge_mlps, strict=True)):
            q = f_e(f_v(p), senders, q)  # Q^(k+1): (B, V, V-1, H); Q^(k) read only by the NRI skip
            if k < last:
                if self.wiring == "nri":
                    p = q.sum(dim=-2) / q.shape[-3]  # NRI edge2node: the V - 1 links over V
                else:
                    p = torch.cat([q.mean(dim=-2), p], dim=-1)  # p^(k+1): (B, V, H + width)
        return self.out(q)


# ------------------------------------------------------------------------------------ decoder ---
def _pose_readout(hidden: int, channels: int, dropout: float) -> nn.Sequential:
    """``f_out`` of both decoders: two ReLU layers (dropout after each), then the next-pose mean."""
    return nn.Sequential(
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(hidden, channels),
    )


class AIMDecoder(nn.Module):
    """Decoder steps (a)-(d): next-pose means from the poses and the sampled A-links.

    Args:
        channels: coordinates per joint (3).
        hidden: width of the message MLPs and the GRU state (paper: 128).
        num_link_types: ``C`` (the ghost type sends no message).
        aggregation: ``"mean"`` over the ``V - 1`` senders (paper's ``F``); ``"nri"``: the official
            / NRI code's sum divided by ``C`` and by the coordinate dimension.
    """

    def __init__(
        self, channels: int, hidden: int, num_link_types: int, dropout: float = 0.0, aggregation: str = "mean"
    ):
        super().__init__()
        self.channels, self.aggregation = channels, aggregation
        c = num_link_types
        self.node = TypedLinear(c, channels, hidden)  # f_v^(c), tanh
        self.pair_receiver = TypedLinear(c, hidden, hidden)  # f_e^(c) layer 1, receiver half
        self.pair_sender = TypedLinear(c, hidden, hidden, bias=False)  # ... sender half
        self.pair_out = TypedLinear(c, hidden, hidden)  # f_e^(c) layer 2
        self.dropout = nn.Dropout(dropout)
        self.gru = nn.GRU(hidden + channels, hidden, batch_first=True)
        self.f_out = _pose_readout(hidden, channels, dropout)

    def forward(self, x: torch.Tensor, links: torch.Tensor, senders: torch.Tensor) -> torch.Tensor:
        """Poses ``x`` ``(B, F, V, ch)``, links ``(B, V, V - 1, C)`` -> next-pose means ``(B, F - 1, V, ch)``,
        the predictions of frames ``1 .. F - 1``."""
        b, f, v, ch = x.shape
        h = torch.tanh(self.node(x, typed=False))  # (C, B, F, V, H)
        pre = (
            self.pair_receiver(h).unsqueeze(-2) + self.pair_sender(h)[..., senders, :]
        )  # (C, B, F, V, V-1, H)
        msg = torch.tanh(self.pair_out(self.dropout(torch.tanh(pre))))
        # (a) weight each type's message by its link probability, sum over types; (b) aggregate
        q = torch.einsum("cbfvwh,bvwc->bfvh", msg, links)  # sum over types and senders
        q = q / (v - 1) if self.aggregation == "mean" else q / (links.shape[-1] * ch)
        p = torch.cat([q, x], dim=-1)  # (B, F, V, H + ch)
        # (c) GRU along the frames of every joint
        s, _ = self.gru(p.transpose(1, 2).reshape(b * v, f, -1))  # (B V, F, H): S^(t+1)
        # (d) mean of the next pose = current pose + predicted displacement
        mu = x + self.f_out(s).view(b, v, f, ch).transpose(1, 2)
        return mu[:, :-1]


class RecurrentDecoder(nn.Module):
    """The official code's (NRI) recurrent decoder: messages from the state, one frame at a time.

    For ``t = 0 .. F - 2``, with state ``S^0 = 0``:
    (a) ``Q_ij^t = sum_c A_ijc f_e^(c)(S_i^t (+) S_j^t)`` over the ``C`` A-link types (the ghost
    type sends nothing); (b) ``m_i^t = sum_j Q_ij^t`` divided as in :class:`AIMDecoder`
    (``aggregation``); (c) a GRU update whose "hidden" input is the message, ``r = s(W_ir x^t +
    W_hr m)``, ``z = s(W_iz x^t + W_hz m)``, ``n = tanh(W_in x^t + r o W_hn m)``,
    ``S^(t+1) = (1 - z) o n + z o S^t``; (d) ``mu^(t+1) = x^t + f_out(S^(t+1))``.

    Parameters as :class:`AIMDecoder` (``pair_receiver``, ``pair_sender``, ``pair_out``, ``f_out``)
    plus ``gates_input`` ``(3 H, ch)`` and ``gates_message`` ``(3 H, H)``, the ``r, z, n`` rows
    stacked in that order.
    """

    def __init__(
        self, channels: int, hidden: int, num_link_types: int, dropout: float = 0.0, aggregation: str = "mean"
    ):
        super().__init__()
        self.channels, self.hidden, self.aggregation = channels, hidden, aggregation
        c = num_link_types
        self.pair_receiver = TypedLinear(c, hidden, hidden)  # f_e^(c) layer 1, receiver half
        self.pair_sender = TypedLinear(c, hidden, hidden, bias=False)  # ... sender half
        self.pair_out = TypedLinear(c, hidden, hidden)  # f_e^(c) layer 2
        self.dropout = nn.Dropout(dropout)
        self.gates_input = nn.Linear(channels, 3 * hidden)  # W_i{r,z,n} x + b
        self.gates_message = nn.Linear(hidden, 3 * hidden, bias=False)  # W_h{r,z,n} m
        self.f_out = _pose_readout(hidden, channels, dropout)

    def forward(self, x: torch.Tensor, links: torch.Tensor, senders: torch.Tensor) -> torch.Tensor:
        """Poses ``x`` ``(B, F, V, ch)``, links ``(B, V, V - 1, C)`` -> next-pose means
        ``(B, F - 1, V, ch)``, the predictions of frames ``1 .. F - 1``."""
        b, f, v, ch = x.shape
        h = self.hidden
        norm = (v - 1) if self.aggregation == "mean" else links.shape[-1] * ch
        gates_x = self.gates_input(x)  # (B, F, V, 3H): the input halves of all frames at once
        s = x.new_zeros(b, v, h)
        states = []
        for t in range(f - 1):
            pre = (
                self.pair_receiver(s, typed=False).unsqueeze(-2)
                + self.pair_sender(s, typed=False)[..., senders, :]
            )  # (C, B, V, V-1, H)
            msg = torch.tanh(self.pair_out(self.dropout(torch.tanh(pre))))
            m = torch.einsum("cbvwh,bvwc->bvh", msg, links) / norm  # (a), (b)
            gm = self.gates_message(m)  # (B, V, 3H)
            gx = gates_x[:, t]
            r = torch.sigmoid(gx[..., :h] + gm[..., :h])
            z = torch.sigmoid(gx[..., h : 2 * h] + gm[..., h : 2 * h])
            n = torch.tanh(gx[..., 2 * h :] + r * gm[..., 2 * h :])
            s = (1 - z) * n + z * s  # (c)
            states.append(s)
        return x[:, :-1] + self.f_out(torch.stack(states, dim=1))  # (d)


# ---------------------------------------------------------------------------------------- AIM ---
class AIM(nn.Module):
    """The A-link inference module: window sampling, encoder, Gumbel links, decoder, loss.

    Args:
        num_joints, channels: ``V`` and coordinates per joint.
        num_link_types: ``C``. ghost_prior: ``P0`` (0 = no ghost type).
        frames: ``F`` frames per window. hidden: MLP / GRU width. iterations: encoder ``K``.
        tau: Gumbel temperature. hard: straight-through one-hot samples.
        variance: ``sigma^2`` of the NLL. aggregation: decoder aggregation (see :class:`AIMDecoder`).
        encoder: encoder wiring, ``"eq2"`` or ``"nri"`` (see :class:`AIMEncoder`).
        decoder: ``"poses"`` (:class:`AIMDecoder`) or ``"recurrent"`` (:class:`RecurrentDecoder`).
    """

    def __init__(
        self,
        num_joints: int,
        channels: int,
        num_link_types: int = 3,
        ghost_prior: float = 0.95,
        frames: int = 50,
        hidden: int = 128,
        iterations: int = 2,
        tau: float = 0.5,
        hard: bool = False,
        dropout: float = 0.0,
        variance: float = 5e-4,
        aggregation: str = "mean",
        encoder: str = "eq2",
        decoder: str = "poses",
    ):
        super().__init__()
        for name, value, allowed in (("encoder", encoder, ENCODERS), ("decoder", decoder, DECODERS),
                                     ("aggregation", aggregation, AGGREGATIONS)):
            if value not in allowed:
                raise ValueError(f"AIM {name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
        self.num_joints, self.channels, self.frames = num_joints, channels, frames
        self.num_link_types, self.ghost = num_link_types, ghost_prior > 0
        self.tau, self.hard, self.variance = tau, hard, variance
        num_types = num_link_types + int(self.ghost)
        self.encoder = AIMEncoder(frames * channels, hidden, num_types, iterations, dropout, encoder)
        decoder_cls = RecurrentDecoder if decoder == "recurrent" else AIMDecoder
        self.decoder = decoder_cls(channels, hidden, num_link_types, dropout, aggregation)
        self.register_buffer("senders", sender_index(num_joints), persistent=False)
        self.register_buffer("log_prior", link_prior(num_link_types, ghost_prior).log(), persistent=False)

    def window(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, T, V, M)`` -> ``(N M, F, V, C)``; random offset in training mode."""
        return sample_window(x, self.frames, random_offset=self.training)

    def logits(self, window: torch.Tensor) -> torch.Tensor:
        """Encoder: ``(B, F, V, C)`` -> link-type logits ``(B, V, V - 1, types)``."""
        b, f, v, c = window.shape
        return self.encoder(window.permute(0, 2, 1, 3).reshape(b, v, f * c), self.senders)

    def sample(self, logits: torch.Tensor) -> torch.Tensor:
        """Eq. 3 links ``(B, V, V - 1, types)``: Gumbel samples in training, ``softmax(Q / tau)`` in eval."""
        if self.training:
            return gumbel_softmax(logits, self.tau, self.hard)
        y = torch.softmax(logits / self.tau, dim=-1)
        return _straight_through(y) if self.hard else y

    def actional(self, links: torch.Tensor) -> torch.Tensor:
        """The ``C`` A-link types (ghost dropped) as dense ``(B, C, V, V)`` graphs."""
        return to_dense(links[..., int(self.ghost) :], self.senders)

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """Posterior link probabilities ``(N M, C + 1, V, V)``, ghost first (zero if no ghost type);
        the diagonal (no pair) is all ghost."""
        probs = torch.softmax(self.logits(self.window(x)), dim=-1)
        if not self.ghost:
            probs = F.pad(probs, (1, 0))
        dense = to_dense(probs, self.senders)
        dense[:, 0].diagonal(dim1=-2, dim2=-1).fill_(1.0)
        return dense

    def losses(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """AIM warm-up objective on ``(N, C, T, V, M)``: ``{"loss", "nll", "kl"}`` (Sec. 4.1)."""
        window = self.window(x)  # (B, F, V, C)
        logits = self.logits(window)
        links = self.sample(logits)
        mu = self.decoder(window, links[..., int(self.ghost) :], self.senders)  # (B, F-1, V, C)
        nll = gaussian_nll(mu, window[:, 1:], self.variance)
        kl = kl_categorical(torch.softmax(logits, dim=-1), self.log_prior)
        return {"loss": nll + kl, "nll": nll, "kl": kl}
