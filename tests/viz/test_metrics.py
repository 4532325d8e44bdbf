"""Confusion matrices, per-class bars and training curves, with the datasets' real class names."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from skelact.data.class_names import NTU60_CLASSES, read_label_names
from skelact.viz import plot_confusion_matrix, plot_curves, plot_per_class_accuracy, save_run_figures


def _check_png(path, fig):
    w, h = fig.get_size_inches() * fig.dpi
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert im.size == (round(w), round(h))


def _confusion(k, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 3, (k, k)) + np.diag(rng.integers(8, 30, k))


def test_run_figures_draw_the_test_confusion_matrix(tmp_path):
    """The writer `skelact train` hands the trainer: confusion_matrix.png from metrics["test"]."""
    test = {"confusion_matrix": _confusion(4).tolist(), "class_names": list(NTU60_CLASSES[:4])}
    assert save_run_figures({"test": test}, tmp_path) == {"confusion_matrix": "confusion_matrix.png"}
    with Image.open(tmp_path / "confusion_matrix.png") as im:
        assert im.format == "PNG"


def test_confusion_small_annotated(tmp_path):
    cm = _confusion(8)
    fig = plot_confusion_matrix(cm, NTU60_CLASSES[:8], tmp_path / "cm.png", title="NTU, 8 classes")
    _check_png(tmp_path / "cm.png", fig)
    ax = fig.axes[0]
    cell_texts = [t.get_text() for t in ax.texts if t.get_text().isdigit()]
    assert len(cell_texts) >= 8  # per-cell numbers up to 20 classes
    assert [t.get_text() for t in ax.get_yticklabels()][:2] == ["drink water", "eat meal/snack"]


def test_confusion_60_classes_readable(tmp_path):
    cm = _confusion(60)
    cm[5] = 0  # a class without test samples
    fig = plot_confusion_matrix(cm, NTU60_CLASSES, tmp_path / "cm60.png")
    _check_png(tmp_path / "cm60.png", fig)
    ax = fig.axes[0]
    assert not [t for t in ax.texts if t.get_text().isdigit()]  # no per-cell numbers beyond 20
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert len(labels) == 60 and max(map(len, labels)) <= 28
    assert all(t.get_rotation() == 90 for t in ax.get_xticklabels())
    w, h = fig.get_size_inches()
    assert w >= 60 * 0.18 and h >= 60 * 0.18


def test_confusion_counts_and_kinetics_names(shared_data, tmp_path):
    names = read_label_names(shared_data / "kinetics_skeleton" / "label_name.txt")[:12]
    cm = _confusion(12, seed=1)
    fig = plot_confusion_matrix(cm, names, tmp_path / "cm.svg", normalize=False)
    assert "<svg" in (tmp_path / "cm.svg").read_text()
    assert fig.axes[1].get_ylabel() == "samples"
    with pytest.raises(ValueError, match="square"):
        plot_confusion_matrix(np.ones((3, 4)), None)
    with pytest.raises(ValueError, match="class names"):
        plot_confusion_matrix(np.ones((3, 3)), ["a", "b"])


def test_per_class_accuracy(tmp_path):
    cm = _confusion(60)
    acc = np.diag(cm) / cm.sum(axis=1)
    acc[3] = np.nan
    fig = plot_per_class_accuracy(acc, NTU60_CLASSES, tmp_path / "acc.png")
    _check_png(tmp_path / "acc.png", fig)
    ax = fig.axes[0]
    first = ax.get_yticklabels()[0].get_text()
    assert first.startswith(NTU60_CLASSES[int(np.nanargmax(acc))][:10])  # best first
    assert any(t.get_text() == "n/a" for t in ax.texts)
    # percentages are accepted as such
    fig2 = plot_per_class_accuracy(100 * np.nan_to_num(acc), NTU60_CLASSES, sort=False)
    assert fig2.axes[0].get_yticklabels()[0].get_text() == "drink water"


def _lightning_csv(root, epochs=4, steps=3, with_val=True):
    """A metrics.csv written by Lightning's own CSVLogger (NaN-sparse rows as in real runs)."""
    from pytorch_lightning.loggers import CSVLogger

    logger = CSVLogger(root / "logs", name="", version=0)
    step = 0
    for e in range(epochs):
        for _ in range(steps):
            step += 1
            logger.log_metrics({"train/loss_step": 2.0 / step, "lr-SGD": 0.1 if e < 3 else 0.01,
                                "epoch": e}, step=step)
        logger.log_metrics({"train/loss_epoch": 2.0 / step, "train/acc": 0.2 * e, "epoch": e}, step=step)
        if with_val:
            logger.log_metrics({"val/loss": 2.5 / step, "val/acc": 0.15 * e, "val/top5": 0.3 * e,
                                "epoch": e}, step=step)
    logger.save()
    return next((root / "logs").rglob("metrics.csv"))


def test_curves_from_run_dir(tmp_path):
    _lightning_csv(tmp_path)
    fig = plot_curves(tmp_path, tmp_path / "curves.png")
    _check_png(tmp_path / "curves.png", fig)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["Loss", "Accuracy", "Learning rate"]
    legend = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert set(legend) == {"train/acc", "val/acc", "val/top5"}
    assert fig.axes[0].get_xlabel() == "epochs completed"


def test_curves_tolerant(tmp_path):
    csv = tmp_path / "metrics.csv"
    csv.write_text("step,train_loss\n0,2.0\n1,\n2,1.5\n3,1.2\n")
    fig = plot_curves(csv)
    assert [ax.get_title() for ax in fig.axes] == ["Loss"]
    assert fig.axes[0].get_xlabel() == "step"
    with pytest.raises(FileNotFoundError, match="metrics.csv"):
        plot_curves(tmp_path / "nothing_here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError):
        plot_curves(tmp_path / "empty")
