"""AS-GCN (Li et al., "Actional-Structural Graph Convolutional Networks for Skeleton-based Action
Recognition", CVPR 2019), registered as ``"asgcn"``.

* :mod:`.links`: S-links / SGC (eq. 5), AGC (eq. 4), ASGC.
* :mod:`.aim`: the A-link inference module (encoder eqs. 2-3, decoder steps a-d).
* :mod:`.model`: AS-GCN block (Fig. 5), backbone (Fig. 6), heads (Fig. 7), the builder.
* :mod:`.losses`: recognition, prediction (eq. 6) and AIM objectives.
* :mod:`.config`: options, the ``"paper"`` and ``"official"`` presets.

The paper-to-code map and the paper-vs-official differences: ``docs/models/asgcn.md``.
"""

from __future__ import annotations

from .aim import AIM, gumbel_softmax
from .config import PRESETS, ASGCNConfig, resolve_config
from .links import ASGC, actional_kernels
from .model import ASGCN, ASGCNBlock, PredictionHead, build_asgcn

__all__ = [
    "AIM",
    "ASGC",
    "ASGCN",
    "PRESETS",
    "ASGCNBlock",
    "ASGCNConfig",
    "PredictionHead",
    "actional_kernels",
    "build_asgcn",
    "gumbel_softmax",
    "resolve_config",
]
