"""What this process runs on: the machine (CPU, GPU, torch and Python versions) and the code (its
git commit).

One probe for every record that names them: ``skelact train``'s ``metrics.json`` (``"hardware"``,
``"code"``) and the reproduction report's header and unit records (:mod:`skelact.repro.provenance`).
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import torch

__all__ = ["code_version", "hardware"]

_PACKAGE_DIR = Path(__file__).resolve().parent


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware() -> dict[str, Any]:
    """CPU model and cores, GPU, torch and Python versions of this machine."""
    out: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    if torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(0)
    return out


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(_PACKAGE_DIR), *args], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@functools.lru_cache(maxsize=1)
def code_version() -> str | None:
    """The git commit of the skelact source that runs (``git describe --always --dirty``), or None.

    Only for a package imported from a git checkout that tracks it (an editable install of a clone):
    an installed copy that merely lies inside some repository (a virtual environment in a clone)
    has no commit of its own and gives None. ``-dirty`` marks uncommitted changes to tracked files.
    Cached for the process: :func:`skelact.repro.reproduce` asks at its start, so units record the
    commit of the code the process loaded even if the checkout moves on while they train.
    """
    if _git("ls-files", "--error-unmatch", "__init__.py") is None:
        return None
    return _git("describe", "--always", "--dirty", "--abbrev=12")
