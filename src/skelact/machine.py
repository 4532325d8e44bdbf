"""What machine this process runs on: CPU, GPU, torch and Python versions.

One probe for every record that names its machine: ``skelact train``'s ``metrics.json``
(``"hardware"``) and the reproduction report's header and unit records
(:mod:`skelact.repro.provenance`).
"""

from __future__ import annotations

import os
import platform
from typing import Any

import torch

__all__ = ["hardware"]


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
