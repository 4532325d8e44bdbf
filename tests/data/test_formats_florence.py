"""Florence3D reader: the features file (florence8) and a world-coordinates file (florence15)."""

from __future__ import annotations

import numpy as np
import pytest

import skelact
from skelact import SkeletonFormatError
from skelact.data import iter_samples


@pytest.fixture(scope="module")
def features(sample_data):
    return sample_data / "florence3d" / "Florence_dataset_Features.txt"


@pytest.fixture(scope="module")
def sequences(features):
    return list(iter_samples(features))


def test_features_file_counts(sequences):
    assert len(sequences) == 215
    assert sum(s.num_frames for s in sequences) == 4016
    assert {s.layout for s in sequences} == {"florence8"}
    assert {s.data.shape[1:] for s in sequences} == {(1, 8, 3)}
    assert sorted({s.meta["label"] for s in sequences}) == list(range(9))
    assert sorted({s.meta["subject"] for s in sequences}) == list(range(1, 11))
    assert len({s.meta["sample"] for s in sequences}) == 215


def test_features_values_equal_the_raw_text(features, sequences):
    rows = np.array([line.split() for line in features.read_text().splitlines()], dtype=np.float64)
    assert rows.shape == (4016, 28)
    by_video = {}
    for row in rows:
        by_video.setdefault(int(row[0]), []).append(row)
    assert list(by_video) == [s.meta["video"] for s in sequences]  # order of first appearance
    for sk in sequences[:: 20]:
        video = np.array(by_video[sk.meta["video"]])
        raw = video[:, 3:27].reshape(-1, 8, 3).astype(np.float32)
        raw[(raw == 5).all(axis=-1)] = 0  # untracked joints read as missing (see below)
        np.testing.assert_array_equal(sk.data[:, 0], raw)
        np.testing.assert_array_equal(sk.meta["frame_value"], video[:, 27].astype(np.float32))
        assert sk.meta["subject"] == int(video[0, 1]) and sk.meta["label"] == int(video[0, 2]) - 1
    first = sequences[0]
    # First line: "1 1 1 0.906422 0.403155 0.125956 0.0682901 0.80325 -0.591714 ..."
    assert first.data[0, 0, 0].tolist() == [np.float32(0.906422), np.float32(0.403155), np.float32(0.125956)]
    assert first.data[0, 0, 1].tolist() == [np.float32(0.0682901), np.float32(0.80325), np.float32(-0.591714)]
    assert first.meta["line"] == 1 and first.meta["replication"] == 1


def test_untracked_joints_of_the_features_file_read_as_missing(features, sequences):
    """The features file's joints are unit vectors except those it marks (5, 5, 5), a joint the
    tracker lost: 1,457 joint positions, 546 of them subject 6's (16.8 % of its 407 frames x 8
    joints). The reader writes them as zeros (the library's missing joint) and counts them."""
    rows = np.array([line.split() for line in features.read_text().splitlines()], dtype=np.float64)
    raw = rows[:, 3:27].reshape(-1, 8, 3)
    marked = (raw == 5).all(axis=-1)
    norms = np.linalg.norm(raw[~marked], axis=-1)
    assert marked.sum() == 1457 and np.abs(norms - 1).max() < 0.01  # all others of unit length
    assert sum(s.meta["untracked_joints"] for s in sequences) == 1457
    per_subject: dict[int, int] = {}
    for s in sequences:
        per_subject[s.meta["subject"]] = per_subject.get(s.meta["subject"], 0) + s.meta["untracked_joints"]
        assert s.meta["untracked_joints"] == int((s.data == 0).all(axis=-1).sum())
    assert per_subject[6] == 546 and max(per_subject, key=per_subject.__getitem__) == 6
    assert max(float(np.abs(s.data).max()) for s in sequences) <= 1.0 + 1e-6
    # the first sequence with one: video 8 (line 202), right and left knee of its first frames
    video8 = next(s for s in sequences if s.meta["video"] == 8)
    assert video8.meta["untracked_joints"] == 6 and video8.meta["line"] == 202
    assert video8.data[0, 0, 2].tolist() == [0, 0, 0] and video8.data[0, 0, 3].tolist() == [0, 0, 0]
    assert (raw[201, 2] == 5).all() and (raw[201, 3] == 5).all()  # the file's line 202 has the mark
    assert np.abs(video8.data[0, 0, 0]).sum() > 0  # other joints as read


def test_world_file_keeps_a_value_of_five(tmp_path):
    """Only the features file (unit vectors) has the (5, 5, 5) mark; world coordinates keep it."""
    path = tmp_path / "Florence_dataset_WorldCoordinates.txt"
    coords = ["5"] * (WORLD_JOINTS * 3)
    path.write_text(" ".join(["1", "1", "1", *coords]) + "\n")
    (sk,) = iter_samples(path)
    assert (sk.data == 5).all() and "untracked_joints" not in sk.meta

def test_load_points_to_iter_samples(features):
    with pytest.raises(SkeletonFormatError, match="215 sequences; use skelact.data.iter_samples"):
        skelact.load(features)


WORLD_JOINTS = 15


def _world_line(video: int, actor: int, category: int, t: int) -> str:
    """One line: three multi-digit ids, then joint j channel c = video * 1000 + 10 j + c + t / 100."""
    coords = [f"{video * 1000 + j * 10 + c + t / 100:.2f}" for j in range(WORLD_JOINTS) for c in range(3)]
    return " ".join([str(video), str(actor), str(category), *coords])


def _write_world(path, spec) -> list[str]:
    lines = [_world_line(v, a, c, t) for v, a, c, frames in spec for t in range(frames)]
    path.write_text("\n".join(lines) + "\n")
    return lines


def test_world_coordinates_file(tmp_path):
    path = tmp_path / "Florence_dataset_WorldCoordinates.txt"
    lines = _write_world(path, [(101, 12, 3, 4), (7, 1, 9, 2), (2150, 10, 1, 3)])
    seqs = list(iter_samples(path))
    assert [s.layout for s in seqs] == ["florence15"] * 3
    assert [s.num_frames for s in seqs] == [4, 2, 3]
    assert [(s.meta["video"], s.meta["subject"], s.meta["label"]) for s in seqs] == [
        (101, 12, 2), (7, 1, 8), (2150, 10, 0)
    ]
    assert seqs[0].meta["sample"] == "video101" and seqs[1].meta["sample"] == "video007"
    assert seqs[2].meta["line"] == 7
    expected = np.array([line.split()[3:] for line in lines[:4]], dtype=np.float32).reshape(4, 15, 3)
    np.testing.assert_array_equal(seqs[0].data[:, 0], expected)
    # Head of video 101, frame 0 = (101000, 101001, 101002); right ankle = joint 14.
    assert seqs[0].data[0, 0, 0].tolist() == [101000, 101001, 101002]
    assert seqs[0].data[0, 0, 14].tolist() == [101140, 101141, 101142]
    assert "frame_value" not in seqs[0].meta


def test_single_sequence_file_loads(tmp_path):
    path = tmp_path / "florence_one.txt"
    _write_world(path, [(5, 2, 4, 6)])
    sk = skelact.load(path)
    assert sk.data.shape == (6, 1, 15, 3) and sk.meta["label"] == 3


def test_interleaved_videos_are_grouped_in_file_order(tmp_path):
    path = tmp_path / "Florence_mixed.txt"
    path.write_text("\n".join([_world_line(1, 1, 1, 0), _world_line(2, 1, 1, 0), _world_line(1, 1, 1, 1)]))
    seqs = list(iter_samples(path))
    assert [(s.meta["video"], s.num_frames) for s in seqs] == [(1, 2), (2, 1)]
    assert seqs[0].data[1, 0, 0, 2] == np.float32(1002.01)
    assert [s.meta["replication"] for s in seqs] == [1, 2]


def test_errors(tmp_path):
    path = tmp_path / "Florence_bad.txt"
    text = [_world_line(1, 1, 1, t) for t in range(3)]

    path.write_text("\n".join([*text[:2], " ".join(text[2].split()[:-1])]) + "\n")
    with pytest.raises(SkeletonFormatError, match="expected 48 values per line, found 47") as info:
        skelact.load(path)
    assert info.value.line == 3

    path.write_text("1 2 3 4 5\n")
    with pytest.raises(SkeletonFormatError, match="28 or 48") as info:
        skelact.load(path)
    assert info.value.line == 1

    path.write_text("\n".join([text[0], "1.5" + text[1][1:], text[2]]) + "\n")
    with pytest.raises(SkeletonFormatError, match="integers") as info:
        skelact.load(path)
    assert info.value.line == 2

    path.write_text("\n".join([text[0], text[1], "1 2" + text[2][3:]]) + "\n")
    with pytest.raises(SkeletonFormatError, match="idactor") as info:
        skelact.load(path)
    assert info.value.line == 3
