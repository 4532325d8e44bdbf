"""Two-stream ARRN-LSTM (Li et al., "Skeleton-Based Action Recognition with Attentional Recurrent
Relational Network-LSTM"); see docs/models/arrn_lstm.md for the equation-to-code map.

* :mod:`.lines`: the line features of eq. 2 (re-exported from :mod:`skelact.data.lines`).
* :mod:`.rrn`: the recurrent relational network (eqs. 4-8).
* :mod:`.model`: attention, LSTM stack, streams, score fusion, the builder :func:`build_arrn_lstm`.
* :mod:`.config`: options, the per-dataset presets, :func:`resolve_config`.
* :mod:`.fusion`: the two-stream score fusion of eq. 12 and fitting its weight α (also
  :mod:`skelact.evaluation.fusion`).

Importing this package registers the ``"arrn_lstm"`` builder (:func:`build_arrn_lstm`;
``arrn_lstm`` is an alias of it, its former name).
"""

from .config import LAYOUT_PRESETS, PRESETS, ARRNOptions, resolve_config
from .lines import line_features, other_joints_index
from .model import ARRNLSTM, ARRNStream, NodeAttention, StackedLSTM, arrn_lstm, build_arrn_lstm
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
    "build_arrn_lstm",
    "line_features",
    "other_joints_index",
    "resolve_config",
]
