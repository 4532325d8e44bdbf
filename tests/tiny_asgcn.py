"""The tiny AS-GCN that the model tests build: 2 backbone blocks (8 and 16 channels, the second
with stride 2), 2 collapse blocks and 1 refine block in the prediction head, a small AIM; small
enough that a test builds and runs it in milliseconds, large enough that every part is there."""

from __future__ import annotations

import warnings

import torch

from skelact.models import build

TINY = dict(
    channels=(8, 16),
    strides=(1, 2),
    pred_collapse=((8, 3, 2), (8, 3, 1)),
    pred_refine=(8,),
    aim_hidden=8,
    aim_frames=6,
    horizon=3,
    temporal_kernel=3,
    dropout=0.0,
)


def tiny_asgcn(num_classes: int = 4, layout: str = "ntu25", **options) -> torch.nn.Module:
    """``TINY`` with ``options`` over it, built from seed 0 (training mode). The warnings of options
    that others make ineffective (TINY's AIM and head with ``links="s"`` / ``pred=False``) are
    silenced: the tests that build such models test the option, not its warning."""
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build("asgcn", num_classes=num_classes, layout=layout, **{**TINY, **options})


# The official architecture (``preset="official"``) at a tiny size: max_hop 2 (5 S-link kernels,
# 2 A-link types), the preset's own head (no refine blocks) and dropout.
TINY_OFFICIAL = dict(
    channels=(8, 16),
    strides=(1, 2),
    pred_collapse=((8, 3, 2), (8, 3, 1)),
    horizon=3,
    aim_hidden=8,
    aim_frames=6,
    temporal_kernel=3,
    order=2,
)
