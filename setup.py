"""Build hook for the one optional C extension; all metadata lives in pyproject.toml.

``skelact.data.formats._cntu`` is the compiled fast path of the NTU RGB+D reader. It is optional:
where no C compiler is available the build goes on without it and the NumPy reader is used.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "skelact.data.formats._cntu",
            sources=["src/skelact/data/formats/_cntu.c"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
