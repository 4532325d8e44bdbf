"""Two-stream ARRN-LSTM (Li et al., "Skeleton-Based Action Recognition with Attentional Recurrent
Relational Network-LSTM"); see docs/models/arrn_lstm.md for the equation-to-code map.

Importing this package registers the ``"arrn_lstm"`` builder.
"""

from .lines import line_features, other_joints_index
from .model import (
    ARRNLSTM,
    LAYOUT_PRESETS,
    PRESETS,
    ARRNOptions,
    ARRNStream,
    NodeAttention,
    StackedLSTM,
    arrn_lstm,
)
from .rrn import MessageFunction, RecurrentRelationalNetwork

__all__ = [
    "ARRNLSTM",
    "ARRNOptions",
    "ARRNStream",
    "LAYOUT_PRESETS",
    "MessageFunction",
    "NodeAttention",
    "PRESETS",
    "RecurrentRelationalNetwork",
    "StackedLSTM",
    "arrn_lstm",
    "line_features",
    "other_joints_index",
]
