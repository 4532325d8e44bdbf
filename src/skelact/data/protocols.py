"""Named evaluation protocols (train/test splits) and validation carving over a prepared store.

Protocols (``split(store, protocol, fold=None) -> {"train": idx, "test": idx}``, sorted int64
positions into the store):

* ``ntu60-xsub``: the 20 official training subjects (Shahroudy et al. 2016); ``ntu60-xview``:
  cameras 2 and 3 train, camera 1 test. Both use only setups S001-S017 and actions A001-A060, so
  they also apply to an NTU120 store.
* ``ntu120-xsub``: the 53 official training subjects (Liu et al. 2020); ``ntu120-xset``: even
  setups train, odd setups test.
* ``kinetics``: train / val as recorded per sample at prepare time.
* ``msr3d-as1``, ``msr3d-as2``, ``msr3d-as3``: the action subsets of Li et al. 2010 (8 actions
  each); odd subjects train, even subjects test (ARRN-LSTM Sec. 4.2). Labels stay the store's
  0-based action ids; :func:`protocol_classes` gives the subset for remapping to 0..7.
* ``florence3d-loso``: leave one subject out; fold k (1..10) tests subject k.

Hyper-parameters are chosen on data carved from the training side only:
:func:`validation_split` (by sample, stratified by label, or by whole subjects) and
:func:`subject_folds` (k-fold cross-validation over training subjects). Both are deterministic in
their ``seed``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from ..errors import ConfigError

NTU60_TRAIN_SUBJECTS = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
NTU60_TRAIN_CAMERAS = (2, 3)
NTU120_TRAIN_SUBJECTS = NTU60_TRAIN_SUBJECTS + (
    45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89, 91,
    92, 93, 94, 95, 97, 98, 100, 103,
)  # fmt: skip

#: Li, Zhang, Liu (2010) action subsets, 1-based action ids a01..a20.
MSR3D_ACTION_SETS = {
    "as1": (2, 3, 5, 6, 10, 13, 18, 20),
    "as2": (1, 4, 7, 8, 9, 11, 12, 14),
    "as3": (6, 14, 15, 16, 17, 18, 19, 20),
}
FLORENCE3D_SUBJECTS = tuple(range(1, 11))

Index = np.ndarray


def _index(store: Any) -> np.ndarray:
    idx = getattr(store, "index", store)
    if not isinstance(idx, np.ndarray) or idx.dtype.names is None:
        raise TypeError("expected a SkeletonStore (or its structured index array)")
    return idx


def _field(idx: np.ndarray, name: str, protocol: str) -> np.ndarray:
    values = idx[name]
    if len(values) and (values < 0).any():
        missing = int((values < 0).sum())
        raise ConfigError(f"protocol {protocol}: {missing} sample(s) have no {name} recorded in the store")
    return values


def _split(train: np.ndarray, test: np.ndarray) -> dict[str, Index]:
    return {"train": np.flatnonzero(train), "test": np.flatnonzero(test)}


@dataclass(frozen=True)
class Protocol:
    name: str
    datasets: tuple[str, ...]
    rule: Callable[[np.ndarray, Any, int | None], dict[str, Index]]
    folds: tuple[int, ...] = ()
    classes: tuple[int, ...] | None = None  # 0-based labels used, in order; None = all
    description: str = ""


def _ntu60(idx: np.ndarray, store: Any, fold: int | None, *, by: str) -> dict[str, Index]:
    name = f"ntu60-{by}"
    ntu60 = (_field(idx, "setup", name) <= 17) & (idx["label"] < 60)
    if by == "xsub":
        train = np.isin(_field(idx, "subject", name), NTU60_TRAIN_SUBJECTS)
    else:
        train = np.isin(_field(idx, "camera", name), NTU60_TRAIN_CAMERAS)
    return _split(ntu60 & train, ntu60 & ~train)


def _ntu120(idx: np.ndarray, store: Any, fold: int | None, *, by: str) -> dict[str, Index]:
    name = f"ntu120-{by}"
    if by == "xsub":
        train = np.isin(_field(idx, "subject", name), NTU120_TRAIN_SUBJECTS)
    else:
        train = _field(idx, "setup", name) % 2 == 0
    return _split(train, ~train)


def _kinetics(idx: np.ndarray, store: Any, fold: int | None) -> dict[str, Index]:
    splits = list(getattr(store, "manifest", {}).get("splits", []))
    if "train" not in splits and "val" not in splits:
        raise ConfigError(
            "protocol kinetics: the store records no train/val split (prepare with a label file)"
        )
    code = idx["split"]

    def marked(name: str) -> np.ndarray:
        return code == splits.index(name) if name in splits else np.zeros(len(code), dtype=bool)

    return _split(marked("train"), marked("val"))


def _msr(idx: np.ndarray, store: Any, fold: int | None, *, subset: str) -> dict[str, Index]:
    name = f"msr3d-{subset}"
    actions = np.asarray(MSR3D_ACTION_SETS[subset]) - 1  # 0-based labels
    keep = np.isin(_field(idx, "label", name), actions)
    odd = _field(idx, "subject", name) % 2 == 1
    return _split(keep & odd, keep & ~odd)


def _florence(idx: np.ndarray, store: Any, fold: int | None) -> dict[str, Index]:
    subject = _field(idx, "subject", "florence3d-loso")
    return _split(subject != fold, subject == fold)


_PROTOCOL_LIST = [
    Protocol("ntu60-xsub", ("ntu60", "ntu120"), partial(_ntu60, by="xsub"),
             description="NTU60 cross-subject: 20 training subjects"),
    Protocol("ntu60-xview", ("ntu60", "ntu120"), partial(_ntu60, by="xview"),
             description="NTU60 cross-view: cameras 2, 3 train"),
    Protocol("ntu120-xsub", ("ntu120",), partial(_ntu120, by="xsub"),
             description="NTU120 cross-subject: 53 training subjects"),
    Protocol("ntu120-xset", ("ntu120",), partial(_ntu120, by="xset"),
             description="NTU120 cross-setup: even setups train"),
    Protocol("kinetics", ("kinetics",), _kinetics, description="Kinetics-skeleton train / val"),
    *(
        Protocol(f"msr3d-{k}", ("msr3d",), partial(_msr, subset=k), classes=tuple(a - 1 for a in v),
                 description=f"MSRAction3D {k.upper()}: actions {v}; odd subjects train")
        for k, v in MSR3D_ACTION_SETS.items()
    ),
    Protocol("florence3d-loso", ("florence3d",), _florence, folds=FLORENCE3D_SUBJECTS,
             description="Florence3D leave-one-subject-out; fold k tests subject k"),
]  # fmt: skip
PROTOCOLS: dict[str, Protocol] = {p.name: p for p in _PROTOCOL_LIST}


def _candidates(name: str, dataset: str | None) -> list[Protocol]:
    """Protocols a full or short name can mean (one, unless a short name is ambiguous)."""
    if name in PROTOCOLS:
        return [PROTOCOLS[name]]
    if dataset is not None and f"{dataset}-{name}" in PROTOCOLS:
        return [PROTOCOLS[f"{dataset}-{name}"]]
    matches = [p for p in PROTOCOLS.values() if p.name.split("-", 1)[-1] == name]
    if not matches:
        raise ConfigError(f"unknown protocol {name!r}; known: {', '.join(PROTOCOLS)}")
    return matches


def get_protocol(name: str, dataset: str | None = None) -> Protocol:
    """Look a protocol up by full name (``ntu60-xsub``) or short name (``xsub``, ``loso``, ``as1``).

    A short name is the part after the dataset; where it is ambiguous (``xsub`` exists for ntu60 and
    ntu120) ``dataset`` picks the one (``dataset-short``).
    """
    matches = _candidates(name, dataset)
    if len(matches) > 1:
        names = ", ".join(p.name for p in matches)
        raise ConfigError(f"protocol {name!r} is ambiguous ({names}); give the full name or the dataset")
    return matches[0]


def folds(protocol: str, dataset: str | None = None) -> list[int]:
    """The folds of a protocol (``[1, ..., 10]`` for ``florence3d-loso``), ``[]`` if it has none.

    An ambiguous short name is fine when all its protocols agree (``xsub``: no folds).
    """
    answers = {p.folds for p in _candidates(protocol, dataset)}
    if len(answers) > 1:
        get_protocol(protocol, dataset)  # raises the ambiguity error
    return list(answers.pop())


def protocol_classes(protocol: str, dataset: str | None = None) -> np.ndarray | None:
    """The store labels a protocol uses, in order (MSR AS1-AS3: 8 actions), or None for all.

    Map a store label ``l`` to the protocol's class ``np.searchsorted(classes, l)``; see
    :class:`~skelact.data.dataset.SkeletonDataset` (``classes=``). An ambiguous short name is fine
    when all its protocols agree (``xsub``: all classes).
    """
    answers = {p.classes for p in _candidates(protocol, dataset)}
    if len(answers) > 1:
        get_protocol(protocol, dataset)  # raises the ambiguity error
    classes = answers.pop()
    return None if classes is None else np.asarray(classes, dtype=np.int64)


def split(store: Any, protocol: str, fold: int | None = None) -> dict[str, Index]:
    """Train/test positions of ``protocol`` in ``store``: ``{"train": idx, "test": idx}``.

    ``protocol`` is a full name or a short one resolved with the store's dataset (``xsub`` on an
    ntu120 store is ``ntu120-xsub``).

    ``fold`` is required for protocols with folds (see :func:`folds`) and refused otherwise.
    Raises :class:`~skelact.ConfigError` for an unknown protocol, a bad fold, a store of another
    dataset or a store lacking the fields the protocol needs.
    """
    dataset = getattr(store, "dataset", None)
    p = get_protocol(protocol, dataset)
    idx = _index(store)
    if dataset is not None and dataset not in p.datasets:
        raise ConfigError(f"protocol {protocol} applies to {'/'.join(p.datasets)} stores, not {dataset!r}")
    if isinstance(fold, str) and fold.strip().isdigit():
        fold = int(fold)
    if p.folds:
        if fold is None:
            raise ConfigError(f"protocol {protocol} needs a fold, one of {list(p.folds)}")
        if fold not in p.folds:
            raise ConfigError(f"protocol {protocol}: no fold {fold!r}; folds are {list(p.folds)}")
    elif fold is not None:
        raise ConfigError(f"protocol {protocol} has no folds (got fold={fold!r})")
    return p.rule(idx, store, fold)


# ---------------------------------------------------------------------------------------------
# Validation carved from training data
# ---------------------------------------------------------------------------------------------
def _positions(train_idx: Any) -> np.ndarray:
    positions = np.asarray(train_idx, dtype=np.int64)
    if positions.ndim != 1:
        raise ValueError("train_idx must be a 1-D array of store positions")
    return positions


def validation_split(
    store: Any, train_idx: Any, fraction: float = 0.1, by: str = "sample", seed: int = 0
) -> dict[str, Index]:
    """Carve a validation set out of the training positions ``train_idx``, deterministically.

    ``by="sample"``: stratified by label, ``round(fraction * n_c)`` samples of each class ``c``
    (labels unknown = one stratum). ``by="subject"``: ``round(fraction * n_subjects)`` whole
    training subjects (at least one, at most all but one), so no subject is on both sides.
    Returns ``{"train": idx, "val": idx}`` (sorted, disjoint, union = ``train_idx``).
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    idx = _index(store)
    positions = _positions(train_idx)
    rng = np.random.default_rng(seed)
    if by == "sample":
        labels = idx["label"][positions]
        val_parts = []
        for label in np.unique(labels):
            members = positions[labels == label]
            n_val = int(round(fraction * len(members)))
            val_parts.append(rng.permutation(members)[:n_val])
        val = np.concatenate(val_parts) if val_parts else np.empty(0, dtype=np.int64)
    elif by == "subject":
        subjects = _field(idx, "subject", "validation_split(by='subject')")[positions]
        unique = np.unique(subjects)
        if len(unique) < 2:
            raise ValueError(f"by='subject' needs at least 2 training subjects, found {len(unique)}")
        n_val = min(max(1, int(round(fraction * len(unique)))), len(unique) - 1)
        chosen = rng.permutation(unique)[:n_val]
        val = positions[np.isin(subjects, chosen)]
    else:
        raise ValueError(f"by must be 'sample' or 'subject', got {by!r}")
    val = np.sort(val)
    return {"train": np.setdiff1d(positions, val), "val": val}


def subject_folds(store: Any, train_idx: Any, k: int, seed: int = 0) -> list[dict[str, Index]]:
    """k-fold cross-validation over the training subjects of ``train_idx``.

    The training subjects are shuffled with ``seed`` and dealt into ``k`` groups of near-equal
    size; fold ``j`` validates on group ``j`` and trains on the rest. Test subjects never enter
    (only ``train_idx`` is used). Returns ``k`` dicts ``{"train": idx, "val": idx}``.
    """
    idx = _index(store)
    positions = _positions(train_idx)
    subjects = _field(idx, "subject", "subject_folds")[positions]
    unique = np.unique(subjects)
    if not 2 <= k <= len(unique):
        raise ValueError(f"k must be between 2 and the number of training subjects ({len(unique)}), got {k}")
    groups = np.array_split(np.random.default_rng(seed).permutation(unique), k)
    out = []
    for group in groups:
        in_val = np.isin(subjects, group)
        out.append({"train": positions[~in_val], "val": positions[in_val]})
    return out
