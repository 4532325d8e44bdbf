"""AS-GCN pieces checked against hand-computed values on tiny inputs.

Covers: ``gumbel_softmax`` (default temperature, the clamp of the uniform noise, the softmax axis,
straight-through samples), the AIM decoders (step (a)-(d) of :class:`AIMDecoder` against a
loop-over-pairs reference for both aggregations, the default options of both decoders), the loss
functions (``gaussian_nll`` with the normalising constant, ``kl_categorical`` at zero
probabilities, ``prediction_loss`` with a single counted value), the model helpers
(``forecast`` chaining, default length, number of head runs and error message, the
``aim_losses`` error message, the prediction-target body masks, the present-body weights of
``infer_links``), ``matrix_powers`` (path counts, error message) and ``ASGC.extra_repr``.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from tiny_asgcn import tiny_asgcn

from skelact.errors import ConfigError
from skelact.models.asgcn.aim import AIMDecoder, RecurrentDecoder, gumbel_softmax, sender_index
from skelact.models.asgcn.links import ASGC
from skelact.models.asgcn.losses import gaussian_nll, kl_categorical, prediction_loss
from skelact.models.graph import matrix_powers


def _model(**options):
    return tiny_asgcn(**options).eval()


def _x(n=2, t=12, v=25, m=2, c=3):
    torch.manual_seed(1)
    return torch.randn(n, c, t, v, m)


# ----------------------------------------------------------------------------- gumbel softmax ---
def _gumbel_reference(logits, tau, seed):
    torch.manual_seed(seed)
    u = torch.rand_like(logits).clamp(1e-10, 1.0 - 1e-7)
    return torch.softmax((logits - torch.log(-torch.log(u))) / tau, dim=-1)


def test_gumbel_softmax_default_temperature_is_one_half_over_the_last_axis():
    torch.manual_seed(2)
    logits = torch.randn(2, 3, 4)  # 3-D: the softmax axis is the last one, not axis 1
    want = _gumbel_reference(logits, 0.5, seed=7)
    torch.manual_seed(7)
    got = gumbel_softmax(logits)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(got.sum(dim=-1), torch.ones(2, 3))
    torch.manual_seed(7)
    hard = gumbel_softmax(logits, hard=True)
    assert hard.dtype == logits.dtype
    torch.testing.assert_close(hard, torch.nn.functional.one_hot(want.argmax(-1), 4).to(logits.dtype))


@pytest.mark.parametrize("u", [0.0, 1.0])
def test_gumbel_softmax_clamps_extreme_uniform_noise(monkeypatch, u):
    """``u = 0`` or ``u = 1`` (possible draws of ``rand``) must not give inf / nan: with the same
    noise on every type the sample is ``softmax(logits / tau)``."""
    monkeypatch.setattr(torch, "rand_like", lambda t: torch.full_like(t, u))
    logits = torch.tensor([[0.3, -1.2, 0.8], [2.0, 0.0, -0.5]])
    got = gumbel_softmax(logits, tau=0.5)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, torch.softmax(logits / 0.5, dim=-1))


# ----------------------------------------------------------------------------------- decoders ---
def _decoder_reference(dec, x, links, aggregation):
    """Steps (a)-(d) one pair and one link type at a time."""
    b, f, v, ch = x.shape
    c = links.shape[-1]
    hidden = dec.node.weight.shape[-1]
    q = torch.zeros(b, f, v, hidden)
    for t in range(c):
        h = torch.tanh(x @ dec.node.weight[t] + dec.node.bias[t])  # (B, F, V, H)
        for i in range(v):
            for j in range(v):
                if i == j:
                    continue
                col = j if j < i else j - 1  # position of sender j among the senders of i
                pre = (
                    h[:, :, i] @ dec.pair_receiver.weight[t]
                    + dec.pair_receiver.bias[t]
                    + h[:, :, j] @ dec.pair_sender.weight[t]
                )
                msg = torch.tanh(torch.tanh(pre) @ dec.pair_out.weight[t] + dec.pair_out.bias[t])
                q[:, :, i] += links[:, i, col, t][:, None, None] * msg
    q = q / (v - 1) if aggregation == "mean" else q / (c * ch)
    p = torch.cat([q, x], dim=-1)
    states = torch.stack([dec.gru(p[:, :, i])[0] for i in range(v)], dim=2)  # (B, F, V, H)
    return (x + dec.f_out(states))[:, :-1]


def _decoder_inputs(b=2, f=5, v=4, ch=3, c=2):
    torch.manual_seed(3)
    x = torch.randn(b, f, v, ch)
    links = torch.softmax(torch.randn(b, v, v - 1, c), dim=-1)
    return x, links, sender_index(v)


@pytest.mark.parametrize("aggregation", ["mean", "nri"])
def test_aim_decoder_matches_the_pairwise_reference(aggregation):
    x, links, senders = _decoder_inputs()  # V = 4, V - 1 = 3, C = 2, ch = 3, F = 5: all different
    torch.manual_seed(4)
    dec = AIMDecoder(3, 6, 2, aggregation=aggregation).eval()
    with torch.no_grad():
        got = dec(x, links, senders)
        want = _decoder_reference(dec, x, links, aggregation)
    assert got.shape == (2, 4, 4, 3)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_aim_decoder_default_aggregation_is_the_mean_over_senders():
    x, links, senders = _decoder_inputs()
    torch.manual_seed(4)
    dec = AIMDecoder(3, 6, 2).eval()
    with torch.no_grad():
        torch.testing.assert_close(dec(x, links, senders), _decoder_reference(dec, x, links, "mean"))


def test_recurrent_decoder_defaults_are_mean_aggregation_and_no_dropout():
    x, links, senders = _decoder_inputs()
    out = {}
    options = {"default": {}, "mean": {"aggregation": "mean"}, "nri": {"aggregation": "nri"}}
    for name, kwargs in options.items():
        torch.manual_seed(5)
        dec = RecurrentDecoder(3, 6, 2, **kwargs)
        with torch.no_grad():
            out[name] = dec.train()(x, links, senders)  # training mode: dropout would act here
            torch.testing.assert_close(dec.eval()(x, links, senders), out[name])  # so: no dropout
    torch.testing.assert_close(out["default"], out["mean"])
    assert not torch.allclose(out["default"], out["nri"])


# ------------------------------------------------------------------------------------- losses ---
def test_gaussian_nll_with_the_normalising_constant():
    torch.manual_seed(6)
    mean, target = torch.randn(2, 3, 4, 3, dtype=torch.float64), torch.randn(2, 3, 4, 3, dtype=torch.float64)
    var = 0.3
    sq = float(((mean - target) ** 2).sum())
    plain = sq / (2 * var) / (2 * 4)
    const = 0.5 * math.log(2 * math.pi * var)  # per coordinate: log(2 pi sigma^2) / 2
    assert float(gaussian_nll(mean, target, var)) == pytest.approx(plain, rel=1e-12)
    assert float(gaussian_nll(mean, target, var, add_const=True)) == pytest.approx(
        plain + mean.numel() * const / (2 * 4), rel=1e-12
    )


def test_kl_categorical_is_finite_and_exact_with_zero_probabilities():
    probs = torch.tensor([[[[0.0, 1.0], [0.25, 0.75]]]])  # (B=1, V=1, V-1=2, types=2)
    log_prior = torch.log(torch.tensor([0.5, 0.5]))
    want = math.log(2.0) + 0.25 * math.log(0.5) + 0.75 * math.log(1.5)  # 0 log 0 = 0
    got = kl_categorical(probs, log_prior)
    assert torch.isfinite(got)
    assert float(got) == pytest.approx(want, rel=1e-6)


def test_prediction_loss_divides_by_the_counted_values_even_when_there_is_one():
    pred, target = torch.full((1, 1, 1, 1, 1), 2.0), torch.zeros(1, 1, 1, 1, 1)
    assert float(prediction_loss(pred, target, torch.ones(1, 1, dtype=torch.bool))) == 4.0
    assert float(prediction_loss(pred, target, torch.zeros(1, 1, dtype=torch.bool))) == 0.0
    pred2 = torch.tensor([3.0, 1.0]).view(1, 1, 2, 1, 1)  # two frames, one counted
    mask = torch.tensor([[[True], [False]]])  # (N, T', M)
    assert float(prediction_loss(pred2, torch.zeros_like(pred2), mask)) == 9.0


# -------------------------------------------------------------------------------------- model ---
def test_aim_losses_without_a_links_names_the_method():
    m = _model(links="s")
    msg = "asgcn option 'links': aim_losses needs A-links (links='a' or 'as'), got links='s'"
    with pytest.raises(ConfigError, match=f"^{re.escape(msg)}$"):
        m.aim_losses(_x())


def test_forecast_without_the_prediction_head_raises_the_documented_error():
    m = _model(pred=False)
    msg = "asgcn option 'prediction_head': forecast needs the prediction head"
    with pytest.raises(ConfigError, match=f"^{re.escape(msg)}$"):
        m.forecast(_x())


def test_forecast_defaults_to_ten_steps_and_runs_the_head_ceil_steps_over_horizon_times():
    m = _model()
    calls = []
    m.predictor.register_forward_hook(lambda *_: calls.append(1))
    x = _x(t=9)
    with torch.no_grad():
        assert m.forecast(x).shape == (2, 3, 10, 25, 2)
        assert len(calls) == 4  # ceil(10 / 3)
        for steps, runs in ((3, 1), (6, 2), (7, 3)):
            calls.clear()
            assert m.forecast(x, steps=steps).shape[2] == steps
            assert len(calls) == runs


def test_forecast_chains_windows_of_the_input_length():
    """Each later run sees the latest ``T`` frames (input frames then forecast frames)."""
    m = _model()
    x = _x(t=12)  # T = 12, not V = 25
    with torch.no_grad():
        first = m.forecast(x, steps=3)
        second = m.forecast(torch.cat([x, first], dim=2)[:, :, -12:], steps=3)
        torch.testing.assert_close(m.forecast(x, steps=6), torch.cat([first, second], dim=2))


def test_pred_bodies_present_needs_the_body_in_the_frame_and_in_the_last_observed_frame():
    m = _model()  # pred_bodies="present"
    x = _x(n=1, t=6)
    x[:, :, 3:5, :, 1] = 0  # body 1 absent in the last observed frame (3) and in frame 4
    mask = m._pred_bodies(x, 4)  # future frames 4, 5
    assert mask.dtype == torch.bool
    assert mask.tolist() == [[[True, False], [True, False]]]  # body 1 back in frame 5: still not counted


def test_pred_bodies_first_is_a_boolean_mask_on_the_input_device():
    m = _model(pred_bodies="first")
    x = _x(n=2, t=6)
    with torch.device("meta"):  # another default device: the mask still follows x
        mask = m._pred_bodies(x, 4)
    assert mask.device == x.device and mask.dtype == torch.bool
    assert mask.tolist() == [[True, False], [True, False]]


def test_infer_links_averages_every_body_with_any_non_zero_coordinate():
    m = _model()
    x = _x(n=1, t=12)
    x[..., 1] = 0
    x[0, 0, 2, 5, 1] = 0.5  # body 1 barely present: |x| sums to 0.5
    with torch.no_grad():
        per_body = m.infer_links(x, per_body=True)  # (N, M, C + 1, V, V)
        got = m.infer_links(x)
    assert not torch.allclose(per_body[:, 0], per_body[:, 1])
    torch.testing.assert_close(got, per_body.mean(dim=1))


# ---------------------------------------------------------------------------- graph, links ---
def test_matrix_powers_counts_paths_of_a_boolean_adjacency():
    a = np.array([[True, True, False], [True, True, True], [False, True, True]])
    got = matrix_powers(a, 3)
    ai = a.astype(np.int64)
    want = np.stack([ai, ai @ ai, ai @ ai @ ai]).astype(np.float32)  # [[2, 2, 1], ...]: path counts
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)
    assert got[1].max() == 3.0


def test_matrix_powers_rejects_order_zero_with_its_message():
    with pytest.raises(ValueError, match=r"^order must be >= 1, got 0$"):
        matrix_powers(np.eye(2), 0)


def test_asgc_extra_repr_reports_the_bias():
    kernels = torch.eye(3)[None]
    assert ASGC(2, 4, kernels, num_actional=1, bias=True).extra_repr() == (
        "2, 4, structural=1, actional=1, lambda=0.5, bias=True"
    )
    assert ASGC(2, 4, kernels).extra_repr().endswith("actional=0, lambda=0.5, bias=False")
