"""The compiled RRN kernels (``models/arrn/kernels.cpp`` through :mod:`skelact.models.arrn.native`).

Each build this CPU runs (on an AVX-512 machine both the AVX-512 and the AVX2 build) is compared
with the PyTorch ops of :mod:`skelact.models.arrn.rrn` evaluated in float64: the pair sums of
eqs. 5-6 and the GRU update of eq. 7, values and every gradient, over shapes that leave partial
row tiles and partial vectors, and node sets split between more threads than there are.
"""

from __future__ import annotations

import contextlib
import platform

import pytest
import torch

from skelact.models.arrn import RecurrentRelationalNetwork, native
from skelact.models.arrn import rrn as rrn_module

X86 = platform.machine().lower() in {"x86_64", "amd64"}
VARIANTS = native.runnable_variants()


def _proc_cpuinfo_flags() -> set[str]:
    """This CPU's flags read here, independently of the code under test."""
    try:
        text = open("/proc/cpuinfo", encoding="utf-8").read()
    except OSError:
        return set()
    return {word for line in text.splitlines() if line.startswith("flags") for word in line.split()}


def test_a_build_for_this_cpu_is_installed_and_used():
    """setup.py builds both variants on x86-64; a CPU with AVX2 + FMA must get one (a failed build
    would otherwise leave every run on the slower PyTorch ops without a word)."""
    flags = _proc_cpuinfo_flags()
    if not (X86 and {"avx2", "fma"} <= flags):
        pytest.skip(f"no kernel for this CPU ({platform.machine()}, flags without avx2 + fma)")
    expected = ["avx512", "avx2"] if "avx512f" in flags else ["avx2"]
    assert native.runnable_variants() == expected == VARIANTS
    assert native.variant() == expected[0]
    for name in expected:  # the uncached loader: each build is there, with its vector width
        lib = native._bind.__wrapped__(name)
        assert lib.skelact_pair_lanes() == {"avx512": 16, "avx2": 8}[name]
        assert native._library_file(name).name.startswith(f"_kernels_{name}.")


def test_cpu_flags_come_from_the_flags_line(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu avx2 fma sse\n\n"
                       "processor\t: 1\nflags\t\t: fpu avx2 fma sse\n")
    assert native._cpu_flags(str(cpuinfo)) == {"fpu", "avx2", "fma", "sse"}
    cpuinfo.write_text("processor\t: 0\nFeatures\t: neon asimd\n")  # an Arm CPU: no x86 flags line
    assert native._cpu_flags(str(cpuinfo)) == frozenset()
    assert native._cpu_flags(str(tmp_path / "absent")) == frozenset()  # off Linux


def test_runnable_variants_follow_the_cpu_flags(monkeypatch):
    cases = [({"avx512f", "avx2", "fma", "sse"}, ["avx512", "avx2"]), ({"avx2", "fma"}, ["avx2"]),
             ({"avx2"}, []), ({"avx512f", "fma"}, []), (set(), [])]
    for flags, expected in cases:
        monkeypatch.setattr(native, "_cpu_flags", lambda flags=flags: frozenset(flags))
        assert native.runnable_variants() == expected, flags


def test_no_build_is_found_for_an_unknown_name():
    assert native._library_file("sse2") is None and native._bind.__wrapped__("sse2") is None


def test_a_build_that_does_not_load_is_skipped_with_a_warning(tmp_path, monkeypatch):
    broken = tmp_path / "_kernels_avx2.so"
    broken.write_bytes(b"not a shared library")
    monkeypatch.setattr(native, "_library_file", lambda name: broken)
    with pytest.warns(RuntimeWarning, match=r"cannot load the RRN kernels .*_kernels_avx2\.so.*PyTorch ops"):
        assert native._bind.__wrapped__("avx2") is None


@pytest.fixture(params=VARIANTS or [pytest.param(None, marks=pytest.mark.skip("no kernel for this CPU"))])
def variant(request, monkeypatch):
    """Each build this CPU runs, in turn, as the one in use."""
    lib = native._bind(request.param)
    assert lib is not None, f"the {request.param} build is missing"
    monkeypatch.setattr(native, "_load", lambda: (request.param, lib))
    return request.param


def _pair_case(batch, nodes, hidden, seed=0):
    g = torch.Generator().manual_seed(seed)
    recv, send = (torch.randn(batch, nodes, hidden, generator=g) for _ in range(2))
    weight = torch.randn(hidden, hidden, generator=g) / hidden**0.5
    bias = 0.3 * torch.randn(hidden, generator=g)
    return recv, send, weight, bias


def _close(actual, expected):
    """float32 kernels against a float64 reference: agreement to about 1e-6 of the largest value."""
    scale = max(1.0, expected.abs().max().item())
    torch.testing.assert_close(actual.double(), expected, rtol=1e-5, atol=2e-6 * scale)


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("batch,nodes,hidden", [
    (13, 25, 50),  # NTU preset: 5 row tiles of 5, 4 vectors (the last 2 of 16 lanes)
    (6, 20, 20),  # MSRAction3D preset
    (7, 5, 3),  # one partial vector
    (5, 9, 70),  # more vectors than a column block: 2 blocks on AVX-512, 3 on AVX2
    (3, 25, 17),
    (2, 1, 4),  # one node: no pair sends anything
    (1, 7, 16),  # fewer node sets than threads
])
def test_pair_kernels_equal_the_pair_sums_and_their_gradients(variant, batch, nodes, hidden, threads):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        recv, send, weight, bias = _pair_case(batch, nodes, hidden)
        ref_inputs = [t.double().requires_grad_() for t in (recv, send, weight, bias)]
        ref = rrn_module._pair_sums_autograd(*ref_inputs)
        grad = torch.randn(batch, nodes, hidden, generator=torch.Generator().manual_seed(1))
        ref_grads = torch.autograd.grad(ref, ref_inputs, grad.double())

        out, mask = native.pair_forward(recv, send, weight, bias, keep_mask=True)
        _close(out, ref)
        lanes = {"avx512": 16, "avx2": 8}[variant]
        assert mask.dtype == torch.int16 and mask.shape == (batch, nodes, nodes, -(-hidden // lanes))
        assert not mask.diagonal(dim1=1, dim2=2).any()  # no message from a node to itself (eq. 6)
        for got, want in zip(native.pair_backward(grad, recv, send, weight, mask), ref_grads, strict=True):
            _close(got, want)
        no_mask, none = native.pair_forward(recv, send, weight, bias, keep_mask=False)
        assert none is None and torch.equal(no_mask, out)
    finally:
        torch.set_num_threads(before)


def test_pair_mask_bits_are_the_second_layers_positive_entries(variant):
    recv, send, weight, bias = _pair_case(2, 4, 3)
    _, mask = native.pair_forward(recv, send, weight, bias, keep_mask=True)
    z1 = torch.relu(recv.unsqueeze(2) + send.unsqueeze(1))  # [b, i, j]: receiver-major, as the mask
    z2 = torch.nn.functional.linear(z1, weight, bias)
    bits = torch.stack([(mask[..., 0].int() >> k) & 1 for k in range(3)], dim=-1).bool()
    expected = (z2 > 0) & ~torch.eye(4, dtype=torch.bool).view(1, 4, 4, 1)
    assert torch.equal(bits, expected)
    assert not (mask[..., 0].int() >> 3).any()  # the padding lanes stay clear


def test_pair_kernels_give_the_same_values_at_any_thread_count(variant):
    """Each node set is one thread's whole work: the sums are bit-identical at 1 and 2 threads; the
    weight gradients add per-thread partial sums, so they agree to rounding."""
    recv, send, weight, bias = _pair_case(9, 25, 50)
    grad = torch.randn(9, 25, 50)
    runs, before = [], torch.get_num_threads()
    for threads in (1, 2):
        torch.set_num_threads(threads)
        out, mask = native.pair_forward(recv, send, weight, bias, keep_mask=True)
        runs.append((out, mask, *native.pair_backward(grad, recv, send, weight, mask)))
    torch.set_num_threads(before)
    (out1, mask1, gr1, gs1, gw1, gb1), (out2, mask2, gr2, gs2, gw2, gb2) = runs
    assert torch.equal(out1, out2) and torch.equal(mask1, mask2)
    assert torch.equal(gr1, gr2) and torch.equal(gs1, gs2)
    for a, b in ((gw1, gw2), (gb1, gb2)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6 * b.abs().max().item())


def test_pair_kernels_take_an_empty_batch(variant):
    recv, send, weight, bias = _pair_case(0, 25, 50)
    out, mask = native.pair_forward(recv, send, weight, bias, keep_mask=True)
    assert out.shape == (0, 25, 50) and mask.shape[:3] == (0, 25, 25)
    grad_recv, grad_send, grad_weight, grad_bias = native.pair_backward(out, recv, send, weight, mask)
    assert grad_recv.shape == (0, 25, 50) and not grad_weight.any() and not grad_bias.any()


def _gru_case(rows, dim, scale=3.0, seed=0):
    """``gates_v``, ``gates_m``, ``gates_h`` (``(rows, 3 dim)``), ``bias_h`` (``(3 dim,)``), ``h``."""
    g = torch.Generator().manual_seed(seed)
    gates = [scale * torch.randn(rows, 3 * dim, generator=g) / 2 for _ in range(3)]
    return (*gates, torch.randn(3 * dim, generator=g), torch.randn(rows, dim, generator=g))


def _gru_reference(gates_v, gates_m, gates_h, bias_h, h):
    return rrn_module._gru_update_plain(gates_v + gates_m, gates_h + bias_h, h)


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("rows,dim", [(101, 50), (7, 3), (33, 16), (5, 70), (200, 8)])
def test_gru_kernels_equal_the_gru_update_and_its_gradients(variant, rows, dim, threads):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        inputs = _gru_case(rows, dim)
        ref_inputs = [t.double().requires_grad_() for t in inputs]
        ref = _gru_reference(*ref_inputs)
        grad = torch.randn(rows, dim, generator=torch.Generator().manual_seed(1))
        ref_grads = torch.autograd.grad(ref, ref_inputs, grad.double())
        out, rz, n = native.gru_forward(*inputs, keep=True)
        _close(out, ref)
        grad_in, grad_gates_h, grad_bias_h, grad_h = native.gru_backward(grad, rz, n, *inputs[2:])
        for got, want in zip((grad_in, grad_in, grad_gates_h, grad_bias_h, grad_h), ref_grads, strict=True):
            _close(got, want)
        plain, none_rz, none_n = native.gru_forward(*inputs, keep=False)
        assert none_rz is None and none_n is None and torch.equal(plain, out)
    finally:
        torch.set_num_threads(before)


def test_gru_kernel_saturates_like_torch_far_out(variant):
    """sigmoid and tanh from the kernel's exp over [-100, 100]: within 2e-7 of torch's, exactly 1 and
    -1 where they saturate (sigmoid below 1e-38 at the bottom), never NaN."""
    x = torch.linspace(-100, 100, 20001)
    dim = x.numel()
    zeros, bias, h = torch.zeros(1, 3 * dim), torch.zeros(3 * dim), torch.ones(1, dim)
    gates_z, gates_n = zeros.clone(), zeros.clone()
    gates_z[0, dim : 2 * dim] = x  # z = sigmoid(x), r = 1/2, n = tanh(0) = 0
    gates_n[0, 2 * dim :] = x  # n = tanh(x)
    _, rz, _ = native.gru_forward(gates_z, zeros, zeros, bias, h, keep=True)
    _, _, n = native.gru_forward(zeros, gates_n, zeros, bias, h, keep=True)
    torch.testing.assert_close(rz[0, dim:], torch.sigmoid(x), rtol=0, atol=2e-7)
    torch.testing.assert_close(n[0], torch.tanh(x), rtol=0, atol=2e-7)
    assert 0 <= rz[0, dim] < 1e-38 and rz[0, -1] == 1 and n[0, 0] == -1 and n[0, -1] == 1


def test_the_rrn_runs_the_kernels_and_agrees_with_the_pytorch_ops(variant, monkeypatch):
    """A training pass and an inference pass of the RRN through the kernels give the values and the
    gradients of the PyTorch ops (SKELACT_NO_C=1), which the kernels then never see."""
    calls = []
    for name in ("pair_forward", "pair_backward", "gru_forward", "gru_backward"):
        fn = getattr(native, name)
        monkeypatch.setattr(native, name,
                            lambda *a, _fn=fn, _name=name, **k: (calls.append(_name), _fn(*a, **k))[1])
    torch.manual_seed(0)
    rrn = RecurrentRelationalNetwork(dim=12, iterations=3, message_hidden=10)
    v = torch.randn(6, 9, 12, requires_grad=True)

    def run():
        out = rrn(v)
        return [out, *torch.autograd.grad(out.pow(2).sum(), [v, *rrn.parameters()])]

    fast = run()
    assert calls == ["pair_forward", "gru_forward"] * 3 + ["gru_backward", "pair_backward"] * 3
    with torch.no_grad():
        fast_eval = rrn(v)
    assert calls[-6:] == ["pair_forward", "gru_forward"] * 3
    calls.clear()
    monkeypatch.setenv(native.NO_C_ENV, "1")
    assert not native.available() and native.variant() is None
    slow = run()
    with torch.no_grad():
        torch.testing.assert_close(fast_eval, rrn(v), rtol=1e-5, atol=1e-5)
    assert calls == []
    for a, b in zip(fast, slow, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_disabled_sends_every_call_to_the_pytorch_ops(variant):
    assert native.usable(torch.zeros(1))
    with native.disabled():
        assert not native.usable(torch.zeros(1)) and native.variant() is None
        with native.disabled():
            pass
        assert not native.available()  # still off after a nested block
    assert native.available()


def test_only_float32_cpu_tensors_go_to_the_kernels(variant):
    assert native.usable(torch.zeros(2), torch.zeros(3))
    assert not native.usable(torch.zeros(2), torch.zeros(3, dtype=torch.float64))
    assert not native.usable(torch.zeros(2, dtype=torch.bfloat16))
    assert not native.usable(torch.zeros(2, device="meta"))


def test_kernels_read_non_contiguous_inputs_as_their_values(variant):
    recv, send, weight, bias = _pair_case(4, 6, 5)
    wide = torch.cat([recv, send], dim=-1)  # recv and send as strided views
    out, mask = native.pair_forward(wide[..., :5], wide[..., 5:], weight.t().contiguous().t(), bias, True)
    ref, ref_mask = native.pair_forward(recv, send, weight, bias, True)
    assert torch.equal(out, ref) and torch.equal(mask, ref_mask)


@pytest.mark.parametrize("wide", range(4))
def test_mixed_dtypes_never_reach_the_kernels(variant, wide, monkeypatch):
    """The kernels read raw float32 memory: with one float64 input among the four (any of them) the
    call stays with the PyTorch ops, whatever those make of the mix (they refuse most of them)."""
    called = []
    for name in ("pair_forward", "pair_backward"):
        monkeypatch.setattr(native, name, lambda *a, **k: called.append(a))
    inputs = list(_pair_case(3, 5, 6))
    inputs[wide] = inputs[wide].double()
    with contextlib.suppress(RuntimeError), torch.no_grad():
        rrn_module.pair_message_sums(*inputs)
    with contextlib.suppress(RuntimeError):
        rrn_module.pair_message_sums(*(t.clone().requires_grad_() for t in inputs)).sum().backward()
    assert called == []


def test_inference_keeps_nothing_for_a_backward(variant, monkeypatch):
    """Without a backward to come neither kernel is asked to keep anything (the pair sums' mask,
    ``B J^2`` words; the GRU's gates, ``3 N M`` floats), whether grad mode is off or no input needs
    a gradient; with one, both keep theirs."""
    asked = []
    for name, flag in (("pair_forward", "keep_mask"), ("gru_forward", "keep")):
        fn = getattr(native, name)
        monkeypatch.setattr(native, name, lambda *a, _fn=fn, _name=name, _flag=flag, **k: (
            asked.append((_name, k[_flag])), _fn(*a, **k))[1])
    rrn = RecurrentRelationalNetwork(dim=6, iterations=1)
    v = torch.randn(3, 5, 6)
    with torch.no_grad():
        rrn(v)
    assert asked == [("pair_forward", False), ("gru_forward", False)]
    asked.clear()
    rrn.requires_grad_(False)
    rrn(v)  # grad mode on, nothing needs a gradient
    assert asked == [("pair_forward", False), ("gru_forward", False)]
    asked.clear()
    rrn.requires_grad_(True)
    rrn(v).sum().backward()
    assert asked == [("pair_forward", True), ("gru_forward", True)]
