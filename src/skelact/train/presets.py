"""Named config presets: the YAML files under ``skelact/configs`` plus table variants generated
from compact specs.

A preset's name is its path under ``configs/`` without ``.yaml``, e.g. ``arrn_lstm/msr3d_as1``.
Files whose name starts with ``_`` are bases (``_base_`` targets), not presets.

``configs/<model>/_variants.yaml`` generates the many rows of the papers' tables from one entry
each. An entry::

    - name: ntu60_xsub_t1_{links}_l{order}     # {placeholders} are filled from each point
      base: ntu60_xsub                         # a preset of the same directory (or a full name)
      description: "Table 1: {links}-links, L = {order}"
      grid: {links: [s, as], order: [1, 2, 3, 4]}      # cartesian product (a mapping as a
                                                       # value sets several placeholders), and/or
      points: [{links: a, order: 1, top1: 83.2}]       # explicit points
      set:                                     # dotted keys; "{key}" alone keeps the value's type
        model.options.links: "{links}"
        reference.top1: "{top1}"

Each point becomes the preset ``<model>/<name>`` = ``{_base_: base, ...set}``.
"""

from __future__ import annotations

import difflib
import functools
import itertools
import re
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError

PRESET_ROOT = Path(__file__).resolve().parents[1] / "configs"
VARIANTS_FILE = "_variants.yaml"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")

__all__ = ["PRESET_ROOT", "is_preset", "list_presets", "normalise_name", "preset_source", "read_yaml"]


def read_yaml(path: Path) -> dict[str, Any]:
    """A config file's YAML mapping (``{}`` for an empty file); :class:`ConfigError` naming the file
    when it cannot be read, is not YAML or is not a mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror or e}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def normalise_name(name: str) -> str:
    """``configs/arrn_lstm/msr3d_as1.yaml`` -> ``arrn_lstm/msr3d_as1``."""
    name = name.replace("\\", "/").strip("/")
    if name.startswith("configs/"):
        name = name[len("configs/") :]
    for ext in (".yaml", ".yml"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    return name


def _file_presets() -> dict[str, Path]:
    out = {}
    for path in sorted(PRESET_ROOT.rglob("*.yaml")):
        rel = path.relative_to(PRESET_ROOT)
        if any(part.startswith("_") for part in rel.parts):
            continue
        out[rel.with_suffix("").as_posix()] = path
    return out


def _fill(value: Any, point: dict[str, Any]) -> Any:
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole and whole.group(1) in point:
            return point[whole.group(1)]
        return _PLACEHOLDER.sub(lambda m: str(point.get(m.group(1), m.group(0))), value)
    if isinstance(value, list):
        return [_fill(v, point) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, point) for k, v in value.items()}
    return value


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def _points(entry: dict[str, Any], where: str) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = []
    grid = entry.get("grid") or {}
    if grid:
        if not isinstance(grid, dict) or not all(isinstance(v, list) for v in grid.values()):
            raise ConfigError(f"{where}: grid must map names to lists")
        keys = list(grid)
        for combo in itertools.product(*(grid[k] for k in keys)):
            point: dict[str, Any] = {}
            for k, v in zip(keys, combo, strict=True):
                # a mapping as a grid value sets several placeholders at once, e.g.
                # {att: rrn, attention: false}
                point.update(v if isinstance(v, dict) else {k: v})
            points.append(point)
    explicit = entry.get("points") or []
    if not isinstance(explicit, list) or not all(isinstance(p, dict) for p in explicit):
        raise ConfigError(f"{where}: points must be a list of mappings")
    points += [dict(p) for p in explicit]
    return points or [{}]


@functools.lru_cache(maxsize=1)
def _variant_presets() -> dict[str, tuple[dict[str, Any], str, Path]]:
    out: dict[str, tuple[dict[str, Any], str, Path]] = {}
    for spec_path in sorted(PRESET_ROOT.rglob(VARIANTS_FILE)):
        group = spec_path.parent.relative_to(PRESET_ROOT).as_posix()
        entries = yaml.safe_load(spec_path.read_text(encoding="utf-8")) or []
        if not isinstance(entries, list):
            raise ConfigError(f"{spec_path}: expected a list of variant entries")
        for i, entry in enumerate(entries):
            where = f"{spec_path} entry {i}"
            if not isinstance(entry, dict) or "name" not in entry or "base" not in entry:
                raise ConfigError(f"{where}: a variant entry needs 'name' and 'base'")
            unknown = set(entry) - {"name", "base", "description", "grid", "points", "set"}
            if unknown:
                raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
            for point in _points(entry, where):
                name = f"{group}/{_fill(entry['name'], point)}"
                base = str(_fill(str(entry["base"]), point))
                base = base if "/" in base else f"{group}/{base}"
                data: dict[str, Any] = {"_base_": base, "name": name}
                if "description" in entry:
                    data["description"] = _fill(entry["description"], point)
                data.update(_nest(_fill(dict(entry.get("set") or {}), point)))
                if name in out:
                    raise ConfigError(f"{where}: variant {name!r} generated twice")
                out[name] = (data, f"{spec_path} [{name}]", spec_path.parent)
    return out


def list_presets() -> list[str]:
    """Every preset name, sorted (files and generated table variants)."""
    return sorted({*_file_presets(), *_variant_presets()})


def is_preset(name: str) -> bool:
    name = normalise_name(name)
    return name in _file_presets() or name in _variant_presets()


def preset_source(name: str) -> tuple[dict[str, Any], str, Path]:
    """Raw data of a preset (``_base_`` unresolved), where it came from, and its directory.

    Raises ``KeyError`` with a message suggesting close names when unknown.
    """
    key = normalise_name(name)
    files = _file_presets()
    if key in files:
        return read_yaml(files[key]), str(files[key]), files[key].parent
    variants = _variant_presets()
    if key in variants:
        data, where, base_dir = variants[key]
        return dict(data), where, base_dir
    close = difflib.get_close_matches(key, list_presets(), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `skelact train --list` prints them"
    raise KeyError(f"no config file or preset named {name!r}{hint}")
