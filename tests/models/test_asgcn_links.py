"""AS-GCN graph convolutions: SGC (eq. 5), AGC (eq. 4), ASGC and Theorem 1."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F

from skelact.models.asgcn import links
from skelact.models.asgcn.links import ASGC, actional_kernels
from skelact.models.graph import spatial_kernels, structural_kernels


def _reference(x, structural, importance, weight, actional=None, lam=0.5):
    """Eqs. 4-5 term by term: sum_k (M_k o G_k) X W_k (+ lambda sum_c A_c X W_c), X per frame."""
    out = 0
    ks = structural.shape[0]
    for k in range(ks):
        g = structural[k] * importance[k]
        out = out + torch.einsum("ij,nctj,cd->ndti", g, x, weight[k])
    if actional is not None:
        for c in range(actional.shape[1]):
            out = out + lam * torch.einsum("nij,nctj,cd->ndti", actional[:, c], x, weight[ks + c])
    return out


def _asgc(in_c=5, out_c=7, order=2, num_actional=3, layout="ntu25"):
    torch.manual_seed(1)
    m = ASGC(
        in_c, out_c, torch.from_numpy(structural_kernels(layout, order=order)), num_actional, lambda_act=0.5
    )
    with torch.no_grad():
        m.importance.uniform_(0.5, 1.5)  # not the all-ones initialisation, so M is really tested
    return m


def _links(n, c, v, hard=False):
    probs = torch.rand(n, c, v, v)
    if hard:
        probs = (probs > 0.8).float()
    return probs * (1 - torch.eye(v))


def test_asgc_equals_the_equations_term_by_term():
    m = _asgc()
    x = torch.randn(2, 5, 6, 25)
    act = actional_kernels(_links(2, 3, 25))
    got = m(x, act)
    assert got.shape == (2, 7, 6, 25)
    assert got.is_contiguous(memory_format=torch.channels_last)
    want = _reference(x, m.structural, m.importance.detach(), m.weight.detach(), act, lam=0.5)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_theorem_1_asgc_is_linear_for_fixed_links():
    m = _asgc()
    act = actional_kernels(_links(3, 3, 25))
    x1, x2 = torch.randn(3, 5, 8, 25), torch.randn(3, 5, 8, 25)
    a, b = 1.7, -0.3
    with torch.no_grad():
        lhs = a * m(x1, act) + b * m(x2, act)
        rhs = m(a * x1 + b * x2, act)
    torch.testing.assert_close(lhs, rhs, rtol=1e-4, atol=1e-5)
    assert lhs.abs().mean() > 0.1  # not trivially zero


def test_order_1_sgc_is_the_stgcn_spatial_graph_convolution():
    """L = 1: the SGC is eq. 1 with the transition matrices; computed here the ST-GCN code's way
    (one 1x1 conv with K * d_out channels, then einsum with the column-form kernels)."""
    kernels = torch.from_numpy(spatial_kernels("openpose18", max_hop=1))  # (3, V, V) row form
    sgc = ASGC(4, 6, kernels, num_actional=0)
    with torch.no_grad():
        sgc.importance.uniform_(0.5, 1.5)
    x = torch.randn(2, 4, 9, 18)
    conv_w = sgc.weight.detach().permute(0, 2, 1).reshape(3 * 6, 4, 1, 1)  # (K d_out, d_in, 1, 1)
    y = F.conv2d(x, conv_w).view(2, 3, 6, 9, 18)
    a_col = (sgc.importance.detach() * kernels).transpose(1, 2)  # ST-GCN stores A[k, v, w]
    want = torch.einsum("nkctv,kvw->nctw", y, a_col)
    torch.testing.assert_close(sgc(x), want, rtol=1e-4, atol=1e-5)
    assert torch.equal(torch.from_numpy(structural_kernels("openpose18", order=1)), kernels)


def test_sgc_without_edge_importance_and_gradients():
    kernels = torch.from_numpy(structural_kernels("ntu25", order=3))
    m = ASGC(3, 4, kernels, num_actional=2, edge_importance=False)
    assert m.importance is None and sum(p.numel() for p in m.parameters()) == (9 + 2) * 3 * 4
    act = actional_kernels(_links(2, 2, 25)).requires_grad_()
    x = torch.randn(2, 3, 5, 25, requires_grad=True)
    m(x, act).square().sum().backward()
    for t in (x, act, m.weight):
        assert t.grad is not None and torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0
    with_m = _asgc()
    with_m(torch.randn(1, 5, 4, 25), actional_kernels(_links(1, 3, 25))).sum().backward()
    assert with_m.importance.grad.abs().sum() > 0


def test_actional_kernels_normalise_rows():
    hard = _links(4, 3, 25, hard=True)
    k = actional_kernels(hard)
    deg = hard.sum(-1)
    torch.testing.assert_close(k.sum(-1)[deg > 0], torch.ones(int((deg > 0).sum())))
    assert (k.sum(-1)[deg == 0] == 0).all()  # no links: empty row (D^-1 A with D = 0)
    torch.testing.assert_close(k[deg > 0], (hard / deg[..., None])[deg > 0])  # exactly D^-1 A
    # soft links with little mass per row (ghost prior): eq. 4 still makes each row a transition
    # row, each type by its own degree (a floor of 1 on the degree would return them unchanged)
    soft = torch.rand(2, 3, 25, 25) * 0.02 * (1 - torch.eye(25))
    soft[:, 1] *= 0.1  # another degree per type
    k = actional_kernels(soft)
    torch.testing.assert_close(k.sum(-1), torch.ones(2, 3, 25))
    torch.testing.assert_close(k, soft / soft.sum(-1, keepdim=True))
    empty = torch.zeros(1, 1, 25, 25, requires_grad=True)
    actional_kernels(empty).sum().backward()  # an empty row: zeros and a finite gradient
    assert torch.isfinite(empty.grad).all()
    official = actional_kernels(hard, self_loops=True, scale=0.1)
    torch.testing.assert_close(official.sum(-1), torch.full_like(deg, 0.1))
    torch.testing.assert_close(official.diagonal(dim1=-2, dim2=-1), 0.1 / (deg + 1))


def test_options_that_do_nothing_in_a_configuration_are_warned_about():
    import warnings

    import pytest

    from skelact.models.asgcn.config import IgnoredOptionWarning, resolve_config

    cases = [
        ({"links": "s", "tau": 0.2}, "'tau' is ignored: links='s'"),
        ({"links": "s", "aim_frames": 16}, "'aim_frames' is ignored"),
        ({"prediction_head": False, "horizon": 4}, "'horizon' is ignored: prediction_head=False"),
        ({"pred": False, "w_pred": 0.5}, "'pred_weight' is ignored"),
        ({"data_bn": "vc", "num_bodies": 1}, "'num_bodies' is ignored: data_bn='vc'"),
    ]
    for options, message in cases:
        with pytest.warns(IgnoredOptionWarning, match=message):
            resolve_config(**options)
    with warnings.catch_warnings():
        warnings.simplefilter("error", IgnoredOptionWarning)
        resolve_config(links="s", ghost_prior=0.95)  # the preset's own value: changes nothing either way
        resolve_config(tau=0.2, horizon=4, num_bodies=1)  # each used here
        resolve_config("official", links="s")  # preset-filled AIM options are not the user's


def test_no_repository_preset_sets_an_option_it_ignores():
    import warnings

    from skelact.models.asgcn.config import IgnoredOptionWarning, resolve_config
    from skelact.train.config import load_config
    from skelact.train.presets import list_presets

    names = [n for n in list_presets() if n.startswith("asgcn/")]
    assert len(names) > 20
    with warnings.catch_warnings():
        warnings.simplefilter("error", IgnoredOptionWarning)
        for name in names:
            resolve_config(**load_config(name).model.options)


def _step(m: ASGC, x: torch.Tensor, actional: torch.Tensor | None) -> list[torch.Tensor]:
    """Output and the gradients of a fixed, non-uniform loss for every input and parameter."""
    for t in (x, actional, *m.parameters()):
        if t is not None:
            t.grad = None
    y = m(x, actional)
    (y * torch.linspace(-1.0, 2.0, y.numel()).view_as(y)).sum().backward()
    grads = [x.grad, *(p.grad for p in m.parameters())] + ([actional.grad] if actional is not None else [])
    return [y.detach()] + [g.clone() for g in grads]


@pytest.mark.parametrize("chunk_frames", [None, 1, 4])  # None: one chunk; 4 of 6 frames: uneven
def test_recomputed_graph_products_give_the_stored_outputs_and_gradients(monkeypatch, chunk_frames):
    if chunk_frames is not None:
        monkeypatch.setattr(links, "_frames_per_chunk", lambda *args: chunk_frames)
    torch.manual_seed(3)
    for num_actional, bias in ((0, False), (0, True), (3, False), (3, True)):
        m = _asgc(num_actional=num_actional)
        if bias:
            m = ASGC(5, 7, m.structural, num_actional, bias=True)
            with torch.no_grad():
                m.importance.uniform_(0.5, 1.5)
        x = torch.randn(2, 5, 6, 25).to(memory_format=torch.channels_last).requires_grad_()
        a = _links(2, 3, 25).requires_grad_() if num_actional else None
        m.recompute = False
        stored = _step(m, x, a)
        m.recompute = True
        recomputed = _step(m, x, a)
        assert len(recomputed) == len(stored) >= 4
        for r, s in zip(recomputed, stored, strict=True):  # chunked sums: another rounding order
            assert r.shape == s.shape and float((r - s).abs().max()) <= 1e-5 * float(s.abs().max())


def test_recomputation_stores_the_input_not_the_k_fold_products():
    m = _asgc(in_c=16, out_c=16, order=4, num_actional=3)  # K = 12 S-link + 3 A-link kernels
    x = torch.randn(2, 16, 32, 25, requires_grad=True)
    a = _links(2, 3, 25).requires_grad_()
    saved = {}
    for recompute in (False, True):
        m.recompute = recompute
        total = 0

        def pack(t: torch.Tensor) -> torch.Tensor:
            nonlocal total
            total += t.numel()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            m(x, a).sum().backward()
        saved[recompute] = total
    products = 2 * 32 * 25 * 15 * 16  # (B, T, V K, d_in)
    assert saved[False] >= products  # plain autograd keeps the products for the weight gradient
    # the input (B T V d_in = products / 15), the per-sample kernels (independent of T) and W only
    assert saved[True] < products / 6
    def graph_mixed(y: torch.Tensor) -> bool:  # the output is a permuted view of the function's
        return type(y.grad_fn.next_functions[0][0]).__name__ == "_GraphMixBackward"

    assert graph_mixed(m(x, a))
    with torch.no_grad():  # inference never goes through the recomputing function
        assert m(x, a).grad_fn is None
    m.eval()  # nor eval mode with gradients (export traces): plain autograd, no loop over frames
    assert not graph_mixed(m(x, a))


def test_recomputed_products_follow_autocast():
    m = _asgc(num_actional=3)
    x = torch.randn(2, 5, 6, 25, requires_grad=True)
    a = _links(2, 3, 25)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = m(x, a)
    assert y.dtype == torch.bfloat16
    y.float().sum().backward()
    assert x.grad.dtype == torch.float32 and m.weight.grad.dtype == torch.float32
    w_grad = m.weight.grad.clone()
    m.recompute = False
    x_ref = x.detach().clone().requires_grad_()
    m.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y_ref = m(x_ref, a)
    y_ref.float().sum().backward()
    torch.testing.assert_close(y, y_ref)  # the same bf16 products
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=2e-2, atol=2e-2)
    torch.testing.assert_close(w_grad, m.weight.grad, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("num_actional", [0, 3])  # one kernel stack for all samples / per sample
def test_recomputed_gradients_accumulate_in_the_parameters_dtype_float64(num_actional):
    """In float64 the chunked gradient sums match plain autograd to float64 rounding: an
    accumulator in the default dtype (float32) would be off by ~1e-7."""
    m = _asgc(num_actional=num_actional).double()
    torch.manual_seed(4)
    x = torch.randn(2, 5, 6, 25, dtype=torch.float64, requires_grad=True)
    a = _links(2, 3, 25).double().requires_grad_() if num_actional else None
    m.recompute = False
    stored = _step(m, x, a)
    m.recompute = True
    recomputed = _step(m, x, a)
    for r, s in zip(recomputed, stored, strict=True):
        assert r.dtype == torch.float64
        assert float((r - s).abs().max()) <= 1e-12 * float(s.abs().max())


def test_recomputed_backward_with_fixed_kernels_and_a_fixed_input():
    """Kernels without gradient (no edge importance, no A-links) and an input without gradient
    (a first layer): only the weight's gradient is computed, equal to plain autograd's."""
    torch.manual_seed(5)
    structural = torch.from_numpy(structural_kernels("ntu25", order=2))
    m = ASGC(5, 7, structural, 0, edge_importance=False)
    x = torch.randn(2, 5, 6, 25)
    grads = {}
    for recompute in (False, True):
        m.recompute, m.weight.grad = recompute, None
        m(x).square().sum().backward()
        grads[recompute] = m.weight.grad
    assert x.grad is None and not m.structural.requires_grad
    torch.testing.assert_close(grads[True], grads[False], rtol=1e-5, atol=1e-6)


def test_recomputed_gradients_stay_on_the_inputs_device():
    """Every gradient buffer is made on the input's device (the meta device stands in for a GPU:
    an accumulator made on the default device could not be added to)."""
    m = _asgc(num_actional=3).to("meta")
    x = torch.randn(2, 5, 6, 25, device="meta", requires_grad=True)
    a = torch.rand(2, 3, 25, 25, device="meta", requires_grad=True)
    m(x, a).sum().backward()
    assert {t.grad.device.type for t in (x, a, m.weight, m.importance)} == {"meta"}


def test_a_chunk_holds_as_many_frames_of_products_as_fit_in_its_bytes(monkeypatch):
    # (B, T, V, d_in) = (2, 300, 25, 64), V K = 225 rows: one frame's products are
    # 2 x 225 x 64 float32 = 115,200 bytes; 16 MiB (1 thread) hold 145 of them (146 would not fit)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    x = torch.empty(2, 300, 25, 64)
    assert links.CHUNK_BYTES_PER_THREAD == 16 * 2**20
    assert links._frames_per_chunk(x, 225, torch.float32) == 145
    assert links._frames_per_chunk(x, 225, torch.bfloat16) == 291  # half the bytes per frame
    frame = 3 * 13 * 11 * 8  # B x rows x d_in x float64 bytes
    assert links._frames_per_chunk(torch.empty(3, 5, 7, 11), 13, torch.float64) == 16 * 2**20 // frame
    assert links._frames_per_chunk(torch.empty(64, 300, 25, 512), 225, torch.float32) == 1  # > 16 MiB
    assert links._frames_per_chunk(torch.empty(0, 300, 25, 64), 225, torch.float32) == 16 * 2**20  # empty


@pytest.mark.parametrize(("threads", "mib"), [(0, 16), (1, 16), (2, 32), (3, 48), (4, 64), (64, 64)])
def test_a_chunk_grows_with_the_threads_up_to_four(monkeypatch, threads, mib):
    """The threads share each chunk's products, the chunk loop's Python work is per chunk: 16 MiB
    per thread, counted up to :data:`links.CHUNK_THREADS` threads (at least one)."""
    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
    assert links._chunk_bytes() == mib * 2**20
    assert links._frames_per_chunk(torch.empty(2, 300, 25, 64), 225, torch.float32) == mib * 2**20 // 115_200


def test_the_forward_makes_each_row_groups_product_once_per_chunk(monkeypatch):
    monkeypatch.setattr(links, "_frames_per_chunk", lambda *args: 4)  # 6 frames: chunks of 4 and 2
    m = _asgc(num_actional=3)
    x = torch.randn(2, 5, 6, 25, requires_grad=True)
    calls = []
    matmul = torch.matmul

    def counted(a, b, **kw):
        calls.append((b.shape[1], a.shape[-2]))  # frames, kernel rows
        return matmul(a, b, **kw)

    monkeypatch.setattr(links.torch, "matmul", counted)
    m(x, _links(2, 3, 25))
    groups = len(m._group_sizes)
    rows = [nj * nk for nj, nk in m._group_sizes]
    assert 1 < groups <= links.MAX_ROW_GROUPS
    # chunk by chunk, each group's rows once: every row of the compact stack once per chunk
    assert calls == [(4, r) for r in rows] + [(2, r) for r in rows]
    assert sum(rows) == m._group_rows.numel() < 25 * m.weight.shape[0]


def test_actional_kernels_in_another_dtype_are_cast_to_the_models():
    m = _asgc(num_actional=3)
    x = torch.randn(2, 5, 6, 25)
    a = _links(2, 3, 25)
    for recompute in (False, True):
        m.recompute = recompute
        y = m(x, a.double())  # float64 A-links into a float32 model
        assert y.dtype == torch.float32
        torch.testing.assert_close(y, m(x, a))


def test_construction_defaults_recompute_float32_kernels_and_fan_in_initialisation():
    structural = structural_kernels("ntu25", order=2).astype("float64")
    m = ASGC(16, 32, structural, 3, bias=True)
    assert m.recompute is True and m.structural.dtype == torch.float32
    assert "structural" not in m.state_dict()  # derived from the layout, never saved
    x = torch.randn(2, 16, 4, 25, requires_grad=True)
    visited, todo = {}, [m(x, _links(2, 3, 25)).grad_fn]
    while todo:  # every node of the autograd graph, once
        node = todo.pop()
        if id(node) not in visited:
            visited[id(node)] = node  # kept alive, so no other node can reuse its id
            todo += [f for f, _ in node.next_functions if f is not None]
    names = {type(node).__name__ for node in visited.values()}
    assert "_GraphMixBackward" in names  # the chunked products by default
    bound = 1 / 16**0.5  # nn.Conv2d's default for a 1x1 convolution with fan-in d_in = 16
    for p in (m.weight.detach(), m.bias.detach()):
        assert -bound <= float(p.min()) < -0.9 * bound and 0.9 * bound < float(p.max()) <= bound
    assert torch.equal(m.importance, torch.ones_like(m.importance))


# ------------------------------------------------------------------------------- row groups ---


def test_row_groups_group_joints_by_their_kernels_and_merge_the_cheapest_pair():
    support = torch.tensor(
        [  # kernel x joint: joints 0-2 have kernels {0, 1}, joint 3 {0, 2}, joint 4 {1}
            [1, 1, 1, 1, 0],
            [1, 1, 1, 0, 1],
            [0, 0, 0, 1, 0],
        ],
        dtype=torch.bool,
    )
    assert links.row_groups(support) == (((0, 1, 2), (0, 1)), ((3,), (0, 2)), ((4,), (1,)))
    # merging {0-2} and {4} adds 1 zero row (joint 4, kernel 0); {3} and {4}: 3; {0-2} and {3}: 4
    assert links.row_groups(support, max_groups=2) == (((0, 1, 2, 4), (0, 1)), ((3,), (0, 2)))
    assert links.row_groups(support, max_groups=1) == (((0, 1, 2, 3, 4), (0, 1, 2)),)
    # the cost counts both groups' rows: {0} + {1-4} add 1 row, {0} + {5} add 3, {1-4} + {5} add 5
    # (a cost that added the second group's rows instead, or divided them, would merge {0} + {5})
    second = torch.tensor(
        [[1, 1, 1, 1, 1, 0], [0, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1]], dtype=torch.bool
    )
    assert links.row_groups(second, max_groups=2) == (((0, 1, 2, 3, 4), (0, 1)), ((5,), (1, 2)))
    # ties go to the first pair in group order: {0, 1} + {3} and {2} + {3} and {3} + {4} all add 1
    tie = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0], [0, 0, 1, 0, 0]], dtype=torch.bool)
    assert links.row_groups(tie, max_groups=3) == (((0, 1, 3), (0, 1)), ((2,), (0, 2)), ((4,), ()))
    # a joint no kernel reaches is a group without kernels
    assert links.row_groups(torch.tensor([[1, 0], [0, 0]], dtype=torch.bool)) == (((0,), (0,)), ((1,), ()))
    with pytest.raises(ValueError, match="max_groups must be at least 1, got 0"):
        links.row_groups(support, max_groups=0)


def test_the_official_preset_computes_228_of_the_275_kernel_rows_per_block():
    """The numbers the module docstring and docs/models/asgcn.md give for ntu25."""
    from skelact.models import build

    model = build("asgcn", num_classes=60, layout="ntu25", preset="official")
    gcn = model.backbone[4].gcn
    assert (gcn.num_structural, gcn.num_actional) == (9, 2)
    assert len(gcn._group_sizes) == links.MAX_ROW_GROUPS == 5
    assert gcn._group_rows.numel() == sum(j * k for j, k in gcn._group_sizes) == 228
    assert sorted(gcn._group_joints.tolist()) == list(range(25))  # each joint in one group
    # every non-zero row of every kernel is computed, each once
    support = torch.cat([gcn.structural.ne(0).any(-1), torch.ones(2, 25, dtype=torch.bool)])
    rows = gcn._group_rows.tolist()
    assert len(set(rows)) == len(rows)
    assert set(torch.nonzero(support.flatten()).flatten().tolist()) <= set(rows)


@pytest.mark.parametrize("recompute", [True, False])
def test_every_path_gives_the_reference_outputs_and_gradients_with_an_unreached_joint(recompute):
    """A joint no kernel reaches (a zero row in every S-link kernel, no A-links) outputs zero; both
    the recomputing function and plain autograd give the term-by-term outputs and gradients."""
    torch.manual_seed(6)
    structural = torch.from_numpy(structural_kernels("ntu25", order=2)).clone()
    structural[:, 7] = 0  # joint 7 receives nothing
    for num_actional, mode in ((0, "train"), (3, "train"), (3, "eval")):
        m = ASGC(5, 7, structural, num_actional, lambda_act=0.5, recompute=recompute)
        with torch.no_grad():
            m.importance.uniform_(0.5, 1.5)
        m.train(mode == "train")
        x = torch.randn(2, 5, 6, 25, requires_grad=True)
        act = actional_kernels(_links(2, 3, 25)).requires_grad_() if num_actional else None
        got = m(x, act)
        g_out = torch.randn_like(got)
        grads = torch.autograd.grad(got, [x, m.weight, m.importance] + ([act] if num_actional else []), g_out)
        want = _reference(x, m.structural, m.importance, m.weight, act, lam=0.5)
        want_grads = torch.autograd.grad(
            want, [x, m.weight, m.importance] + ([act] if num_actional else []), g_out
        )
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
        for g, w in zip(grads, want_grads, strict=True):
            torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-5)
        if not num_actional:
            assert got[..., 7].abs().max() == 0 and got[..., 6].abs().max() > 0


def test_dense_kernels_are_one_group_of_every_joint_and_kernel():
    """No zero row: one group, the dense products with neither gather nor scatter."""
    torch.manual_seed(7)
    m = ASGC(4, 6, torch.rand(3, 25, 25), num_actional=2)
    assert m._group_sizes == ((25, 5),) and m._groups()[0].whole
    x = torch.randn(2, 4, 5, 25, requires_grad=True)
    act = actional_kernels(_links(2, 2, 25))
    for recompute in (True, False):
        m.recompute = recompute
        got = m(x, act)
        want = _reference(x, m.structural, m.importance, m.weight, act)
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
        (gx,) = torch.autograd.grad(got.square().sum(), [x])
        torch.testing.assert_close(gx, torch.autograd.grad(want.square().sum(), [x])[0], rtol=1e-4, atol=1e-5)


def test_an_unreached_first_joint_follows_autocast_in_every_path():
    """The zero output of a joint no kernel reaches (here joint 0, the first group) has the dtype
    autocast gives the other groups' products, so the groups' outputs can be put together."""
    structural = torch.from_numpy(structural_kernels("ntu25", order=2)).clone()
    structural[:, 0] = 0
    m = ASGC(5, 7, structural, 0)
    assert m._group_sizes[0][1] == 0  # joint 0's group has no kernels
    x = torch.randn(2, 5, 6, 25, requires_grad=True)
    for recompute, mode in ((True, True), (False, True), (True, False)):
        m.recompute = recompute
        m.train(mode)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = m(x)
        assert y.dtype == torch.bfloat16 and y[..., 0].abs().max() == 0 and y[..., 1].abs().max() > 0


def test_recomputed_gradients_with_a_frozen_weight():
    """Only the input and the kernels need gradients (a frozen ``W``): they equal plain autograd's
    and the weight gets none."""
    torch.manual_seed(8)
    m = _asgc(num_actional=3)
    m.weight.requires_grad_(False)
    x = torch.randn(2, 5, 6, 25, requires_grad=True)
    a = _links(2, 3, 25).requires_grad_()
    grads = {}
    for recompute in (True, False):
        m.recompute = recompute
        y = m(x, a)
        grads[recompute] = torch.autograd.grad((y * y).sum(), [x, a, m.importance])
    assert m.weight.grad is None
    for r, s in zip(grads[True], grads[False], strict=True):
        torch.testing.assert_close(r, s, rtol=1e-5, atol=1e-6)


def test_kernels_that_reach_no_joint_give_zeros_in_every_path():
    m = ASGC(3, 4, torch.zeros(2, 25, 25), num_actional=0)
    assert m._group_sizes == ((25, 0),) and m._group_rows.numel() == 0 and m._group_kernels.numel() == 0
    x = torch.randn(2, 3, 5, 25, requires_grad=True)
    for recompute, mode in ((True, True), (False, True), (True, False)):
        m.recompute = recompute
        m.train(mode)
        y = m(x)
        assert y.shape == (2, 4, 5, 25) and y.abs().max() == 0
        if recompute and mode:  # the recomputing function's backward: a zero input gradient
            (gx,) = torch.autograd.grad(y.sum(), [x])
            assert gx.shape == x.shape and gx.abs().max() == 0
        else:  # plain tensors: the output depends on nothing
            assert not y.requires_grad


def test_scratch_buffers_are_reused_per_name_grown_on_demand_and_off_when_disabled():
    like = torch.empty(0, dtype=torch.float64)
    scratch = links._Scratch(like)
    a = scratch("y", 2, 3)
    assert a.shape == (2, 3) and a.dtype == torch.float64
    assert scratch("y", 3, 2).data_ptr() == a.data_ptr()  # same numel: the same memory
    assert scratch("y", 1, 4).data_ptr() == a.data_ptr()  # smaller: a prefix of it
    assert scratch("other", 2, 3).data_ptr() != a.data_ptr()  # one buffer per name
    assert scratch("y", 4, 4).shape == (4, 4)  # larger: grown
    assert links._Scratch(like, enabled=False)("y", 2, 3) is None


def test_the_chunk_loop_writes_its_products_into_reused_buffers_on_a_cpu_only_outside_autocast(monkeypatch):
    monkeypatch.setattr(links, "_frames_per_chunk", lambda *args: 2)  # 6 frames: 3 chunks
    m = _asgc(num_actional=3)
    x = torch.randn(2, 5, 6, 25, requires_grad=True)
    outs = []
    matmul = torch.matmul

    def spy(a, b, out=None):
        outs.append(None if out is None else out.data_ptr())
        return matmul(a, b, out=out)

    monkeypatch.setattr(links.torch, "matmul", spy)
    m(x, _links(2, 3, 25)).sum().backward()
    assert len(outs) > 3 * len(m._group_sizes) and None not in outs
    assert len(set(outs)) <= 3  # forward "y"; backward "y", "per_frame": one buffer each
    outs.clear()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        m(x, _links(2, 3, 25))
    assert outs and set(outs) == {None}  # autocast chooses the dtype: fresh results


@pytest.mark.parametrize("num_actional", [0, 3])  # one kernel stack for all samples / per sample
def test_every_chunk_product_writes_a_buffer_of_exactly_its_shape(monkeypatch, num_actional):
    # Each matrix product of the chunk loop gets an out= buffer of its result's shape: a buffer of
    # another shape would be resized (a warning, here an error) and a missing one allocates afresh.
    monkeypatch.setattr(links, "_frames_per_chunk", lambda *args: 2)  # 6 frames: 3 chunks
    m = _asgc(num_actional=num_actional)
    x = torch.randn(2, 5, 6, 25, requires_grad=True)
    a = _links(2, 3, 25) if num_actional else None
    calls = []
    for name in ("matmul", "mm", "bmm"):
        original = getattr(torch, name)

        def spy(*args, out=None, _name=name, _original=original):
            calls.append((_name, None if out is None else tuple(out.shape)))
            result = _original(*args, out=out)
            assert out is None or result.data_ptr() == out.data_ptr()  # written in place, not resized
            return result

        monkeypatch.setattr(links.torch, name, spy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "An output with one or more elements was resized"
        m(x, a).sum().backward()
    groups = len(m._group_sizes)
    # forward 2 and backward at least 3 products per group and chunk
    assert len(calls) >= 5 * groups * 3 and all(shape is not None for _, shape in calls)
    assert {n for n, _ in calls} == {"matmul", "mm", "bmm"}


def test_the_official_bias_term_is_summed_inside_the_chunk_loop_but_not_under_autocast(monkeypatch):
    torch.manual_seed(4)
    m = ASGC(5, 7, _asgc().structural, 3, bias=True)
    x = torch.randn(2, 5, 6, 25, requires_grad=True)
    a = _links(2, 3, 25)
    passed = []
    apply = links._GraphMix.apply
    monkeypatch.setattr(links._GraphMix, "apply", lambda *args: passed.append(args[4]) or apply(*args))
    y = m(x, a)
    assert passed[-1] is not None and passed[-1].shape == (2, 1, 25, 7)  # per sample: A-links
    m.recompute = False
    torch.testing.assert_close(y, m(x, a))
    m.recompute = True
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y16 = m(x, a)
        m.recompute = False
        ref16 = m(x, a)
    assert passed[-1] is None  # autocast gives the products their dtype: the sum outside, as plain autograd
    assert y16.dtype == ref16.dtype
    torch.testing.assert_close(y16, ref16)


def test_scratch_buffers_are_made_on_the_inputs_device_whatever_the_default_device():
    scratch = links._Scratch(torch.empty(0, dtype=torch.float64))
    with torch.device("meta"):  # another default device for new tensors
        buf = scratch("y", 2, 3)
    assert buf.device.type == "cpu" and buf.dtype == torch.float64


def test_the_backward_recomputes_over_the_forwards_chunks_whatever_the_thread_count_then(monkeypatch):
    # The chunk size follows the thread count; a count changed between the passes must not change
    # the backward's chunks (it recomputes the forward's products, in the forward's summation order).
    m = _asgc(num_actional=3)
    x = torch.randn(2, 5, 6, 25, requires_grad=True)
    per_frame = 2 * m._group_rows.numel() * 5 * 4  # B x rows x d_in x float32 bytes
    monkeypatch.setattr(links, "CHUNK_BYTES_PER_THREAD", 2 * per_frame)  # 2 frames a chunk and thread
    frames = []
    matmul = torch.matmul
    monkeypatch.setattr(
        links.torch, "matmul", lambda a, b, **kw: frames.append(b.shape[-3]) or matmul(a, b, **kw)
    )
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    y = m(x, _links(2, 3, 25))
    forward, frames[:] = list(frames), []
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)  # would be 4 frames a chunk
    y.sum().backward()
    assert set(forward) == {2} and frames and set(frames) == {2}
