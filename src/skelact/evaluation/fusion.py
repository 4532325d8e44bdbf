"""Two-stream score fusion, eq. 12 of ARRN-LSTM, re-exported from :mod:`skelact.models.arrn.fusion`.

The one implementation of the equation and of fitting its weight ``α`` lives with the model (its
forward and :meth:`~skelact.models.arrn.model.ARRNLSTM.fit_fusion` use it); evaluation, reports and
scripts import it from here or from :mod:`skelact.evaluation`.
"""

from __future__ import annotations

from ..models.arrn.fusion import ALPHA_GRID, fit_fusion_alpha, fused_log_scores, fused_probabilities, softmax

__all__ = ["ALPHA_GRID", "fit_fusion_alpha", "fused_log_scores", "fused_probabilities", "softmax"]
