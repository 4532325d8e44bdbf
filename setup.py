"""Build hook for the optional compiled code; all metadata lives in pyproject.toml.

* ``skelact.data.formats._cntu``: the compiled fast path of the NTU RGB+D reader.
* ``skelact.models.arrn._kernels_avx512`` and ``_kernels_avx2`` (x86-64 only): the fused CPU kernels
  of ARRN-LSTM's recurrent relational network (``kernels.cpp``), compiled once for each instruction
  set; at run time :mod:`skelact.models.arrn.native` loads the one the CPU runs, through ``ctypes``.

All are optional: where no compiler is available, or it cannot build one of them, the build goes
on without it and the NumPy reader or the PyTorch ops are used instead.
"""

import platform

from setuptools import Extension, setup

KERNELS = "src/skelact/models/arrn/kernels.cpp"
KERNEL_FLAGS = {"avx512": ["-mavx512f", "-mavx2", "-mfma"], "avx2": ["-mavx2", "-mfma"]}

extensions = [
    Extension(
        "skelact.data.formats._cntu",
        sources=["src/skelact/data/formats/_cntu.c"],
        extra_compile_args=["-O3"],
        optional=True,
    )
]
if platform.machine().lower() in {"x86_64", "amd64"}:
    extensions += [
        Extension(
            f"skelact.models.arrn._kernels_{name}",
            sources=[KERNELS],
            language="c++",
            extra_compile_args=["-O3", "-std=c++17", "-pthread", "-fvisibility=hidden",
                                "-fvisibility-inlines-hidden", *flags],
            # each build binds its own C++ library instantiations, whatever else the process loaded
            extra_link_args=["-pthread", "-Wl,-Bsymbolic"],
            optional=True,
        )
        for name, flags in KERNEL_FLAGS.items()
    ]

setup(ext_modules=extensions)
