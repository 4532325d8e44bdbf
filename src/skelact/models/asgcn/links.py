"""AS-GCN graph convolutions: SGC (eq. 5), AGC (eq. 4) and their sum ASGC (Sec. 4.3).

With ``X`` the features of the ``V`` joints of one frame (``V x d_in``):

* SGC, eq. 5: ``X_struc = sum_{l=1..L} sum_{p in P} (M^(p,l) o Â^(p)l) X W^(p,l)`` with the
  per-partition transition matrices ``Â^(p) = D^(p)-1 A^(p)``
  (:func:`skelact.models.graph.structural_kernels`) and learnable edge importance ``M`` (one per
  kernel, initialised to ones, so ``M o Â`` starts at ``Â``, the "nice initialization" of Sec. 4.2).
* AGC, eq. 4: ``X_act = sum_{c=1..C} Â_act^(c) X W_act^(c)`` with ``Â_act^(c) = D_c^-1 A_act^(c)``
  built from the A-link probabilities by :func:`actional_kernels`.
* ASGC: ``X_out = X_struc + lambda X_act``; linear in ``X`` for fixed links (Theorem 1: there is
  no bias term; the block's batch-norm follows). The official code's graph convolution is a 1x1
  convolution *with* bias followed by the kernels, ``sum_k K_k (X W_k + 1 b_k^T)``: ``bias=True``
  (option ``gcn_bias``, the ``official`` preset) adds that term, ``sum_k (K_k 1) b_k^T``, the bias of
  kernel ``k`` weighted by each receiver's row sum of ``K_k``, which makes ASGC affine.

**Implementation.** All ``K = K_s + C`` kernels are stacked into one ``(V K, V)`` matrix (per
sample when A-links are present) and applied in one matrix product to the channels-last
activations ``(B, T, V, d_in)``; the ``K`` weight matrices ``W`` form one ``(K d_in, d_out)``
matrix, applied in a second product. No loop over kernels, joints or frames, no permuted copies.
Graph-first order costs ``K V d_in + K d_in d_out`` per joint and frame, less than the
convolution-first order of ST-GCN's code (``K d_in d_out + K V d_out``) whenever ``d_in <= d_out``
(every AS-GCN block).

**Memory.** The stacked graph products ``(B, T, V K, d_in)`` are ``K`` times the block's input (15
kernels in the paper preset, 12 in the official one): stored for the backward of every block, they
are most of a training step's activation memory. In training, :class:`_GraphMix` stores only the
input and the kernels and recomputes the products in the backward (one extra graph product, the
cheaper of the layer's two matrix products): same outputs and gradients, a fraction of the memory.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

__all__ = ["ASGC", "DEGREE_EPS", "actional_kernels"]

#: Smallest degree an AGC row is divided by (eq. 4): a row of A-link probabilities summing to less
#: (in practice: exactly zero, no link of that type) is divided by this instead of by zero.
DEGREE_EPS = 1e-6


def actional_kernels(links: torch.Tensor, self_loops: bool = False, scale: float = 1.0) -> torch.Tensor:
    """AGC kernels ``Â_act^(c) = D_c^-1 A_act^(c)`` (eq. 4) from A-link probabilities.

    Args:
        links: ``(B, C, V, V)`` probabilities of the ``C`` actional link types (ghost excluded),
            ``links[b, c, i, j]`` = probability that joint ``j`` sends to joint ``i`` (row form).
        self_loops: add the identity first (official code); the degree is then >= 1.
        scale: multiply the result (official code: 0.1).

    Each link type's adjacency is divided by its own degree, ``Â = D_c^-1 A_c`` with
    ``D_c = diag(sum_j A_c[i, j])``, as eq. 4 states: every row with any link mass becomes a
    transition row (sums to one), for soft and hard links alike. A row with no mass (no link of
    that type, possible with hard links) stays zero: the degree is floored at
    :data:`DEGREE_EPS` only to keep the division finite. The official code's form (self-loops
    added first, so the degree is at least 1, then scaled by 0.1) is ``self_loops=True,
    scale=0.1``, the ``official`` preset.

    Returns:
        ``(B, C, V, V)``.
    """
    a = links
    if self_loops:
        a = a + torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
    deg = a.sum(dim=-1, keepdim=True).clamp_min(DEGREE_EPS)
    out = a / deg
    return out * scale if scale != 1.0 else out


class _GraphMix(torch.autograd.Function):
    """``(stacked @ x) W``: the graph product of all ``K`` kernels, then the channel mixing, with
    the ``K``-fold product recomputed in the backward instead of stored.

    ``x`` ``(B, T, V, d_in)`` contiguous; ``stacked`` ``(V K, V)`` or per sample ``(B, 1, V K, V)``;
    ``weight`` ``(K d_in, d_out)`` -> ``(B, T, V, d_out)``. Under autocast the products run in the
    dtype autocast gives the forward's first product, in the backward too.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, stacked: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        b, t, v, _ = x.shape
        y = torch.matmul(stacked, x)  # (B, T, V K, d_in)
        out = y.reshape(b * t * v, -1) @ weight.to(y.dtype)
        ctx.save_for_backward(x, stacked, weight)
        ctx.compute_dtype = y.dtype
        return out.view(b, t, v, -1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, stacked, weight = ctx.saved_tensors
        dtype = ctx.compute_dtype
        b, t, v, c_in = x.shape
        xc, kc, wc = x.to(dtype), stacked.to(dtype), weight.to(dtype)
        g = grad.reshape(b * t * v, -1).to(dtype)  # (B T V, d_out)
        grad_x = grad_stacked = grad_w = None
        if ctx.needs_input_grad[2]:
            y = torch.matmul(kc, xc).reshape(b * t * v, -1)  # recomputed: (B T V, K d_in)
            grad_w = (y.t() @ g).to(weight.dtype)
            del y
        if ctx.needs_input_grad[0] or ctx.needs_input_grad[1]:
            grad_y = (g @ wc.t()).view(b, t, -1, c_in)  # (B, T, V K, d_in)
            if ctx.needs_input_grad[0]:
                grad_x = torch.matmul(kc.transpose(-1, -2), grad_y).to(x.dtype)
            if ctx.needs_input_grad[1]:
                per_frame = torch.matmul(grad_y, xc.transpose(-1, -2))  # (B, T, V K, V)
                shared = stacked.dim() == 2  # one (V K, V) for every sample, else (B, 1, V K, V)
                summed = per_frame.sum(dim=(0, 1)) if shared else per_frame.sum(dim=1, keepdim=True)
                grad_stacked = summed.to(stacked.dtype)
        return grad_x, grad_stacked, grad_w


class ASGC(nn.Module):
    """Actional-structural graph convolution (Sec. 4.3): ``SGC(X) + lambda AGC(X)`` (eqs. 4, 5).

    Args:
        in_channels, out_channels: ``d_in``, ``d_out``.
        structural: the S-link kernels ``Â^(p)l`` stacked ``(K_s, V, V)`` (row form).
        num_actional: ``C``, the number of actional kernels passed to :meth:`forward` (0 = SGC only).
        edge_importance: learn ``M^(p,l)`` (eq. 5) on the structural kernels.
        lambda_act: ``lambda``, the weight of the actional features.
        bias: a bias ``b_k`` per kernel, applied before the kernel as in the official code's
            ``conv -> einsum`` (see the module docstring); off in the paper's ASGC.
        recompute: in training, recompute the ``K``-fold graph products in the backward instead of
            storing them (:class:`_GraphMix`; the module docstring); False: plain autograd.

    Parameters: ``weight`` ``(K_s + C, d_in, d_out)`` = ``W^(p,l)`` then ``W_act^(c)``;
    ``importance`` ``(K_s, V, V)`` = ``M`` (absent when ``edge_importance=False``);
    ``bias`` ``(K_s + C, d_out)`` (absent when ``bias=False``).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        structural: torch.Tensor,
        num_actional: int = 0,
        edge_importance: bool = True,
        lambda_act: float = 0.5,
        bias: bool = False,
        recompute: bool = True,
    ):
        super().__init__()
        self.recompute = recompute
        structural = torch.as_tensor(structural, dtype=torch.float32)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.num_structural = structural.shape[0]
        self.num_actional = num_actional
        self.lambda_act = float(lambda_act)
        # Derived from the layout at construction: not saved in checkpoints.
        self.register_buffer("structural", structural, persistent=False)
        num_kernels = self.num_structural + num_actional
        self.weight = nn.Parameter(torch.empty(num_kernels, in_channels, out_channels))
        if edge_importance:
            self.importance = nn.Parameter(torch.ones_like(structural))
        else:
            self.register_parameter("importance", None)
        if bias:
            self.bias = nn.Parameter(torch.empty(num_kernels, out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # As nn.Conv2d's default for the per-kernel 1x1 convolution W^(p,l): fan-in = d_in.
        bound = 1.0 / math.sqrt(self.in_channels)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)
        if self.importance is not None:
            nn.init.ones_(self.importance)

    def structural_kernels(self) -> torch.Tensor:
        """``M o Â^(p)l`` stacked ``(K_s, V, V)``."""
        if self.importance is None:
            return self.structural
        return self.importance * self.structural

    def forward(self, x: torch.Tensor, actional: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` ``(B, d_in, T, V)``, ``actional`` ``(B, C, V, V)`` or None -> ``(B, d_out, T, V)``.

        The output is channels-last in memory; so is the input preferably (else one copy is made).
        """
        b, c_in, t, v = x.shape
        kernels = self.structural_kernels()  # (Ks, V, V)
        if self.num_actional:
            if actional is None or actional.shape[1] != self.num_actional:
                got = None if actional is None else tuple(actional.shape)
                raise ValueError(f"ASGC expects {self.num_actional} actional kernels (B, C, V, V), got {got}")
            kernels = torch.cat(
                [kernels.expand(b, -1, -1, -1), self.lambda_act * actional.to(kernels.dtype)], dim=1
            )  # (B, K, V, V)
            # [(i, k), j] per sample; a broadcast batch axis for the frames.
            stacked = kernels.transpose(1, 2).reshape(b, 1, v * kernels.shape[1], v)
        else:
            stacked = kernels.transpose(0, 1).reshape(v * kernels.shape[0], v)  # [(i, k), j]
        k = self.weight.shape[0]
        x_cl = x.permute(0, 2, 3, 1)  # (B, T, V, d_in): a view when x is channels-last
        if not x_cl.is_contiguous():
            x_cl = x_cl.contiguous()
        weight = self.weight.reshape(k * c_in, self.out_channels)
        if self.recompute and torch.is_grad_enabled():
            y = _GraphMix.apply(x_cl, stacked, weight)
        else:
            y = torch.matmul(stacked, x_cl)  # (B, T, V K, d_in): all kernels applied to all frames
            y = (y.reshape(b * t * v, k * c_in) @ weight).view(b, t, v, self.out_channels)
        if self.bias is not None:
            # sum_k (K_k 1) b_k^T: each receiver's row sum of each kernel weights that kernel's bias
            y = y + torch.matmul(kernels.sum(dim=-1).transpose(-1, -2), self.bias).unsqueeze(-3)
        return y.permute(0, 3, 1, 2)  # (B, d_out, T, V)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, structural={self.num_structural}, "
            f"actional={self.num_actional}, lambda={self.lambda_act}, bias={self.bias is not None}"
        )
