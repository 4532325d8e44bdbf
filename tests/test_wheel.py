"""`python -m build` makes an sdist and a wheel that hold the package, py.typed, the bundled sample,
the configs and the reproduction's data and templates; the wheel installed into a fresh virtual
environment works from outside the source tree.

The build runs on a copy of the project (nothing is written into the checkout) without build
isolation (no network). The fresh environment is a plain ``venv`` of the base interpreter: the wheel
is installed into it with ``--no-deps`` and the dependencies (torch, numpy, ...) are made visible by a
``.pth`` line naming the test interpreter's site-packages. Path lines in a ``.pth`` file do not run
the ``.pth`` files of that directory, so the editable install of the checkout stays invisible; the
test checks that ``skelact`` is imported from the new environment.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile

import pytest
from prerequisites import require

REPO = pathlib.Path(__file__).resolve().parents[1]
PKG = REPO / "src" / "skelact"

pytestmark = pytest.mark.slow


def _version() -> str:
    scope: dict[str, str] = {}
    exec((PKG / "_version.py").read_text(encoding="utf-8"), scope)
    return scope["__version__"]


def _package_data() -> list[str]:
    """Files that must ship as package data, relative to src/ (as they appear in the wheel)."""
    files = ["skelact/py.typed"]
    files += [p.relative_to(PKG.parent).as_posix() for p in (PKG / "_bundled").rglob("*") if p.is_file()]
    files += [p.relative_to(PKG.parent).as_posix() for p in (PKG / "configs").rglob("*.yaml")]
    files += [p.relative_to(PKG.parent).as_posix() for p in (PKG / "repro").rglob("*.yaml")]  # repro's data
    files += [p.relative_to(PKG.parent).as_posix() for p in (PKG / "repro" / "templates").glob("*.j2")]
    return sorted(f for f in files if "__pycache__" not in f)


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)


@contextlib.contextmanager
def _shared_dir(tmp_path_factory, name: str):
    """A directory shared by all pytest-xdist workers of this run, built once under a file lock."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's root, common to the workers
    path = base / name
    with open(base / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield path
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _build(work: pathlib.Path) -> pathlib.Path:
    files = ("pyproject.toml", "setup.py", "README.md", "CHANGELOG.md", "LICENSE", "MANIFEST.in", "setup.cfg")
    for name in files:
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, work / name)
    shutil.copytree(
        REPO / "src",
        work / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "*.so"),  # built in place
        symlinks=False,
    )
    out = work / "dist"
    proc = _run(
        [sys.executable, "-m", "build", "--no-isolation", "--skip-dependency-check", "--outdir", str(out)],
        cwd=work,
    )
    assert proc.returncode == 0, f"python -m build failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return out


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> pathlib.Path:
    if importlib.util.find_spec("build") is None:
        require(False, "the 'build' package is not installed", "it is in the 'test' extra")
    with _shared_dir(tmp_path_factory, "skelact-build") as work:
        if not (work / "dist").is_dir():
            work.mkdir(exist_ok=True)
            _build(work)
    return work / "dist"


def test_wheel_and_sdist_contain_package_data(dist):
    version = _version()
    wheels = list(dist.glob("*.whl"))
    sdists = list(dist.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in dist.iterdir())
    assert wheels[0].name.startswith(f"skelact-{version}-"), f"{wheels[0].name} is not version {version}"
    with zipfile.ZipFile(wheels[0]) as z:
        names = set(z.namelist())
    wanted = ["skelact/__init__.py", "skelact/cli.py", "skelact/_version.py", *_package_data()]
    assert not [f for f in wanted if f not in names], "missing from the wheel"
    assert any(n.endswith("entry_points.txt") for n in names)
    with tarfile.open(sdists[0]) as t:
        sdist_names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    assert not [f for f in _package_data() if f"src/{f}" not in sdist_names], "missing from the sdist"
    # the compiled NTU reader: its source in the sdist, built into the wheel (a compiler is here)
    assert {"setup.py", "src/skelact/data/formats/_cntu.c"} <= sdist_names
    assert any(n.startswith("skelact/data/formats/_cntu.") and n.endswith((".so", ".pyd")) for n in names)
    # the RRN kernels: their source in the sdist; on x86-64 both builds in the wheel
    assert "src/skelact/models/arrn/kernels.cpp" in sdist_names
    if platform.machine().lower() in {"x86_64", "amd64"}:
        for isa in ("avx512", "avx2"):
            assert any(n.startswith(f"skelact/models/arrn/_kernels_{isa}.") for n in names), isa


def _make_venv(env_dir: pathlib.Path, wheel: pathlib.Path) -> None:
    proc = _run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)])
    assert proc.returncode == 0, proc.stderr
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    purelib = _run([str(env_dir / "bin" / "python"), "-c", where]).stdout.strip()
    deps = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (pathlib.Path(purelib) / "_skelact_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    proc = _run(
        [sys.executable, "-m", "pip", "--python", str(env_dir / "bin" / "python"), "install", "--no-deps",
         "--no-index", "--no-cache-dir", "--disable-pip-version-check", str(wheel)]
    )  # fmt: skip
    assert proc.returncode == 0, f"pip install of the wheel failed:\n{proc.stdout}\n{proc.stderr}"


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory) -> pathlib.Path:
    with _shared_dir(tmp_path_factory, "skelact-venv") as env_dir:
        if not (env_dir / "bin" / "skelact").is_file():
            if env_dir.exists():
                shutil.rmtree(env_dir)
            _make_venv(env_dir, next(dist.glob("*.whl")))
    return env_dir


def _env(venv_dir: pathlib.Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONNOUSERSITE"] = "1"
    env["MPLBACKEND"] = "Agg"
    return env


def _skelact(venv_dir, *args, cwd) -> subprocess.CompletedProcess:
    return _run([str(venv_dir / "bin" / "skelact"), *args], cwd=cwd, env=_env(venv_dir))


def _installed_package(venv_dir, cwd) -> pathlib.Path:
    code = "import skelact, pathlib; print(pathlib.Path(skelact.__file__).parent)"
    proc = _run([str(venv_dir / "bin" / "python"), "-c", code], cwd=cwd, env=_env(venv_dir))
    assert proc.returncode == 0, proc.stderr
    return pathlib.Path(proc.stdout.strip())


def test_installed_wheel_runs_outside_the_source_tree(venv, tmp_path):
    pkg = _installed_package(venv, tmp_path)
    assert venv.resolve() in pkg.resolve().parents, f"skelact imported from {pkg}, not from the fresh venv"
    assert (pkg / "py.typed").is_file()

    proc = _skelact(venv, "--version", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"skelact {_version()}"

    proc = _skelact(venv, "--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr

    # the compiled NTU reader was built into the wheel and is used by the installed package
    code = "from skelact.data.formats import ntu; print(ntu.use_compiled(), ntu._cntu.__file__)"
    proc = _run([str(venv / "bin" / "python"), "-c", code], cwd=tmp_path, env=_env(venv))
    assert proc.returncode == 0, proc.stderr
    used, path = proc.stdout.split()
    assert used == "True" and venv.resolve() in pathlib.Path(path).resolve().parents

    # the RRN kernels too, where this CPU runs one of the builds
    code = "from skelact.models.arrn import native; print(native.variant(), native.runnable_variants())"
    proc = _run([str(venv / "bin" / "python"), "-c", code], cwd=tmp_path, env=_env(venv))
    assert proc.returncode == 0, proc.stderr
    from skelact.models.arrn import native

    runnable = native.runnable_variants()
    assert proc.stdout.split(maxsplit=1)[0] == (runnable[0] if runnable else "None")


def test_installed_demo_help(venv, tmp_path):
    proc = _skelact(venv, "demo", "--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "usage: skelact demo" in proc.stdout


def _bundled_targets(bundled: pathlib.Path) -> list[pathlib.Path]:
    """What `skelact info` can be pointed at: prepared stores (a manifest.json) and raw skeleton files."""
    stores = sorted(p.parent for p in bundled.rglob("manifest.json"))
    raw = sorted(
        p
        for p in bundled.rglob("*")
        if p.is_file()
        and p.name.lower().endswith((".skeleton", ".json", ".txt", ".txt.gz"))
        and not any(s in p.parents for s in stores)
        and p.name != "manifest.json"
        and not p.name.upper().startswith(("PROVENANCE", "README", "LICENSE"))
        and "label" not in p.name.lower()
    )
    return stores + raw


def test_installed_info_on_bundled_sample(venv, tmp_path):
    pkg = _installed_package(venv, tmp_path)
    targets = _bundled_targets(pkg / "_bundled")
    assert targets, f"the installed package bundles no sample ({pkg / '_bundled'})"
    one_per_folder = {t.parent: t for t in reversed(targets)}.values()  # one sample of each dataset
    for target in one_per_folder:
        proc = _skelact(venv, "info", str(target), cwd=tmp_path)
        assert proc.returncode == 0, f"skelact info {target} failed:\n{proc.stdout}\n{proc.stderr}"
        assert proc.stdout.strip(), f"skelact info {target} printed nothing"
