"""Helpers shared by the deploy tests (imported as a module: tests/ has no packages)."""

from __future__ import annotations

import json

import numpy as np
import torch

from skelact.deploy.sources import BODY25_TO_COCO18
from skelact.models import build

KINETICS_CLIP = "__vOysOPoCY.json"  # 249 frames, up to 3 persons, 82 frames without a person
W, H = 340, 256  # Kinetics-skeleton frame size


def msr_sequence(path) -> np.ndarray:
    """An MSRAction3D Real3D file (20 lines ``x y z c`` per frame) as ``(T, 1, 20, 3)``."""
    values = np.loadtxt(path, dtype=np.float32).reshape(-1, 20, 4)
    return values[:, None, :, :3].copy()


def batch(sequences, frames: int) -> torch.Tensor:
    """Stack the first ``frames`` frames of each ``(T, M, V, C)`` sequence as ``(N, C, T, V, M)``."""
    clips = [np.asarray(s[:frames]).transpose(3, 0, 2, 1) for s in sequences]
    return torch.from_numpy(np.ascontiguousarray(np.stack(clips)))


def tiny_asgcn(num_classes: int = 7, layout: str = "ntu25", **options):
    torch.manual_seed(0)
    opts = dict(channels=(8, 16), strides=(1, 2), aim_hidden=8, aim_frames=8, aim_iterations=1,
                pred_collapse=((8, 3, 2), (8, 3, 1)), pred_refine=(8,), horizon=4, dropout=0.0)
    opts.update(options)
    return build("asgcn", num_classes=num_classes, layout=layout, **opts).eval()


def tiny_arrn(num_classes: int = 7, layout: str = "ntu25", stream: str = "two_stream", **options):
    torch.manual_seed(0)
    opts = dict(embed_dim=8, iterations=1, attention_dim=16, lstm_sizes=(16,))
    opts.update(options)
    return build("arrn_lstm", num_classes=num_classes, layout=layout, stream=stream, **opts).eval()


def write_openpose_dir(kinetics_json, out, body25_every: int = 0, drop=()):
    """OpenPose ``--write_json`` output for a Kinetics-skeleton clip: one file per frame, pixel
    coordinates, people as flat ``x, y, c`` lists. Returns ``{frame: [(pose, score), ...]}``."""
    clip = json.loads(kinetics_json.read_text())
    out.mkdir()
    truth = {}
    for item in clip["data"]:
        t = item["frame_index"]
        if t in drop:
            continue
        people = []
        for person in item["skeleton"]:
            pose, score = person["pose"], person["score"]
            kp = []
            for j in range(18):
                kp += [pose[2 * j] * W, pose[2 * j + 1] * H, score[j]]
            if body25_every and t % body25_every == 0:  # the BODY_25 model: mid-hip and feet added
                coco = [kp[3 * j : 3 * j + 3] for j in range(18)]
                b25 = [[0.0, 0.0, 0.0] for _ in range(25)]
                for c, b in enumerate(BODY25_TO_COCO18):
                    b25[b] = coco[c]
                b25[8] = [170.0, 128.0, 0.5]  # MidHip, dropped by the mapping
                kp = [v for joint in b25 for v in joint]
            people.append({"person_id": [-1], "pose_keypoints_2d": kp, "face_keypoints_2d": []})
        truth[t] = [(person["pose"], person["score"]) for person in item["skeleton"]]
        name = out / f"{kinetics_json.stem}_{t:012d}_keypoints.json"
        name.write_text(json.dumps({"version": 1.3, "people": people}))
    return truth
