"""Protocols: official subject/camera lists, split sizes on the real file lists, validation carving."""

from __future__ import annotations

import re

import numpy as np
import pytest

from skelact import ConfigError
from skelact.data import protocols as P
from skelact.data.store import SkeletonStore, StoreWriter


def _store(tmp_path, dataset, metas, layout="ntu25", splits=()):
    """A store of 1-frame dummy samples carrying the given meta (protocols read only the index)."""
    v = {"ntu25": 25, "kinect20": 20, "florence8": 8, "openpose18": 18}[layout]
    with StoreWriter(tmp_path / dataset, dataset=dataset, layout=layout, bodies=1, splits=splits) as w:
        for meta in metas:
            w.add(np.ones((1, 1, v, 3), np.float32), meta)
    return SkeletonStore(tmp_path / dataset)


def _ntu_meta(name):
    s, c, p, r, a = map(int, re.match(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})", name).groups())
    return {"sample": name, "setup": s, "camera": c, "subject": p, "replication": r, "label": a - 1}


def _msr_metas(shared_data):
    folder = shared_data / "msr_action3d" / "MSRAction3DSkeletonReal3D"
    metas = []
    for f in sorted(folder.glob("*_skeleton3D.txt")):
        a, s, e = map(int, re.match(r"a(\d+)_s(\d+)_e(\d+)", f.name).groups())
        metas.append({"sample": f.name[:11], "label": a - 1, "subject": s, "replication": e})
    return metas


def test_official_subject_lists():
    assert len(P.NTU60_TRAIN_SUBJECTS) == 20 and len(set(P.NTU60_TRAIN_SUBJECTS)) == 20
    assert len(P.NTU120_TRAIN_SUBJECTS) == 53 and len(set(P.NTU120_TRAIN_SUBJECTS)) == 53
    assert P.NTU120_TRAIN_SUBJECTS[:20] == P.NTU60_TRAIN_SUBJECTS
    assert max(P.NTU120_TRAIN_SUBJECTS) == 103
    assert all(len(v) == 8 for v in P.MSR3D_ACTION_SETS.values())


def test_ntu_protocols_on_the_shared_files(tmp_path, shared_data):
    names = sorted(f.stem for f in (shared_data / "ntu_rgbd").glob("*.skeleton"))
    assert len(names) == 8
    store = _store(tmp_path, "ntu60", [_ntu_meta(n) for n in names])
    xsub = P.split(store, "ntu60-xsub")
    assert {int(store.index["subject"][i]) for i in xsub["train"]} == {1, 15}
    assert {int(store.index["subject"][i]) for i in xsub["test"]} == {20}
    assert (len(xsub["train"]), len(xsub["test"])) == (4, 4)
    xview = P.split(store, "ntu60-xview")
    assert set(store.index["camera"][xview["train"]]) == {3} and set(
        store.index["camera"][xview["test"]]
    ) == {1}
    with pytest.raises(ConfigError, match="ntu120 stores, not 'ntu60'"):
        P.split(store, "ntu120-xsub")


def test_ntu120_protocols_and_ntu60_subset_of_ntu120(tmp_path):
    names = ["S001C001P001R001A001", "S002C002P045R001A061", "S018C003P103R002A120", "S017C002P020R001A060",
             "S020C001P044R001A010"]  # fmt: skip
    store = _store(tmp_path, "ntu120", [_ntu_meta(n) for n in names])
    xsub = P.split(store, "ntu120-xsub")
    np.testing.assert_array_equal(xsub["train"], [0, 1, 2])
    np.testing.assert_array_equal(xsub["test"], [3, 4])
    xset = P.split(store, "ntu120-xset")
    np.testing.assert_array_equal(xset["train"], [1, 2, 4])
    np.testing.assert_array_equal(xset["test"], [0, 3])
    # NTU60 protocols on an NTU120 store use only S001-S017 and A001-A060
    x60 = P.split(store, "ntu60-xsub")
    np.testing.assert_array_equal(x60["train"], [0])
    np.testing.assert_array_equal(x60["test"], [3])


@pytest.mark.parametrize(
    ("subset", "n_train", "n_test"), [("as1", 120, 106), ("as2", 118, 113), ("as3", 114, 112)]
)
def test_msr_subsets_on_the_real_567_files(tmp_path, shared_data, subset, n_train, n_test):
    # expected sizes counted with `ls aXX_s0[13579]_* ...` over MSRAction3DSkeletonReal3D
    metas = _msr_metas(shared_data)
    assert len(metas) == 567
    store = _store(tmp_path, "msr3d", metas, layout="kinect20")
    sp = P.split(store, f"msr3d-{subset}")
    assert (len(sp["train"]), len(sp["test"])) == (n_train, n_test)
    assert set(store.index["subject"][sp["train"]]) == {1, 3, 5, 7, 9}
    assert set(store.index["subject"][sp["test"]]) == {2, 4, 6, 8, 10}
    classes = P.protocol_classes(f"msr3d-{subset}")
    np.testing.assert_array_equal(np.unique(store.labels[sp["train"]]), np.sort(classes))
    np.testing.assert_array_equal(classes + 1, P.MSR3D_ACTION_SETS[subset])


def test_florence_loso_folds(tmp_path, shared_data):
    rows = np.loadtxt(
        shared_data / "florence3d" / "Florence_dataset_Features.txt", usecols=(0, 1, 2), dtype=int
    )
    videos = {}
    for video, actor, category in rows:
        videos.setdefault(video, (actor, category))
    metas = [{"sample": f"video{v}", "subject": a, "label": c - 1} for v, (a, c) in videos.items()]
    store = _store(tmp_path, "florence3d", metas, layout="florence8")
    assert P.folds("florence3d-loso") == list(range(1, 11))
    sizes = []
    for k in P.folds("florence3d-loso"):
        sp = P.split(store, "florence3d-loso", fold=k)
        assert set(store.index["subject"][sp["test"]]) == {k}
        assert k not in set(store.index["subject"][sp["train"]])
        assert len(sp["train"]) + len(sp["test"]) == 215
        sizes.append(len(sp["test"]))
    assert sum(sizes) == 215
    assert sizes == [29, 18, 21, 19, 20, 22, 19, 24, 20, 23]  # counted with awk over the file
    with pytest.raises(ConfigError, match="needs a fold"):
        P.split(store, "florence3d-loso")
    with pytest.raises(ConfigError, match="no fold 11"):
        P.split(store, "florence3d-loso", fold=11)


def test_kinetics_split_from_store(tmp_path):
    metas = [{"sample": f"clip{i}", "label": i, "split": "train" if i % 3 else "val"} for i in range(9)]
    store = _store(tmp_path, "kinetics", metas, layout="openpose18", splits=("train", "val"))
    sp = P.split(store, "kinetics")
    np.testing.assert_array_equal(sp["test"], [0, 3, 6])
    assert len(sp["train"]) == 6
    with pytest.raises(ConfigError, match="has no folds"):
        P.split(store, "kinetics", fold=1)


def test_protocol_errors(tmp_path):
    store = _store(tmp_path, "ntu60", [{"sample": "x", "label": 0}])
    with pytest.raises(ConfigError, match="unknown protocol 'cross-subject'"):
        P.split(store, "cross-subject")
    with pytest.raises(ConfigError, match="no setup recorded"):
        P.split(store, "ntu60-xsub")
    assert P.folds("ntu60-xsub") == []


@pytest.fixture
def msr_store(tmp_path, shared_data):
    return _store(tmp_path, "msr3d", _msr_metas(shared_data), layout="kinect20")


def test_validation_split_by_sample_is_stratified_and_deterministic(msr_store):
    train = P.split(msr_store, "msr3d-as1")["train"]
    a = P.validation_split(msr_store, train, fraction=0.2, seed=0)
    b = P.validation_split(msr_store, train, fraction=0.2, seed=0)
    c = P.validation_split(msr_store, train, fraction=0.2, seed=1)
    np.testing.assert_array_equal(a["val"], b["val"])
    assert not np.array_equal(a["val"], c["val"])
    assert len(np.intersect1d(a["train"], a["val"])) == 0
    np.testing.assert_array_equal(np.union1d(a["train"], a["val"]), train)
    labels = msr_store.labels
    for label in np.unique(labels[train]):
        n = int((labels[train] == label).sum())
        assert int((labels[a["val"]] == label).sum()) == round(0.2 * n)


def test_validation_split_by_subject_keeps_subjects_apart(msr_store):
    train = P.split(msr_store, "msr3d-as2")["train"]
    sp = P.validation_split(msr_store, train, fraction=0.2, by="subject", seed=3)
    subj = msr_store.index["subject"]
    assert len(set(subj[sp["val"]])) == 1  # round(0.2 * 5 subjects)
    assert not set(subj[sp["val"]]) & set(subj[sp["train"]])
    assert set(subj[sp["val"]]) <= {1, 3, 5, 7, 9}
    with pytest.raises(ValueError, match="by must be"):
        P.validation_split(msr_store, train, by="camera")


def test_subject_folds_cover_training_subjects_once(msr_store):
    train = P.split(msr_store, "msr3d-as3")["train"]
    folds = P.subject_folds(msr_store, train, k=5, seed=0)
    subj = msr_store.index["subject"]
    val_subjects = [set(subj[f["val"]]) for f in folds]
    assert sorted(s for vs in val_subjects for s in vs) == [1, 3, 5, 7, 9]  # each exactly once
    for f in folds:
        assert not set(subj[f["val"]]) & set(subj[f["train"]])
        np.testing.assert_array_equal(np.union1d(f["train"], f["val"]), train)
    with pytest.raises(ValueError, match="k must be between 2 and"):
        P.subject_folds(msr_store, train, k=6)


def test_short_protocol_names_resolve_with_the_store_dataset(tmp_path, shared_data):
    names = sorted(f.stem for f in (shared_data / "ntu_rgbd").glob("*.skeleton"))
    store = _store(tmp_path, "ntu60", [_ntu_meta(n) for n in names])
    for short, full in (("xsub", "ntu60-xsub"), ("xview", "ntu60-xview")):
        for key in ("train", "test"):
            np.testing.assert_array_equal(P.split(store, short)[key], P.split(store, full)[key])
    assert P.get_protocol("xsub", "ntu120").name == "ntu120-xsub"
    assert P.folds("loso") == list(range(1, 11))
    np.testing.assert_array_equal(P.protocol_classes("as3"), P.protocol_classes("msr3d-as3"))
    assert P.protocol_classes("xview", "ntu60") is None
    assert P.protocol_classes("xsub") is None and P.folds("xsub") == []  # ambiguous but they agree
    with pytest.raises(ConfigError, match="ambiguous"):
        P.get_protocol("xsub")
