"""Line features of ARRN-LSTM (Sec. 3.2.1, eq. 2), re-exported from :mod:`skelact.data.lines`.

The one implementation of eq. 2 lives in the data package, below the models, so that both the
model's line stream and the :class:`~skelact.data.transforms.LineFeatures` transform can import it.
"""

from __future__ import annotations

from ...data.lines import line_features, other_joints_index

__all__ = ["line_features", "other_joints_index"]
