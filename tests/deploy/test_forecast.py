"""Forecast evaluation: MPJPE per step for the model and the zero/constant-velocity baselines."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from deploy_helpers import batch, tiny_arrn, tiny_asgcn

from skelact.evaluation.forecast import (
    constant_velocity,
    evaluate_forecast,
    format_forecast,
    mpjpe_per_step,
    zero_velocity,
)

STEPS = 4


def loader(*batches):
    return [(x, torch.zeros(x.shape[0], dtype=torch.long)) for x in batches]


def constant_clip(sample: np.ndarray, frames: int) -> torch.Tensor:
    """A real pose (frame 10 of the sample, both bodies) held still for ``frames`` frames."""
    return batch([np.repeat(sample[10:11], frames, axis=0)], frames)


def linear_clip(sample: np.ndarray, frames: int) -> torch.Tensor:
    """A real pose translated at a constant velocity (plus a rigid per-joint drift)."""
    pose = sample[10]  # (M, V, C)
    rng = np.random.default_rng(0)
    velocity = rng.normal(scale=0.02, size=pose.shape).astype(np.float32)
    velocity[pose == 0] = 0  # absent bodies stay absent
    seq = np.stack([pose + t * velocity for t in range(frames)])
    return batch([seq], frames)


def test_zero_velocity_of_a_still_real_pose_is_zero(ntu_samples):
    x = constant_clip(ntu_samples[0], 16)
    res = evaluate_forecast(None, loader(x), steps=STEPS)
    assert res["mpjpe"]["zero_velocity"] == [0.0] * STEPS and res["mean"]["zero_velocity"] == 0.0
    assert res["mpjpe"]["constant_velocity"] == [0.0] * STEPS  # zero velocity is a constant velocity
    assert res["count"] == [2] * STEPS  # two bodies scored at each step
    assert "model" not in res["mpjpe"]


def test_constant_velocity_of_a_linearly_moving_real_pose_is_zero(ntu_samples):
    x = linear_clip(ntu_samples[0], 16)
    res = evaluate_forecast(None, loader(x), steps=STEPS)
    assert max(res["mpjpe"]["constant_velocity"]) < 1e-5
    zv = res["mpjpe"]["zero_velocity"]
    assert zv[0] > 0 and all(b > a for a, b in zip(zv, zv[1:], strict=False))  # error grows with the horizon
    # zero velocity misses by k * |v| per joint at step k: linear in k
    np.testing.assert_allclose(np.array(zv) / zv[0], np.arange(1, STEPS + 1), rtol=1e-4)


def test_baselines_by_hand():
    obs = torch.zeros(1, 3, 3, 2, 1)
    obs[0, :, 1] = 1.0
    obs[0, :, 2] = 2.0
    np.testing.assert_array_equal(zero_velocity(obs, 2)[0, :, :, 0, 0].T.numpy(), [[2, 2, 2], [2, 2, 2]])
    np.testing.assert_array_equal(constant_velocity(obs, 2)[0, :, :, 0, 0].T.numpy(), [[3, 3, 3], [4, 4, 4]])
    pred = torch.zeros(1, 3, 2, 2, 1)
    target = torch.zeros(1, 3, 2, 2, 1)
    target[0, 0, 0, 0, 0] = 3.0  # joint 0 off by 3 at step 0, joint 1 exact
    target[0, :2, 1, 1, 0] = torch.tensor([3.0, 4.0])  # joint 1 off by 5 at step 1
    err, n = mpjpe_per_step(pred, target, torch.ones(1, 2, 1, dtype=torch.bool))
    np.testing.assert_allclose((err / n).numpy(), [1.5, 2.5])
    err, n = mpjpe_per_step(pred, target, torch.ones(1, 2, 1, dtype=torch.bool), coord_channels=1)
    np.testing.assert_allclose((err / n).numpy(), [1.5, 1.5])  # only x counts


def test_zero_padding_is_masked(ntu_samples):
    still = constant_clip(ntu_samples[0], 16)
    padded = still.clone()
    padded[:, :, 14:] = 0  # the clip ended 2 frames before the end: padding in the target
    short = still.clone()
    short[:, :, 11:] = 0  # ended inside the observation: nothing to score
    one_body = still.clone()
    one_body[..., 1] = 0  # no second person
    res = evaluate_forecast(None, loader(torch.cat([still, padded, short, one_body])), steps=STEPS)
    # per step: still 2 bodies, padded 2 bodies for the first 2 steps, one_body 1
    assert res["count"] == [5, 5, 3, 3]
    assert res["mpjpe"]["zero_velocity"] == [0.0] * STEPS  # padding never scored as an error
    assert res["samples"] == 4 and res["observed_frames"] == 12


def test_model_mpjpe_per_step(ntu_samples):
    model = tiny_asgcn()  # horizon 4
    model.train()
    x = batch([ntu_samples[0], ntu_samples[2]], 24)
    res = evaluate_forecast(model, loader(x, batch([ntu_samples[1]], 24)), steps=STEPS)
    assert model.training  # mode restored
    assert set(res["mpjpe"]) == {"model", "zero_velocity", "constant_velocity"}
    for name in res["mpjpe"]:
        assert len(res["mpjpe"][name]) == STEPS
        assert all(v is not None and math.isfinite(v) and v >= 0 for v in res["mpjpe"][name])
        assert math.isfinite(res["mean"][name])
    assert res["steps"] == STEPS and res["samples"] == 3 and res["count"] == [5] * STEPS
    # the model's numbers are its forecast of the last STEPS frames from the frames before
    model.eval()
    with torch.no_grad():
        pred = model.forecast(x[:, :, :-STEPS], STEPS)
    assert pred.shape == (2, 3, STEPS, 25, 2)
    err, n = mpjpe_per_step(pred, x[:, :, -STEPS:], torch.ones(2, STEPS, 2, dtype=torch.bool))
    x1 = batch([ntu_samples[1]], 24)
    with torch.no_grad():
        pred1 = model.forecast(x1[:, :, :-STEPS], STEPS)
    mask1 = torch.zeros(1, STEPS, 2, dtype=torch.bool)
    mask1[..., 0] = True  # the 1-body sample
    err1, n1 = mpjpe_per_step(pred1, x1[:, :, -STEPS:], mask1)
    np.testing.assert_allclose(res["mpjpe"]["model"], ((err + err1) / (n + n1)).numpy(), rtol=1e-5)
    text = format_forecast(res)
    assert "zero_velocity" in text and "t+4" in text


def test_forecast_input_errors(ntu_samples):
    x = batch([ntu_samples[0]], 24)
    with pytest.raises(TypeError, match="no forecast"):
        evaluate_forecast(tiny_arrn(), loader(x), steps=STEPS)
    with pytest.raises(ValueError, match="too short"):
        evaluate_forecast(None, loader(x[:, :, :5]), steps=STEPS)
    with pytest.raises(ValueError, match="steps"):
        evaluate_forecast(None, loader(x), steps=0)
