"""Kinetics-skeleton JSON reader: values against the raw JSON, person selection, labels, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from prerequisites import RealFiles

import skelact
from skelact import SkeletonFormatError

# From ../shared/data/kinetics_skeleton/PROVENANCE.md: frames, max persons per frame, empty frames.
CLIPS = {
    "--33Lscn6sk": (189, 3, 26), "__0muxHV-Uw": (299, 2, 261), "__4frZhaVDs": (299, 3, 67),
    "__6LvmReo3Y": (240, 3, 0), "__NrybzYzUg": (299, 2, 234), "__PYrzYbzKE": (299, 11, 0),
    "__U_scuxNlQ": (299, 2, 0), "___qijXy2f0": (299, 10, 0), "__vOysOPoCY": (249, 3, 82),
}


@pytest.fixture(scope="module")
def kin(request, sample_data):
    return RealFiles(request, sample_data, "kinetics_skeleton")


def _person(p: dict) -> np.ndarray:
    pose = np.asarray(p["pose"], dtype=np.float64)
    return np.stack([pose[0::2], pose[1::2], np.asarray(p["score"])], axis=1).astype(np.float32)


@pytest.mark.parametrize("clip", sorted(CLIPS))
def test_shapes_and_counts_match_provenance(kin, clip):
    frames, max_persons, empty = CLIPS[clip]
    sk = skelact.load(kin / f"{clip}.json")
    assert sk.layout == "openpose18" and sk.data.dtype == np.float32
    assert sk.data.shape == (frames, 2, 18, 3)
    assert sk.meta["persons_per_frame"].max() == max_persons
    assert (sk.meta["persons_per_frame"] == 0).sum() == empty
    nobody = sk.meta["persons_per_frame"] == 0
    assert not sk.data[nobody].any()  # frames with nobody are zeros
    assert sk.meta["channels"] == ("x", "y", "score")


def test_top2_by_score_like_stgcn(kin):
    path = kin / "__PYrzYbzKE.json"
    doc = json.loads(path.read_text())
    sk = skelact.load(path)
    for item in doc["data"]:
        t = item["frame_index"] - 1  # output frame t holds frame_index t + 1
        people = item["skeleton"][:5]  # ST-GCN's num_person_in
        totals = [sum(p["score"]) for p in people]
        order = sorted(range(len(people)), key=lambda m: -totals[m])[:2]
        for slot, m in enumerate(order):
            np.testing.assert_array_equal(sk.data[t, slot], _person(people[m]))
    assert sk.data.shape[1] == 2
    # The raw values: no centring (x, y are normalised image coordinates, never negative).
    assert sk.data[..., :2].min() == 0 and sk.data[..., :2].max() > 0.5
    wide = skelact.load(path, candidates=None, max_bodies=11)
    assert (np.abs(wide.data).sum(axis=(2, 3)) > 0).sum(axis=1).max() == 11


def test_pretty_printed_file_and_frame_index(kin):
    path = kin / "--33Lscn6sk.json"  # re-serialised with a 2-space indent
    text = path.read_text()
    assert text.startswith('{\n  "data": [\n    {\n      "frame_index": 1,')
    doc = json.loads(text)
    sk = skelact.load(path)
    item = doc["data"][0]
    assert item["skeleton"][0]["pose"][:2] == [0.491, 0.220]  # the numbers at the top of the file
    people = [_person(p) for p in item["skeleton"]]
    totals = [sum(p["score"]) for p in item["skeleton"]]
    np.testing.assert_array_equal(sk.data[0, 0], people[int(np.argmax(totals))])
    assert any(np.array_equal(sk.data[0, m], people[0]) for m in range(2)) or len(people) > 2


def test_frames_missing_from_the_list_are_zeros(tmp_path):
    person = {"pose": [0.5] * 36, "score": [0.9] * 18}
    doc = {"data": [{"frame_index": 2, "skeleton": [person]}, {"frame_index": 5, "skeleton": []}],
           "label": "x", "label_index": 3}
    path = tmp_path / "clip.json"
    path.write_text(json.dumps(doc))
    sk = skelact.load(path)
    assert sk.data.shape == (5, 2, 18, 3)
    assert sk.data[1, 0].tolist() == [[0.5, 0.5, np.float32(0.9)]] * 18
    assert not np.delete(sk.data, 1, axis=0).any()
    assert sk.meta["label"] == 3 and sk.meta["label_source"] == "file"


def test_max_confidence_keeps_one_body(kin):
    path = kin / "___qijXy2f0.json"
    doc = json.loads(path.read_text())
    sk = skelact.load(path, body_selection="max_confidence", max_bodies=1)
    assert sk.data.shape == (299, 1, 18, 3)
    mean = np.zeros(5)
    for item in doc["data"]:
        for m, p in enumerate(item["skeleton"][:5]):
            mean[m] += sum(p["score"])
    best = int(np.argmax(mean))
    item = doc["data"][0]
    np.testing.assert_array_equal(sk.data[item["frame_index"] - 1, 0], _person(item["skeleton"][best]))


def test_label_maps_fix_rewritten_train_indices(kin):
    clip = kin / "__0muxHV-Uw.json"
    assert skelact.load(clip).meta["label"] == 2  # rewritten by the redistributor
    fixed = skelact.load(clip, label_map=kin / "label_name.txt")
    assert fixed.meta["label"] == 132 and fixed.meta["label_source"] == "label_map"
    assert fixed.meta["label_name"] == "folding napkins" and fixed.meta["label_index_file"] == 2
    val = skelact.load(kin / "__PYrzYbzKE.json", label_map=kin / "kinetics_val_label.json")
    assert val.meta["label"] == 173
    assert skelact.load(clip, label_map={"__0muxHV-Uw": 7}).meta["label"] == 7
    with pytest.raises(skelact.ConfigError, match="label_map"):
        skelact.load(clip, label_map=kin / "missing.json")


def test_ntu_openpose_json_labels_from_the_name(shared_data):
    folder = shared_data / "ntu_rgb_openpose_json"
    hug = skelact.load(folder / "S004C002P003R001A055_rgb.json")
    assert hug.meta["label_index_file"] == 55  # 1-based NTU action in the file
    assert hug.meta["label"] == 54 and hug.meta["dataset"] == "ntu-openpose"
    assert (hug.meta["setup"], hug.meta["camera"], hug.meta["subject"]) == (4, 2, 3)
    assert hug.data.shape == (76, 2, 18, 3) and hug.meta["persons_per_frame"].max() == 4
    throw = skelact.load(folder / "S004C003P003R001A007_rgb.json")
    assert throw.meta["label"] == 6 and throw.data.shape[0] == 77


# --- errors ------------------------------------------------------------------------------------


def _write(tmp_path, text: str | bytes):
    path = tmp_path / "clip.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _doc(**person) -> str:
    p = {"pose": [0.1] * 36, "score": [0.5] * 18, **person}
    return json.dumps({"data": [{"frame_index": 1, "skeleton": []}, {"frame_index": 2, "skeleton": [p]}]})


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        ("{}", "'data'"),
        ("[]", "JSON object"),
        ('{"data": []}', "no frames"),
        ('{"data": [{"skeleton": []}]}', "frame_index"),
        ('{"data": [{"frame_index": 0, "skeleton": []}]}', "frame_index"),
        ('{"data": [{"frame_index": 1e9, "skeleton": []}]}', "frame_index"),
        ('{"data": [{"frame_index": 1, "skeleton": []}, {"frame_index": 1, "skeleton": []}]}',
         "already used"),
        ('{"data": [{"frame_index": 1}]}', "'skeleton'"),
        ('{"data": [{"frame_index": 1, "skeleton": [{"pose": []}]}]}', "'pose' and 'score'"),
        (_doc(pose=[0.1] * 34), r"data\[1\] \(frame_index 2\), person 1: 'pose' has 34 values"),
        (_doc(score=[0.5] * 17 + ["a"]), "not a number"),
        (_doc(score=[0.5] * 17 + [True]), "not a number"),
        (_doc(pose=[0.1] * 35 + [None]), "not a number"),
        (_doc(pose=[0.1] * 35 + [float("nan")]), "not finite"),
        (b"\xff\xfe{", "JSON"),
    ],
)
def test_errors(tmp_path, text, match):
    with pytest.raises(SkeletonFormatError, match=match):
        skelact.load(_write(tmp_path, text))


def test_json_syntax_error_names_the_line(tmp_path):
    path = _write(tmp_path, '{\n  "data": [\n    {"frame_index": 1,, "skeleton": []}\n  ]\n}\n')
    with pytest.raises(SkeletonFormatError) as info:
        skelact.load(path)
    assert info.value.line == 3 and info.value.path == str(path)
