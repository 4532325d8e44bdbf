"""prepare(): discovery, missing-list skipping, bad files, parallel parsing, store == direct parse."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import skelact
from skelact import SkeletonFormatError
from skelact.data import prepare as prep
from skelact.data.store import SkeletonStore
from skelact.data.transforms import PreNormalize3D

STORE_FIELDS = ("label", "subject", "camera", "setup", "replication")


def _assert_store_matches_files(store, files, **load_options):
    """Each file's sample in the store equals skelact.load of the file: values (padded to the
    store's M) and meta."""
    for f in files:
        direct = skelact.load(f, **load_options)
        i = store.find(direct.meta["sample"])
        x = store[i]
        m = direct.num_bodies
        np.testing.assert_array_equal(x[:, :m], direct.data)
        assert not x[:, m:].any()
        meta = store.skeleton(i).meta
        for key in STORE_FIELDS:
            assert meta.get(key, -1) == direct.meta.get(key, -1), key


@pytest.fixture
def ntu_src(tmp_path, shared_data):
    """The 8 shared NTU files, one copy renamed to a name on the official missing list, one copy
    renamed to an NTU120-only setup, and the official NTU60 list (auto-detected)."""
    src = tmp_path / "raw"
    (src / "nested").mkdir(parents=True)
    ntu = shared_data / "ntu_rgbd"
    for f in ntu.glob("*.skeleton"):
        shutil.copy(f, src / ("nested" if "S017" in f.name else "") / f.name)
    shutil.copy(ntu / "S001C001P001R001A011.skeleton", src / "S001C002P005R002A008.skeleton")  # on the list
    shutil.copy(ntu / "S001C001P001R001A011.skeleton", src / "S018C001P008R001A061.skeleton")  # NTU120 only
    shutil.copy(ntu / "NTU_RGBD_samples_with_missing_skeletons.txt", src)
    return src


def test_discover_ntu60_and_ntu120(ntu_src):
    ntu60 = prep.discover("ntu60", ntu_src)
    ntu120 = prep.discover("ntu120", ntu_src)
    assert len(ntu60) == 9 and len(ntu120) == 10
    assert not any("S018" in f.name for f in ntu60)
    assert prep.find_missing_list("ntu60", ntu_src).name == "NTU_RGBD_samples_with_missing_skeletons.txt"


def test_prepare_ntu60_skips_the_missing_list_and_equals_direct_parse(tmp_path, ntu_src, shared_data):
    summary = prep.prepare("ntu60", ntu_src, tmp_path / "store", workers=1, progress=False)
    assert summary.skipped_missing == 1
    assert summary.samples_written == 8 and summary.files_found == 8 and not summary.bad_files
    store = SkeletonStore(tmp_path / "store")
    assert store.manifest["prepare"]["skipped_missing"] == 1
    assert store.class_names[0] == "drink water" and len(store.class_names) == 60
    assert len(store) == 8
    _assert_store_matches_files(store, list((shared_data / "ntu_rgbd").glob("*.skeleton")))
    store.verify()


def test_explicit_missing_list_and_ntu120(tmp_path, ntu_src, shared_data):
    (ntu_src / "NTU_RGBD_samples_with_missing_skeletons.txt").unlink()
    none = prep.prepare("ntu120", ntu_src, tmp_path / "a", workers=1, progress=False)
    assert none.skipped_missing == 0 and none.samples_written == 10
    listed = prep.prepare(
        "ntu120", ntu_src, tmp_path / "b", workers=1, progress=False,
        missing=shared_data / "ntu_rgbd" / "NTU_RGBD120_samples_with_missing_skeletons.txt",
    )  # fmt: skip
    assert listed.skipped_missing == 1 and listed.samples_written == 9
    assert len(SkeletonStore(tmp_path / "b").class_names) == 120


def test_parallel_parse_writes_the_same_store(tmp_path, ntu_src):
    prep.prepare("ntu120", ntu_src, tmp_path / "serial", workers=1, progress=False)
    prep.prepare("ntu120", ntu_src, tmp_path / "pool", workers=2, chunksize=1, progress=False)
    a, b = SkeletonStore(tmp_path / "serial"), SkeletonStore(tmp_path / "pool")
    assert a.manifest["checksum"] == b.manifest["checksum"]


def test_bad_files_are_listed_not_fatal(tmp_path, ntu_src):
    text = (ntu_src / "S001C001P001R001A001.skeleton").read_text()
    (ntu_src / "S001C001P001R001A001.skeleton").write_text(text[: len(text) // 2])  # truncated
    summary = prep.prepare("ntu60", ntu_src, tmp_path / "store", workers=2, progress=False)
    assert summary.samples_written == 7
    [bad] = summary.bad_files
    assert bad["file"].endswith("S001C001P001R001A001.skeleton")
    assert "S001C001P001R001A001.skeleton:" in bad["error"]  # names the file and line
    assert SkeletonStore(tmp_path / "store").manifest["prepare"]["bad_files"] == [bad]
    assert "bad file:" in summary.format()


def test_nothing_parses_is_an_error_and_leaves_no_store(tmp_path):
    src = tmp_path / "raw"
    src.mkdir()
    (src / "S001C001P001R001A001.skeleton").write_text("3\n1\n")
    with pytest.raises(SkeletonFormatError, match="no file could be parsed"):
        prep.prepare("ntu60", src, tmp_path / "store", workers=1, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]


def test_interrupted_prepare_leaves_nothing(tmp_path, ntu_src, monkeypatch):
    calls = []
    original = prep.StoreWriter.add

    def add(self, *args, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, *args, **kw)

    monkeypatch.setattr(prep.StoreWriter, "add", add)
    with pytest.raises(KeyboardInterrupt):
        prep.prepare("ntu60", ntu_src, tmp_path / "store", workers=2, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]


def test_normalize_at_prepare_time(tmp_path, shared_data):
    src = shared_data / "ntu_rgbd"
    prep.prepare("ntu60", src, tmp_path / "store", workers=1, progress=False, normalize="PreNormalize3D")
    store = SkeletonStore(tmp_path / "store")
    assert store.manifest["prepare"]["normalize"] == [{"name": "PreNormalize3D"}]
    direct = skelact.load(sorted(src.glob("*.skeleton"))[2])
    expected = PreNormalize3D("ntu25")(direct.data.transpose(3, 0, 2, 1)).transpose(1, 3, 2, 0)
    np.testing.assert_allclose(store[2], expected, atol=1e-6)


def test_bad_arguments(tmp_path, shared_data):
    src = shared_data / "ntu_rgbd"
    with pytest.raises(skelact.ConfigError, match="unknown dataset"):
        prep.prepare("ntu", src, tmp_path / "s")
    with pytest.raises(skelact.ConfigError, match="unknown transform"):
        prep.prepare("ntu60", src, tmp_path / "s", normalize="Flip", progress=False)
    with pytest.raises(skelact.ConfigError, match="unknown reader option"):
        prep.prepare("ntu60", src, tmp_path / "s", reader_options={"colour": 1}, progress=False)
    with pytest.raises(FileNotFoundError, match="no ntu60 files"):
        prep.prepare("ntu60", tmp_path, tmp_path / "s", progress=False)
    (tmp_path / "s").mkdir()
    with pytest.raises(FileExistsError):
        prep.prepare("ntu60", src, tmp_path / "s", progress=False)


# official indices from the shared PROVENANCE table (label_name.txt line - 1); the train clips'
# files carry rewritten indices 1..4 that prepare must correct from the class name
KINETICS_LABELS = {
    "--33Lscn6sk": (129, "val"), "__0muxHV-Uw": (132, "train"), "__4frZhaVDs": (32, "train"),
    "__6LvmReo3Y": (262, "train"), "__NrybzYzUg": (0, "val"), "__PYrzYbzKE": (173, "val"),
    "__U_scuxNlQ": (58, "val"), "___qijXy2f0": (234, "train"), "__vOysOPoCY": (207, "val"),
}  # fmt: skip


def test_prepare_kinetics_labels_splits_and_values(tmp_path, shared_data):
    src = shared_data / "kinetics_skeleton"
    summary = prep.prepare("kinetics", src, tmp_path / "store", workers=2, progress=False)
    assert summary.samples_written == 9 and not summary.bad_files
    assert any("4 clip(s) relabelled" in n for n in summary.notes)
    store = SkeletonStore(tmp_path / "store")
    assert store.layout == "openpose18" and store.frame_shape == (2, 18, 3)
    assert len(store.class_names) == 400 and store.class_names[0] == "abseiling"
    clips = sorted(f for f in src.glob("*.json") if not f.name.endswith("_label.json"))
    for i, f in enumerate(clips):
        meta = store.meta(i)
        label, split = KINETICS_LABELS[f.stem]
        assert (meta["label"], meta["split"]) == (label, split), f.stem
        assert meta["label_name"] == skelact.load(f).meta["label_name"]
        np.testing.assert_array_equal(store[i], skelact.load(f).data)
    from skelact.data.protocols import split

    sp = split(store, "kinetics")
    assert (len(sp["train"]), len(sp["test"])) == (4, 5)


def test_kinetics_folder_split_and_clips_without_skeleton(tmp_path, shared_data):
    import json

    kin = shared_data / "kinetics_skeleton"
    src = tmp_path / "raw"
    (src / "kinetics_train").mkdir(parents=True)
    (src / "kinetics_val").mkdir()
    shutil.copy(kin / "__0muxHV-Uw.json", src / "kinetics_train")
    shutil.copy(kin / "__NrybzYzUg.json", src / "kinetics_val")
    shutil.copy(kin / "__vOysOPoCY.json", src / "kinetics_val")
    labels = {
        "__NrybzYzUg": {"has_skeleton": True, "label": "abseiling", "label_index": 0},
        "__vOysOPoCY": {"has_skeleton": False, "label": "parkour", "label_index": 207},
    }
    (src / "kinetics_val_label.json").write_text(json.dumps(labels))
    summary = prep.prepare("kinetics", src, tmp_path / "store", workers=1, progress=False, bodies=1)
    assert summary.skipped_empty == 1 and summary.samples_written == 2
    store = SkeletonStore(tmp_path / "store")
    assert store.frame_shape == (1, 18, 3)
    assert [store.meta(i)["split"] for i in range(2)] == ["train", "val"]
    assert store.class_names is None  # no label_name.txt in this source
    assert store.meta(0)["label"] == 2  # the file's own (rewritten) index: no class list to correct it


@pytest.fixture(scope="module")
def msr_store(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("msr") / "store"
    summary = prep.prepare("msr3d", shared_data / "msr_action3d", out, workers=2, progress=False)
    return summary, SkeletonStore(out)


def test_prepare_msr3d_all_567_real_files(msr_store, shared_data):
    summary, store = msr_store
    files = sorted((shared_data / "msr_action3d").rglob("*_skeleton3D.txt"))
    assert len(files) == 567 and summary.samples_written == 567 and not summary.bad_files
    assert summary.all_zero_samples == 1  # a13_s09_e02 is all zeros: kept, counted
    assert store.layout == "kinect20" and store.frame_shape == (1, 20, 3)
    assert store.class_names[0] == "high arm wave" and len(store.class_names) == 20
    _assert_store_matches_files(store, files[::7])  # a spread of files: values and meta
    assert not store[store.find("a13_s09_e02")].any()
    lengths = store.lengths
    assert (lengths.min(), lengths.max()) == (13, 196)  # as measured in the shared PROVENANCE


def test_msr3d_subsets_on_the_prepared_store(msr_store):
    from skelact.data.protocols import split

    _, store = msr_store
    sizes = {k: tuple(len(v) for v in split(store, f"msr3d-{k}").values()) for k in ("as1", "as2", "as3")}
    assert sizes == {"as1": (120, 106), "as2": (118, 113), "as3": (114, 112)}


def test_prepare_msr3d_screen_form(tmp_path, shared_data):
    summary = prep.prepare(
        "msr3d", shared_data / "msr_action3d", tmp_path / "s", msr_form="screen", limit=12, workers=1,
        progress=False,
    )  # fmt: skip
    store = SkeletonStore(tmp_path / "s")
    assert summary.samples_written == 12 and store.manifest["channels"] == ["u", "v", "depth"]
    files = sorted((shared_data / "msr_action3d").rglob("*_skeleton.txt"))[:12]
    _assert_store_matches_files(store, files)


def test_prepare_florence3d_features_and_loso(tmp_path, shared_data):
    from skelact.data.io import iter_samples
    from skelact.data.protocols import folds, split

    path = shared_data / "florence3d" / "Florence_dataset_Features.txt"
    summary = prep.prepare("florence3d", path.parent, tmp_path / "store", workers=2, progress=False)
    assert summary.files_found == 1 and summary.samples_written == 215
    assert summary.untracked_joints == 1457 and summary.reader_revision == 2
    assert "1457 joint position(s) marked untracked by the file; written as zeros" in summary.format()
    store = SkeletonStore(tmp_path / "store")
    assert store.manifest["prepare"]["reader_revision"] == 2
    assert store.layout == "florence8" and store.num_frames == 4016  # one line per frame
    assert store.class_names[0] == "wave" and len(store.class_names) == 9
    for i, sk in enumerate(iter_samples(path)):
        np.testing.assert_array_equal(store[i], sk.data)
        assert store.meta(i)["subject"] == sk.meta["subject"] and store.meta(i)["label"] == sk.meta["label"]
    test_sizes = [len(split(store, "florence3d-loso", fold=k)["test"]) for k in folds("florence3d-loso")]
    assert sum(test_sizes) == 215 and min(test_sizes) > 0


def test_bundled_florence_gz_gives_the_same_store(tmp_path, shared_data):
    from skelact.data import bundled_path

    prep.prepare("florence3d", shared_data / "florence3d", tmp_path / "plain", workers=1, progress=False)
    prep.prepare("florence3d", bundled_path("florence3d"), tmp_path / "gz", workers=1, progress=False)
    plain, gz = SkeletonStore(tmp_path / "plain"), SkeletonStore(tmp_path / "gz")
    assert plain.manifest["checksum"] == gz.manifest["checksum"]


def test_a_store_from_an_earlier_reader_revision_is_prepared_again(tmp_path):
    """prepared_store reuses a store prepared from the same folder by the reader's present revision,
    and prepares again one written by an earlier revision (a store made before the features file's
    untracked joints read as zeros still holds their (5, 5, 5))."""
    from skelact.data import bundled_path
    from skelact.data.prepared import prepared_store

    src = bundled_path("florence3d")  # the sample every clone has
    logs: list[str] = []
    out = prepared_store("florence3d", src, tmp_path, log=logs.append)
    assert out == tmp_path / "florence3d-features" and len(logs) == 2  # preparing ..., the summary
    stamp = (out / "manifest.json").stat().st_mtime_ns
    assert prepared_store("florence3d", src, tmp_path, log=logs.append) == out and len(logs) == 2
    assert (out / "manifest.json").stat().st_mtime_ns == stamp  # reused, not written again

    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["prepare"]["reader_revision"]  # as revision 1 wrote it
    (out / "manifest.json").write_text(json.dumps(manifest))
    prepared_store("florence3d", src, tmp_path, log=logs.append)
    assert "was prepared by revision 1 of the florence3d reader; preparing again with revision 2" in logs[2]
    again = SkeletonStore(out)
    assert again.manifest["prepare"]["reader_revision"] == 2
    assert max(float(np.abs(again[i]).max()) for i in range(len(again))) <= 1.0 + 1e-6
