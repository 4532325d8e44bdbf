"""Figures and animations (matplotlib, Agg; no pyplot state).

Every function returns the :class:`~matplotlib.figure.Figure` (animations: the written path) and
saves it when ``path`` is given, the format taken from the extension (PNG, SVG, PDF; GIF, and MP4
when ffmpeg is installed). The same figures come from the command line: ``skelact viz KIND``.

Skeletons
    :func:`animate_skeleton`, :func:`plot_skeleton_frames`, :func:`draw_skeleton`
AS-GCN
    :func:`plot_alinks` (paper Fig. 8), :func:`plot_link_matrix`, :func:`plot_edge_importance`,
    :func:`plot_forecast` (prediction head), :func:`plot_forecast_error` (MPJPE per step)
ARRN-LSTM
    :func:`plot_attention` (the attention mask of eq. 9 per stream)
Evaluation
    :func:`plot_confusion_matrix`, :func:`plot_per_class_accuracy`, :func:`plot_curves`;
    :func:`save_run_figures` (a training run's figures, into its directory)

Colours: Okabe-Ito (colour-blind safe); left limbs blue, right limbs vermillion (from
``layout.symmetry``), further bodies in other hue pairs; sequential maps ``cividis``/``viridis``/
``Blues``, diverging ``PuOr``.
"""

from __future__ import annotations

from .attention import attention_weights, plot_attention
from .forecast import plot_forecast, plot_forecast_error
from .links import (
    edge_importance,
    kernel_labels,
    link_probabilities,
    plot_alinks,
    plot_edge_importance,
    plot_link_matrix,
)
from .metrics import (
    find_metrics_csv,
    plot_confusion_matrix,
    plot_curves,
    plot_per_class_accuracy,
    read_metrics_csv,
    save_run_figures,
)
from .skeleton import animate_skeleton, draw_skeleton, plot_skeleton_frames, to_sequence

__all__ = [
    "animate_skeleton",
    "attention_weights",
    "draw_skeleton",
    "edge_importance",
    "find_metrics_csv",
    "kernel_labels",
    "link_probabilities",
    "plot_alinks",
    "plot_attention",
    "plot_confusion_matrix",
    "plot_curves",
    "plot_edge_importance",
    "plot_forecast",
    "plot_forecast_error",
    "plot_link_matrix",
    "plot_per_class_accuracy",
    "plot_skeleton_frames",
    "read_metrics_csv",
    "save_run_figures",
    "to_sequence",
]
