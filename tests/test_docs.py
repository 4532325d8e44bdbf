"""The documentation site: strict MkDocs build, generated model zoo, API reference coverage, changelog,
and the examples in docstrings (run as doctests)."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest
from prerequisites import require

REPO = pathlib.Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
SRC = REPO / "src"


def _hooks():
    spec = importlib.util.spec_from_file_location("skelact_docs_hooks", DOCS / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# A small reproduction file in the schema `skelact reproduce` writes. The numbers are the fixture's
# own (they appear nowhere in docs/), so finding them on the built page proves they were generated.
ZOO_FIXTURE = [
    {
        "dataset": "msr3d",
        "model": "arrn_lstm",
        "protocol": "msr3d-as1",
        "variant": "two_stream",
        "folds": {"as1": 91.234},
        "mean": 91.234,
        "std": 1.567,
        "seeds": [0, 1, 2],
        "config": "arrn_lstm/msr3d_as1",
        "command": "skelact reproduce msr3d --seeds 0 1 2",
        "hardware": "2-core CPU (fixture)",
        "wall_time_s": 4321.0,
        "paper": 95.0,
    },
    {
        "dataset": "florence3d",
        "model": "arrn_lstm",
        "protocol": "florence3d-loso",
        "variant": "features-8-joints",
        "folds": {"1": 88.25, "2": 92.75},
        "mean": 90.5,
        "std": None,
        "seeds": 1,
        "config": {"model": {"name": "arrn_lstm"}},
        "command": ["skelact reproduce florence3d", "skelact eval runs/x/best.ckpt"],
        "hardware": "fixture-box",
        "wall_time_s": 59,
        "paper": None,
        "note": "8 pre-normalised joints: not comparable with the paper's 15-joint data",
    },
]


def test_zoo_renders_every_number_with_its_provenance():
    hooks = _hooks()
    entries = hooks.validate_zoo(ZOO_FIXTURE)
    md = hooks.render_zoo(entries)
    # one section per dataset, in file order
    assert md.index("## msr3d") < md.index("## florence3d")
    # ours (mean ± std) beside the paper, and the difference
    assert "**91.23 ± 1.57**" in md
    assert "| 95.00 |" in md and "-3.77" in md
    # seeds, hardware, wall time, config, command, per-fold numbers
    assert "3 (0, 1, 2)" in md and "2-core CPU (fixture)" in md and "1 h 12 min" in md
    assert "`arrn_lstm/msr3d_as1`" in md
    assert "skelact reproduce msr3d --seeds 0 1 2" in md
    assert "| 1 | 88.25 |" in md and "| 2 | 92.75 |" in md
    # no paper number: a dash, no difference; the note is shown and the row marked
    assert "**90.50**" in md and "59 s" in md
    assert "not comparable" in md and "features-8-joints †" in md
    assert "skelact eval runs/x/best.ckpt" in md


def test_zoo_fractions_are_shown_in_percent():
    hooks = _hooks()
    entry = dict(ZOO_FIXTURE[0], folds={"as1": 0.5}, mean=0.5, std=0.025, paper=0.95)
    md = hooks.render_zoo(hooks.validate_zoo([entry]))
    assert "**50.00 ± 2.50**" in md and "| 95.00 |" in md and "-45.00" in md


def test_zoo_without_results_says_so(tmp_path):
    hooks = _hooks()
    assert hooks.load_zoo(tmp_path / "missing.json") is None
    assert "No results yet" in hooks.render_zoo(None)
    (tmp_path / "empty.json").write_text("[]")
    assert "no entries yet" in hooks.render_zoo(hooks.load_zoo(tmp_path / "empty.json"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mean": "high"}, "entry 0: 'mean' must be a number"),
        ({"folds": [90.0]}, "entry 0: 'folds' must map"),
        ({"seeds": "0,1"}, "entry 0: 'seeds'"),
        ({"paper": [95]}, "entry 0: 'paper'"),
        ({"command": None}, "entry 0: 'command'"),
    ],
)
def test_zoo_rejects_malformed_entries(change, message):
    hooks = _hooks()
    with pytest.raises(hooks.ZooError, match=re.escape(message)):
        hooks.validate_zoo([dict(ZOO_FIXTURE[0], **change)])
    broken = dict(ZOO_FIXTURE[0])
    del broken["command"]
    with pytest.raises(hooks.ZooError, match="entry 1: missing key 'command'"):
        hooks.validate_zoo([ZOO_FIXTURE[0], broken])


def test_repository_reproduction_file_follows_the_schema():
    hooks = _hooks()
    files = sorted((REPO / "reports").rglob("reproduction.json"))
    assert hooks.zoo_source() in files  # the zoo page shows one of the committed reports
    for path in files:
        entries = hooks.load_zoo(path)  # raises when malformed
        committed = json.loads(path.read_text(encoding="utf-8"))
        assert entries is not None and len(entries) == len(committed) > 0, path


def test_gallery_embeds_the_figures(tmp_path):
    hooks = _hooks()
    assert "No figures yet" in hooks.render_gallery(tmp_path)
    (tmp_path / "a_links.png").write_bytes(b"")
    (tmp_path / "confusion_matrix.png").write_bytes(b"")
    (tmp_path / "captions.yaml").write_text("a_links:\n  title: A-links\n  caption: Inferred links.\n")
    md = hooks.render_gallery(tmp_path)
    assert "## A-links" in md and "![A-links](gallery/a_links.png)" in md and "Inferred links." in md
    assert "## Confusion matrix" in md


def test_readme_setup_commands_are_on_the_site():
    """Getting started shows the README's set-up section itself, so the two can never disagree."""
    assert "<!-- skelact:readme-setup -->" in (DOCS / "getting-started.md").read_text(encoding="utf-8")
    section = _hooks().readme_setup()
    assert "pip install" in section and "scripts/test.sh" in section


def test_api_reference_covers_every_public_module():
    """Every public module of src/skelact is documented by a `::: module` line in docs/reference."""
    documented = set()
    for page in (DOCS / "reference").glob("*.md"):
        documented |= set(re.findall(r"^:::\s+(skelact[\w.]*)\s*$", page.read_text(encoding="utf-8"), re.M))
    missing = []
    for path in sorted((SRC / "skelact").rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(p.startswith("_") for p in parts) or parts[1:2] == ["commands"]:
            continue  # private modules; the verbs are documented by the CLI reference
        name = ".".join(parts)
        # a package is covered by its own directive or by directives for its modules
        covered = name in documented or (
            path.name == "__init__.py" and any(d.startswith(name + ".") for d in documented)
        )
        if not covered:
            missing.append(name)
    assert not missing, f"public modules without an API reference entry in docs/reference/*.md: {missing}"


def test_changelog_has_the_current_version():
    from skelact import __version__

    text = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in text
    heading = rf"^## \[{re.escape(__version__)}\] - (\d{{4}}-\d{{2}}-\d{{2}}|Unreleased)$"
    assert re.search(heading, text, re.M), f"CHANGELOG.md has no section for version {__version__}"


def test_version_comes_from_one_place():
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in pyproject
    assert 'version = { attr = "skelact._version.__version__" }' in pyproject
    assert (SRC / "skelact" / "py.typed").is_file()


@pytest.mark.slow
def test_docs_build_strict(tmp_path):
    """`mkdocs build --strict` succeeds; generated pages are filled in (zoo from a fixture file)."""
    for module in ("mkdocs", "mkdocstrings_handlers"):
        require(importlib.util.find_spec(module), f"{module} is not installed", "pip install -e '.[docs]'")
    zoo = tmp_path / "reproduction.json"
    zoo.write_text(json.dumps(ZOO_FIXTURE))
    site = tmp_path / "site"
    env = dict(os.environ, SKELACT_ZOO_JSON=str(zoo), NO_MKDOCS_2_WARNING="1", COLUMNS="100")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    assert "WARNING" not in proc.stderr, proc.stderr

    pages = {p.relative_to(site).as_posix(): p.read_text(encoding="utf-8") for p in site.rglob("*.html")}
    for name, html in pages.items():
        assert "<!-- skelact:" not in html, f"{name}: a generated section was not filled in"
    zoo_html = pages["zoo/index.html"]
    assert "91.23 ± 1.57" in zoo_html and "95.00" in zoo_html and "Entry 2: arrn_lstm" in zoo_html
    assert "No results yet" not in zoo_html
    # the API reference is rendered from docstrings
    ref = pages["reference/skelact/index.html"]
    assert 'id="skelact.load"' in ref and "SkeletonFormatError" in ref
    assert 'id="skelact.data.layouts.Layout"' in pages["reference/data/index.html"]
    # the getting-started page shows the README's commands; the changelog page includes CHANGELOG.md
    assert "scripts/test.sh" in pages["getting-started/index.html"]
    assert "Keep a Changelog" in pages["changelog/index.html"]
    # every page named in the nav was built
    for page in ("datasets", "training", "deploy", "gallery", "models", "models/asgcn", "models/arrn_lstm",
                 "reference/cli", "architecture"):  # fmt: skip
        assert f"{page}/index.html" in pages, page


def _modules_with_examples() -> list[str]:
    names = []
    for path in sorted((SRC / "skelact").rglob("*.py")):
        if ">>>" in path.read_text(encoding="utf-8"):
            rel = path.relative_to(SRC).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            names.append(".".join(parts))
    return names


@pytest.mark.parametrize("module", _modules_with_examples())
def test_docstring_examples(module, tmp_path, monkeypatch):
    """Examples in docstrings run (on the bundled sample where they read data)."""
    monkeypatch.chdir(tmp_path)
    mod = importlib.import_module(module)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(mod, module) if t.examples]
    for test in tests:
        runner.run(test, out=lambda s: None)
    result = runner.summarize(verbose=False)
    if result.failed:
        # re-run verbosely for the report
        report: list[str] = []
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        for test in tests:
            runner.run(test, out=report.append)
        pytest.fail(f"{result.failed} docstring example(s) failed in {module}:\n" + "".join(report))


def _pages_with_examples() -> list[str]:
    pages = [p for p in DOCS.rglob("*.md") if ">>> " in p.read_text(encoding="utf-8")]
    return sorted(p.relative_to(DOCS).as_posix() for p in pages)


@pytest.mark.parametrize("page", _pages_with_examples())
def test_examples_on_doc_pages(page, tmp_path, monkeypatch):
    """The ``pycon`` examples of the documentation pages run and print what the pages say."""
    monkeypatch.chdir(tmp_path)
    result = doctest.testfile(
        str(DOCS / page),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        verbose=False,
        report=True,
    )
    assert result.failed == 0, f"{result.failed} example(s) on docs/{page} failed (see the output above)"


def _expand_braces(name: str) -> set[str]:
    """``ntu60_{xsub,xview}_joint`` -> both names (shell-style brace expansion, as pages write it)."""
    m = re.search(r"\{([^{}]*)\}", name)
    if not m:
        return {name}
    head, tail = name[: m.start()], name[m.end() :]
    return set().union(*(_expand_braces(head + alt + tail) for alt in m[1].split(",")))


def test_presets_named_in_the_docs_exist():
    """Every preset a page tells users to run (``asgcn/...``, ``arrn_lstm/...``) exists."""
    from skelact.train import presets

    named = set()
    for page in DOCS.rglob("*.md"):
        text = page.read_text(encoding="utf-8")
        for name in re.findall(r"(?<![\w/.-])((?:asgcn|arrn_lstm)/[a-z0-9_{},]+)", text):
            named |= _expand_braces(name.rstrip(",_"))
    unknown = sorted(n for n in named if not presets.is_preset(n))
    assert not unknown, f"docs name presets that do not exist: {unknown}"
