"""``skelact.allocator.keep_freed_memory``: after it, memory a step frees is reused by the next step
instead of being faulted in again; the trainer applies it as ``train.keep_freed_memory`` says."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from skelact.errors import ConfigError
from skelact.train.config import config_to_dict, load_config

#: Twenty "training steps", each allocating and filling activations of 48, 40, 64 and 8 MiB and
#: freeing them at its end; per step: the bytes glibc holds in mmapped blocks while the step's tensors
#: live, beyond those mapped before the steps (``mallinfo2().hblkhd``), the size of its heap after
#: the step freed them (``arena``) and the step's minor page faults, as JSON. Above 32 MiB (glibc's
#: largest mmap threshold) every block is a fresh mapping by default, faulted in afresh. With
#: ``keep`` every block comes from the heap, which is never trimmed. Which steps still fault is not
#: deterministic there: glibc 2.36 (this project's machines) reuses a freed block for PyTorch's
#: 64-byte aligned requests only where it coalesced with a neighbour, and otherwise grows the heap
#: (a 64 MiB block faulted anew at step 8 or 13 in some runs).
_STEPS = """
import ctypes, json, resource, sys, torch
from skelact.allocator import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True  # a second call changes nothing and says so again
FIELDS = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()
class Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in FIELDS]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Mallinfo2
mapped_before = libc.mallinfo2().hblkhd  # mappings made before (importing torch)
mapped, heap, faults = [], [], []
for _ in range(20):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    kept = [torch.empty(mib * 2**18).fill_(1.0) for mib in (48, 40, 64, 8)]
    mapped.append(libc.mallinfo2().hblkhd - mapped_before)
    del kept
    heap.append(libc.mallinfo2().arena)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps(dict(mapped=mapped, heap=heap, faults=faults)))
"""

LARGE = (48 + 40 + 64) * 2**20  # bytes of one step's blocks above 32 MiB
PAGES = LARGE // 4096


def _steps(mode: str) -> dict[str, list[int]]:
    done = subprocess.run([sys.executable, "-c", _STEPS, mode], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc: Linux")
def test_freed_memory_is_reused_instead_of_faulted_in_again():
    default, keep = _steps("default"), _steps("keep")
    # glibc's defaults: the large blocks are mappings of their own, and every step faults them in afresh
    assert all(m >= LARGE for m in default["mapped"])
    assert all(f >= PAGES * 0.9 for f in default["faults"][10:])
    # kept: no block is a mapping of its own, the heap keeps what the steps freed, and the last ten
    # steps fault in less than a tenth of what they fault in by default
    assert keep["mapped"] == [0] * 20 and all(h >= LARGE for h in keep["heap"])
    assert sum(keep["faults"][10:]) < sum(default["faults"][10:]) / 10


@pytest.mark.parametrize("keep", [True, False])
def test_the_trainer_applies_it_as_the_config_says(florence_store, monkeypatch, keep):
    from skelact.train import runner
    from skelact.train.inputs import build_experiment_model, open_store
    from skelact.train.module import make_module

    calls = []
    monkeypatch.setattr(runner, "keep_freed_memory", lambda: calls.append(1) or True)
    overrides = [f"data.store={florence_store}", "train.progress=false", f"train.keep_freed_memory={keep}"]
    cfg = load_config("tiny/arrn_lstm", overrides)
    assert cfg.train.keep_freed_memory is keep
    _, spec = build_experiment_model(cfg, open_store(cfg))
    runner.build_trainer(cfg, None, has_val=False, module=make_module(config_to_dict(cfg), spec.to_dict()))
    assert calls == ([1] if keep else [])


def test_it_is_off_by_default_and_validated(florence_store):
    cfg = load_config("tiny/arrn_lstm", [f"data.store={florence_store}"])
    assert cfg.train.keep_freed_memory is False and config_to_dict(cfg)["train"]["keep_freed_memory"] is False
    with pytest.raises(ConfigError, match=r"train\.keep_freed_memory: expected bool"):
        load_config("tiny/arrn_lstm", [f"data.store={florence_store}", "train.keep_freed_memory=1"])
