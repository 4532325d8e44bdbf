"""Future-pose (forecast) evaluation: MPJPE per predicted step for a model and two baselines.

AS-GCN's prediction head (paper Sec. 3.5, 5.4: "we take all frames except for the last ten as the
input ... predict the last ten frames") is scored on each clip of the evaluation loader: the last
``steps`` frames are the target, the frames before them the observation. On exactly the same
targets two baselines are scored:

* zero velocity: every future frame repeats the last observed pose;
* constant velocity: the last observed displacement continues,
  ``x_{T+k} = x_T + k (x_T - x_{T-1})``.

The error is the mean per-joint position error (MPJPE): the Euclidean distance over the
coordinate channels (x, y, z; x, y for 2D layouts, whose third channel is a detection score),
averaged over joints, in the data's units (metres for NTU, after the loader's transforms).

Zero padding is masked, never scored: a body counts at future step ``k`` only if it is present
(any non-zero joint) in that target frame and in the last two observed frames, which is also
what both baselines need. Padded frames, absent second bodies and clips shorter than the
observation + target are thus left out, for the model and the baselines alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch

from ..data.layouts import get_layout

__all__ = [
    "METHODS",
    "METHOD_LABELS",
    "constant_velocity",
    "evaluate_forecast",
    "format_forecast",
    "forecast_mask",
    "mpjpe_per_step",
    "zero_velocity",
]

METHODS = ("model", "zero_velocity", "constant_velocity")
#: How reports and figures name the methods.
METHOD_LABELS = {
    "model": "AS-GCN prediction head",
    "zero_velocity": "zero velocity (repeat the last pose)",
    "constant_velocity": "constant velocity",
}


def zero_velocity(observed: torch.Tensor, steps: int) -> torch.Tensor:
    """Repeat the last observed frame: ``(N, C, T, V, M) -> (N, C, steps, V, M)``."""
    _check_batch(observed, "observed")
    return observed[:, :, -1:].expand(-1, -1, steps, -1, -1).clone()


def constant_velocity(observed: torch.Tensor, steps: int) -> torch.Tensor:
    """Continue the last displacement: ``x_T + k (x_T - x_{T-1})`` for ``k = 1..steps``."""
    _check_batch(observed, "observed")
    if observed.shape[2] < 2:
        raise ValueError("constant velocity needs at least 2 observed frames")
    last, prev = observed[:, :, -1:], observed[:, :, -2:-1]
    k = torch.arange(1, steps + 1, dtype=observed.dtype, device=observed.device).view(1, 1, steps, 1, 1)
    return last + k * (last - prev)


def _check_batch(x: torch.Tensor, name: str) -> None:
    if x.ndim != 5:
        raise ValueError(f"{name} must be a batch (N, C, T, V, M), got shape {tuple(x.shape)}")


def _present(x: torch.Tensor) -> torch.Tensor:
    """``(N, C, T, V, M) -> (N, T, M)``: the body has a non-zero joint in that frame."""
    return x.ne(0).any(dim=1).any(dim=2)


def forecast_mask(observed: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``(N, steps, M)`` bool: which bodies of which future frames are scored (see the module doc)."""
    seen = _present(observed[:, :, -2:]).all(dim=1)  # (N, M): present in both of the last 2 frames
    return _present(target) & seen[:, None, :]


def mpjpe_per_step(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                   coord_channels: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed per-joint errors and counts per step.

    Args:
        pred: ``(N, C, S, V, M)`` forecast (only the first ``coord_channels`` channels are used).
        target: ``(N, C, S, V, M)`` true future frames.
        mask: ``(N, S, M)`` bool, the bodies scored.
        coord_channels: how many leading channels are positions.

    Returns:
        ``(error_sum (S,), joint_count (S,))`` in float64; MPJPE at step ``s`` is their ratio.
    """
    d = coord_channels
    err = (pred[:, :d].double() - target[:, :d].double()).square().sum(dim=1).sqrt()  # (N, S, V, M)
    w = mask.to(err.dtype)[:, :, None, :]  # (N, S, 1, M)
    v = err.shape[2]
    return (err * w).sum(dim=(0, 2, 3)), w.sum(dim=(0, 2, 3)) * v


def _batch_x(batch: Any) -> torch.Tensor:
    if isinstance(batch, torch.Tensor):
        return batch
    if isinstance(batch, Mapping):
        return batch["x"]
    if isinstance(batch, (tuple, list)) and batch and isinstance(batch[0], torch.Tensor):
        return batch[0]
    raise TypeError(f"cannot find the input batch in a loader item of type {type(batch).__name__}")


def _model_device(model: Any) -> torch.device:
    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")


def evaluate_forecast(
    model: torch.nn.Module | None,
    loader: Iterable[Any],
    steps: int = 10,
    *,
    coord_channels: int | None = None,
) -> dict[str, Any]:
    """MPJPE per future step of ``model.forecast`` and of the two baselines, on the same targets.

    Args:
        model: a model with ``forecast(x, steps) -> (N, C', steps, V, M)`` (AS-GCN with its
            prediction head), or None to score the baselines only. It is run in eval mode and
            without gradients; its training mode is restored afterwards.
        loader: batches ``(N, C, T, V, M)`` (or ``(x, y, ...)`` tuples / ``{"x": ...}``) of clips
            ``T > steps + 1`` frames long: the last ``steps`` frames are the target.
        steps: frames predicted (AS-GCN: ``model.prediction_steps``, 10 in the paper).
        coord_channels: channels that are positions (default: 3, or 2 when the input has
            3 channels and the model's layout is 2D).

    Returns a JSON-ready dict::

        {"steps": S, "observed_frames": T - S, "samples": N_total,
         "count": [bodies scored per step],   # body-frames
         "mpjpe": {"model": [S floats], "zero_velocity": [...], "constant_velocity": [...]},
         "mean":  {"model": float, "zero_velocity": float, "constant_velocity": float}}

    A step with nothing to score has ``None``; ``"model"`` is absent when ``model`` is None.
    ``mean`` averages over every scored joint of every step.
    """
    steps = int(steps)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if model is not None and not callable(getattr(model, "forecast", None)):
        raise TypeError(f"{type(model).__name__} has no forecast(x, steps) method: forecast evaluation "
                        "needs a model with a future-pose prediction head (AS-GCN with prediction_head=True)")
    if coord_channels is None:
        layout = (getattr(model, "hparams", None) or {}).get("layout") if model is not None else None
        spec = getattr(model, "spec", None) if model is not None else None
        if layout is None and isinstance(spec, Mapping):
            layout = spec.get("layout")
        coord_channels = 3
        if layout is not None:
            coord_channels = get_layout(layout).dims
    methods = METHODS if model is not None else METHODS[1:]
    sums = {m: torch.zeros(steps, dtype=torch.float64) for m in methods}
    count = torch.zeros(steps, dtype=torch.float64)  # joints scored per step
    bodies = torch.zeros(steps, dtype=torch.int64)  # body-frames scored per step
    samples = 0
    observed_frames = None
    device = _model_device(model) if model is not None else torch.device("cpu")
    was_training = bool(getattr(model, "training", False))
    if model is not None and hasattr(model, "eval"):
        model.eval()
    try:
        with torch.no_grad():
            for batch in loader:
                x = _batch_x(batch).float()
                _check_batch(x, "loader batch")
                t = x.shape[2]
                if t < steps + 2:
                    raise ValueError(f"clips of {t} frames are too short to forecast {steps} steps "
                                     f"(need at least {steps + 2}: 2 observed frames + the target)")
                observed, target = x[:, :, : t - steps], x[:, :, t - steps :]
                observed_frames = t - steps
                mask = forecast_mask(observed, target)
                preds = {
                    "zero_velocity": zero_velocity(observed, steps),
                    "constant_velocity": constant_velocity(observed, steps),
                }
                if model is not None:
                    pred = model.forecast(observed.to(device), steps)
                    pred = pred.detach().float().cpu()
                    want = (x.shape[0], steps, x.shape[3], x.shape[4])
                    if (pred.ndim != 5 or (pred.shape[0], *pred.shape[2:]) != want
                            or pred.shape[1] < coord_channels):
                        raise ValueError(f"model.forecast returned {tuple(pred.shape)}; expected "
                                         f"(N, >= {coord_channels}, {steps}, V, M) = {want} "
                                         "on the other axes")
                    preds["model"] = pred
                for name in methods:
                    err, n = mpjpe_per_step(preds[name], target, mask, coord_channels)
                    sums[name] += err
                count += n  # the same mask for every method
                bodies += mask.sum(dim=(0, 2))
                samples += x.shape[0]
    finally:
        if model is not None and hasattr(model, "train"):
            model.train(was_training)

    per_step: dict[str, list[float | None]] = {}
    mean: dict[str, float | None] = {}
    total = float(count.sum())
    for name in methods:
        per_step[name] = [float(s / c) if c > 0 else None for s, c in zip(sums[name], count, strict=True)]
        mean[name] = float(sums[name].sum() / total) if total > 0 else None
    return {
        "steps": steps,
        "observed_frames": observed_frames,
        "samples": samples,
        "coord_channels": int(coord_channels),
        "count": [int(b) for b in bodies],
        "mpjpe": per_step,
        "mean": mean,
    }


def format_forecast(result: Mapping[str, Any]) -> str:
    """A small text table of :func:`evaluate_forecast`'s result (one row per method)."""
    steps = result["steps"]
    head = f"{'MPJPE':<18}" + "".join(f"{'t+' + str(k + 1):>8}" for k in range(steps)) + f"{'mean':>9}"
    lines = [head]
    for name, values in result["mpjpe"].items():
        cells = "".join(f"{v:8.4f}" if v is not None else f"{'-':>8}" for v in values)
        m = result["mean"][name]
        lines.append(f"{name:<18}{cells}{m:9.4f}" if m is not None else f"{name:<18}{cells}{'-':>9}")
    return "\n".join(lines)
