"""MkDocs hooks: the parts of the site generated at build time.

Markers in the Markdown pages (HTML comments, invisible if a hook is not run) are replaced:

* ``<!-- skelact:zoo -->``: the model zoo, from ``reports/reproduction.json`` (or the file named by
  ``$SKELACT_ZOO_JSON``). Every number on that page comes from the file; none is typed by hand.
* ``<!-- skelact:gallery -->``: every figure in ``docs/gallery/`` (PNG, SVG, GIF), captions from
  ``docs/gallery/captions.yaml`` when it has an entry (figures it names come first, in its order),
  else from the file name.
* ``<!-- skelact:readme-setup -->``: the README's set-up section, so the commands on the site are
  the README's commands.
* ``<!-- skelact:cli -->``: the ``--help`` of every ``skelact`` verb that exists.
* ``<!-- skelact:layouts -->``, ``<!-- skelact:protocols -->``: tables generated from
  ``skelact.data.layouts.LAYOUTS`` and ``skelact.data.protocols.PROTOCOLS``.
* ``<!-- skelact:presets -->``: every config preset, its experiment and the paper's number, from
  ``skelact.train.presets`` and the configs themselves.
* ``<!-- skelact:config-schema -->``: every config key with its type, default and meaning, from the
  dataclasses of ``skelact.train.config``.

And ``::: skelact.x`` (mkdocstrings) lines naming a module that does not exist in ``src/`` are dropped
with their options block, so the reference grows as modules land without breaking the strict build.

The functions :func:`load_zoo` and :func:`render_zoo` are importable on their own (tests/test_docs.py
checks them on a fixture).
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import logging
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("mkdocs.hooks.skelact")

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
ZOO_DEFAULT = ROOT / "reports" / "reproduction.json"
ZOO_ENV = "SKELACT_ZOO_JSON"


def zoo_source() -> Path:
    """The reproduction file the zoo page shows: ``$SKELACT_ZOO_JSON``, else
    ``reports/reproduction.json``, else the newest kept report (``reports/earlier/<date>/``)."""
    if os.environ.get(ZOO_ENV):
        return Path(os.environ[ZOO_ENV])
    if ZOO_DEFAULT.is_file():
        return ZOO_DEFAULT
    earlier = sorted((ROOT / "reports" / "earlier").glob("*/reproduction.json"))
    return earlier[-1] if earlier else ZOO_DEFAULT

# Pages owned by other parts of the project: while one is missing, a stub keeps nav and links valid.
OWNED_ELSEWHERE = {
    "models/asgcn.md": "AS-GCN",
    "models/arrn_lstm.md": "Two-stream ARRN-LSTM",
}

# --------------------------------------------------------------------------------------------------
# Model zoo
# --------------------------------------------------------------------------------------------------

REQUIRED = ("dataset", "model", "protocol", "folds", "mean", "seeds", "command")
OPTIONAL = ("variant", "std", "config", "hardware", "wall_time_s", "paper", "note")


class ZooError(ValueError):
    """reports/reproduction.json does not follow the schema; the message names the entry and key."""


def _num(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def validate_zoo(entries: Any, source: str = "reproduction.json") -> list[dict[str, Any]]:
    """Check the schema of the reproduction file and return its entries.

    The file is a JSON list of objects with keys ``dataset``, ``model``, ``protocol``, ``variant``,
    ``folds`` (``{fold name: accuracy}``), ``mean``, ``std``, ``seeds`` (list of ints, or a count),
    ``config``, ``command``, ``hardware``, ``wall_time_s`` and ``paper`` (the published number, or
    null when the paper has none; a string or ``{"value": x, "source": "..."}`` are accepted too).
    ``note`` (optional) is shown with the entry. Accuracies are top-1, in percent or all as fractions
    of 1 (then shown in percent).
    """
    if isinstance(entries, Mapping) and "entries" in entries:
        entries = entries["entries"]
    if not isinstance(entries, list):
        raise ZooError(f"{source}: expected a JSON list of entries, got {type(entries).__name__}")
    for i, e in enumerate(entries):
        where = f"{source}: entry {i}"
        if not isinstance(e, Mapping):
            raise ZooError(f"{where}: expected an object, got {type(e).__name__}")
        for key in REQUIRED:
            if key not in e:
                raise ZooError(f"{where}: missing key {key!r}")
        for key in ("dataset", "model", "protocol"):
            if not isinstance(e[key], str) or not e[key]:
                raise ZooError(f"{where}: {key!r} must be a non-empty string")
        if not isinstance(e["folds"], Mapping) or not all(_num(v) for v in e["folds"].values()):
            raise ZooError(f"{where}: 'folds' must map fold names to accuracies")
        if not _num(e["mean"]):
            raise ZooError(f"{where}: 'mean' must be a number")
        if e.get("std") is not None and not _num(e["std"]):
            raise ZooError(f"{where}: 'std' must be a number or null")
        seeds = e["seeds"]
        if not (isinstance(seeds, int) and not isinstance(seeds, bool)) and not (
            isinstance(seeds, list) and all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
        ):
            raise ZooError(f"{where}: 'seeds' must be a list of integers or a count")
        if not isinstance(e["command"], str | list):
            raise ZooError(f"{where}: 'command' must be a string or a list of strings")
        if e.get("wall_time_s") is not None and not _num(e["wall_time_s"]):
            raise ZooError(f"{where}: 'wall_time_s' must be a number of seconds or null")
        paper = e.get("paper")
        if paper is not None and not (_num(paper) or isinstance(paper, str | Mapping)):
            raise ZooError(f"{where}: 'paper' must be a number, a string, an object or null")
    return list(entries)


def load_zoo(path: str | os.PathLike[str] | None = None) -> list[dict[str, Any]] | None:
    """Read and validate the reproduction file; ``None`` when it does not exist (no results yet)."""
    if path is None:
        path = os.environ.get(ZOO_ENV) or ZOO_DEFAULT
    path = Path(path)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ZooError(f"{path}: not valid JSON: {e}") from None
    return validate_zoo(data, source=str(path))


def _scale(entries: Sequence[Mapping[str, Any]]) -> float:
    """100 when every accuracy in the file is a fraction of 1, else 1 (already in percent)."""
    values = [float(e["mean"]) for e in entries]
    values += [float(v) for e in entries for v in e["folds"].values()]
    return 100.0 if values and max(values) <= 1.0 else 1.0


def _pct(x: float, scale: float) -> str:
    return f"{x * scale:.2f}"


def _paper(paper: Any) -> tuple[float | None, str]:
    """(numeric value or None, text shown in the table) of an entry's ``paper`` field."""
    if paper is None:
        return None, "—"
    if _num(paper):
        v = float(paper) * (100.0 if paper <= 1.0 else 1.0)
        return v, f"{v:.2f}"
    if isinstance(paper, Mapping):
        value = paper.get("value", paper.get("acc"))
        source = paper.get("source") or paper.get("table") or ""
        if _num(value):
            v = float(value) * (100.0 if value <= 1.0 else 1.0)
            return v, f"{v:.2f}" + (f" ({source})" if source else "")
        return None, str(source or "—")
    return None, str(paper)


def _duration(seconds: Any) -> str:
    if not _num(seconds):
        return "—"
    s = int(round(float(seconds)))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    if h:
        return f"{h} h {m:02d} min"
    if m:
        return f"{m} min {sec:02d} s"
    return f"{sec} s"


def _seeds(seeds: Any) -> str:
    if isinstance(seeds, list):
        return f"{len(seeds)} ({', '.join(str(s) for s in seeds)})" if seeds else "0"
    return str(seeds)


def _rst(text: str) -> str:
    """reStructuredText inline markup of docstrings/comments as Markdown: roles and ``literals``."""
    text = re.sub(r":(?:py:)?\w+:`~?([^`]+)`", r"`\1`", text)
    return re.sub(r"``(.+?)``", r"`\1`", text)


def _cell(x: Any) -> str:
    return _rst(str(x)).replace("|", "\\|").replace("\n", " ")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "entry"


NO_RESULTS = (
    '!!! info "No results yet"\n\n'
    "    No reproduction results have been recorded: `reports/reproduction.json` does not exist yet.\n"
    "    It is written by `skelact reproduce` (see [Training & evaluation](training.md)); this page\n"
    "    is generated from it when the documentation is built.\n"
)


def render_zoo(entries: Sequence[Mapping[str, Any]] | None, source: str = "reports/reproduction.json") -> str:
    """Markdown for the model zoo: one table per dataset, then per-entry details.

    Every number comes from ``entries``; each row shows our mean ± std over seeds beside the paper's
    number and the difference, the seeds, hardware and wall time; the details give per-fold
    accuracies, the config and the exact command.
    """
    if entries is None:
        return NO_RESULTS
    if not entries:
        return NO_RESULTS.replace("does not exist yet", "holds no entries yet")
    scale = _scale(entries)
    out = io.StringIO()
    w = out.write
    w(
        f"All accuracies are top-1 in %, generated from `{source}` ({len(entries)} "
        f"entr{'y' if len(entries) == 1 else 'ies'}). *skelact* is the mean ± standard deviation over "
        "seeds; *Δ* is skelact minus the paper, in points. Open an entry (by its #) below for its per-fold "
        "numbers, config and command.\n\n"
    )
    datasets: dict[str, list[tuple[int, Mapping[str, Any]]]] = {}
    for i, e in enumerate(entries, 1):
        datasets.setdefault(e["dataset"], []).append((i, e))
    for dataset, rows in datasets.items():
        w(f"## {dataset}\n\n")
        w("| # | Model | Variant | Protocol | skelact | Paper | Δ | Seeds | Hardware | Wall time |\n")
        w("|--:|---|---|---|--:|--:|--:|---|---|--:|\n")
        for i, e in rows:
            ours = _pct(e["mean"], scale)
            if e.get("std") is not None:
                ours += f" ± {_pct(e['std'], scale)}"
            paper_value, paper_text = _paper(e.get("paper"))
            delta = f"{e['mean'] * scale - paper_value:+.2f}" if paper_value is not None else "—"
            variant = _cell(e.get("variant") or "—") + (" †" if e.get("note") else "")
            w(
                f"| {i} | {_cell(e['model'])} | {variant} | {_cell(e['protocol'])} | **{ours}** | "
                f"{_cell(paper_text)} | {delta} | {_seeds(e['seeds'])} | {_cell(e.get('hardware') or '—')} | "
                f"{_duration(e.get('wall_time_s'))} |\n"
            )
        if any(e.get("note") for _, e in rows):
            w("\n† see the note in the entry's details.\n")
        w("\n")
        for i, e in rows:
            title = f"Entry {i}: {e['model']} · {e.get('variant') or 'default'} · {e['protocol']}"
            w(f'??? note "{title.replace(chr(34), chr(39))}"\n\n')
            body = io.StringIO()
            if e.get("note"):
                body.write(f"**Note:** {e['note']}\n\n")
            if e["folds"]:
                body.write("| Fold | Accuracy (%) |\n|---|--:|\n")
                for name, acc in e["folds"].items():
                    body.write(f"| {_cell(name)} | {_pct(acc, scale)} |\n")
                body.write(f"| **mean** | **{_pct(e['mean'], scale)}** |\n\n")
            config = e.get("config")
            if isinstance(config, Mapping):
                body.write(
                    "Config:\n\n```json\n" + json.dumps(config, indent=2, sort_keys=True) + "\n```\n\n"
                )
            elif config:
                body.write(f"Config: `{config}`\n\n")
            command = e["command"]
            command = "\n".join(command) if isinstance(command, list) else command
            body.write(f"Command:\n\n```bash\n{command}\n```\n")
            for line in body.getvalue().splitlines():
                w(f"    {line}\n" if line else "\n")
            w("\n")
    return out.getvalue()


# --------------------------------------------------------------------------------------------------
# Gallery
# --------------------------------------------------------------------------------------------------

GALLERY_EXT = (".png", ".svg", ".gif")


def _gallery_captions(folder: Path) -> dict[str, Any]:
    path = folder / "captions.yaml"
    if not path.is_file():
        return {}
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return data if isinstance(data, dict) else {}


def render_gallery(folder: Path, prefix: str = "gallery/") -> str:
    """Markdown embedding every figure of ``folder``: captions from captions.yaml, else the name."""
    figures = (
        sorted(p for p in folder.glob("*") if p.suffix.lower() in GALLERY_EXT) if folder.is_dir() else []
    )
    if not figures:
        return (
            '!!! info "No figures yet"\n\n'
            "    The gallery shows the figures in `docs/gallery/`, made by `skelact viz` on real data.\n"
        )
    captions = _gallery_captions(folder)
    # figures named in captions.yaml first, in its order; the others after them, by name
    rank = {name: i for i, name in enumerate(captions)}
    figures.sort(key=lambda p: (rank.get(p.stem, rank.get(p.name, len(rank))), p.name))
    out = io.StringIO()
    for p in figures:
        meta = captions.get(p.stem) or captions.get(p.name) or {}
        if isinstance(meta, str):
            meta = {"caption": meta}
        title = meta.get("title") or p.stem.replace("_", " ").replace("-", " ").capitalize()
        out.write(f"## {title}\n\n")
        out.write(f"![{title}]({prefix}{p.name}){{ loading=lazy }}\n\n")
        if meta.get("caption"):
            out.write(f"{meta['caption'].strip()}\n\n")
        if meta.get("command"):
            out.write(f"```bash\n{meta['command'].strip()}\n```\n\n")
    return out.getvalue()


# --------------------------------------------------------------------------------------------------
# README set-up section, CLI reference, API reference filtering
# --------------------------------------------------------------------------------------------------


def readme_setup(readme: Path = ROOT / "README.md") -> str:
    """The README's set-up section (from its ``## Set-up`` heading to the next ``## `` heading)."""
    text = readme.read_text(encoding="utf-8")
    m = re.search(r"^## Set-up[^\n]*\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    if not m:
        raise ValueError(f"{readme}: no '## Set-up' section to include")
    body = m.group(1).strip()
    # Headings below the section level become one level deeper on the page; relative links to repo
    # files are not site pages, so show them as code.
    body = re.sub(r"^(#{3,6}) ", r"#\1 ", body, flags=re.M)
    body = re.sub(r"\[([^\]]+)\]\((?!https?://|#)[^)]+\)", r"`\1`", body)
    return body + "\n"


def cli_reference() -> str:
    """``--help`` of ``skelact`` and of every verb whose module exists (verbs not built yet are left out)."""
    from skelact import cli

    os.environ.setdefault("COLUMNS", "100")
    parser = argparse.ArgumentParser(prog="skelact", description=cli.build_parser().description)
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    verbs: list[str] = []
    for verb in cli.VERBS:
        try:
            module = importlib.import_module(f"skelact.commands.{verb}")
        except ModuleNotFoundError as e:
            if e.name == f"skelact.commands.{verb}":
                log.info("CLI reference: verb %r not built yet", verb)
                continue
            raise
        module.register(sub)
        verbs.append(verb)
    out = io.StringIO()
    out.write("```text\n$ skelact --help\n" + cli.build_parser().format_help().rstrip() + "\n```\n\n")
    for verb in verbs:
        sp = sub.choices[verb]
        out.write(f"## `skelact {verb}`\n\n")
        out.write(f"```text\n$ skelact {verb} --help\n{sp.format_help().rstrip()}\n```\n\n")
    if not verbs:
        out.write("*(no verbs available in this build)*\n")
    return out.getvalue()


def _optional_module(name: str) -> Any:
    """Import ``name``; None (logged) while the module does not exist yet."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name == name:
            log.info("%s not built yet: its generated table is left out", name)
            return None
        raise


def layouts_table() -> str:
    """Table of the layouts in :data:`skelact.data.layouts.LAYOUTS`."""
    from skelact.data.layouts import LAYOUTS

    rows = [
        "| Layout | Joints | Dims | Channels | Centre joint | Hip-centring joints | Description |",
        "|---|--:|--:|---|---|---|---|",
    ]
    for name, lay in LAYOUTS.items():
        hips = ", ".join(lay.joints[j] for j in lay.hip_joints) or "(none)"
        rows.append(
            f"| `{name}` | {lay.num_joints} | {lay.dims} | {', '.join(lay.channels)} | "
            f"{lay.joints[lay.center]} | {_cell(hips)} | {_cell(lay.description)} |"
        )
    joints = []
    for name, lay in LAYOUTS.items():
        names = ", ".join(f"{i} {j}" for i, j in enumerate(lay.joints))
        joints.append(f'??? note "Joints of `{name}` (0-based)"\n\n    {names}\n')
    return "\n".join(rows) + "\n\n" + "\n".join(joints)


def protocols_table() -> str:
    """Table of the protocols in :data:`skelact.data.protocols.PROTOCOLS`."""
    mod = _optional_module("skelact.data.protocols")
    if mod is None:
        return ""
    rows = ["| Protocol | Stores | Folds | Split |", "|---|---|---|---|"]
    for name, p in mod.PROTOCOLS.items():
        folds = f"{len(p.folds)} ({p.folds[0]}-{p.folds[-1]})" if p.folds else "—"
        rows.append(f"| `{name}` | {', '.join(p.datasets)} | {folds} | {_cell(p.description)} |")
    return "\n".join(rows) + "\n"


def _type_text(tp: Any) -> str:
    import types
    import typing

    if tp is type(None):
        return "null"
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a!r}`" for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_text(a) for a in typing.get_args(tp))
    if origin in (list, tuple):
        args = typing.get_args(tp)
        return f"list of {_type_text(args[0])}" if args else "list"
    if origin is dict or tp is dict:
        return "mapping"
    if tp is Any:
        return "any"
    return getattr(tp, "__name__", str(tp))


def _field_comments(cls: type) -> dict[str, str]:
    """``#:`` comments above a dataclass field, or a trailing ``# ...`` comment on its line."""
    import inspect

    comments: dict[str, str] = {}
    pending: list[str] = []
    for line in inspect.getsource(cls).splitlines():
        stripped = line.strip()
        if stripped.startswith("#:"):
            pending.append(stripped[2:].strip())
            continue
        m = re.match(r"^\s+(\w+)\s*:[^#]*?(?:#\s*(.*))?$", line)
        if m and not stripped.startswith(("def ", "class ", "@", '"')):
            text = " ".join(pending) or (m.group(2) or "")
            if text:
                comments[m.group(1)] = text
        pending = []
    return comments


def config_schema() -> str:
    """Tables of every config key, from the dataclasses of :mod:`skelact.train.config`."""
    import dataclasses
    import typing

    mod = _optional_module("skelact.train.config")
    if mod is None:
        return ""
    out: list[str] = []

    def walk(cls: type, prefix: str) -> None:
        hints = typing.get_type_hints(cls)
        comments = _field_comments(cls)
        rows: list[str] = []
        nested: list[tuple[type, str]] = []
        for f in dataclasses.fields(cls):
            tp = hints[f.name]
            if dataclasses.is_dataclass(tp):
                nested.append((tp, f"{prefix}{f.name}."))
                continue
            if f.default is not dataclasses.MISSING:
                default = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            else:
                default = "(required)"
            shown = (
                "null"
                if default is None
                else json.dumps(default)
                if not isinstance(default, str)
                else default
            )
            meaning = _cell(comments.get(f.name, ""))
            rows.append(f"| `{prefix}{f.name}` | {_type_text(tp)} | `{_cell(shown)}` | {meaning} |")
        if rows:
            title = prefix.rstrip(".") or "(top level)"
            doc = (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
            if doc.startswith(f"{cls.__name__}("):
                doc = ""  # the dataclass's generated signature, not a description
            out.append(f"#### `{title}`\n\n" + (f"{_rst(doc)}\n\n" if doc else ""))
            out.append("| Key | Type | Default | Meaning |\n|---|---|---|---|\n" + "\n".join(rows) + "\n\n")
        for tp, p in nested:
            walk(tp, p)

    walk(mod.ExperimentConfig, "")
    return "".join(out)


def _reference_text(ref: Any) -> str:
    if not isinstance(ref, Mapping) or not ref:
        return "—"
    value = ref.get("value")
    text = f"{value}" if value is not None else ""
    where = " ".join(
        str(x) for x in (ref.get("paper"), f"Table {ref['table']}" if ref.get("table") else None) if x
    )
    if where:
        text = f"{text} ({where})" if text else where
    if ref.get("note"):
        text += f"; {ref['note']}"
    return text or "—"


def presets_table() -> str:
    """Every config preset with its description and the published number it reproduces."""
    presets = _optional_module("skelact.train.presets")
    config = _optional_module("skelact.train.config")
    if presets is None or config is None:
        return ""
    families: dict[str, list[str]] = {}
    for name in presets.list_presets():
        families.setdefault(name.split("/", 1)[0], []).append(name)
    out = io.StringIO()
    for family, names in families.items():
        out.write(f'??? abstract "`{family}/`: {len(names)} presets"\n\n')
        out.write("    | Preset | Experiment | Paper's number |\n    |---|---|---|\n")
        for name in names:
            cfg = config.load_config(name)
            what, paper = _cell(cfg.description or cfg.name), _cell(_reference_text(cfg.reference))
            out.write(f"    | `{name}` | {what} | {paper} |\n")
        out.write("\n")
    return out.getvalue()


_DIRECTIVE = re.compile(r"^:::\s+(?P<path>skelact(?:\.\w+)*)\s*$")


def module_exists(dotted: str, src: Path = SRC) -> bool:
    """Whether ``dotted`` names a module of ``src``, or an object defined or imported in one."""
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):
        if not all((src.joinpath(*parts[:i]) / "__init__.py").is_file() for i in range(1, k)):
            continue  # a parent is not a regular package
        base = src.joinpath(*parts[:k])
        path = base / "__init__.py" if (base / "__init__.py").is_file() else base.with_suffix(".py")
        if not path.is_file():
            continue
        if k == len(parts):
            return True
        name = re.escape(parts[k])
        defined = (
            rf"(?:def|class)\s+{name}\b|^\s*{name}\s*[:=]|^\s*(?:from\s+\S+\s+)?import\s[^\n]*\b{name}\b"
        )
        return re.search(defined, path.read_text(encoding="utf-8"), flags=re.M) is not None
    return False


def filter_directives(markdown: str, src: Path = SRC) -> tuple[str, list[str]]:
    """Drop ``::: skelact.x`` blocks for modules absent from ``src``; return (markdown, dropped)."""
    out: list[str] = []
    dropped: list[str] = []
    skipping = False
    for line in markdown.splitlines(keepends=True):
        if skipping:
            if line.startswith((" ", "\t")) or not line.strip():
                continue
            skipping = False
        m = _DIRECTIVE.match(line)
        if m and not module_exists(m["path"], src):
            dropped.append(m["path"])
            skipping = True
            continue
        out.append(line)
    return "".join(out), dropped


def stub_page(title: str) -> str:
    return f'# {title}\n\n!!! info "Not written yet"\n\n    This page is being written.\n'


# --------------------------------------------------------------------------------------------------
# MkDocs event hooks
# --------------------------------------------------------------------------------------------------


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for uri, title in OWNED_ELSEWHERE.items():
        if files.get_file_from_path(uri) is None:
            log.info("page %s not written yet: using a stub", uri)
            files.append(File.generated(config, uri, content=stub_page(title)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if "<!-- skelact:zoo -->" in markdown:
        path = zoo_source()
        shown = str(path.relative_to(ROOT)) if path.resolve().is_relative_to(ROOT) else str(path)
        markdown = markdown.replace("<!-- skelact:zoo -->", render_zoo(load_zoo(path), source=shown))
    if "<!-- skelact:gallery -->" in markdown:
        folder = Path(config["docs_dir"]) / "gallery"
        markdown = markdown.replace("<!-- skelact:gallery -->", render_gallery(folder))
    if "<!-- skelact:readme-setup -->" in markdown:
        markdown = markdown.replace("<!-- skelact:readme-setup -->", readme_setup())
    if "<!-- skelact:layouts -->" in markdown:
        markdown = markdown.replace("<!-- skelact:layouts -->", layouts_table())
    if "<!-- skelact:protocols -->" in markdown:
        markdown = markdown.replace("<!-- skelact:protocols -->", protocols_table())
    if "<!-- skelact:config-schema -->" in markdown:
        markdown = markdown.replace("<!-- skelact:config-schema -->", config_schema())
    if "<!-- skelact:presets -->" in markdown:
        markdown = markdown.replace("<!-- skelact:presets -->", presets_table())
    if "<!-- skelact:cli -->" in markdown:
        markdown = markdown.replace("<!-- skelact:cli -->", cli_reference())
    if ":::" in markdown:
        markdown, dropped = filter_directives(markdown)
        for d in dropped:
            log.info("%s: %s does not exist yet, left out of the reference", page.file.src_uri, d)
    return markdown
