"""Live sources: JSON lines (schema, bad lines) and OpenPose per-frame folders (from real Kinetics data)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from deploy_helpers import KINETICS_CLIP, H, W, write_openpose_dir

from skelact.deploy.sources import (
    iter_jsonl,
    iter_openpose_dir,
    open_source,
    skeleton_to_jsonl,
)


def _collect(source, layout, **kw):
    errors = []
    frames = list(iter_jsonl(source, layout, on_error=errors.append, **kw))
    return frames, errors


def test_jsonl_roundtrip_of_a_real_ntu_sample(ntu_samples, tmp_path):
    data = ntu_samples[2]  # two bodies
    path = tmp_path / "s.jsonl"
    with path.open("w") as f:
        skeleton_to_jsonl(data, f)
    frames, errors = _collect(path, "ntu25")
    assert errors == [] and len(frames) == len(data)
    for t, rec in enumerate(frames):
        assert rec.index == t and rec.where.endswith(f":{t + 1}")
        np.testing.assert_array_equal(rec.coords, data[t, : rec.num_bodies])
        assert np.all(rec.confidence == 1)


def test_jsonl_schema_details():
    v = [[0.1 * j, 0.2, 0.3, 0.9] for j in range(25)]
    v[3] = [1.0, 2.0, 3.0, 0.0]  # confidence 0: missing
    v[4] = None  # missing
    lines = [
        json.dumps({"frame": 0, "bodies": [v]}),
        "",  # blank lines are ignored
        json.dumps({"bodies": [None, [[1, 1, 1]] * 25]}),  # null body keeps the slot order
        json.dumps({"bodies": []}),  # a frame with nobody
    ]
    frames, errors = _collect(io.StringIO("\n".join(lines) + "\n"), "ntu25")
    assert errors == [] and len(frames) == 3
    first = frames[0]
    assert first.index == 0 and first.coords.shape == (1, 25, 3)
    assert first.confidence[0, 3] == 0 and first.confidence[0, 4] == 0
    assert first.confidence[0, 0] == pytest.approx(0.9)
    assert np.all(first.coords[0, 3] == 0) and np.all(first.coords[0, 4] == 0)
    assert frames[1].index is None and frames[1].coords.shape == (2, 25, 3)
    assert np.all(frames[1].confidence[0] == 0) and np.all(frames[1].confidence[1] == 1)
    assert frames[2].num_bodies == 0


def test_bad_lines_are_reported_with_line_numbers_and_skipped():
    good = json.dumps({"bodies": [[[0.0, 0.0, 1.0]] * 25]})
    lines = [
        good,
        "{not json",  # 2
        json.dumps({"bodies": [[[0.0, 0.0, 1.0]] * 24]}),  # 3: wrong joint count
        json.dumps({"bodies": [[[0.0, "a", 1.0]] * 25]}),  # 4: not a number
        json.dumps({"frame": "x", "bodies": []}),  # 5: bad frame number
        json.dumps({"people": []}),  # 6: OpenPose people cannot feed a 3D layout
        json.dumps([1, 2]),  # 7: a body that is not a list of joints
        good,  # 8
        json.dumps({"no": "bodies"}),  # 9
    ]
    frames, errors = _collect(io.StringIO("\n".join(lines)), "ntu25")
    assert len(frames) == 2 and [f.where.rsplit(":", 1)[1] for f in frames] == ["1", "8"]
    assert [e.line for e in errors] == [2, 3, 4, 5, 6, 7, 9]
    text = [str(e) for e in errors]
    assert "invalid JSON" in text[0]
    assert "24 joints" in text[1] and "25" in text[1]
    assert "number" in text[2]
    assert "'frame'" in text[3]
    assert "openpose18" in text[4]


def test_open_source_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        open_source(tmp_path / "missing.jsonl", "ntu25")
    with pytest.raises(ValueError, match="unknown source format"):
        open_source(tmp_path, "ntu25", format="csv")
    with pytest.raises(FileNotFoundError):
        list(open_source(tmp_path / "nodir", "openpose18", format="openpose-dir"))


def test_openpose_folder_from_a_real_kinetics_clip(shared_data, tmp_path):
    folder = tmp_path / "openpose"
    drop = {10, 11, 12}
    clip = shared_data / "kinetics_skeleton" / KINETICS_CLIP
    truth = write_openpose_dir(clip, folder, body25_every=3, drop=drop)
    errors = []
    frames = list(iter_openpose_dir(folder, image_size=(W, H), on_error=errors.append))
    assert errors == []
    assert [f.index for f in frames] == sorted(truth)  # in frame-number order, gaps kept in the indices
    assert not drop & {f.index for f in frames}
    empty = 0
    for rec in frames:
        people = truth[rec.index]
        empty += not people
        assert rec.coords.shape == (len(people), 18, 3)
        for b, (pose, score) in enumerate(people):
            score = np.asarray(score, np.float32)
            xy = np.asarray(pose, np.float32).reshape(18, 2)
            detected = score > 0
            np.testing.assert_allclose(rec.coords[b, detected, :2], xy[detected], atol=1e-5)
            np.testing.assert_allclose(rec.coords[b, :, 2], np.where(detected, score, 0), atol=1e-6)
            np.testing.assert_array_equal(rec.confidence[b] > 0, detected)
            assert np.all(rec.coords[b, ~detected] == 0)
    assert empty > 0  # the clip has frames with nobody; they come through as empty frames


def test_openpose_folder_reports_bad_files(shared_data, tmp_path):
    folder = tmp_path / "openpose"
    write_openpose_dir(shared_data / "kinetics_skeleton" / KINETICS_CLIP, folder)
    bad = sorted(folder.iterdir())[5]
    bad.write_text("{truncated")
    odd = sorted(folder.iterdir())[6]
    odd.write_text(json.dumps({"people": [{"pose_keypoints_2d": [1.0, 2.0, 0.5] * 15}]}))
    errors = []
    frames = list(iter_openpose_dir(folder, on_error=errors.append))
    assert len(frames) == 249 - 2
    assert [e.path for e in errors] == [str(bad), str(odd)]
    assert "invalid JSON" in str(errors[0]) and "15 keypoints" in str(errors[1])


def test_openpose_folder_is_followed_while_it_is_written(shared_data, tmp_path):
    import threading
    import time

    written = tmp_path / "all"
    write_openpose_dir(shared_data / "kinetics_skeleton" / KINETICS_CLIP, written)
    files = sorted(written.iterdir())[:12]
    live = tmp_path / "live"
    live.mkdir()

    def writer():  # OpenPose writing frames while we read
        for f in files:
            (live / f.name).write_text(f.read_text())
            time.sleep(0.02)

    thread = threading.Thread(target=writer)
    thread.start()
    frames = list(iter_openpose_dir(live, follow=True, poll_interval=0.01, idle_timeout=0.5))
    thread.join()
    assert [f.index for f in frames] == list(range(1, 13))


def test_openpose_folder_needs_the_openpose_layout(tmp_path):
    with pytest.raises(ValueError, match="openpose18"):
        iter_openpose_dir(tmp_path, "ntu25")  # refused at once, not file by file
