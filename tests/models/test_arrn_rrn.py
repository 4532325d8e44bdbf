"""Recurrent relational network of ARRN-LSTM (eqs. 4-8)."""

from __future__ import annotations

import pytest
import torch

from skelact.models.arrn import MessageFunction, RecurrentRelationalNetwork


def _literal_messages(f: MessageFunction, h: torch.Tensor) -> torch.Tensor:
    """eqs. 5-6 read literally: m_i = sum_{j != i} f(h_i, h_j), one pair at a time."""
    b, j, _ = h.shape
    out = []
    for i in range(j):
        out.append(sum(f.pairwise(h[:, i], h[:, k]) for k in range(j) if k != i))
    return torch.stack(out, dim=1)


def test_message_split_trick_equals_literal_pairwise_sum():
    f = MessageFunction(dim=6, hidden=5)
    h = torch.randn(3, 4, 6, dtype=torch.float64, requires_grad=True)
    f = f.double()
    fast = f(h)
    ref = _literal_messages(f, h)
    torch.testing.assert_close(fast, ref)
    # identical gradients too (w.r.t. the input and every weight)
    g = torch.randn_like(fast)
    grads_fast = torch.autograd.grad(fast, [h, *f.parameters()], g)
    grads_ref = torch.autograd.grad(_literal_messages(f, h), [h, *f.parameters()], g)
    for a, b in zip(grads_fast, grads_ref, strict=True):
        torch.testing.assert_close(a, b)


def _literal_rrn(rrn: RecurrentRelationalNetwork, v: torch.Tensor) -> torch.Tensor:
    """eqs. 4-8 with h^0 = v and g = GRU([v_i; m_i], h_i), node by node."""
    h = v
    for _ in range(rrn.iterations):
        m = _literal_messages(rrn.message, h)
        h = torch.stack([rrn.node(torch.cat([v[:, i], m[:, i]], dim=-1), h[:, i]) for i in range(v.shape[1])],
                        dim=1)
    return h


def test_rrn_matches_node_by_node_reference():
    rrn = RecurrentRelationalNetwork(dim=5, iterations=3, message_hidden=7).double()
    v = torch.randn(2, 4, 5, dtype=torch.float64)
    torch.testing.assert_close(rrn(v), _literal_rrn(rrn, v))


def test_rrn_is_permutation_equivariant_over_nodes():
    rrn = RecurrentRelationalNetwork(dim=8, iterations=5)
    v = torch.randn(6, 25, 8)
    perm = torch.randperm(25)
    torch.testing.assert_close(rrn(v[:, perm]), rrn(v)[:, perm], atol=1e-5, rtol=1e-5)


def test_node_sets_are_independent_and_every_iteration_counts():
    rrn = RecurrentRelationalNetwork(dim=4, iterations=2)
    v = torch.randn(3, 5, 4)
    w = rrn(v)
    v2 = v.clone()
    v2[1] += 1.0  # change set 1 only
    w2 = rrn(v2)
    torch.testing.assert_close(w2[[0, 2]], w[[0, 2]])
    assert not torch.allclose(w2[1], w[1])
    rrn.iterations = 1
    assert not torch.allclose(rrn(v), w)


def test_rrn_gradients_reach_all_parameters():
    rrn = RecurrentRelationalNetwork(dim=4, iterations=2)
    v = torch.randn(3, 5, 4, requires_grad=True)
    rrn(v).pow(2).sum().backward()
    assert v.grad.abs().sum() > 0
    for name, p in rrn.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_rrn_rejects_zero_iterations():
    with pytest.raises(ValueError):
        RecurrentRelationalNetwork(dim=4, iterations=0)


def _plain_pair_sums(recv, send, weight, bias):
    """Eqs. 5-6's middle layer summed over j != i, pair by pair."""
    j = recv.shape[1]
    cols = []
    for i in range(j):
        cols.append(sum(torch.relu(torch.relu(recv[:, i] + send[:, k]) @ weight.t() + bias)
                        for k in range(j) if k != i))
    return torch.stack(cols, dim=1)


def _pair_inputs(batch=5, nodes=4, hidden=3):
    g = torch.Generator().manual_seed(0)
    return [torch.randn(*shape, dtype=torch.float64, generator=g, requires_grad=True)
            for shape in [(batch, nodes, hidden), (batch, nodes, hidden), (hidden, hidden), (hidden,)]]


@pytest.mark.parametrize("store_elements", [0, 1 << 22])  # the backward recomputes z1 / reads it back
@pytest.mark.parametrize("chunk_elements", [1, 2 * 16 * 3, 1 << 18])  # 1 set, 2 sets (+ a remainder), all
def test_pair_message_sums_equal_the_pairwise_sum_and_its_gradients(chunk_elements, store_elements,
                                                                    monkeypatch):
    from skelact.models.arrn import rrn as rrn_module

    monkeypatch.setattr(rrn_module, "_CHUNK_ELEMENTS", chunk_elements)
    monkeypatch.setattr(rrn_module, "_STORE_ELEMENTS", store_elements)
    inputs = _pair_inputs()
    ref = _plain_pair_sums(*inputs)
    out = rrn_module.pair_message_sums(*inputs)
    assert out.grad_fn is not None and type(out.grad_fn).__name__ == "_PairMessageSumsBackward"
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    g = torch.randn_like(ref)
    for a, b in zip(torch.autograd.grad(out, inputs, g), torch.autograd.grad(ref, inputs, g), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    with torch.no_grad():  # the path that stores nothing
        torch.testing.assert_close(rrn_module.pair_message_sums(*inputs), ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("store_elements", [0, 1 << 22])
def test_pair_message_sums_pass_gradcheck_across_chunks(store_elements, monkeypatch):
    from skelact.models.arrn import rrn as rrn_module

    monkeypatch.setattr(rrn_module, "_CHUNK_ELEMENTS", 2 * 3 * 3 * 2)  # 2 node sets per chunk
    monkeypatch.setattr(rrn_module, "_STORE_ELEMENTS", store_elements)
    inputs = _pair_inputs(batch=3, nodes=3, hidden=2)
    assert torch.autograd.gradcheck(rrn_module._PairMessageSums.apply, inputs)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_pair_message_sums_run_in_float32_under_cpu_autocast(dtype):
    """``bf16-mixed`` on a CPU: the pair sums leave autocast and run the float32 path (the autograd
    function, the compiled kernels where built) on inputs cast up; values and gradients are those of
    the float32 inputs outside autocast, exactly, and the gradients reach the inputs in their dtype."""
    from skelact.models.arrn.rrn import pair_message_sums

    inputs = [t.detach().to(dtype).requires_grad_() for t in _pair_inputs()]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = pair_message_sums(*inputs)
    assert out.dtype == torch.float32 and type(out.grad_fn).__name__ == "_PairMessageSumsBackward"
    ref_inputs = [t.detach().float().requires_grad_() for t in inputs]
    ref = pair_message_sums(*ref_inputs)
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    g = torch.randn_like(ref)
    grads = torch.autograd.grad(out, inputs, g)
    for a, b in zip(grads, torch.autograd.grad(ref, ref_inputs, g), strict=True):
        assert a.dtype == dtype
        torch.testing.assert_close(a, b.to(dtype), rtol=0, atol=0)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        torch.testing.assert_close(pair_message_sums(*inputs), ref, rtol=0, atol=0)


def test_pair_message_sums_use_plain_ops_when_traced():
    """The TorchScript tracer records the plain ops (no autograd function, no kernel), under a CPU's
    autocast too."""
    from skelact.models.arrn import rrn as rrn_module

    inputs = [t.detach().float() for t in _pair_inputs()]
    ref = _plain_pair_sums(*inputs)
    for autocast in (False, True):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            traced = torch.jit.trace(rrn_module.pair_message_sums, inputs, check_trace=False)
        nodes = {n.kind() for n in traced.graph.nodes()}
        assert "aten::relu" in nodes and not any("Python" in k for k in nodes)
        out = traced(*inputs)
        assert out.dtype == (torch.bfloat16 if autocast else torch.float32)  # the trace's own casts
        tol = 0.05 if autocast else 1e-6
        torch.testing.assert_close(out.float(), ref, rtol=tol, atol=tol)


def test_pair_chunks_hold_about_a_mebibyte_of_float32_pair_features():
    from skelact.models.arrn.rrn import _chunk_sets

    assert _chunk_sets(20, 20) == 32  # MSRAction3D / Florence preset: 32 x 20 x 20 x 20 = 256,000
    assert _chunk_sets(25, 50) == 8  # NTU preset
    assert _chunk_sets(200, 50) == 1  # never fewer than one node set
    assert _chunk_sets(1, 1) == 1 << 18  # one pair feature per set


def test_forward_and_backward_share_the_chunk_slices(monkeypatch):
    """Both passes run over ``_chunks``: consecutive slices of ``_chunk_sets`` node sets covering the
    batch once, the remainder last; an empty batch has none and gives an empty sum."""
    from skelact.models.arrn import rrn as rrn_module

    monkeypatch.setattr(rrn_module, "_CHUNK_ELEMENTS", 2 * 4 * 4 * 3)  # 2 node sets of 4 nodes, H = 3
    assert rrn_module._chunks(5, 4, 3) == [slice(0, 2), slice(2, 4), slice(4, 5)]
    assert rrn_module._chunks(4, 4, 3) == [slice(0, 2), slice(2, 4)]
    assert rrn_module._chunks(1, 4, 3) == [slice(0, 1)]
    assert rrn_module._chunks(0, 4, 3) == []
    recv, send, weight, bias = (t.detach() for t in _pair_inputs(batch=0, nodes=4, hidden=3))
    for store, dtypes in ((None, []), ("activations", [torch.float64, torch.bool]), ("mask", [torch.bool])):
        out, *stored = rrn_module._pair_sums(recv, send, weight, bias, store=store)
        assert out.shape == (0, 4, 3) and all(t.shape == (0, 4, 4, 3) for t in stored)
        assert [t.dtype for t in stored] == dtypes  # what is kept: nothing, z1 and the mask, the mask
    # the backward reads the same slices: one call per pass, each given the batch's shape
    seen = []
    chunks = rrn_module._chunks
    monkeypatch.setattr(rrn_module, "_chunks", lambda *a: seen.append(a) or chunks(*a))
    inputs = _pair_inputs(batch=5, nodes=4, hidden=3)
    rrn_module._PairMessageSums.apply(*inputs).sum().backward()
    assert seen == [(5, 4, 3), (5, 4, 3)]


def test_pair_message_sums_run_each_chunk_once_without_warnings(monkeypatch):
    import warnings

    from skelact.models.arrn import rrn as rrn_module

    monkeypatch.setattr(rrn_module, "_CHUNK_ELEMENTS", 2 * 16 * 3)  # 2 of the 5 node sets per chunk
    calls = []
    chunk = rrn_module._pair_sums_chunk
    monkeypatch.setattr(rrn_module, "_pair_sums_chunk",
                        lambda *a: (calls.append(a[0].shape[0]), chunk(*a))[1])
    inputs = _pair_inputs()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. an out= tensor of the wrong shape, resized
        rrn_module.pair_message_sums(*inputs).sum().backward()
        with torch.no_grad():
            rrn_module.pair_message_sums(*inputs)
    assert calls == [2, 2, 1, 2, 2, 1]


def test_pair_message_sums_store_activations_only_for_the_backward(monkeypatch):
    """Nothing is stored without a backward to come; with one, ``z1`` and the relu mask of ``z2``
    while the per-pair tensor is at most ``_STORE_ELEMENTS`` (5 x 4 x 4 x 3 = 240 here), above it
    the mask only."""
    from skelact.models.arrn import rrn as rrn_module

    kept = []
    pair_sums = rrn_module._pair_sums
    monkeypatch.setattr(rrn_module, "_pair_sums",
                        lambda *a, store=None: (kept.append(store), pair_sums(*a, store=store))[1])
    recv, send, weight, bias = (t.detach() for t in _pair_inputs())
    rrn_module.pair_message_sums(recv, send, weight, bias)  # grad mode on, nothing requires grad
    with torch.no_grad():
        rrn_module.pair_message_sums(recv, send, weight.requires_grad_(), bias)
    rrn_module.pair_message_sums(recv, send, weight, bias)  # a weight requires grad
    monkeypatch.setattr(rrn_module, "_STORE_ELEMENTS", 240)
    rrn_module.pair_message_sums(recv, send, weight, bias)
    monkeypatch.setattr(rrn_module, "_STORE_ELEMENTS", 239)
    out = rrn_module.pair_message_sums(recv, send, weight, bias)
    assert kept == [None, None, "activations", "activations", "mask"]
    mask = out.grad_fn.saved_tensors[-1]
    assert mask.dtype == torch.bool and mask.shape == (5, 4, 4, 3)
    assert not mask.diagonal(dim1=1, dim2=2).any()  # the self-pairs send no message


def test_pair_message_sums_use_plain_ops_when_traced_or_exported(monkeypatch):
    from skelact.models.arrn import rrn as rrn_module

    calls = []
    plain = rrn_module._pair_sums_autograd
    monkeypatch.setattr(rrn_module, "_pair_sums_autograd", lambda *a: (calls.append(1), plain(*a))[1])
    rrn = RecurrentRelationalNetwork(dim=4, iterations=2).eval()
    v = torch.randn(3, 5, 4)
    with torch.no_grad():
        ref = rrn(v)
        assert calls == []
        traced = torch.jit.trace(rrn, (v,), check_trace=False)  # TorchScript tracer: no compile
    assert len(calls) == 2
    torch.testing.assert_close(traced(v), ref)
    calls.clear()
    exported = torch.export.export(rrn, (v,))  # dynamo: is_compiling
    assert calls  # the message passes are traced through the plain ops
    torch.testing.assert_close(exported.module()(v), ref)


def test_rrn_defaults_are_the_papers_five_iterations_without_checkpointing():
    rrn = RecurrentRelationalNetwork(dim=4)
    assert (rrn.dim, rrn.iterations, rrn.checkpoint) == (4, 5, False)
    assert rrn.message.hidden == 4 and rrn.message.fc1.out_features == 4  # message width defaults to M
    assert (rrn.node.input_size, rrn.node.hidden_size) == (8, 4)
    assert RecurrentRelationalNetwork(dim=4, message_hidden=6).message.fc2.in_features == 6


def test_rrn_rejects_zero_iterations_naming_the_value():
    with pytest.raises(ValueError, match=r"^iterations must be >= 1, got 0$"):
        RecurrentRelationalNetwork(dim=4, iterations=0)


def test_checkpointed_messages_give_the_weights_gradients_when_the_input_needs_none():
    """The RRN's input is often a constant (e.g. a frozen embedding): the checkpointed messages must
    still pass the gradients to f's weights, and work with ``torch.autograd.grad``."""
    torch.manual_seed(0)
    plain = RecurrentRelationalNetwork(dim=4, iterations=2, message_hidden=5)
    ckpt = RecurrentRelationalNetwork(dim=4, iterations=2, message_hidden=5, checkpoint=True)
    ckpt.load_state_dict(plain.state_dict())
    v = torch.randn(3, 5, 4)  # requires no grad
    grads = [torch.autograd.grad(m(v).pow(2).sum(), list(m.parameters())) for m in (plain, ckpt)]
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b)


def test_message_pairwise_is_f_on_the_concatenated_pair():
    f = MessageFunction(dim=3, hidden=4)
    h_i, h_j = torch.randn(2, 5, 3), torch.randn(2, 5, 3)  # any leading shape: (B, J, D) here
    z = torch.relu(f.fc1(torch.cat([h_i, h_j], dim=-1)))
    torch.testing.assert_close(f.pairwise(h_i, h_j), f.fc3(torch.relu(f.fc2(z))))
    assert not torch.allclose(f.pairwise(h_i, h_j), f.pairwise(h_j, h_i))  # ordered: receiver first


@pytest.mark.parametrize("checkpointed", [False, True])
def test_checkpointing_recomputes_the_messages_in_the_backward_pass_only(checkpointed, monkeypatch):
    rrn = RecurrentRelationalNetwork(dim=4, iterations=3, checkpoint=checkpointed)
    calls = []
    forward = MessageFunction.forward

    def counted(self, h):
        calls.append(h.shape)
        return forward(self, h)

    monkeypatch.setattr(MessageFunction, "forward", counted)
    v = torch.randn(2, 5, 4, requires_grad=True)
    out = rrn(v)
    assert len(calls) == 3  # one message pass per iteration
    out.sum().backward()
    assert len(calls) == (6 if checkpointed else 3)  # recomputed once more for the gradients
    calls.clear()
    with torch.no_grad():
        rrn(v)
    assert len(calls) == 3


def test_pair_sums_allocate_chunk_buffers_only_for_what_they_do_not_keep():
    """Memory: with ``z1`` stored the forward needs one chunk buffer (``z2``), otherwise two
    (``z1``, ``z2``), each as long as the longest chunk; outputs are the same either way."""
    from torch.utils._python_dispatch import TorchDispatchMode

    from skelact.models.arrn import rrn

    class Allocations(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.shapes = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if func is torch.ops.aten.new_empty.default:
                self.shapes.append((tuple(out.shape), out.dtype))
            return out

    torch.manual_seed(0)
    recv, send, w, b = torch.randn(2, 5, 8), torch.randn(2, 5, 8), torch.randn(8, 8), torch.randn(8)
    pairs, outs = (2, 5, 5, 8), {}
    want = {
        "activations": [((2, 5, 8), torch.float32), (pairs, torch.float32), ((1, *pairs), torch.float32),
                        (pairs, torch.bool)],
        "mask": [((2, 5, 8), torch.float32), ((2, *pairs), torch.float32), (pairs, torch.bool)],
        None: [((2, 5, 8), torch.float32), ((2, *pairs), torch.float32)],
    }
    for store, shapes in want.items():
        with Allocations() as seen:
            outs[store] = rrn._pair_sums(recv, send, w, b, store)[0]
        assert seen.shapes == shapes, store
    torch.testing.assert_close(outs["activations"], outs[None])
    torch.testing.assert_close(outs["mask"], outs[None])
    with Allocations() as seen:  # an empty batch has no chunk: empty buffers
        rrn._pair_sums(recv[:0], send[:0], w, b)
    assert seen.shapes == [((0, 5, 8), torch.float32), ((2, 0, 5, 5, 8), torch.float32)]


def _gru_inputs(cell, batch=5):
    """The two projections of ``nn.GRUCell`` for a random input and state, as the RRN computes them."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(batch, cell.input_size, dtype=torch.float64, generator=g, requires_grad=True)
    h = torch.randn(batch, cell.hidden_size, dtype=torch.float64, generator=g, requires_grad=True)
    gates_in = torch.nn.functional.linear(x, cell.weight_ih, cell.bias_ih)
    gates_h = torch.nn.functional.linear(h, cell.weight_hh, cell.bias_hh)
    return x, h, gates_in, gates_h


def test_gru_update_is_grucell_with_a_hand_written_backward():
    from skelact.models.arrn.rrn import _gru_update, _GRUUpdate

    cell = torch.nn.GRUCell(6, 4).double()
    x, h, gates_in, gates_h = _gru_inputs(cell)
    out = _gru_update(gates_in, gates_h, h)
    assert type(out.grad_fn).__name__ == "_GRUUpdateBackward"
    ref = cell(x, h)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    g = torch.randn_like(ref)
    wrt = [x, h, *cell.parameters()]
    for a, b in zip(torch.autograd.grad(out, wrt, g), torch.autograd.grad(ref, wrt, g), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    leaves = [t.detach().requires_grad_() for t in (gates_in, gates_h, h)]
    assert torch.autograd.gradcheck(_GRUUpdate.apply, leaves)


def test_gru_update_uses_plain_ops_under_autocast_and_without_gradients():
    from skelact.models.arrn.rrn import _gru_update

    cell = torch.nn.GRUCell(6, 4)
    x, h, gates_in, gates_h = (t.float() for t in _gru_inputs(cell.double()))
    cell = cell.float()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = _gru_update(gates_in, gates_h, h)
    assert type(out.grad_fn).__name__ != "_GRUUpdateBackward"
    torch.testing.assert_close(out, cell(x, h), rtol=0, atol=1e-6)
    with torch.no_grad():
        out = _gru_update(gates_in, gates_h, h)
        assert out.grad_fn is None
        torch.testing.assert_close(out, cell(x, h), rtol=0, atol=1e-6)


def test_gru_update_uses_plain_ops_when_traced_or_exported_with_gradients(monkeypatch):
    """The TorchScript tracer and ``torch.export`` (dynamo) record the GRU update's plain ops, not the
    hand-written autograd function, also where gradients are enabled (a training-mode trace)."""
    from skelact.models.arrn import rrn as rrn_module

    calls = []
    plain = rrn_module._gru_update_plain
    monkeypatch.setattr(rrn_module, "_gru_update_plain", lambda *a: (calls.append(1), plain(*a))[1])
    rrn = RecurrentRelationalNetwork(dim=4, iterations=2)
    v = torch.randn(3, 5, 4)
    ref = rrn(v)
    assert calls == [] and ref.requires_grad  # eager with gradients: the autograd function
    traced = torch.jit.trace(rrn, (v,), check_trace=False)
    assert len(calls) == 2  # one per iteration
    torch.testing.assert_close(traced(v), ref)
    calls.clear()
    exported = torch.export.export(rrn, (v,))
    assert calls
    torch.testing.assert_close(exported.module()(v), ref)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_rrn_trains_under_autocast_from_float32_and_bfloat16_inputs(dtype):
    """``train.precision=bf16-mixed``: the embedding hands the RRN bfloat16 (float32 where it runs
    outside autocast); the projections come out in bfloat16, and a float32 state must meet them in
    ``lerp`` (which takes one dtype) in their dtype. Values stay within bfloat16's precision."""
    torch.manual_seed(0)
    rrn = RecurrentRelationalNetwork(dim=8, iterations=3)
    v = torch.randn(4, 5, 8).to(dtype).requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = rrn(v)
    out.float().pow(2).sum().backward()
    assert out.dtype == torch.bfloat16 and v.grad.dtype == dtype and torch.isfinite(v.grad).all()
    torch.testing.assert_close(out.float(), rrn(v.detach().float()), rtol=0.05, atol=0.05)


@pytest.mark.parametrize("needs_grad", range(4))
def test_pair_message_sums_build_a_graph_when_any_one_input_needs_a_gradient(needs_grad):
    """Any one of the four inputs needing a gradient is enough for the autograd function; its
    gradient is the plain ops' (a frozen weight or a constant input must not cut the graph)."""
    from skelact.models.arrn.rrn import pair_message_sums

    _assert_graph_from_one_input(pair_message_sums, _plain_pair_sums, _pair_inputs(), needs_grad,
                                 "_PairMessageSumsBackward")


@pytest.mark.parametrize("needs_grad", range(3))
def test_gru_update_builds_a_graph_when_any_one_input_needs_a_gradient(needs_grad):
    from skelact.models.arrn.rrn import _gru_update, _gru_update_plain

    _, h, gates_in, gates_h = _gru_inputs(torch.nn.GRUCell(6, 4).double())
    _assert_graph_from_one_input(_gru_update, _gru_update_plain, (gates_in, gates_h, h), needs_grad,
                                 "_GRUUpdateBackward")


def _assert_graph_from_one_input(fn, plain, inputs, needs_grad: int, backward: str) -> None:
    """``fn`` with only input ``needs_grad`` needing a gradient builds its autograd function
    ``backward``, and that input's gradient is ``plain``'s."""
    inputs = [t.detach() for t in inputs]
    inputs[needs_grad].requires_grad_()
    out = fn(*inputs)
    assert type(out.grad_fn).__name__ == backward
    (got,) = torch.autograd.grad(out.sum(), inputs[needs_grad])
    (want,) = torch.autograd.grad(plain(*inputs).sum(), inputs[needs_grad])
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
