"""The A-link inference module: Gumbel links, prior / KL, pair bookkeeping, encoder, decoder, warm-up."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import skelact
from skelact.models.asgcn.aim import (
    AIM,
    MLP,
    AIMDecoder,
    AIMEncoder,
    PairMLP,
    TypedLinear,
    gumbel_softmax,
    link_prior,
    sample_window,
    sender_index,
    to_dense,
)
from skelact.models.asgcn.losses import gaussian_nll, kl_categorical


def test_gumbel_softmax_at_low_temperature_is_near_one_hot():
    logits = torch.randn(500, 4)
    y = gumbel_softmax(logits, tau=0.001)
    torch.testing.assert_close(y.sum(-1), torch.ones(500))
    assert (y.max(-1).values > 0.99).float().mean() > 0.98
    soft = gumbel_softmax(logits, tau=5.0)
    assert soft.max(-1).values.mean() < 0.6  # high temperature: spread out


def test_gumbel_samples_follow_the_categorical_distribution():
    torch.manual_seed(0)
    logits = torch.tensor([1.0, 0.0, -1.0, 2.0])
    samples = gumbel_softmax(logits.expand(40000, 4), tau=0.5, hard=True)
    freq = samples.mean(0)
    torch.testing.assert_close(freq, torch.softmax(logits, 0), atol=0.015, rtol=0)


def test_hard_gumbel_is_one_hot_with_a_soft_gradient():
    logits = torch.randn(6, 3, requires_grad=True)
    y = gumbel_softmax(logits, tau=0.5, hard=True)
    assert set(y.detach().unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(y.sum(-1), torch.ones(6))
    (y * torch.arange(3.0)).sum().backward()
    assert logits.grad.abs().sum() > 0


def test_prior_and_kl():
    prior = link_prior(3, 0.95)
    torch.testing.assert_close(prior, torch.tensor([0.95, 0.05 / 3, 0.05 / 3, 0.05 / 3]))
    torch.testing.assert_close(link_prior(2, 0.0), torch.tensor([0.5, 0.5]))  # no ghost type
    posterior = prior.expand(2, 25, 24, 4)
    assert abs(float(kl_categorical(posterior, prior.log()))) < 1e-6
    other = torch.softmax(torch.randn(2, 25, 24, 4), -1)
    assert float(kl_categorical(other, prior.log())) > 0.1


def test_gaussian_nll_is_the_scaled_squared_error():
    mean, target = torch.zeros(2, 5, 25, 3), torch.full((2, 5, 25, 3), 0.1)
    torch.testing.assert_close(gaussian_nll(mean, target, 5e-4), torch.tensor(5 * 3 * 0.01 / 1e-3))


def test_pairs_roundtrip_to_dense():
    senders = sender_index(5)
    assert senders.tolist()[2] == [0, 1, 3, 4]
    pairs = torch.randn(2, 5, 4, 3)
    dense = to_dense(pairs, senders, diagonal=7.0)
    assert dense.shape == (2, 3, 5, 5)
    for i in range(5):
        for m, j in enumerate(senders[i].tolist()):
            assert torch.equal(dense[:, :, i, j], pairs[:, i, m])
        assert (dense[:, :, i, i] == 7.0).all()


def test_pair_mlp_equals_the_concatenation_mlp():
    torch.manual_seed(0)
    mlp = PairMLP(6, 8, 5).eval()
    h = torch.randn(3, 4, 6)
    senders = sender_index(4)
    got = mlp(h, senders)  # (3, 4, 3, 5)
    w = torch.cat([mlp.receiver.weight, mlp.sender.weight], dim=1)  # Linear on [h_i ; h_j]
    cat = torch.cat([h[:, :, None].expand(-1, -1, 3, -1), h[:, senders]], dim=-1)
    want = mlp.rest(cat @ w.T + mlp.receiver.bias)
    torch.testing.assert_close(got, want)


def test_encoder_is_joint_permutation_equivariant():
    torch.manual_seed(0)
    enc = AIMEncoder(12, 16, 4, iterations=3).eval()
    senders = sender_index(6)
    x = torch.randn(2, 6, 12)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    dense = to_dense(enc(x, senders), senders)  # (2, 4, V, V)
    dense_perm = to_dense(enc(x[:, perm], senders), senders)
    torch.testing.assert_close(dense_perm, dense[:, :, perm][:, :, :, perm], rtol=1e-4, atol=1e-5)


def test_sample_window_stays_in_the_valid_frames():
    x = torch.zeros(3, 3, 40, 4, 2)
    lengths = [40, 12, 3]
    for n, length in enumerate(lengths):
        x[n, :, :length] = torch.arange(1, length + 1, dtype=torch.float32)[None, :, None, None]
    for random_offset in (False, True):
        w = sample_window(x, 8, random_offset=random_offset)  # (N M, F, V, C)
        assert w.shape == (6, 8, 4, 3)
        frames = w[::2, :, 0, 0]  # body 0, value = 1-based frame index
        for n, length in enumerate(lengths):
            f = frames[n]
            assert (f >= 1).all() and (f <= length).all() and (f[1:] >= f[:-1]).all()
    fixed = sample_window(x, 8)[::2, :, 0, 0]
    assert fixed[0].tolist() == [1, 6, 11, 16, 21, 26, 31, 36] and fixed[2].tolist() == [
        1,
        1,
        1,
        2,
        2,
        2,
        3,
        3,
    ]


def test_decoder_shapes_and_gradients():
    dec = AIMDecoder(3, 8, 2)
    x = torch.randn(2, 5, 6, 3)
    links = torch.softmax(torch.randn(2, 6, 5, 2), -1).requires_grad_()
    mu = dec(x, links, sender_index(6))
    assert mu.shape == (2, 4, 6, 3)
    mu.sum().backward()
    assert links.grad.abs().sum() > 0  # the links shape the prediction


def _ntu_body(root, name="S001C001P001R001A001.skeleton"):
    skel = skelact.load(root / "ntu_rgbd" / name)
    data = skel.data[:, :1]  # (T, 1, V, 3): the one body
    data = data - data[:1, :, :1]  # centre on the first frame's base of spine
    return torch.from_numpy(np.ascontiguousarray(data.transpose(3, 0, 2, 1)))[None]  # (1, 3, T, V, 1)


@pytest.mark.slow
def test_aim_warm_up_lowers_the_next_pose_nll_on_a_real_sequence(sample_data):
    torch.manual_seed(0)
    x = _ntu_body(sample_data)
    assert x.shape == (1, 3, 103, 25, 1)
    aim = AIM(25, 3, num_link_types=3, ghost_prior=0.95, frames=20, hidden=24)
    opt = torch.optim.Adam(aim.parameters(), lr=5e-3)

    def evaluate():
        aim.eval()
        with torch.no_grad():
            out = aim.losses(x)
        aim.train()
        return out

    before = evaluate()
    for _ in range(150):
        opt.zero_grad()
        aim.losses(x)["loss"].backward()
        opt.step()
    after = evaluate()
    aim.eval()
    window = aim.window(x)  # the evaluation window (no random offset)
    still = gaussian_nll(window[:, :-1], window[:, 1:], aim.variance)  # "the pose does not move"
    assert float(after["nll"]) < 0.1 * float(before["nll"])
    assert float(after["nll"]) < float(still)  # better than repeating the last pose
    assert float(after["kl"]) < float(before["kl"])
    with torch.no_grad():
        probs = torch.softmax(aim.logits(window), -1)
    assert probs[..., 0].mean() > 0.5  # mostly ghost links, as the sparse prior asks


@pytest.mark.parametrize("ghost_prior", [0.95, 0.0])
def test_aim_probabilities_layout(ghost_prior):
    aim = AIM(7, 3, num_link_types=2, ghost_prior=ghost_prior, frames=4, hidden=8).eval()
    probs = aim.probabilities(torch.randn(2, 3, 9, 7, 1))
    assert probs.shape == (2, 3, 7, 7)
    torch.testing.assert_close(probs.sum(1), torch.ones(2, 7, 7))
    assert (probs[:, 0].diagonal(dim1=-2, dim2=-1) == 1).all()
    if ghost_prior == 0:
        assert (probs[:, 0] == torch.eye(7)).all()


def test_hard_links_are_one_hot_samples_in_training_and_soft_otherwise():
    torch.manual_seed(0)
    logits = torch.randn(2, 25, 24, 4)
    for hard in (True, False):
        aim = AIM(25, 3, hard=hard).train()
        links = aim.sample(logits)
        one_hot = bool(((links == 0) | (links == 1)).all())
        assert one_hot == hard
        torch.testing.assert_close(links.sum(-1), torch.ones(2, 25, 24))


def test_the_aim_window_has_a_random_offset_in_training_only():
    torch.manual_seed(0)
    x = torch.randn(4, 3, 300, 25, 1)
    aim = AIM(25, 3, frames=50)
    first = sample_window(x, 50)  # frames 0, 6, 12, ...
    torch.testing.assert_close(aim.eval().window(x), first)
    shifted = aim.train().window(x)
    assert not torch.equal(shifted, first)
    offsets = []
    for k in range(4):  # each sample's window: frames o, o + 6, ..., o + 294 for one o in 0..5
        found = [o for o in range(6) if torch.equal(shifted[k], x[k, :, o::6, :, 0].permute(1, 2, 0))]
        assert len(found) == 1
        offsets += found
    assert set(offsets) != {0}


def _frame_numbered(t: int, valid: list[int]) -> torch.Tensor:
    """``(N, 3, t, 2, 1)`` whose frame ``j`` holds ``j + 1`` for ``j < valid[k]``, zeros after."""
    x = torch.zeros(len(valid), 3, t, 2, 1)
    for k, length in enumerate(valid):
        x[k, :, :length] = torch.arange(1, length + 1, dtype=torch.float32)[None, :, None, None]
    return x


def _frames_read(window: torch.Tensor) -> torch.Tensor:
    """The frame numbers a window of :func:`_frame_numbered` input read, ``(N, F)`` (-1: padding)."""
    return window[:, :, 0, 0].round().long() - 1


def test_sample_window_reads_floor_j_l_over_f_of_each_samples_valid_frames():
    x = _frame_numbered(300, [251, 1, 300, 0])  # 251 valid frames, one frame, all, an empty sample
    read = _frames_read(sample_window(x, 50))  # no random offset by default
    j = torch.arange(50)
    assert read[0].tolist() == (j * 251 // 50).tolist()
    assert read[1].tolist() == [0] * 50  # a one-frame sample repeats its frame
    assert read[2].tolist() == (j * 6).tolist()
    assert read[3].tolist() == [-1] * 50  # an empty sample reads its (zero) frames, no index error
    small = sample_window(_frame_numbered(200, [100]) * 1e-3, 50)  # |x| sums to < 1 per frame
    assert (small[0, :, 0, 0] * 1e3).round().long().sub(1).tolist() == (j * 2).tolist()


def test_random_window_offsets_cover_one_sampling_step_per_sample():
    torch.manual_seed(0)
    x = _frame_numbered(300, [251] * 64)
    read = _frames_read(sample_window(x, 50, random_offset=True))
    offsets = read[:, 0]  # frame 0 of the grid is 0, so the first frame read is the offset
    assert set(offsets.tolist()) == set(range(6))  # ceil(251 / 50) = 6 offsets, each drawn
    grid = torch.arange(50) * 251 // 50
    assert torch.equal(read, torch.minimum(grid[None] + offsets[:, None], torch.tensor(250)))


def test_sample_window_stays_on_the_inputs_device():
    x = torch.randn(2, 3, 40, 25, 2, device="meta")
    for random_offset in (False, True):
        window = sample_window(x, 10, random_offset=random_offset)
        assert window.device.type == "meta" and window.shape == (4, 10, 25, 3)


def test_aim_defaults_are_the_official_configuration():
    """AIM(V, C) alone: 3 link types and a ghost link with prior 0.95, a 50-frame window, hidden
    width 128, K = 2 encoder iterations, tau 0.5, soft links, no dropout, variance 5e-4, mean
    aggregation, the eq. 2 encoder and the pose decoder."""
    aim = AIM(25, 3)
    assert (aim.num_joints, aim.channels, aim.frames, aim.num_link_types) == (25, 3, 50, 3)
    assert aim.ghost is True and (aim.tau, aim.hard, aim.variance) == (0.5, False, 5e-4)
    torch.testing.assert_close(aim.log_prior.exp(), torch.tensor([0.95, 0.05 / 3, 0.05 / 3, 0.05 / 3]))
    enc = aim.encoder
    assert enc.wiring == "eq2" and len(enc.node_mlps) == len(enc.edge_mlps) == 2
    assert enc.node_mlps[0][0].in_features == 50 * 3 and enc.node_mlps[0][0].out_features == 128
    assert enc.out.out_features == 4  # 3 link types + the ghost
    assert type(aim.decoder) is AIMDecoder and aim.decoder.aggregation == "mean"
    assert aim.decoder.node.weight.shape == (3, 3, 128)  # one f_v per link type, C -> hidden
    assert all(m.p == 0.0 for m in aim.modules() if isinstance(m, torch.nn.Dropout))
    assert torch.equal(aim.senders, sender_index(25))


def test_the_link_prior_is_float32_whatever_the_default_dtype():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        prior = link_prior(3, 0.95)
    finally:
        torch.set_default_dtype(previous)
    assert prior.dtype == torch.float32
    torch.testing.assert_close(prior, torch.tensor([0.95, 0.05 / 3, 0.05 / 3, 0.05 / 3]))


def test_building_block_defaults_no_dropout_no_skip_two_eq2_iterations():
    for block in (MLP(4, 8, 8), PairMLP(4, 8, 8), AIMEncoder(4, 8, 3)):
        rates = [m.p for m in block.modules() if isinstance(m, torch.nn.Dropout)]
        assert rates and set(rates) == {0.0}
    assert PairMLP(4, 8, 8).skip is None
    enc = AIMEncoder(4, 8, 3)
    assert enc.wiring == "eq2" and len(enc.node_mlps) == 2


def test_typed_linear_initialises_like_nn_linear():
    torch.manual_seed(0)
    layer = TypedLinear(3, 64, 256)
    bound = 1 / 64**0.5
    for p in (layer.weight.detach(), layer.bias.detach()):
        assert -bound <= float(p.min()) < -0.9 * bound and 0.9 * bound < float(p.max()) <= bound
