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
are most of a training step's activation memory. In training, :class:`_GraphMix` computes both
products chunk by chunk of frames, stores only the input and the kernels, and recomputes each
chunk's products in the backward: same outputs and gradients, a fraction of the memory, and (the
chunk staying in cache between the two products) faster than writing out the whole product.
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


#: Frames per chunk of :class:`_GraphMix` are chosen so that one chunk's graph products take about
#: this many bytes: small enough to stay in cache between the two products, large enough that the
#: channel-mixing product of a chunk is still a big matrix product.
CHUNK_BYTES = 8 * 2**20


def _frames_per_chunk(x: torch.Tensor, rows: int, dtype: torch.dtype) -> int:
    """Frames of ``x`` ``(B, T, V, d_in)`` whose products ``(B, frames, rows, d_in)`` fill a chunk."""
    per_frame = x.shape[0] * rows * x.shape[-1] * torch.finfo(dtype).bits // 8
    return max(1, CHUNK_BYTES // max(1, per_frame))


class _GraphMix(torch.autograd.Function):
    """``(stacked @ x) W``: the graph product of all ``K`` kernels, then the channel mixing, chunk
    by chunk of frames, the ``K``-fold products never held for more than one chunk.

    ``x`` ``(B, T, V, d_in)`` contiguous; ``stacked`` ``(V K, V)`` or per sample ``(B, 1, V K, V)``;
    ``weight`` ``(K d_in, d_out)`` -> ``(B, T, V, d_out)``. The forward keeps only ``x``, the kernels
    and ``W``; the backward recomputes each chunk's products for the weight gradient. A chunk's
    products (:data:`CHUNK_BYTES`) stay in cache for the second product, where the whole
    ``(B, T, V K, d_in)`` tensor is written to memory and read back (freshly allocated, page by
    page): chunking is faster than the unchunked product as well as smaller. Under autocast the
    products run in the dtype autocast gives the first one, in the backward too.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, stacked: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        b, t, v, _ = x.shape
        step = _frames_per_chunk(x, stacked.shape[-2], x.dtype)
        out = w = None
        for s in range(0, t, step):
            y = torch.matmul(stacked, x[:, s : s + step])  # (B, n, V K, d_in); autocast picks the dtype
            if out is None:
                w = weight.to(y.dtype)
                out = torch.empty(b, t, v, w.shape[1], dtype=y.dtype, device=x.device)
            n = y.shape[1]
            out[:, s : s + n] = (y.reshape(b * n * v, -1) @ w).view(b, n, v, -1)
        ctx.save_for_backward(x, stacked, weight)
        ctx.compute_dtype = out.dtype
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, stacked, weight = ctx.saved_tensors
        dtype = ctx.compute_dtype
        b, t, v, c_in = x.shape
        xc, kc, wc = x.to(dtype), stacked.to(dtype), weight.to(dtype)
        g_all = grad.to(dtype).contiguous()  # (B, T, V, d_out)
        need_x, need_k, need_w = ctx.needs_input_grad[:3]
        grad_x = torch.empty_like(xc) if need_x else None
        shared = kc.dim() == 2  # one (V K, V) for every sample, else (B, 1, V K, V)
        k_shape = kc.shape if shared else (b, *kc.shape[-2:])
        # the sums over chunks accumulate in the parameters' dtype (float32 under bf16 autocast)
        grad_k = torch.zeros(k_shape, dtype=stacked.dtype, device=x.device) if need_k else None
        grad_w = torch.zeros_like(weight) if need_w else None
        step = _frames_per_chunk(x, stacked.shape[-2], x.dtype)  # the forward's chunks
        for s in range(0, t, step):
            xs = xc[:, s : s + step]
            n = xs.shape[1]
            g = g_all[:, s : s + n].reshape(b * n * v, -1)  # (B n V, d_out)
            if need_w:
                y = torch.matmul(kc, xs).reshape(b * n * v, -1)  # recomputed: (B n V, K d_in)
                grad_w += (y.t() @ g).to(grad_w.dtype)
            if need_x or need_k:
                grad_y = (g @ wc.t()).view(b, n, -1, c_in)  # (B, n, V K, d_in)
                if need_x:
                    grad_x[:, s : s + n] = torch.matmul(kc.transpose(-1, -2), grad_y)
                if need_k:
                    per_frame = torch.matmul(grad_y, xs.transpose(-1, -2))  # (B, n, V K, V)
                    grad_k += (per_frame.sum(dim=(0, 1)) if shared else per_frame.sum(dim=1)).to(grad_k.dtype)
        return (
            grad_x.to(x.dtype) if need_x else None,
            grad_k.view(stacked.shape) if need_k else None,
            grad_w,
        )


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
        recompute: in training (train mode, gradients on), compute the ``K``-fold graph products
            chunk by chunk and recompute them in the backward instead of storing them
            (:class:`_GraphMix`; the module docstring); False, and in eval mode (inference, export,
            which then traces no Python loop over frames): plain tensor operations.

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
        if self.recompute and self.training and torch.is_grad_enabled():
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
