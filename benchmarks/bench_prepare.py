"""End-to-end ``prepare ntu60`` throughput and peak memory, against an official-pipeline baseline.

Measures, on copies of the shared NTU RGB+D files renamed to distinct sample names (symlinks):

(a) files/s of ``skelact.data.prepare.prepare("ntu60", ..., normalize="PreNormalize3D")`` (parse in
    2 worker processes, normalise, stream into the store, fsync, checksum) against a baseline
    written here in the style of the official AS-GCN / 2s-AGCN data generation
    (``ntu_gen_preprocess.py`` + ``preprocess.py``): every file read line by line into nested
    dicts, ``read_xyz`` with the motion-energy body choice, all samples in one in-RAM
    ``(N, 3, 300, 25, 2)`` array, then ``pre_normalization`` with its per-frame, per-joint Python
    rotation loops, and ``np.save``. Both run in this process (the baseline single-process, as the
    official script), on the same files; the ratio is the result. Target: >= 20x.
(c) peak RSS of a fresh ``prepare`` process (and of its workers) for 1x and 10x the files, to
    show memory does not grow with the dataset.

Run: ``.venv/bin/python benchmarks/bench_prepare.py`` (about a minute on 2 cores); results go to
``benchmarks/results/prepare.md`` and ``prepare.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import pathlib
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np
from machine import cpu_description

from skelact.data.formats.ntu import use_compiled
from skelact.data.prepare import prepare
from skelact.data.store import SkeletonStore

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "ntu_rgbd"
RESULTS = REPO / "benchmarks" / "results"


# ---------------------------------------------------------------------------------------------
# Data: the shared files under many distinct NTU60 names
# ---------------------------------------------------------------------------------------------
def make_src(root: pathlib.Path, n: int) -> pathlib.Path:
    """``n`` symlinks to the shared files named ``S0ssC0ccP0ppR0rrA0aa`` (setups <= 17)."""
    files = sorted(SHARED.glob("*.skeleton"))
    src = root / f"src{n}"
    src.mkdir()
    for k in range(n):
        f = files[k % len(files)]
        action = f.stem[-4:]  # keep the real action of the content
        p, c, r, s = 1 + k % 40, 1 + (k // 40) % 3, 1 + (k // 120) % 2, 1 + (k // 240) % 17
        (src / f"S{s:03d}C{c:03d}P{p:03d}R{r:03d}{action}.skeleton").symlink_to(f)
    return src


# ---------------------------------------------------------------------------------------------
# Baseline: official-pipeline style (line-by-line reading, per-joint normalisation loops)
# ---------------------------------------------------------------------------------------------
BODY_KEYS = ("bodyID", "clipedEdges", "handLeftConfidence", "handLeftState", "handRightConfidence",
             "handRightState", "isResticted", "leanX", "leanY", "trackingState")  # fmt: skip
JOINT_KEYS = ("x", "y", "z", "depthX", "depthY", "colorX", "colorY", "orientationW", "orientationX",
              "orientationY", "orientationZ", "trackingState")  # fmt: skip


def baseline_read_sequence(path):
    with open(path) as f:
        seq = {"numFrame": int(f.readline()), "frameInfo": []}
        for _ in range(seq["numFrame"]):
            frame = {"numBody": int(f.readline()), "bodyInfo": []}
            for _ in range(frame["numBody"]):
                body = {k: float(v) for k, v in zip(BODY_KEYS, f.readline().split(), strict=False)}
                body["numJoint"] = int(f.readline())
                body["jointInfo"] = [
                    {k: float(v) for k, v in zip(JOINT_KEYS, f.readline().split(), strict=False)}
                    for _ in range(body["numJoint"])
                ]
                frame["bodyInfo"].append(body)
            seq["frameInfo"].append(frame)
    return seq


def baseline_energy(s):
    s = s[s.sum(-1).sum(-1) != 0]
    return s[:, :, 0].std() + s[:, :, 1].std() + s[:, :, 2].std() if len(s) else 0


def baseline_read_xyz(path, max_body=4, keep=2, num_joint=25):
    seq = baseline_read_sequence(path)
    data = np.zeros((max_body, seq["numFrame"], num_joint, 3))
    for n, frame in enumerate(seq["frameInfo"]):
        for m, body in enumerate(frame["bodyInfo"]):
            for j, v in enumerate(body["jointInfo"]):
                if m < max_body and j < num_joint:
                    data[m, n, j, :] = [v["x"], v["y"], v["z"]]
    energy = np.array([baseline_energy(x) for x in data])
    data = data[energy.argsort()[::-1][:keep]]
    return data.transpose(3, 1, 2, 0)  # (C, T, V, M)


def _rotation(axis, theta):
    if np.abs(axis).sum() < 1e-6 or abs(theta) < 1e-6:
        return np.eye(3)
    axis = np.asarray(axis) / math.sqrt(np.dot(axis, axis))
    a, (b, c, d) = math.cos(theta / 2.0), -axis * math.sin(theta / 2.0)
    return np.array([
        [a * a + b * b - c * c - d * d, 2 * (b * c + a * d), 2 * (b * d - a * c)],
        [2 * (b * c - a * d), a * a + c * c - b * b - d * d, 2 * (c * d + a * b)],
        [2 * (b * d + a * c), 2 * (c * d - a * b), a * a + d * d - b * b - c * c],
    ])  # fmt: skip


def _angle(v1, v2):
    if np.abs(v1).sum() < 1e-6 or np.abs(v2).sum() < 1e-6:
        return 0
    v1, v2 = v1 / np.linalg.norm(v1), v2 / np.linalg.norm(v2)
    return np.arccos(np.clip(np.dot(v1, v2), -1.0, 1.0))


def baseline_pre_normalization(data, zaxis=(0, 1), xaxis=(8, 4)):
    n, c, t, v, m = data.shape
    s = np.transpose(data, [0, 4, 2, 3, 1])
    for i_s, skeleton in enumerate(s):
        if skeleton.sum() == 0:
            continue
        centre = skeleton[0][:, 1:2, :].copy()
        for i_p, person in enumerate(skeleton):
            if person.sum() == 0:
                continue
            mask = (person.sum(-1) != 0).reshape(t, v, 1)
            s[i_s, i_p] = (s[i_s, i_p] - centre) * mask
    for target, (j0, j1) in (([0, 0, 1], zaxis), ([1, 0, 0], xaxis)):
        for i_s, skeleton in enumerate(s):
            if skeleton.sum() == 0:
                continue
            vec = skeleton[0, 0, j1] - skeleton[0, 0, j0]
            if target == [1, 0, 0]:
                vec = -vec  # official: right shoulder - left shoulder (xaxis=[8, 4])
            r = _rotation(np.cross(vec, target), _angle(vec, target))
            for i_p, person in enumerate(skeleton):
                if person.sum() == 0:
                    continue
                for i_f, frame in enumerate(person):
                    if frame.sum() == 0:
                        continue
                    for i_j, joint in enumerate(frame):
                        s[i_s, i_p, i_f, i_j] = np.dot(r, joint)
    return np.transpose(s, [0, 4, 2, 3, 1])


def baseline_pipeline(files, out_file):
    fp = np.zeros((len(files), 3, 300, 25, 2), dtype=np.float32)
    for i, f in enumerate(files):
        d = baseline_read_xyz(f)
        fp[i, :, : d.shape[1]] = d
    fp = baseline_pre_normalization(fp)
    np.save(out_file, fp)
    return fp


# ---------------------------------------------------------------------------------------------
# Peak RSS of a fresh prepare process
# ---------------------------------------------------------------------------------------------
RSS_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    from skelact.data.prepare import prepare
    s = prepare("ntu60", sys.argv[1], sys.argv[2], workers=2, normalize="PreNormalize3D", progress=False)
    print(json.dumps({
        "files": s.files_found, "frames": s.frames_written, "seconds": s.seconds,
        "main_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }))
    """
)


def peak_rss(src, out):
    proc = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, str(src), str(out)], capture_output=True, text=True
    )
    if proc.returncode:
        raise RuntimeError(proc.stderr)
    return json.loads(proc.stdout)


def compare(tmp: pathlib.Path, n: int) -> dict:
    """Baseline and skelact on the same ``n`` files; checks they give the same numbers."""
    src = make_src(tmp, n)
    files = sorted(src.glob("*.skeleton"))
    t0 = time.perf_counter()
    reference = baseline_pipeline(files, tmp / f"baseline{n}.npy")
    t_base = time.perf_counter() - t0

    times = []
    for rep in range(3):
        t0 = time.perf_counter()
        summary = prepare(
            "ntu60", src, tmp / f"store{n}_{rep}", workers=2, normalize="PreNormalize3D", progress=False
        )
        times.append(time.perf_counter() - t0)
    t_ours = float(np.median(times))
    assert summary.samples_written == len(files)
    store = SkeletonStore(tmp / f"store{n}_0")  # same numbers as the baseline (files have no empty frames)
    max_diff = max(
        float(np.abs(store[i] - reference[i, :, : store.lengths[i]].transpose(1, 3, 2, 0)).max())
        for i in range(len(store))
    )
    assert max_diff < 1e-4, max_diff
    del reference
    return {
        "files": len(files),
        "baseline_seconds": round(t_base, 3),
        "baseline_files_per_s": round(len(files) / t_base, 2),
        "skelact_seconds_median_of_3": round(t_ours, 3),
        "skelact_files_per_s": round(len(files) / t_ours, 2),
        "speedup": round(t_base / t_ours, 1),
        "max_abs_difference_vs_baseline": max_diff,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=1200, help="files for the throughput comparison")
    ap.add_argument("--small-files", type=int, default=120,
                    help="a small run too, where the fixed start-up cost (worker processes) shows")
    ap.add_argument("--rss-files", type=int, default=200, help="1x file count for the RSS check (10x too)")
    args = ap.parse_args()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench_prepare_"))
    try:
        rss = {}  # first: on Linux a child's peak RSS starts from its parent's at fork (kept over exec)
        for scale in (1, 10):
            n = args.rss_files * scale
            rss[f"{scale}x"] = peak_rss(make_src(tmp, n), tmp / f"rss{n}")
        runs = [compare(tmp, n) for n in (args.files, args.small_files)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    machine = cpu_description()
    result = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": f"{machine}, Python {platform.python_version()}",
        "compiled_reader": use_compiled(),
        "runs": runs,
        "peak_rss": rss,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "prepare.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "prepare.md").write_text(report(result))
    print(report(result))


def report(r: dict) -> str:
    def row(*cells) -> str:
        return "| " + " | ".join(str(c) for c in cells) + " |"

    base = "official style: line-by-line dict reader, per-joint rotation loops, one (N,3,300,25,2) array"
    reader = "the compiled NTU reader" if r["compiled_reader"] else "the NumPy reader (no compiled one)"
    lines = [
        "# `prepare ntu60` end to end: skelact vs official-pipeline style",
        "",
        f"{r['date']}, {r['machine']}; a shared machine with other jobs running.",
        "NTU RGB+D files (the 8 shared files repeated under distinct names): parse, PreNormalize3D, write;",
        f"skelact with {reader}. Each pair of rows ran on the same files in the same process.",
        "",
        row("files", "pipeline", "seconds", "files/s", "ratio"),
        row("---", "---", "---", "---", "---"),
    ]
    for run in r["runs"]:
        lines += [
            row(run["files"], f"{base}, np.save (1 process)", f"{run['baseline_seconds']:.2f}",
                run["baseline_files_per_s"], "1.0"),
            row(run["files"], "`skelact prepare ntu60 --normalize PreNormalize3D --workers 2` (median of 3)",
                f"{run['skelact_seconds_median_of_3']:.2f}", run["skelact_files_per_s"],
                f"**{run['speedup']}x**"),
        ]
    diff = max(run["max_abs_difference_vs_baseline"] for run in r["runs"])
    lines += [
        "",
        f"Target >= 20x. Both give the same numbers (max abs difference {diff:.1e}). The small run",
        "shows the fixed cost of a `prepare` call (starting the worker pool, the manifest, fsync and",
        "checksum), which the 56,880 files of NTU RGB+D 60 amortise as the large run does.",
        "",
        "## Peak RSS of a fresh `prepare` process (2 workers)",
        "",
        row("files", "frames", "seconds", "main process peak RSS (MiB)", "worker peak RSS (MiB)"),
        row("---", "---", "---", "---", "---"),
    ]
    for scale, m in r["peak_rss"].items():
        lines.append(
            row(
                f"{m['files']} ({scale})",
                m["frames"],
                f"{m['seconds']:.1f}",
                f"{m['main_peak_rss_mib']:.0f}",
                f"{m['worker_peak_rss_mib']:.0f}",
            )
        )
    lines += [
        "",
        "Memory does not grow with the number of files: frames are streamed to `data.bin`; only the",
        "per-sample index rows (a few dozen bytes each) accumulate.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
