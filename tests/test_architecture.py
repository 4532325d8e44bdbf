"""Imports run one way (issue #33 item 6), checked from the source with ``ast`` so the rule holds.

The floors of ``src/skelact`` and what each may import (besides itself and the leaves)::

    data  <-  models  <-  evaluation  <-  train  <-  repro  <-  tune
                 viz:    data, models, evaluation          (repro draws its report's figures with it)
                 deploy: data, models                      (no trainer: exports and streams without Lightning)
    commands (commands/, cli.py, __main__.py): anything, on top

* Leaves (``errors``, ``_version``, ``machine``, ``allocator``) import nothing of skelact; anyone may
  import them.
* The package itself (``skelact/__init__.py``: ``load``, ``Skeleton``, the errors, the version) is a
  facade over ``data``; only the commands may import it (anything else importing it is a cycle).
* No import cycle between floors, nor between modules (any two modules of src/skelact).
* No function-local import outside ``commands/``, except optional dependencies (:data:`OPTIONAL`) and
  the lazy names listed in :data:`LAZY`, each with its reason. Dynamic imports
  (``importlib.import_module``) stay inside their own package.

Every finding names the file and line. ``test_checker_finds_planted_violations`` plants one of each
kind in a scratch tree, so the checks are known to fail when they should.
"""

from __future__ import annotations

import ast
import re
import sys
import textwrap
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"

#: What each floor may import, besides itself and the leaves. ``commands`` may import anything.
ALLOWED: dict[str, frozenset[str]] = {
    "data": frozenset(),
    "models": frozenset({"data"}),
    "evaluation": frozenset({"data", "models"}),
    "train": frozenset({"data", "models", "evaluation"}),
    "viz": frozenset({"data", "models", "evaluation"}),
    "deploy": frozenset({"data", "models"}),
    "repro": frozenset({"data", "models", "evaluation", "train", "viz"}),
    "tune": frozenset({"data", "models", "evaluation", "train", "repro"}),  # sweeps over repro's units
    "package": frozenset({"data"}),  # skelact/__init__.py
}
COMMANDS = "commands"
#: Top-level modules anyone may import; they import nothing of skelact.
LEAVES = frozenset({"errors", "_version", "machine", "allocator"})
#: Top-level modules that belong to the command layer.
COMMAND_MODULES = frozenset({"cli", "__main__"})

#: Optional dependencies: imported inside the function that needs them, so that skelact works
#: without them. Module name (or prefix) -> (the pyproject.toml extra that installs it, or None; why).
OPTIONAL: dict[str, tuple[str | None, str]] = {
    "onnx": ("export", "ONNX export and running an exported model"),
    "onnxruntime": ("export", "running an exported ONNX model"),
    "onnxscript": ("export", "PyTorch's ONNX exporter needs it"),
    "ray": ("cluster", "skelact reproduce --ray"),
    "tensorboard": (None, "no dependency of skelact (nor of Lightning): its logger is added when installed"),
    "torch.export._patches": (
        None,
        "private PyTorch module (PyTorch >= 2.9; skelact needs >= 2.4), guarded by ImportError: "
        "RNN export with a symbolic sequence length where available",
    ),
}

#: Lazy names kept function-local on purpose: (file, imported module) -> why.
LAZY: dict[tuple[str, str], str] = {
    ("src/skelact/data/__init__.py", "skelact.data.dataset"): (
        "PEP 562 __getattr__: SkeletonDataset needs torch; skelact.data (readers, layouts, the store, "
        "skelact prepare) stays importable without it"
    ),
    ("src/skelact/repro/__init__.py", "skelact.repro.runner"): (
        "PEP 562 __getattr__: reproduce() needs Lightning; the CLI parser imports repro.targets and "
        "must build without it (tests/deploy/test_no_lightning.py)"
    ),
}

#: Files exempt from the function-local import rule while they were being fixed: repro's were the
#: last, emptied by issue #33 item 4 (slimming skelact.repro). Keep it empty.
PENDING_REPRO: frozenset[str] = frozenset()


# ---------------------------------------------------------------------------------------------
# Reading the source
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Import:
    file: str  # relative to the repository (or scratch) root, e.g. "src/skelact/data/io.py"
    line: int
    module: str  # the importing module, e.g. "skelact.data.io"
    target: str  # the imported module, e.g. "skelact.data.formats" or "torch"
    function: str | None  # the enclosing function, None at module level (class bodies included)
    dynamic: bool = False  # importlib.import_module(...)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def source_files(src: Path) -> list[Path]:
    return sorted((src / "skelact").rglob("*.py"))


class _Collector(ast.NodeVisitor):
    def __init__(self, file: str, module: str, package: str, modules: set[str]):
        self.file, self.module, self.package, self.modules = file, module, package, modules
        self.functions: list[str] = []
        self.found: list[Import] = []

    def _add(self, node: ast.AST, target: str, dynamic: bool = False) -> None:
        function = self.functions[-1] if self.functions else None
        self.found.append(Import(self.file, node.lineno, self.module, target, function, dynamic))

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self.functions.append(getattr(node, "name", "<lambda>"))
        self.generic_visit(node)
        self.functions.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            parts = self.package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1])
            source = f"{base}.{node.module}" if node.module else base
        else:
            source = node.module or ""
        if source == "__future__":
            return
        for alias in node.names:  # `from pkg import submodule` imports the submodule
            sub = f"{source}.{alias.name}"
            self._add(node, sub if sub in self.modules else source)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name == "import_module" and node.args:
            self._add(node, self._dynamic_target(node.args[0]), dynamic=True)
        self.generic_visit(node)

    def _dynamic_target(self, arg: ast.expr) -> str:
        """The module an import_module call reaches, as far as its constant prefix tells:
        ``f"{__name__}.x"``, ``f"{__package__}.x"`` and ``".x"`` stay in the caller's package."""
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            text = arg.value  # the whole name
        elif isinstance(arg, ast.JoinedStr):
            known = {"__name__": self.module, "__package__": self.package}
            prefix = ""  # the name up to the first value only known at run time
            for part in arg.values:
                if isinstance(part, ast.Constant):
                    prefix += str(part.value)
                elif isinstance(part.value, ast.Name) and part.value.id in known and not prefix:
                    prefix = known[part.value.id]
                else:
                    break
            # f"skelact.commands.{verb}" -> skelact.commands; f"skelact.comm{x}" -> skelact
            text = prefix[:-1] if prefix.endswith(".") else prefix.rpartition(".")[0]
        else:
            text = ""
        if not text:
            return "<unknown>"
        if text.startswith("."):
            return self.package
        while text not in self.modules and "." in text:  # f"{__package__}.formats.{name}"
            text = text.rpartition(".")[0]
        return text


def collect(src: Path) -> list[Import]:
    files = source_files(src)
    modules = {module_name(p, src) for p in files}
    out: list[Import] = []
    for path in files:
        module = module_name(path, src)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        rel = path.relative_to(src.parent).as_posix()
        collector = _Collector(rel, module, package, modules)
        collector.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        out += collector.found
    return out


def floor(module: str) -> str:
    """The floor of a skelact module: ``data``, ``models``, ..., ``commands``, a leaf's own name, or
    ``package`` for skelact/__init__.py."""
    parts = module.split(".")
    if parts == ["skelact"]:
        return "package"
    top = parts[1]
    if top == COMMANDS or top in COMMAND_MODULES:
        return COMMANDS
    if top in LEAVES or top in ALLOWED:
        return top
    raise AssertionError(f"{module}: a new top-level module of skelact; give it a floor in {__file__}")


def _internal(imp: Import) -> bool:
    return imp.target == "skelact" or imp.target.startswith("skelact.")


# ---------------------------------------------------------------------------------------------
# The rules
# ---------------------------------------------------------------------------------------------
def direction_violations(imports: list[Import]) -> list[str]:
    found = []
    for imp in imports:
        if not _internal(imp):
            continue
        if imp.target == "<unknown>":
            found.append(f"{imp.where}: dynamic import whose module cannot be read from the source")
            continue
        src, dst = floor(imp.module), floor(imp.target)
        if src == dst or src == COMMANDS:
            continue
        if src in LEAVES:
            found.append(f"{imp.where}: the leaf {src} imports {imp.target} (leaves import no skelact)")
        elif dst not in LEAVES and dst not in ALLOWED[src]:
            may = ", ".join(sorted(ALLOWED[src])) or "nothing"
            found.append(
                f"{imp.where}: {src} imports {dst} ({imp.target}); {src} may import {may} (and the leaves)"
            )
    return found


def _cycles(edges: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Strongly connected components with more than one node, or a node with an edge to itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges.get(v, {}):
                out.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for v in sorted(edges):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return out


def _describe(component: list[str], edges: dict[str, dict[str, list[str]]], what: str) -> str:
    members = set(component)
    lines = [
        f"  {a} -> {b}: {', '.join(sorted(set(wheres)))}"
        for a in component
        for b, wheres in sorted(edges.get(a, {}).items())
        if b in members
    ]
    return f"import cycle between {what} {', '.join(component)}:\n" + "\n".join(lines)


def cycle_violations(imports: list[Import]) -> list[str]:
    modules: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    floors: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for imp in imports:
        if not _internal(imp) or imp.target == "<unknown>":
            continue
        if imp.target != imp.module:
            modules[imp.module][imp.target].append(imp.where)
        a, b = floor(imp.module), floor(imp.target)
        if a != b:
            floors[a][b].append(imp.where)
    return [_describe(c, floors, "floors") for c in _cycles(floors)] + [
        _describe(c, modules, "modules") for c in _cycles(modules)
    ]


def _optional(target: str) -> bool:
    return any(target == name or target.startswith(name + ".") for name in OPTIONAL)


def local_import_violations(imports: list[Import], pending: frozenset[str] = PENDING_REPRO) -> list[str]:
    found = []
    for imp in imports:
        if imp.function is None or imp.dynamic or floor(imp.module) == COMMANDS:
            continue
        if _optional(imp.target) or (imp.file, imp.target) in LAZY or imp.file in pending:
            continue
        found.append(
            f"{imp.where}: function-local import of {imp.target} in {imp.function}() "
            "(import it at module level; optional dependencies go in OPTIONAL, lazy names in LAZY)"
        )
    return found


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def imports() -> list[Import]:
    return collect(SRC)


def test_the_floors_themselves_form_no_cycle():
    edges = {a: {b: ["ALLOWED"] for b in may} for a, may in ALLOWED.items()}
    assert not _cycles(edges)
    assert not LEAVES & set(ALLOWED) and not COMMAND_MODULES & set(ALLOWED)


def test_every_module_has_a_floor(imports):
    for imp in imports:
        floor(imp.module)


def test_imports_go_down_the_floors_only(imports):
    found = direction_violations(imports)
    assert not found, "imports against the floors:\n" + "\n".join(found)


def test_no_import_cycles(imports):
    found = cycle_violations(imports)
    assert not found, "\n".join(found)


def test_no_function_local_imports_outside_commands(imports):
    found = local_import_violations(imports)
    assert not found, "function-local imports:\n" + "\n".join(found)


def test_exemptions_are_still_needed(imports):
    """A LAZY entry nothing uses any more must go, so the list stays the true exceptions.
    (PENDING_REPRO shrinks as issue #33 item 4 lands, file by file, and then goes.)"""
    local = [i for i in imports if i.function is not None and not i.dynamic]
    stale_lazy = [key for key in LAZY if not any((i.file, i.target) == key for i in local)]
    assert not stale_lazy, f"LAZY entries without such an import: {stale_lazy}"
    assert all(f.startswith("src/skelact/repro/") for f in PENDING_REPRO)


def test_optional_dependencies_are_optional():
    """What OPTIONAL lets stay function-local is no required dependency of skelact."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]

    def names(requirements: list[str]) -> set[str]:
        return {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower() for r in requirements}

    required = names(project["dependencies"])
    for module, (extra, _) in OPTIONAL.items():
        top = module.split(".")[0]
        if top == "torch":
            continue  # a private module only newer PyTorch versions have (see its reason)
        assert top not in required, f"{module} is a required dependency: import it at module level"
        if extra is not None:
            extra_names = names(project["optional-dependencies"][extra])
            assert top in extra_names, f"{module} is not in the extra {extra!r}"


PLANTED = {
    "skelact/__init__.py": "from .data import thing\n",
    "skelact/errors.py": "",
    "skelact/data/__init__.py": "thing = 1\n",
    "skelact/data/a.py": """
        from . import b
        from ..models import net  # line 2: data climbs to models
    """,
    "skelact/data/b.py": """
        from .a import something  # line 1: a <-> b, a cycle inside data
    """,
    "skelact/models/__init__.py": "",
    "skelact/models/net.py": """
        from ..errors import SkeletonFormatError


        def build():
            import numpy as np  # line 5: function-local, not optional
            import onnx  # optional: allowed

            return np, onnx
    """,
    "skelact/evaluation/__init__.py": "",
    "skelact/evaluation/m.py": """
        import importlib

        def load():
            return importlib.import_module("skelact.train.runner")  # line 4: evaluation climbs to train
    """,
    "skelact/train/__init__.py": "",
    "skelact/train/runner.py": "",
    "skelact/commands/__init__.py": "",
    "skelact/commands/x.py": """
        def run():
            from ..train import runner  # commands may import anything, inside functions too

            return runner
    """,
}


def test_checker_finds_planted_violations(tmp_path):
    """One violation of each kind in a scratch tree: each is found, with its file and line."""
    for name, text in PLANTED.items():
        path = tmp_path / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    found = collect(tmp_path / "src")

    direction = direction_violations(found)
    assert any(v.startswith("src/skelact/data/a.py:2: data imports models") for v in direction), direction
    assert any(v.startswith("src/skelact/evaluation/m.py:4: evaluation imports train") for v in direction)
    assert len(direction) == 2, direction

    cycles = cycle_violations(found)
    assert len(cycles) == 1 and "skelact.data.a, skelact.data.b" in cycles[0], cycles
    assert "src/skelact/data/a.py:1" in cycles[0] and "src/skelact/data/b.py:1" in cycles[0]

    local = local_import_violations(found, pending=frozenset())
    assert local == [
        "src/skelact/models/net.py:5: function-local import of numpy in build() (import it at module level; "
        "optional dependencies go in OPTIONAL, lazy names in LAZY)"
    ], local
