"""Recurrent relational network over the joints (or lines) of one skeleton frame (eqs. 4-8).

ARRN-LSTM (Li et al., Sec. 3.2.2) feeds the ``J`` embedded joints (or lines) ``v_{t,i}`` of a frame
to a recurrent relational network (Palm et al., "Recurrent Relational Networks", NeurIPS 2018) on
the complete graph of ``J`` nodes and iterates ``E`` times:

    m^e_{i,j} = f(h^{e-1}_i, h^{e-1}_j)                 message from node j to node i    (eq. 5)
    m^e_i     = sum_{j != i} m^e_{i,j}                  all other nodes are neighbours   (eq. 6)
    h^e_i     = g(h^{e-1}_i, v_{t,i}, m^e_i)            node update                      (eq. 7)
    w_{t,i}   = h^E_i                                   output                           (eq. 8)

with ``f`` three fully-connected layers and ``g`` a GRU cell (Sec. 4.1). Choices where the paper is
silent (after Palm et al.): ``h^0_i = v_{t,i}``; ``f`` has ReLUs between its layers and a linear
last layer; the GRU's input is ``[v_{t,i}; m^e_i]`` and its state ``h``; ``f`` and ``g`` are shared
by all nodes and iterations. Everything is vectorised over node sets (batch x frames x bodies) and
node pairs; Python loops run over the ``E`` iterations and over cache-sized chunks of node sets.

On x86-64 CPUs with AVX2 or AVX-512, float32 runs of the pair sums (eqs. 5-6) and of the GRU update
(eq. 7) go to fused compiled kernels (:mod:`.native`, ``kernels.cpp``); the PyTorch ops below are
the fallback (other CPUs and dtypes, ``SKELACT_NO_C=1``) and the reference the tests hold them to.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from . import native

__all__ = ["MessageFunction", "RecurrentRelationalNetwork", "pair_message_sums"]


#: Node sets per chunk of the pair computation: about 2^18 pair features (1 MiB in float32), so the
#: per-pair tensors of a chunk stay in a core's L2 cache through all of its passes.
_CHUNK_ELEMENTS = 1 << 18


def _chunk_sets(num_nodes: int, hidden: int) -> int:
    """Node sets per chunk: as many as fit :data:`_CHUNK_ELEMENTS` pair features, at least one."""
    return max(1, _CHUNK_ELEMENTS // max(1, num_nodes * num_nodes * hidden))


def _chunks(batch: int, num_nodes: int, hidden: int) -> list[slice]:
    """The slices of the ``batch`` node sets, :func:`_chunk_sets` at a time, that the forward and the
    backward both run over (the first is the longest)."""
    step = _chunk_sets(num_nodes, hidden)
    return [slice(a, min(a + step, batch)) for a in range(0, batch, step)]


def _add_relu(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``out = relu(a + b)`` (broadcasting) in one pass over ``out`` (ATen's fused ``_add_relu``)."""
    return torch.ops.aten._add_relu.out(a, b, out=out)


def _relu_grad(grad: torch.Tensor, activation: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``out = grad [activation > 0]`` in one pass: the relu's backward as autograd runs it
    (``threshold_backward``); ``out`` may be ``grad`` itself."""
    return torch.ops.aten.threshold_backward.grad_input(grad, activation, 0, grad_input=out)


def _pair_sums_chunk(recv: torch.Tensor, send: torch.Tensor, weight_t: torch.Tensor, bias: torch.Tensor,
                     z1: torch.Tensor, z2: torch.Tensor, out: torch.Tensor) -> None:
    """Eqs. 5-6's middle layer and sum for one chunk of node sets, written into ``z1``, ``z2``, ``out``.

    ``z1_ij = relu(recv_i + send_j)`` (the first layer, split per node), ``z2_ij = relu(W_2 z1_ij + b_2)``
    on all ``J x J`` ordered pairs, the self-pairs ``z2_ii`` set to zero, ``out_i = sum_j z2_ij``.
    The pair tensors are sender-major, ``[c, j, i]`` holds pair ``(i, j)``: the sum over ``j`` is then
    over the outer of the two node axes, which runs ~2.5x faster than over the inner one (the
    backward's two sums, over ``j`` and over ``i``, then take one each).
    """
    hidden = recv.shape[-1]
    _add_relu(recv.unsqueeze(1), send.unsqueeze(2), out=z1)  # (c, J_j, J_i, H)
    torch.addmm(bias, z1.view(-1, hidden), weight_t, out=z2.view(-1, hidden)).relu_()  # (c J J, H)
    z2.diagonal(dim1=1, dim2=2).zero_()  # j != i (eq. 6): no message from a node to itself
    torch.sum(z2, dim=1, out=out)  # (c, J_i, H)


#: Largest per-pair tensor ``(B, J, J, H)``, in elements, whose first-layer activations ``z1`` are
#: stored for the backward beside the 1-byte relu mask of ``z2`` (16 + 4 MiB: within this CPU's
#: 32 MiB L3); above it the forward stores only the mask and the backward recomputes ``z1``.
_STORE_ELEMENTS = 1 << 22


def _pair_sums(recv: torch.Tensor, send: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
               store: str | None = None) -> tuple[torch.Tensor, ...]:
    """``sum_{j != i} relu(W_2 relu(recv_i + send_j) + b_2)`` for ``(B, J, H)`` inputs, chunk by chunk.

    What is kept for a backward, ``(B, J, J, H)`` each, sender-major (``[b, j, i]`` is pair
    ``(i, j)``): ``store="activations"``: ``z1`` and the bool ``z2 > 0`` (self-pairs ``False``;
    the backward needs no more of ``z2``); ``store="mask"``: the bool ``z2 > 0`` only; ``None``:
    nothing. What is not kept lives in chunk-sized buffers that every chunk reuses.
    Returns ``(out, *stored)``.
    """
    batch, num_nodes, hidden = recv.shape
    chunks = _chunks(batch, num_nodes, hidden)
    out = recv.new_empty(batch, num_nodes, hidden)
    pairs = (batch, num_nodes, num_nodes, hidden)
    longest = chunks[0].stop if chunks else 0  # the first chunk starts at 0 and is the longest
    z1 = recv.new_empty(pairs) if store == "activations" else None
    kinds = 1 if z1 is not None else 2  # [z1 when not kept,] z2
    *b1, b2 = recv.new_empty(kinds, longest, *pairs[1:]).unbind(0)
    mask = recv.new_empty(pairs, dtype=torch.bool) if store else None
    weight_t = weight.t()
    for c in chunks:
        n = c.stop - c.start
        c1 = b1[0][:n] if z1 is None else z1[c]
        _pair_sums_chunk(recv[c], send[c], weight_t, bias, c1, b2[:n], out[c])
        if mask is not None:
            mask[c].copy_(b2[:n])  # z2 > 0, as z2 = relu(...) >= 0 (a cast: 6x faster than torch.gt)
    return (out, *(t for t in (z1, mask) if t is not None))


class _PairMessageSums(torch.autograd.Function):
    """:func:`_pair_sums` with a hand-written backward over the same chunks (eqs. 5-6).

    Autograd on the plain ops would materialise the broadcast gradient of the sum, copy it for the
    matrix products and scatter it back through the pair layout; here each chunk does it in cache:

        g2_ij  = g_i [z2_ij > 0]                       (sum, then relu;  g2_ii = 0 as z2_ii = 0)
        gz1_ij = (W_2^T g2_ij) [z1_ij > 0]             (layer 2, then relu)
        dW_2 = sum_ij g2_ij z1_ij^T,   db_2 = sum_ij g2_ij   (the latter as a product with ones)
        d recv_i = sum_j gz1_ij,       d send_j = sum_i gz1_ij

    The forward keeps the 1-byte mask ``z2 > 0``, all the backward needs of ``z2``. Small inputs (up
    to :data:`_STORE_ELEMENTS` per-pair elements) also keep ``z1``; larger ones recompute
    ``z1 = relu(recv_i + send_j)`` chunk by chunk (one add: cheaper than writing and reading back
    ``z1`` once it no longer fits in cache, and 5x less memory). Each relu and its backward is one
    pass (ATen's fused ``_add_relu`` and ``threshold_backward``) over chunk-sized buffers that stay
    in cache; the mask is a cast of ``z2``, cast back to float and multiplied in.

    Float32 CPU inputs go to the compiled kernels instead (:func:`.native.pair_forward` /
    :func:`.native.pair_backward`: the same formulas fused per receiver, a one-bit mask kept).
    """

    @staticmethod
    def forward(ctx, recv, send, weight, bias):
        ctx.native = native.usable(recv, send, weight, bias)
        if ctx.native:  # the compiled kernels: the same sums, a one-bit mask kept
            out, mask = native.pair_forward(recv, send, weight, bias, keep_mask=True)
            ctx.save_for_backward(recv, send, weight, mask)
            return out
        batch, num_nodes, hidden = recv.shape
        ctx.recompute = batch * num_nodes * num_nodes * hidden > _STORE_ELEMENTS
        if ctx.recompute:
            out, mask = _pair_sums(recv, send, weight, bias, store="mask")
            ctx.save_for_backward(recv, send, weight, mask)
        else:
            out, z1, mask = _pair_sums(recv, send, weight, bias, store="activations")
            ctx.save_for_backward(z1, weight, mask)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        if ctx.native:
            return native.pair_backward(grad, *ctx.saved_tensors)
        if ctx.recompute:
            recv, send, weight, mask = ctx.saved_tensors
        else:
            z1, weight, mask = ctx.saved_tensors
        batch, num_nodes, hidden = grad.shape
        chunks = _chunks(batch, num_nodes, hidden)
        grad_recv, grad_send = torch.empty_like(grad), torch.empty_like(grad)
        grad_weight = torch.zeros_like(weight)
        grad_bias = weight.new_zeros(hidden)
        kinds = 3 if ctx.recompute else 2  # [z1 recomputed,] g2, gz1
        bufs = grad.new_empty(kinds, chunks[0].stop, num_nodes, num_nodes, hidden)
        ones = grad.new_ones(chunks[0].stop * num_nodes * num_nodes)  # sums rows by a product
        for c in chunks:
            *b1, g2, gz1 = bufs[:, : c.stop - c.start].unbind(0)  # (c, J_j, J_i, H), sender-major
            g_i = grad[c].unsqueeze(1)  # (c, 1, J_i, H)
            if ctx.recompute:
                c1 = _add_relu(recv[c].unsqueeze(1), send[c].unsqueeze(2), out=b1[0])  # z1
            else:
                c1 = z1[c]
            # g_i [z2_ij > 0]: the mask cast to float, then multiplied in place (2.5x faster than one
            # mixed-dtype torch.mul at 1 thread, 1.6x at 2; a bool operand is slower still)
            g2.copy_(mask[c].view(torch.uint8)).mul_(g_i)
            g2_flat = g2.view(-1, hidden)  # (c J J, H)
            grad_weight.addmm_(g2_flat.t(), c1.view(-1, hidden))
            grad_bias.addmv_(g2_flat.t(), ones[: g2_flat.shape[0]])  # 2x faster than .sum(0) at H = 20
            torch.mm(g2_flat, weight, out=gz1.view(-1, hidden))
            _relu_grad(gz1, c1, out=gz1)  # (W_2^T g2_ij) [z1_ij > 0]
            torch.sum(gz1, dim=1, out=grad_recv[c])  # over senders j
            torch.sum(gz1, dim=2, out=grad_send[c])  # over receivers i
        return grad_recv, grad_send, grad_weight, grad_bias


def _pair_sums_autograd(recv: torch.Tensor, send: torch.Tensor, weight: torch.Tensor,
                        bias: torch.Tensor) -> torch.Tensor:
    """The same sum in plain differentiable ops, for tracing, ``torch.compile`` (which fuses them) and
    an accelerator's autocast."""
    z2 = F.relu(F.linear(F.relu(recv.unsqueeze(2) + send.unsqueeze(1)), weight, bias))  # (B, J, J, H)
    return z2.sum(dim=2) - z2.diagonal(dim1=1, dim2=2).transpose(1, 2)  # drop the self-pairs j = i


def _traced() -> bool:
    """Under ``torch.compile`` / ``torch.export`` or the TorchScript tracer."""
    return torch.compiler.is_compiling() or torch.jit.is_tracing()


def _plain_ops_only(device_type: str) -> bool:
    """Under ``torch.compile`` / ``torch.export``, the TorchScript tracer or autocast, the GRU update
    runs plain differentiable ops: no hand-written autograd function, no compiled kernel."""
    return _traced() or torch.is_autocast_enabled(device_type)


def _builds_graph(*tensors: torch.Tensor) -> bool:
    """Grad mode is on and one of ``tensors`` needs a gradient: a backward may follow."""
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def pair_message_sums(recv: torch.Tensor, send: torch.Tensor, weight: torch.Tensor,
                      bias: torch.Tensor) -> torch.Tensor:
    """``s_i = sum_{j != i} relu(W_2 relu(recv_i + send_j) + b_2)``, ``(B, J, H)`` from ``(B, J, H)`` inputs.

    The per-pair part of eqs. 5-6. Runs chunk by chunk over the node sets (or in the compiled kernels,
    :mod:`.native`, for float32 CPU tensors); under autograd through :class:`_PairMessageSums`,
    without it with no stored activations; under ``torch.compile`` / ``torch.export``, the
    TorchScript tracer or a GPU's autocast, through plain ops.

    Under a CPU's autocast (``train.precision=bf16-mixed``) the sums run in float32, autocast off:
    the inputs are cast up and the result is float32. The per-pair work is elementwise passes and
    small products (``H x H``) that gain little from bfloat16 on a CPU, and the float32 kernels run
    them several times faster than the plain ops in bfloat16 with no ``(B, J, J, H)`` tensors
    stored (the step's speed under ``bf16-mixed``: ``benchmarks/results/precision.md``).
    """
    device = recv.device.type
    if _traced() or (device != "cpu" and torch.is_autocast_enabled(device)):
        return _pair_sums_autograd(recv, send, weight, bias)
    if torch.is_autocast_enabled(device):  # a CPU's: float32, autocast off
        with torch.autocast(device, enabled=False):
            return pair_message_sums(recv.float(), send.float(), weight.float(), bias.float())
    if _builds_graph(recv, send, weight, bias):
        return _PairMessageSums.apply(recv, send, weight, bias)
    if native.usable(recv, send, weight, bias):
        return native.pair_forward(recv, send, weight, bias, keep_mask=False)[0]
    return _pair_sums(recv, send, weight, bias)[0]


class MessageFunction(nn.Module):
    """The message function ``f`` of eq. 5 and its sum over neighbours (eq. 6).

    ``f(h_i, h_j) = W_3 relu(W_2 relu(W_1 [h_i; h_j] + b_1) + b_2) + b_3`` (three FC layers).

    :meth:`forward` returns ``m_i = sum_{j != i} f(h_i, h_j)`` for all nodes without ever building
    the ``(J, J, 2D)`` concatenation. Two exact rewrites need ~4x fewer FLOPs than evaluating ``f``
    on every ordered pair:

    * first layer: ``W_1 [h_i; h_j] + b_1 = (W_a h_i + b_1) + W_b h_j`` with ``W_1 = [W_a, W_b]``,
      so the two halves are computed once per node and broadcast-added per pair;
    * last layer: it is affine, so ``sum_j (W_3 z_ij + b_3) = W_3 (sum_j z_ij) + (J-1) b_3`` and it
      runs once per node instead of once per pair.

    Only the middle layer runs per pair (:func:`pair_message_sums`): chunk by chunk over the node
    sets so that the per-pair tensors stay in cache, with a hand-written backward. The self-pairs
    ``j = i`` are computed and zeroed (``J / (J-1)`` of the work, no gather). :meth:`pairwise`
    evaluates ``f`` literally and is kept as the reference the tests and the benchmark compare
    against.
    """

    def __init__(self, dim: int, hidden: int | None = None):
        super().__init__()
        hidden = dim if hidden is None else hidden
        self.dim, self.hidden = dim, hidden
        self.fc1 = nn.Linear(2 * dim, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, dim)

    def pairwise(self, h_i: torch.Tensor, h_j: torch.Tensor) -> torch.Tensor:
        """``f(h_i, h_j)`` of eq. 5 evaluated literally on matching ``(..., D)`` tensors."""
        z = F.relu(self.fc1(torch.cat([h_i, h_j], dim=-1)))
        return self.fc3(F.relu(self.fc2(z)))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Summed messages ``m_i = sum_{j != i} f(h_i, h_j)`` (eqs. 5-6).

        Args:
            h: node states ``(B, J, D)``, ``B`` independent node sets (fully connected graphs).

        Returns:
            ``(B, J, D)``.
        """
        num_nodes = h.shape[1]
        w_recv, w_send = self.fc1.weight.split(self.dim, dim=1)  # (H, D) each
        recv = F.linear(h, w_recv, self.fc1.bias)  # (B, J, H): W_a h_i + b_1
        send = F.linear(h, w_send)  # (B, J, H): W_b h_j
        z = pair_message_sums(recv, send, self.fc2.weight, self.fc2.bias)  # (B, J, H): layers 1-2, sum
        return F.linear(z, self.fc3.weight) + (num_nodes - 1) * self.fc3.bias  # (B, J, D)


class RecurrentRelationalNetwork(nn.Module):
    """Recurrent relational network on a complete graph (ARRN-LSTM eqs. 4-8; Palm et al. 2018).

    Args:
        dim: node feature size ``M`` (the embedding size; the RRN keeps it, so ``w_t`` is
            ``(J, M)`` as in Sec. 3.2.2).
        iterations: ``E``, the number of message-passing steps (paper: 5).
        message_hidden: width of the message MLP's hidden layers (paper: unspecified; default
            ``dim``).
        checkpoint: recompute the per-pair activations of ``f`` in the backward pass instead of
            storing them (``torch.utils.checkpoint``): training memory of the RRN drops from
            ``2 E`` to about 2 tensors of ``(B, J, J, hidden)`` for roughly one extra forward
            of ``f``. Same results and gradients.

    Shapes: ``(B, J, M) -> (B, J, M)``; ``B`` node sets (one per frame and body), ``J`` nodes each.
    The network is permutation-equivariant over the ``J`` nodes.
    """

    def __init__(self, dim: int, iterations: int = 5, message_hidden: int | None = None,
                 checkpoint: bool = False):
        super().__init__()
        if iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {iterations}")
        self.dim, self.iterations, self.checkpoint = dim, iterations, checkpoint
        self.message = MessageFunction(dim, message_hidden)  # f, eqs. 5-6
        self.node = nn.GRUCell(2 * dim, dim)  # g, eq. 7: input [v_i; m_i], state h_i

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        """Run ``E`` iterations from ``h^0 = v`` and return ``w = h^E`` (eq. 8), ``(B, J, M)``.

        The GRU of eq. 7 reads ``[v_i; m^e_i]``; its input projection splits like ``f``'s first
        layer, ``W_ih [v; m] + b_ih = (W_v v + b_ih) + W_m m``, and the ``v`` half is the same in
        every iteration, so it runs once instead of ``E`` times (and its gradient is one product,
        not ``E``). The gates are :class:`torch.nn.GRUCell`'s, on its own weights (:func:`_gru_step`).
        """
        batch, num_nodes, dim = v.shape
        cell = self.node
        w_v, w_m = cell.weight_ih.split(dim, dim=1)  # (3M, M) each: the v and m halves of W_ih
        gates_v = F.linear(v.reshape(batch * num_nodes, dim), w_v, cell.bias_ih)  # (B J, 3M), once
        h = v.reshape(batch * num_nodes, dim)  # (B J, M): h^0 = v
        for _ in range(self.iterations):
            sets = h.view(batch, num_nodes, dim)
            if self.checkpoint and torch.is_grad_enabled():
                m = checkpoint(self.message, sets, use_reentrant=False)  # (B, J, M), eqs. 5-6
            else:
                m = self.message(sets)  # (B, J, M), eqs. 5-6
            m = m.view(batch * num_nodes, dim)
            h = _gru_step(gates_v, m, w_m, h, cell.weight_hh, cell.bias_hh)  # eq. 7
        return h.view(batch, num_nodes, dim)


def _gru_update_plain(gates_in: torch.Tensor, gates_h: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """One :class:`torch.nn.GRUCell` step from its two projections ``(N, 3M)`` (the order r, z, n):

        r = sigmoid(i_r + h_r),  z = sigmoid(i_z + h_z),  n = tanh(i_n + r h_n),  h' = n + z (h - n)

    in plain differentiable ops (autocast, ``torch.compile`` and the reference of the tests).
    """
    i_r, i_z, i_n = gates_in.chunk(3, dim=1)
    h_r, h_z, h_n = gates_h.chunk(3, dim=1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(torch.addcmul(i_n, r, h_n))
    return torch.lerp(n, h.to(n.dtype), z)  # (1 - z) n + z h; under autocast h may be wider than n


class _GRUUpdate(torch.autograd.Function):
    """:func:`_gru_update_plain` with a hand-written backward (eq. 7's gates).

    Autograd on the plain ops runs about fifteen passes over ``(N, M)`` tensors in the backward and
    concatenates the three gate gradients of each projection into a new ``(N, 3M)`` tensor; here the
    forward computes ``r`` and ``z`` in one pass over both and keeps them with ``n``, and the
    backward writes the gate gradients straight into the columns of the two ``(N, 3M)`` results:

        dh = g z,   dn = g (1 - z),   da_n = dn (1 - n^2),   da_z = g (h - n) z (1 - z),
        da_r = da_n h_n r (1 - r);   d gates_in = [da_r, da_z, da_n],   d gates_h = [da_r, da_z, da_n r]
    """

    @staticmethod
    def forward(ctx, gates_in, gates_h, h):
        dim = h.shape[1]
        rz = torch.add(gates_in[:, : 2 * dim], gates_h[:, : 2 * dim]).sigmoid_()  # [r, z], (N, 2M)
        r, z = rz[:, :dim], rz[:, dim:]
        h_n = gates_h[:, 2 * dim :]
        n = torch.addcmul(gates_in[:, 2 * dim :], r, h_n).tanh_()
        ctx.save_for_backward(rz, n, h_n, h)
        return torch.lerp(n, h, z)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        rz, n, h_n, h = ctx.saved_tensors
        dim = h.shape[1]
        r, z = rz[:, :dim], rz[:, dim:]
        grad_in = grad.new_empty(grad.shape[0], 3 * dim)
        da_r, da_z, da_n = grad_in[:, :dim], grad_in[:, dim : 2 * dim], grad_in[:, 2 * dim :]
        grad_h = grad * z
        torch.ops.aten.tanh_backward.grad_input(grad - grad_h, n, grad_input=da_n)  # dn (1 - n^2)
        torch.ops.aten.sigmoid_backward.grad_input(grad * (h - n), z, grad_input=da_z)
        torch.ops.aten.sigmoid_backward.grad_input(da_n * h_n, r, grad_input=da_r)
        grad_gates_h = torch.empty_like(grad_in)
        grad_gates_h[:, : 2 * dim] = grad_in[:, : 2 * dim]
        torch.mul(da_n, r, out=grad_gates_h[:, 2 * dim :])
        return grad_in, grad_gates_h, grad_h


def _gru_update(gates_in: torch.Tensor, gates_h: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """One :class:`torch.nn.GRUCell` step from its two projections ``(N, 3M)`` (the order r, z, n):

        r = sigmoid(i_r + h_r),  z = sigmoid(i_z + h_z),  n = tanh(i_n + r h_n),  h' = n + z (h - n)

    Under autograd through :class:`_GRUUpdate`; under autocast, ``torch.compile`` / ``torch.export``
    or the TorchScript tracer through plain ops, as :func:`pair_message_sums`. The PyTorch path of
    :func:`_gru_step`.
    """
    if _plain_ops_only(h.device.type):
        return _gru_update_plain(gates_in, gates_h, h)
    if _builds_graph(gates_in, gates_h, h):
        return _GRUUpdate.apply(gates_in, gates_h, h)
    return _gru_update_plain(gates_in, gates_h, h)


class _NativeGRUUpdate(torch.autograd.Function):
    """The GRU update of :class:`_GRUUpdate` in the compiled kernel (:func:`.native.gru_forward` /
    :func:`.native.gru_backward`), from the parts of the projections: ``gates_in = gates_v + gates_m``
    and ``gates_h + bias_h``, summed inside the kernel (so no product first writes a bias or an added
    tensor into its fresh ``(N, 3M)`` result, as ``addmm`` does). ``d gates_v = d gates_m = d gates_in``;
    ``d bias_h``, the column sums of ``d gates_h``, comes from the same pass.
    """

    @staticmethod
    def forward(ctx, gates_v, gates_m, gates_h, bias_h, h):
        out, rz, n = native.gru_forward(gates_v, gates_m, gates_h, bias_h, h, keep=True)
        ctx.save_for_backward(rz, n, gates_h, bias_h, h)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        grad_in, grad_gates_h, grad_bias_h, grad_h = native.gru_backward(grad, *ctx.saved_tensors)
        return grad_in, grad_in, grad_gates_h, grad_bias_h, grad_h


def _gru_step(gates_v: torch.Tensor, m: torch.Tensor, w_m: torch.Tensor, h: torch.Tensor,
              weight_hh: torch.Tensor, bias_hh: torch.Tensor) -> torch.Tensor:
    """Eq. 7: ``h' = GRUCell([v; m], h)`` from ``gates_v = W_v v + b_ih`` (``(N, 3M)``), the messages
    ``m`` and state ``h`` (``(N, M)``), the ``m`` half ``w_m`` of ``W_ih`` and the state's ``W_hh``,
    ``b_hh``.

    Float32 CPU tensors outside autocast and tracing go to the compiled kernel
    (:class:`_NativeGRUUpdate`, or :func:`.native.gru_forward` without gradients) with the
    projections' parts as plain products; everything else forms the projections with ``addmm`` /
    ``linear`` and runs :func:`_gru_update`.
    """
    tensors = (gates_v, m, w_m, h, weight_hh, bias_hh)
    if not _plain_ops_only(h.device.type) and native.usable(*tensors):
        parts = (gates_v, torch.mm(m, w_m.t()), torch.mm(h, weight_hh.t()), bias_hh, h)
        if _builds_graph(*tensors):
            return _NativeGRUUpdate.apply(*parts)
        return native.gru_forward(*parts, keep=False)[0]
    return _gru_update(torch.addmm(gates_v, m, w_m.t()), F.linear(h, weight_hh, bias_hh), h)
