"""The machine a benchmark ran on, in one line for its results file.

Sessions of this project have run on different CPUs under the same name (``x86_64, 2 cores``): an
AMD EPYC with AVX2 and an Intel Xeon with AVX-512 and AMX, whose sgemm rate is twice the other's.
A ratio against sgemm, or against another implementation, depends on which, so every results file
names the CPU model, its widest vector extension and its per-core L2 cache.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

#: Vector extensions named in the description, widest first: the first the CPU has is named (and
#: AMX beside AVX-512, as PyTorch's oneDNN uses it for bf16 products).
EXTENSIONS = (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"))


def cpu_description(cpuinfo: str | None = None, cores: int | None = None) -> str:
    """``"<model name> (<extensions>, L2 <size> per core), <n> cores"`` from ``/proc/cpuinfo``.

    Off Linux (no ``/proc/cpuinfo``) the description is ``platform.machine()`` and the core count.
    """
    cores = os.cpu_count() if cores is None else cores
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text() if path.exists() else ""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() not in fields:  # the first processor's fields
            fields[key.strip()] = value.strip()
    model = fields.get("model name")
    if not model:
        return f"{platform.machine()}, {cores} cores"
    flags = set(fields.get("flags", "").split())
    parts = [next((name for flag, name in EXTENSIONS if flag in flags), "no AVX")]
    if "amx_tile" in flags:
        parts[0] += " + AMX"
    cache = l2_per_core()
    if cache:
        parts.append(f"L2 {cache} per core")
    return f"{model} ({', '.join(parts)}), {cores} cores"


def l2_per_core(root: Path = Path("/sys/devices/system/cpu/cpu0/cache")) -> str | None:
    """The size of cpu0's level-2 cache as sysfs writes it (``"2048K"``), or ``None`` if unknown."""
    for index in sorted(root.glob("index*")) if root.exists() else []:
        try:
            if (index / "level").read_text().strip() == "2":
                return (index / "size").read_text().strip()
        except OSError:
            return None
    return None


if __name__ == "__main__":
    print(cpu_description())
