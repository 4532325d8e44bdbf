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

**Implementation.** All ``K = K_s + C`` kernels are stacked into one matrix (per sample when
A-links are present) and applied in one matrix product to the channels-last activations
``(B, T, V, d_in)``; the ``K`` weight matrices ``W`` are applied in a second product. No loop over
kernels, joints or frames (one pair of products per group of joints, below), no permuted copies.
Graph-first order costs ``K V d_in + K d_in d_out``
per joint and frame, less than the convolution-first order of ST-GCN's code
(``K d_in d_out + K V d_out``) whenever ``d_in <= d_out`` (every AS-GCN block).

**Row groups.** An S-link kernel has zero rows: a joint with no neighbour at that hop (or in that
partition) receives nothing through it, so the rows ``(i, k)`` with ``Â_k[i] = 0`` contribute
nothing and need not be computed. :func:`row_groups` groups the joints by the kernels with a
non-zero row at them (at most :data:`MAX_ROW_GROUPS` groups; merging two groups adds a few zero
rows back); each group is one graph product with its rows only and one channel-mixing product
with its kernels' weights only, the groups' outputs written to their joints. The stacked kernel
matrix keeps only those rows, ``(P, V)`` with ``P = sum over groups of joints x kernels``: on
``ntu25`` the official preset's 9 hop kernels and 2 A-link kernels have ``P = 228`` of the
``V K = 275`` rows, 17 % less of both products (the A-link kernels are dense: every joint has
their rows). The sum over kernels is the same; only its rounding order differs.

**Memory.** The stacked graph products ``(B, T, V K, d_in)`` are ``K`` times the block's input (15
kernels in the paper preset, 11 in the official one): stored for the backward of every block, they
are most of a training step's activation memory. In training, :class:`_GraphMix` computes both
products chunk by chunk of frames, stores only the input and the kernels, and recomputes each
chunk's products in the backward: same outputs and gradients, a fraction of the memory, and (the
chunk staying in cache between the two products) faster than writing out the whole product.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

__all__ = ["ASGC", "DEGREE_EPS", "MAX_ROW_GROUPS", "actional_kernels", "row_groups"]

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
#: this many bytes per thread (:data:`CHUNK_THREADS` at most): small enough to stay in cache between
#: the two products, large enough that the channel-mixing product of a chunk is still a big matrix
#: product and that the chunk loop's Python work, the same per chunk at any thread count, stays
#: small beside the products, which the threads share. Measured on the official preset's training
#: step (2-core Xeon, in-process A/B, 7 rounds): 16 MiB against 8 MiB at 1 thread 1.01x; 32 MiB
#: against 8 / 16 MiB at 2 threads 1.07x / 1.03x.
CHUNK_BYTES_PER_THREAD = 16 * 2**20

#: Threads counted in a chunk's bytes: a many-core machine's chunks stop growing there (64 MiB).
CHUNK_THREADS = 4


def _chunk_bytes() -> int:
    """Bytes of one chunk's graph products at the current thread count (:data:`CHUNK_BYTES_PER_THREAD`)."""
    return CHUNK_BYTES_PER_THREAD * min(max(1, torch.get_num_threads()), CHUNK_THREADS)


def _frames_per_chunk(x: torch.Tensor, rows: int, dtype: torch.dtype) -> int:
    """Frames of ``x`` ``(B, T, V, d_in)`` whose products ``(B, frames, rows, d_in)`` fill a chunk."""
    per_frame = x.shape[0] * rows * x.shape[-1] * torch.finfo(dtype).bits // 8
    return max(1, _chunk_bytes() // max(1, per_frame))


#: At most this many groups of joints in :func:`row_groups`: each group costs a pair of products
#: per chunk of frames, so fewer, larger groups (with a few zero rows) beat one group per kernel set
#: (measured on the official preset's blocks: 4-6 groups fastest, 1.15-1.25x the dense products at
#: 1 thread).
MAX_ROW_GROUPS = 5


def row_groups(
    support: torch.Tensor, max_groups: int = MAX_ROW_GROUPS
) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
    """Joints grouped by the kernels with a non-zero row at them: ``((joints, kernels), ...)``.

    ``support`` ``(K, V)`` bool: ``support[k, i]`` = kernel ``k`` has a non-zero row ``i`` (joint
    ``i`` receives through it). Joints with the same kernel set form a group; while there are more
    than ``max_groups``, the two groups whose union adds the fewest zero rows (``|joints| x
    |kernels|`` of the union minus the two) are merged, the first such pair in group order on a
    tie. A joint no kernel reaches is in a group with no kernels (its output is zero). Groups are
    ordered by their first joint, joints and kernels ascending; every joint is in exactly one group.
    """
    if max_groups < 1:
        raise ValueError(f"max_groups must be at least 1, got {max_groups}")
    support = torch.as_tensor(support)
    by_set: dict[tuple[int, ...], list[int]] = {}
    for i in range(support.shape[1]):
        kernels = tuple(int(k) for k in torch.nonzero(support[:, i]).flatten())
        by_set.setdefault(kernels, []).append(i)
    groups = [(set(k), j) for k, j in by_set.items()]
    while len(groups) > max_groups:
        best = None
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                (ka, ja), (kb, jb) = groups[a], groups[b]
                added = len(ka | kb) * (len(ja) + len(jb)) - len(ka) * len(ja) - len(kb) * len(jb)
                if best is None or added < best[0]:
                    best = (added, a, b)
        _, a, b = best
        groups[a] = (groups[a][0] | groups[b][0], sorted(groups[a][1] + groups[b][1]))
        del groups[b]
    return tuple(sorted((tuple(j), tuple(sorted(k))) for k, j in groups))


class _Group:
    """One group of :func:`row_groups` on a device: its joints, its kernels, its rows ``p0:p1`` of
    the compact stacked kernels (``len(joints) x len(kernels)`` rows, joint-major)."""

    __slots__ = ("joints", "kernels", "p0", "p1", "num_joints", "num_kernels", "whole")

    def __init__(self, joints: torch.Tensor, kernels: torch.Tensor, p0: int, num_all: tuple[int, int]):
        self.joints, self.kernels = joints, kernels
        self.num_joints, self.num_kernels = joints.numel(), kernels.numel()
        self.p0, self.p1 = p0, p0 + self.num_joints * self.num_kernels
        # all joints in order and all kernels: the group is the dense product (no gather, no scatter)
        self.whole = (self.num_joints, self.num_kernels) == num_all

    def weight(self, weight3: torch.Tensor) -> torch.Tensor:
        """The group's ``(len(kernels) d_in, d_out)`` rows of ``W`` ``(K, d_in, d_out)``."""
        w = weight3 if self.num_kernels == weight3.shape[0] else weight3.index_select(0, self.kernels)
        return w.reshape(-1, weight3.shape[-1])


class _Scratch:
    """Reused output buffers of the chunk loop: one flat tensor per name, grown on demand, so each
    chunk's products land in memory the previous chunk warmed instead of freshly allocated memory
    (1.02x the official preset's training step at 1 thread). ``enabled=False`` hands out ``None``
    (``out=None``: a fresh result), as on a GPU, whose caching allocator already reuses memory,
    and under autocast, which picks the products' dtype that a buffer would override."""

    def __init__(self, like: torch.Tensor, enabled: bool = True):
        self.like, self.enabled, self.flat = like, enabled, {}

    def __call__(self, name: str, *shape: int) -> torch.Tensor | None:
        if not self.enabled:
            return None
        numel = math.prod(shape)
        flat = self.flat.get(name)
        if flat is None or flat.numel() < numel:
            flat = self.flat[name] = torch.empty(numel, dtype=self.like.dtype, device=self.like.device)
        return flat[:numel].view(shape)


def _mix_group(
    group: _Group, stacked: torch.Tensor, x: torch.Tensor, w: torch.Tensor, scratch: _Scratch | None = None
) -> torch.Tensor:
    """``(B, n, len(joints), d_out)``: the group's graph product then channel mixing on frames ``x``
    (into ``scratch`` buffers when given: the result is then only valid until its next use)."""
    b, n = x.shape[:2]
    scratch = scratch or _Scratch(x, enabled=False)
    kg = stacked[..., group.p0 : group.p1, :]
    y = torch.matmul(kg, x, out=scratch("y", b, n, kg.shape[-2], x.shape[-1]))  # (B, n, rows, d_in)
    if not group.num_kernels:  # joints no kernel reaches: zeros in the dtype autocast gave y
        return y.new_zeros(b, n, group.num_joints, w.shape[1])
    y = y.view(b * n * group.num_joints, -1)
    return torch.mm(y, w, out=scratch("mixed", y.shape[0], w.shape[1])).view(b, n, group.num_joints, -1)


def _put(out: torch.Tensor, group: _Group, values: torch.Tensor) -> None:
    """Write a group's ``(B, n, len(joints), d_out)`` into ``out`` ``(B, n, V, d_out)``."""
    if group.whole:
        out.copy_(values)
    else:
        out.index_copy_(2, group.joints, values)


class _GraphMix(torch.autograd.Function):
    """The graph products then the channel mixing of every row group, chunk by chunk of frames,
    the ``K``-fold products never held for more than one chunk.

    ``x`` ``(B, T, V, d_in)`` (each chunk of frames is made contiguous once); ``stacked`` the
    compact kernels ``(P, V)`` or per sample ``(B, 1, P, V)``; ``weight`` ``(K d_in, d_out)``;
    ``groups`` the :class:`_Group` s; ``bias_term`` None or the official code's bias term ``(1, V,
    d_out)`` or ``(B, 1, V, d_out)``, added to each chunk while it is in cache (its gradient, the
    sum over frames, taken chunk by chunk too) -> ``(B, T, V, d_out)``. The forward keeps only ``x``, the
    kernels and ``W``; the backward recomputes each chunk's products for the weight gradient. A
    chunk's products (:func:`_chunk_bytes`) stay in cache for the second product, where the whole
    ``(B, T, P, d_in)`` tensor is written to memory and read back (freshly allocated, page by
    page): chunking is faster than the unchunked product as well as smaller. Under autocast the
    products run in the dtype autocast gives the first one, in the backward too.
    """

    @staticmethod
    def forward(
        ctx, x: torch.Tensor, stacked: torch.Tensor, weight: torch.Tensor, groups, bias_term=None
    ) -> torch.Tensor:
        b, t, v, c_in = x.shape
        weight3 = weight.view(-1, c_in, weight.shape[1])
        plan = [(g, g.weight(weight3)) for g in groups]
        step = _frames_per_chunk(x, stacked.shape[-2], x.dtype)
        out = None
        scratch = _Scratch(x, enabled=x.device.type == "cpu" and not _autocast_on("cpu"))
        for s in range(0, t, step):
            xs = x[:, s : s + step].contiguous()  # once per chunk, not once per group's product
            for g, w in plan:
                values = _mix_group(g, stacked, xs, w, scratch)
                if out is None:
                    out = torch.empty(b, t, v, weight.shape[1], dtype=values.dtype, device=x.device)
                _put(out[:, s : s + xs.shape[1]], g, values)
            if bias_term is not None:
                out[:, s : s + xs.shape[1]] += bias_term
        ctx.save_for_backward(x, stacked, weight)
        ctx.bias_shape = None if bias_term is None else bias_term.shape
        ctx.groups, ctx.step = groups, step  # the backward runs over the same chunks
        ctx.compute_dtype = out.dtype
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, stacked, weight = ctx.saved_tensors
        groups, dtype = ctx.groups, ctx.compute_dtype
        b, t, v, c_in = x.shape
        xc, kc = x.to(dtype), stacked.to(dtype)
        weight3 = weight.to(dtype).view(-1, c_in, weight.shape[1])
        g_all = grad.to(dtype).contiguous()  # (B, T, V, d_out)
        need_x, need_k, need_w, _, need_bias = ctx.needs_input_grad
        grad_x = torch.empty_like(xc) if need_x else None
        # the bias term's gradient: the output gradient summed over frames (and samples, if shared)
        grad_bias = g_all.new_zeros(b, v, g_all.shape[-1]) if need_bias else None
        shared = kc.dim() == 2  # one (P, V) for every sample, else (B, 1, P, V)
        k_shape = kc.shape if shared else (b, *kc.shape[-2:])
        # the sums over chunks accumulate in the parameters' dtype (float32 under bf16 autocast)
        grad_k = torch.zeros(k_shape, dtype=stacked.dtype, device=x.device) if need_k else None
        # per group: its W rows and (in the parameters' dtype) their gradient
        plan = []
        for g in groups:
            w = g.weight(weight3)
            plan.append((g, w, torch.zeros(w.shape, dtype=weight.dtype, device=x.device) if need_w else None))
        step = ctx.step  # the forward's chunks (their size follows the thread count of that moment)
        scratch = _Scratch(xc, enabled=x.device.type == "cpu")  # the products run in xc's dtype
        for s in range(0, t, step):
            xs = xc[:, s : s + step].contiguous()  # the products' reshapes are then views
            n = xs.shape[1]
            g_chunk = g_all[:, s : s + n]
            gx_chunk = grad_x[:, s : s + n] if need_x else None
            if need_bias:
                grad_bias += g_chunk.sum(dim=1)  # while the chunk is in cache
            first = True  # the first group's grad_x part is written, the others' added
            for g, w, grad_w in plan:
                if not g.num_kernels:
                    continue
                kg = kc[..., g.p0 : g.p1, :]
                gg = g_chunk if g.whole else g_chunk.index_select(2, g.joints)
                gg = gg.reshape(b * n * g.num_joints, -1)  # (B n joints, d_out)
                if need_w:
                    y = torch.matmul(kg, xs, out=scratch("y", b, n, kg.shape[-2], c_in))  # recomputed
                    y = y.view(b * n * g.num_joints, -1)
                    if y.dtype == grad_w.dtype:  # summed inside the product: no temporary, no add pass
                        grad_w.addmm_(y.t(), gg)
                    else:
                        grad_w += (y.t() @ gg).to(grad_w.dtype)
                if need_x or need_k:
                    grad_y = torch.mm(gg, w.t(), out=scratch("grad_y", gg.shape[0], w.shape[0]))
                    grad_y = grad_y.view(b, n, -1, c_in)  # (B, n, joints x kernels, d_in)
                    if need_x:  # summed over the groups inside the products, then written once
                        kt = kg.transpose(-1, -2).expand(b, n, v, kg.shape[-2]).reshape(b * n, v, -1)
                        gy3 = grad_y.view(b * n, -1, c_in)
                        if first:
                            gx_sum = torch.bmm(kt, gy3, out=scratch("grad_x", b * n, v, c_in))
                        else:
                            gx_sum.baddbmm_(kt, gy3)
                        first = False
                    if need_k:
                        per_frame = torch.matmul(  # (B, n, rows, V)
                            grad_y, xs.transpose(-1, -2), out=scratch("per_frame", b, n, kg.shape[-2], v)
                        )
                        part = per_frame.sum(dim=(0, 1)) if shared else per_frame.sum(dim=1)
                        grad_k[..., g.p0 : g.p1, :] += part.to(grad_k.dtype)
            if need_x and first:  # no group with kernels: nothing reaches any joint
                gx_chunk.zero_()
            elif need_x:
                gx_chunk.copy_(gx_sum.view(b, n, v, c_in))
        grad_weight = None
        if need_w:
            grad_weight = torch.zeros(weight3.shape, dtype=weight.dtype, device=x.device)
            for g, _, grad_w in plan:
                if g.num_kernels:
                    grad_weight.index_add_(0, g.kernels, grad_w.view(g.num_kernels, c_in, -1))
            grad_weight = grad_weight.view(weight.shape)
        return (
            grad_x.to(x.dtype) if need_x else None,
            grad_k.view(stacked.shape) if need_k else None,
            grad_weight,
            None,
            _bias_term_grad(grad_bias, ctx.bias_shape) if need_bias else None,
        )


def _autocast_on(device_type: str) -> bool:
    """Whether autocast is on for this device type (False for types autocast has no notion of)."""
    try:
        return torch.is_autocast_enabled(device_type)
    except RuntimeError:  # e.g. the meta device
        return False


def _bias_term_grad(grad: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """``(B, V, d_out)`` summed over frames -> the bias term's shape ``(1, V, d_out)`` (summed over
    samples too) or ``(B, 1, V, d_out)``."""
    return grad.sum(dim=0, keepdim=True) if len(shape) == 3 else grad.unsqueeze(1)


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
        self._plan_groups(structural, num_actional)
        self.reset_parameters()

    def _plan_groups(self, structural: torch.Tensor, num_actional: int) -> None:
        """The :func:`row_groups` of the kernels' rows (an A-link kernel reaches every joint) as
        non-persistent index buffers, so they follow the module across devices."""
        v = structural.shape[-1]
        support = torch.cat([structural.ne(0).any(dim=-1), torch.ones(num_actional, v, dtype=torch.bool)])
        groups = row_groups(support)
        self._group_sizes = tuple((len(j), len(k)) for j, k in groups)
        joints = torch.tensor([i for j, _ in groups for i in j], dtype=torch.long)
        # row (i, k) of the compact stacked kernels = row k V + i of the (K V, V) kernel stack
        rows = [k * v + i for j, ks in groups for i in j for k in ks]
        self.register_buffer("_group_joints", joints, persistent=False)
        self.register_buffer(
            "_group_kernels",
            torch.tensor([k for _, ks in groups for k in ks], dtype=torch.long),
            persistent=False,
        )
        self.register_buffer("_group_rows", torch.tensor(rows, dtype=torch.long), persistent=False)
        self.register_buffer("_joint_order", torch.argsort(joints), persistent=False)  # back to 0..V-1

    def _groups(self) -> list[_Group]:
        groups, j0, k0, p0 = [], 0, 0, 0
        num_all = (self.structural.shape[-1], self.weight.shape[0])
        for nj, nk in self._group_sizes:
            g = _Group(self._group_joints[j0 : j0 + nj], self._group_kernels[k0 : k0 + nk], p0, num_all)
            groups.append(g)
            j0, k0, p0 = j0 + nj, k0 + nk, g.p1
        return groups

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
        # the rows of the row groups, [(i, k), j]; per sample with a broadcast batch axis for frames
        stacked = kernels.reshape(*kernels.shape[:-3], -1, v).index_select(-2, self._group_rows)
        if stacked.dim() == 3:
            stacked = stacked.unsqueeze(1)  # (B, 1, P, V)
        x_cl = x.permute(0, 2, 3, 1)  # (B, T, V, d_in): a view, contiguous when x is channels-last
        weight = self.weight.reshape(-1, self.out_channels)
        groups = self._groups()
        bias_term = None
        if self.bias is not None:
            # sum_k (K_k 1) b_k^T: each receiver's row sum of each kernel weights that kernel's bias
            bias_term = torch.matmul(kernels.sum(dim=-1).transpose(-1, -2), self.bias).unsqueeze(-3)
        fused = False  # the bias term added inside the chunk loop instead of after it
        if self.recompute and self.training and torch.is_grad_enabled():
            # unless autocast gives the products another dtype than the term's (the sum then promotes)
            fused = bias_term is not None and bias_term.dtype == x.dtype and not _autocast_on(x.device.type)
            y = _GraphMix.apply(x_cl, stacked, weight, groups, bias_term if fused else None)
        else:  # all frames at once, plain autograd
            y = torch.cat([_mix_group(g, stacked, x_cl, g.weight(self.weight)) for g in groups], dim=2)
            if not groups[0].whole:  # (a whole group is the only group)
                y = y.index_select(2, self._joint_order)  # (B, T, V, d_out)
        if bias_term is not None and not fused:
            y = y + bias_term
        return y.permute(0, 3, 1, 2)  # (B, d_out, T, V)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, structural={self.num_structural}, "
            f"actional={self.num_actional}, lambda={self.lambda_act}, bias={self.bias is not None}"
        )
