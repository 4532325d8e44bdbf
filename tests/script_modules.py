"""The repository's scripts (``benchmarks/``, ``scripts/``: files, not a package) imported as modules
for their tests."""

from __future__ import annotations

import importlib.util
import pathlib
import sys
from types import ModuleType


def load_script(path: pathlib.Path) -> ModuleType:
    """``path`` executed as a module named after its file, as when it runs: its folder is on
    ``sys.path`` (its sibling helpers import) and it is in ``sys.modules`` while it executes; both
    are undone afterwards, so a test's copy never shadows another's."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
        return module
    finally:
        del sys.modules[spec.name]
        sys.path.remove(str(path.parent))
