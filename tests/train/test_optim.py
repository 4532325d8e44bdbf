"""`build_optimizer`: PyTorch's fused update kernels by default, the same updates as the default
implementation up to rounding, and the cases where it must fall back."""

from __future__ import annotations

import pytest
import torch

from skelact.train.config import OptimConfig, TrainConfig
from skelact.train.module import _fused_allowed
from skelact.train.optim import build_optimizer, fusable

CONFIGS = {
    "sgd": OptimConfig(name="sgd", lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4),
    "adam": OptimConfig(name="adam", lr=1e-3, weight_decay=1e-4),
    "adamw": OptimConfig(name="adamw", lr=1e-3, weight_decay=1e-2, betas=[0.8, 0.99]),
}


def _params(seed: int = 0) -> list[torch.nn.Parameter]:
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(shape, generator=g)) for shape in [(7, 5), (5,), (3, 2, 4)]]


def _train(cfg: OptimConfig, steps: int = 5, **kw) -> tuple[torch.optim.Optimizer, list[torch.Tensor]]:
    params = _params()
    opt = build_optimizer(cfg, params, **kw)
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        for p in params:
            p.grad = torch.randn(p.shape, generator=g)
        opt.step()
    return opt, [p.detach() for p in params]


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_the_fused_update_is_the_default_update_up_to_rounding(name):
    cfg = CONFIGS[name]
    fused, after_fused = _train(cfg)
    plain, after_plain = _train(OptimConfig(**{**vars(cfg), "fused": False}))
    assert fused.defaults["fused"] is True and not plain.defaults.get("fused")
    assert type(fused) is type(plain) and type(fused).__name__.lower() == name
    start = _params()
    for a, b, s in zip(after_fused, after_plain, start, strict=True):
        assert not torch.equal(a, s)  # the steps moved the parameters
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_fusing_falls_back_where_it_cannot_apply():
    cfg = CONFIGS["adam"]
    assert not build_optimizer(cfg, _params(), allow_fused=False).defaults.get("fused")
    assert not fusable([torch.zeros(2, dtype=torch.int64)])  # no fused kernel for integer tensors
    assert not fusable([])
    assert fusable(_params())
    frozen = _params()
    for p in frozen:
        p.requires_grad_(False)
    frozen[0].requires_grad_(True)
    opt = build_optimizer(cfg, frozen)  # only the parameters that require gradients
    assert opt.defaults["fused"] is True and opt.param_groups[0]["params"] == [frozen[0]]


def test_clipping_under_a_gradient_scaler_keeps_the_default_update():
    """Lightning refuses to clip the gradients of a fused optimiser when a scaler unscales them."""
    assert _fused_allowed(TrainConfig())
    assert _fused_allowed(TrainConfig(gradient_clip=1.0, precision="bf16-mixed"))
    assert _fused_allowed(TrainConfig(precision="16-mixed"))
    assert not _fused_allowed(TrainConfig(gradient_clip=1.0, precision="16-mixed"))
