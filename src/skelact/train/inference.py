"""Predict actions of raw skeleton files with a trained checkpoint.

Each file is read with :func:`skelact.data.io.iter_samples` (any supported format; a Florence3D
file yields many sequences), brought to the store's number of bodies, normalised as the store
was at prepare time (``manifest["prepare"]["normalize"]``), passed through the checkpoint's test
transforms, and classified. Everything about the input comes from the checkpoint's
:class:`~skelact.models.spec.InputSpec`; the model is rebuilt by :mod:`skelact.models.checkpoint`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch

from ..data.formats import get_format
from ..data.io import detect_format, iter_samples
from ..data.skeleton import Skeleton
from ..data.transforms import build_transforms
from ..errors import SkeletonFormatError
from ..models.checkpoint import read_saved_checkpoint
from .config import config_from_dict

__all__ = ["Predictor", "predict_files"]


class Predictor:
    """A checkpoint ready to classify :class:`~skelact.data.skeleton.Skeleton` sequences.

    Attributes:
        model: the trained model (eval mode, on ``device``).
        cfg: the experiment config saved in the checkpoint.
        spec: the checkpoint's input spec.
    """

    def __init__(self, checkpoint: str | os.PathLike, device: str | torch.device = "cpu"):
        saved = read_saved_checkpoint(checkpoint)
        self.cfg = config_from_dict(dict(saved.config), where=f"{checkpoint} (saved config)")
        self.spec = saved.spec
        self.model = saved.build_model()
        self.device = torch.device(device)
        self.model.to(self.device)
        self.layout = self.spec.layout
        self.class_names = list(self.spec.class_names or range(self.spec.num_classes))
        self.normalize = build_transforms(list(self.spec.normalize or []), layout=self.layout)
        self.transform = build_transforms(saved.test_transforms(), layout=self.layout)

    def prepare(self, skeleton: Skeleton, source: str = "<input>") -> np.ndarray:
        """One sequence as the model input ``(C, T, V, M)``."""
        if skeleton.layout != self.layout:
            raise SkeletonFormatError(
                source, f"layout {skeleton.layout!r}, but the model was trained on {self.layout!r}"
            )
        data = np.asarray(skeleton.data, dtype=np.float32)  # (T, M, V, C)
        channels = self.spec.in_channels
        if data.shape[3] != channels:
            raise SkeletonFormatError(source, f"{data.shape[3]} channels, the model takes {channels}")
        bodies = self.spec.bodies
        if data.shape[1] < bodies:
            pad = np.zeros((data.shape[0], bodies - data.shape[1], *data.shape[2:]), dtype=np.float32)
            data = np.concatenate([data, pad], axis=1)
        data = data[:, :bodies]
        x = data.transpose(3, 0, 2, 1)  # (C, T, V, M)
        x = self.normalize(x, np.random.default_rng(0))
        return np.ascontiguousarray(self.transform(x, np.random.default_rng(0)), dtype=np.float32)

    @torch.no_grad()
    def scores(self, inputs: list[np.ndarray]) -> torch.Tensor:
        """Class probabilities ``(N, K)`` of prepared inputs."""
        batch = self.cfg.data.eval_batch_size or self.cfg.data.batch_size
        out = []
        for i in range(0, len(inputs), batch):
            x = torch.from_numpy(np.stack(inputs[i : i + batch])).to(self.device)
            out.append(torch.softmax(self.model(x).float(), dim=-1).cpu())
        return torch.cat(out) if out else torch.empty(0, len(self.class_names))

    def top(self, probs: torch.Tensor, k: int) -> list[list[dict[str, Any]]]:
        k = max(1, min(k, probs.shape[-1]))
        values, idx = probs.topk(k, dim=-1)
        out = []
        for vs, js in zip(values.tolist(), idx.tolist(), strict=True):
            out.append(
                [
                    {"class": str(self.class_names[j]), "label": int(j), "score": float(v)}
                    for v, j in zip(vs, js, strict=True)
                ]
            )
        return out

    def read(self, path: str | os.PathLike) -> Iterator[Skeleton]:
        """The sequences of a raw file, read with the store's number of bodies where the format allows."""
        fmt = detect_format(path)
        options = {}
        if "max_bodies" in get_format(fmt).option_names():
            options["max_bodies"] = self.spec.bodies
        return iter_samples(path, format=fmt, **options)


def predict_files(
    checkpoint: str | os.PathLike, files: Iterable[str | os.PathLike], top: int = 5
) -> list[dict[str, Any]]:
    """Top-``top`` classes with scores for every sequence in ``files``.

    Returns one dict per sequence: ``file``, ``sample``, ``true_class`` (when the file says),
    ``top`` = ``[{"class", "label", "score"}, ...]`` best first.
    """
    predictor = Predictor(checkpoint)
    results: list[dict[str, Any]] = []
    for path in files:
        sequences = list(predictor.read(path))
        inputs = [predictor.prepare(sk, os.fspath(path)) for sk in sequences]
        for sk, ranked in zip(sequences, predictor.top(predictor.scores(inputs), top), strict=True):
            entry: dict[str, Any] = {"file": os.fspath(path), "sample": sk.meta.get("sample"), "top": ranked}
            true = _true_name(predictor, sk.meta.get("label"))
            if true is not None:
                entry["true_class"] = true
            results.append(entry)
    return results


def _true_name(predictor: Predictor, label: Any) -> str | None:
    """The file's label (the store's label space, before any protocol remapping) as a class name."""
    names = predictor.spec.store_class_names
    if label is not None and names and 0 <= int(label) < len(names):
        return str(names[label])
    return None
