"""Reusable building units of spatio-temporal graph networks (ST-GCN family).

Tensors are ``(B, C, T, V)`` = (batch x bodies, channels, frames, joints). The units keep (and
prefer) the ``torch.channels_last`` memory format, i.e. physically ``(B, T, V, C)``: on CPU the
oneDNN temporal convolution runs faster on it and the graph convolutions of
:mod:`skelact.models.asgcn.links` contract joints and channels with plain matrix products on it, so
a network that stays channels-last never permutes activations.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["Dropout", "TemporalConv", "Zero", "collapse_time", "residual_branch"]


class Dropout(nn.Dropout):
    """``nn.Dropout`` whose mask, on CPU, is drawn from uniform random numbers instead of ``bernoulli_``.

    The same layer: in training each element is kept with probability ``1 - p`` and scaled by
    ``1 / (1 - p)``, in eval it is the identity. On CPU, ``F.dropout`` draws its mask with
    ``bernoulli_``, which is several times slower than ``torch.rand_like`` and a comparison
    (``benchmarks/bench_dropout.py``); AS-GCN's nine blocks each drop out a full activation.
    At ``p = 1/2`` (AS-GCN's rate) each element needs one fair random bit, and one random byte
    gives eight (:func:`_half_mask`): an eighth of the random numbers, whose generator runs on one
    thread. Other devices, ``p = 0`` and eval mode use ``nn.Dropout`` itself. The masks differ from
    ``nn.Dropout``'s for the same seed (not their distribution); the backward keeps a float mask.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p in (0.0, 1.0) or x.device.type != "cpu":
            return super().forward(x)
        mask = _half_mask(x) if self.p == 0.5 else _uniform_mask(x, self.p)
        return x.mul_(mask) if self.inplace else x * mask


def _uniform_mask(x: torch.Tensor, p: float) -> torch.Tensor:
    """A dropout mask from one uniform number per element: 0 (probability ``p``) or ``1 / (1 - p)``."""
    return torch.rand_like(x).ge_(p).mul_(1.0 / (1.0 - p))


#: The bit positions of a byte, for :func:`_half_mask`.
_BIT_SHIFTS = torch.arange(8, dtype=torch.uint8)


def _half_mask(x: torch.Tensor) -> torch.Tensor:
    """A dropout mask for ``p = 1/2``: 0 or 2 per element, kept with probability exactly 1/2.

    ``ceil(n / 8)`` uniform random bytes; element ``8 j + i`` (in memory order) is kept when bit
    ``i`` of byte ``j`` is set. The mask has ``x``'s memory layout (channels-last stays so). CPU
    tensors only (:class:`Dropout` uses it for those).
    """
    n = x.numel()
    bits = torch.empty((n + 7) // 8, dtype=torch.uint8).random_()
    keep = bits.unsqueeze(-1).bitwise_right_shift(_BIT_SHIFTS).bitwise_and_(1).view(-1)[:n]
    mask = torch.empty_like(x)  # x's strides when x is dense: contiguous or channels-last
    if mask.is_contiguous() or mask.is_contiguous(memory_format=torch.channels_last):
        mask.as_strided((n,), (1,)).copy_(keep)  # memory order
    else:  # another layout (empty_like kept a permuted dense one): logical order
        mask = keep.view(x.shape).to(x.dtype)
    return mask.mul_(2.0)


class TemporalConv(nn.Sequential):
    """Temporal convolution (T-CN): ``Conv2d`` with a ``(kernel, 1)`` kernel along frames, then BN.

    It "extracts the temporal feature of each joint independently but shares the weights on each
    joint" (AS-GCN Sec. 4.3, Fig. 5: parameters ``[d_out, d_out, k, 1]``, stride ``s``).

    Args:
        padding: ``True`` = "same" padding ``(k - 1) / 2`` (frames ``T -> ceil(T / stride)``);
            ``False`` = none (``T -> (T - k) / stride + 1``).
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel: int, stride: int = 1, padding: bool = True
    ):
        if kernel % 2 != 1:
            raise ValueError(f"temporal kernel must be odd, got {kernel}")
        pad = (kernel - 1) // 2 if padding else 0
        super().__init__(
            nn.Conv2d(in_channels, out_channels, (kernel, 1), stride=(stride, 1), padding=(pad, 0)),
            nn.BatchNorm2d(out_channels),
        )


class Zero(nn.Module):
    """The absent residual branch: returns the scalar 0 (broadcasts in ``x + residual``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor | float:
        return 0.0


class StridedPointwiseConv(nn.Conv2d):
    """A ``1x1`` convolution with temporal stride ``s``, run in standard (NCHW) memory.

    Same parameters and output as ``nn.Conv2d(c_in, c_out, 1, stride=(s, 1))``. The rest of the
    network is channels-last; for this one operation input and weight are given the standard
    layout, because in torch 2.13 on CPU the backward of a strided pointwise convolution in
    channels-last memory corrupts the heap (glibc "corrupted double-linked list" aborts, e.g. at
    T = 290, 8 -> 16 channels, stride 2). Kept a real strided convolution (not "every s-th frame,
    then 1x1") so ``torch.export`` sees the same frame-count formula as the temporal convolution.

    The output is handed back in channels-last memory, like every other activation: the BN after it
    and the residual sum then see one format, forward and backward. With a standard-layout output and
    a channels-last gradient, ``BatchNorm2d``'s backward took 6x as long (60 ms against 10 at
    ``(8, 256, 73, 25)``) and the mixed-format sum 5x.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__(in_channels, out_channels, 1, stride=(stride, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight.clone(memory_format=torch.contiguous_format)
        y = F.conv2d(x.contiguous(), weight, self.bias, stride=self.stride)
        return y.contiguous(memory_format=torch.channels_last)


def residual_branch(in_channels: int, out_channels: int, stride: int = 1, enabled: bool = True) -> nn.Module:
    """ST-GCN residual branch: zero, identity, or a strided ``1x1`` convolution + BN when shapes change."""
    if not enabled:
        return Zero()
    if in_channels == out_channels and stride == 1:
        return nn.Identity()
    return nn.Sequential(
        StridedPointwiseConv(in_channels, out_channels, stride),
        nn.BatchNorm2d(out_channels),
    )


def collapse_time(x: torch.Tensor, frames: int) -> torch.Tensor:
    """Resample the frame axis of ``(B, C, T, V)`` to exactly ``frames`` by adaptive average pooling.

    The identity when ``T == frames``. Used in front of an unpadded temporal convolution of kernel
    ``frames`` that must output a single frame for any input length.
    """
    if x.shape[2] == frames:
        return x
    return F.adaptive_avg_pool2d(x, (frames, x.shape[3]))
