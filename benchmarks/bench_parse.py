"""NTU .skeleton parse throughput: ``skelact.load`` against a line-by-line reader, same process.

The baseline (:func:`read_xyz_baseline`) is written here in the style of the official AS-GCN /
2s-AGCN ``read_skeleton_filter`` + ``read_xyz``: a ``readline`` loop that splits every line and
converts every value with ``float`` into per-joint dicts, then copies x, y, z of up to 4 bodies
into an array and keeps the 2 with the most motion energy (``get_nonzero_std``). ``skelact.load``
is called with its defaults, which make the same selection (the outputs are checked equal).

Both readers parse every shared NTU file (``../shared/data/ntu_rgbd``) many times over, in
rounds (all files with one reader, then all files with the other). Timings on a shared 2-core
machine are noisy, so each file's time is the fastest of its rounds (other jobs only ever add
time), measured twice: wall clock (``time.perf_counter``) and the thread's CPU time
(``time.thread_time``, which leaves out the time other processes hold the core).
files/s = number of files / sum of the per-file times.

Run: ``.venv/bin/python benchmarks/bench_parse.py [--repeats N]``; results go to
``benchmarks/results/parse.md``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import pathlib
import platform
import time

import numpy as np
from machine import cpu_description

import skelact
from skelact.data.formats.ntu import NO_C_ENV, use_compiled

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ntu_rgbd"
RESULTS = ROOT / "benchmarks" / "results" / "parse.md"


# --- the baseline: official-style line-by-line reader ------------------------------------------


def read_skeleton_filter(path):
    with open(path) as f:
        sequence = {"numFrame": int(f.readline()), "frameInfo": []}
        for _ in range(sequence["numFrame"]):
            frame = {"numBody": int(f.readline()), "bodyInfo": []}
            for _ in range(frame["numBody"]):
                keys = ["bodyID", "clipedEdges", "handLeftConfidence", "handLeftState",
                        "handRightConfidence", "handRightState", "isResticted", "leanX", "leanY",
                        "trackingState"]
                body = {k: float(v) for k, v in zip(keys, f.readline().split(), strict=False)}
                body["numJoint"] = int(f.readline())
                body["jointInfo"] = []
                for _ in range(body["numJoint"]):
                    keys = ["x", "y", "z", "depthX", "depthY", "colorX", "colorY", "orientationW",
                            "orientationX", "orientationY", "orientationZ", "trackingState"]
                    values = f.readline().split()
                    body["jointInfo"].append({k: float(v) for k, v in zip(keys, values, strict=False)})
                frame["bodyInfo"].append(body)
            sequence["frameInfo"].append(frame)
    return sequence


def get_nonzero_std(s):  # (T, V, C)
    index = s.sum(-1).sum(-1) != 0
    s = s[index]
    if len(s) != 0:
        return s[:, :, 0].std() + s[:, :, 1].std() + s[:, :, 2].std()
    return 0


def read_xyz_baseline(path, max_body=4, num_joint=25, max_body_true=2):
    """(C, T, V, M) float64, as the official code returns it."""
    info = read_skeleton_filter(path)
    data = np.zeros((max_body, info["numFrame"], num_joint, 3))
    for n, frame in enumerate(info["frameInfo"]):
        for m, body in enumerate(frame["bodyInfo"]):
            for j, v in enumerate(body["jointInfo"]):
                if m < max_body and j < num_joint:
                    data[m, n, j, :] = [v["x"], v["y"], v["z"]]
    energy = np.array([get_nonzero_std(x) for x in data])
    index = energy.argsort()[::-1][0:max_body_true]
    return data[index].transpose(3, 1, 2, 0)


def load_numpy(path):
    """``skelact.load`` with the compiled reader switched off (the vectorised NumPy reader)."""
    os.environ[NO_C_ENV] = "1"
    try:
        return skelact.load(path)
    finally:
        del os.environ[NO_C_ENV]


# --- measurement ---------------------------------------------------------------------------------


def measure(files, repeats):
    """Per file and reader, the fastest wall and CPU time over ``repeats`` rounds.

    Each round reads all files with one reader, then all files with the other, so neither
    reader runs in the cache state the other leaves after every single file.
    """
    readers = {"baseline": read_xyz_baseline, "skelact": skelact.load, "numpy": load_numpy}
    best = {(name, f, clock): np.inf for name in readers for f in files for clock in ("wall", "cpu")}
    for _ in range(repeats):
        for name, read in readers.items():
            for f in files:
                w0, c0 = time.perf_counter(), time.thread_time()
                read(f)
                c1, w1 = time.thread_time(), time.perf_counter()
                best[name, f, "wall"] = min(best[name, f, "wall"], w1 - w0)
                best[name, f, "cpu"] = min(best[name, f, "cpu"], c1 - c0)
    return best


def stages(files, repeats):
    """Where skelact's time goes: fastest CPU time per stage, summed over the files (ms)."""
    from skelact.data.formats import _text, ntu

    best = {}
    if use_compiled():
        for _ in range(repeats):
            for f in files:
                c0 = time.thread_time()
                raw = f.read_bytes()
                c1 = time.thread_time()
                ntu._cntu.parse(raw, bytes([0, 1, 2]), 4)
                c2 = time.thread_time()
                for stage, t in (("read", c1 - c0), ("compiled reader: walk + parse x, y, z", c2 - c1)):
                    best[stage, f] = min(best.get((stage, f), np.inf), t)
    for _ in range(repeats):
        for f in files:
            c0 = time.thread_time()
            raw = f.read_bytes()
            c1 = time.thread_time()
            tok = _text.tokenize(raw, str(f))
            c2 = time.thread_time()
            _, _, _, body_tok = ntu._structure(tok)
            c3 = time.thread_time()
            offsets = (11 + 12 * np.arange(25)[:, None] + np.arange(3)).ravel()
            _text.parse_floats(tok, body_tok[:, None] + offsets)
            c4 = time.thread_time()
            for stage, t in (("NumPy reader: tokenize", c2 - c1), ("NumPy reader: structure", c3 - c2),
                             ("NumPy reader: parse x, y, z", c4 - c3)):
                best[stage, f] = min(best.get((stage, f), np.inf), t)
    return {stage: sum(best[stage, f] for f in files) * 1e3 for stage, _ in best}


def check_equal(files):
    for f in files:
        ours = skelact.load(f).data
        ref = read_xyz_baseline(f).transpose(1, 3, 2, 0).astype(np.float32)  # (T, M, V, C)
        if ours.shape != ref.shape or not np.array_equal(ours, ref):
            raise SystemExit(f"outputs differ for {f.name}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    files = sorted(DATA.glob("*.skeleton"))
    if not files:
        raise SystemExit(f"no .skeleton files in {DATA}")
    if not use_compiled():
        print("warning: the compiled reader is not built (pip install -e .); measuring the NumPy reader")
    check_equal(files)
    load_before = os.getloadavg()
    best = measure(files, args.repeats)
    parts = stages(files, max(args.repeats // 2, 1))
    load_after = os.getloadavg()

    rows = []
    totals = {}
    total_ms = sum(best["skelact", f, "cpu"] for f in files) * 1e3
    numpy_ms = sum(best["numpy", f, "cpu"] for f in files) * 1e3
    for clock in ("wall", "cpu"):
        base = sum(best["baseline", f, clock] for f in files)
        ours = sum(best["skelact", f, clock] for f in files)
        numpy_reader = sum(best["numpy", f, clock] for f in files)
        totals[clock] = (len(files) / base, len(files) / ours, base / ours, len(files) / numpy_reader,
                         base / numpy_reader)
    for f in files:
        b, s = best["baseline", f, "wall"], best["skelact", f, "wall"]
        bc, sc = best["baseline", f, "cpu"], best["skelact", f, "cpu"]
        rows.append(f"| {f.name} | {f.stat().st_size // 1024} | {b * 1e3:.2f} | {s * 1e3:.2f} | {b / s:.1f} "
                    f"| {bc * 1e3:.2f} | {sc * 1e3:.2f} | {bc / sc:.1f} |")

    compiled = "built" if use_compiled() else "NOT built: these numbers are the NumPy reader's"
    text = f"""# NTU .skeleton parse throughput

`skelact.load` (defaults: x, y, z; up to 4 bodies read, the 2 with the most motion energy kept)
against a line-by-line reader in the style of the official AS-GCN / 2s-AGCN `read_xyz`
(`benchmarks/bench_parse.py`), same process, same {len(files)} shared NTU files, {args.repeats}
rounds (each reader reads all files in turn); each file's time is its fastest round. Outputs checked
equal.

| clock | baseline files/s | skelact files/s | ratio | NumPy reader files/s | ratio |
|---|---|---|---|---|---|
| wall (`perf_counter`) | {totals["wall"][0]:.0f} | {totals["wall"][1]:.0f} | **{totals["wall"][2]:.1f}x** \
| {totals["wall"][3]:.0f} | {totals["wall"][4]:.1f}x |
| thread CPU (`thread_time`) | {totals["cpu"][0]:.0f} | {totals["cpu"][1]:.0f} | **{totals["cpu"][2]:.1f}x** \
| {totals["cpu"][3]:.0f} | {totals["cpu"][4]:.1f}x |

"skelact" is `skelact.load` as installed: the compiled reader ({compiled}) for regular files,
the vectorised NumPy reader for the rest and for every error; "NumPy reader" is `skelact.load`
with `SKELACT_NO_C=1` (the fallback alone, for a build without a C compiler).

Per file (ms):

| file | KiB | baseline wall | skelact wall | ratio | baseline CPU | skelact CPU | ratio |
|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Where the time goes (fastest CPU time per stage, summed over the {len(files)} files; the rest of
`skelact.load` is body selection, assembling the output and metadata):

| stage | ms (all files) |
|---|---|
{chr(10).join(f"| {k} | {v:.2f} |" for k, v in parts.items())}
| `skelact.load` total | {total_ms:.2f} |
| `skelact.load` total, NumPy reader | {numpy_ms:.2f} |

Machine: {cpu_description()}, Python
{platform.python_version()}, NumPy {np.__version__}; load average {load_before[0]:.1f} before,
{load_after[0]:.1f} after (a shared machine: other jobs were running). Run on
{datetime.datetime.now().strftime("%Y-%m-%d %H:%M")}.
"""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
