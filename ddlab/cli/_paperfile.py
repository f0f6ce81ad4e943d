"""The paper file (``experiments/paper.toml``): which experiments the paper runs and draws.

Declarative and validated like an experiment file::

    [[experiments]]
    name = "seed_high_noise"              # store and figure stem
    file = "seed_high_noise.toml"         # relative to the paper file
    quick = { "seeds.init" = 20 }         # --set overrides applied by --quick
    figures = [{ name = "seed_high_noise", kind = "seed" }]
    numbers = true                        # summary macros in numbers.tex

    [speed]                               # the speed table, timed by reproduce itself
    experiment = "seed_high_noise"
    sims = 100                            # networks per width for the reference loops
    quick_sims = 5
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..config import Experiment, load_experiment, read_toml, set_key

__all__ = ["FIGURE_KINDS", "Entry", "Figure", "PaperFile", "read_paper_file"]

#: figure kinds and the keys each accepts besides ``name`` and ``kind``; every kind
#: also takes ``size = [width, height]``, the figure's size in inches
FIGURE_KINDS: dict[str, tuple[str, ...]] = {
    "seed": ("widths", "norm", "size"),
    "heatmap": ("var", "x", "y", "norm", "at", "size"),
    "curves": ("var", "over", "at", "band", "threshold", "theory", "log", "size"),
    "bias_variance": ("over", "at", "size"),
    "gd_path": ("size",),
    "dof": ("size",),
    "lr_range": ("size",),
    "decomposition": ("over", "at", "restarts", "epochs", "n_samples", "size"),
    "sweep": ("var", "row", "col", "over", "at", "kind", "x", "y", "norm", "band", "log",
              "wrap", "size"),
}
#: theory curves a ``curves`` figure can overlay
THEORIES = ("weak_features", "min_norm", "random_features", "gd")
#: an experiment's or figure's name: a file stem, never a path
_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
#: keys of an ``[[experiments]]`` entry and the TOML type each takes
_ENTRY_KEYS = {"name": str, "file": str, "quick": dict, "figures": list, "numbers": bool}
_TOML_TYPES = {str: "a string", dict: "a table", list: "a list", bool: "true or false"}


@dataclass(frozen=True)
class Figure:
    """One figure of an experiment: its file stem, kind and options."""

    name: str
    kind: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Entry:
    """One experiment of the paper."""

    name: str
    file: Path
    quick: dict[str, Any]
    figures: tuple[Figure, ...]
    numbers: bool

    def experiment(self, quick: bool) -> Experiment:
        """The validated experiment, with the ``quick`` overrides applied if asked."""
        raw = read_toml(self.file)
        if quick:
            for key, value in self.quick.items():
                set_key(raw, f"{key}={_toml(value)}")
        raw["name"] = self.name
        return load_experiment(raw)


@dataclass(frozen=True)
class PaperFile:
    """The parsed paper file."""

    path: Path
    entries: tuple[Entry, ...]
    speed: dict[str, Any]

    @property
    def names(self) -> list[str]:
        """Experiment names, in file order."""
        return [e.name for e in self.entries]

    def select(self, only: list[str] | None) -> list[Entry]:
        """The entries named in ``only`` (all when None), in file order."""
        if not only:
            return list(self.entries)
        for name in only:
            if name not in self.names:
                raise ValueError(f"--only = {name!r}: not an experiment of {self.path} "
                                 f"(one of {', '.join(self.names)})")
        return [e for e in self.entries if e.name in only]


def _toml(value: Any) -> str:
    """A value as TOML text, for ``set_key``."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)


def _name(where: str, value: Any) -> str:
    """A store or figure name: a plain file name, so that it stays inside ``--out``."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ValueError(f"{where} = {value!r}: expected a file name of letters, digits, "
                         f"'_', '-' and '.' (not starting with '.'), without a directory")
    return value


def _figure(where: str, raw: Any, swept: bool) -> Figure:
    if not isinstance(raw, dict) or "name" not in raw or "kind" not in raw:
        raise ValueError(f"{where} = {raw!r}: expected a table with 'name' and 'kind'")
    name, kind = _name(f"{where}.name", raw["name"]), raw["kind"]
    if kind not in FIGURE_KINDS:
        raise ValueError(f"{where}.kind = {kind!r}: expected one of {', '.join(FIGURE_KINDS)}")
    options = {k: v for k, v in raw.items() if k not in ("name", "kind")}
    for key in options:
        if key not in FIGURE_KINDS[kind]:
            raise ValueError(f"{where}.{key} = {options[key]!r}: not an option of kind "
                             f"{kind!r} (one of {', '.join(FIGURE_KINDS[kind])})")
    size = options.get("size", [1.0, 1.0])
    if not isinstance(size, list) or len(size) != 2 or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in size):
        raise ValueError(f"{where}.size = {size!r}: expected [width, height] in inches, both > 0")
    wrap = options.get("wrap", 1)
    if not isinstance(wrap, int) or isinstance(wrap, bool) or wrap < 1:
        raise ValueError(f"{where}.wrap = {wrap!r}: expected a positive integer (panels per row)")
    if options.get("theory") not in (None, *THEORIES):
        raise ValueError(f"{where}.theory = {options['theory']!r}: expected one of "
                         f"{', '.join(THEORIES)}")
    if kind == "sweep" and not swept:
        raise ValueError(f"{where}.kind = 'sweep': the experiment sweeps no key")
    return Figure(name, kind, options)


def _entry(path: Path, where: str, item: Any) -> Entry:
    """One ``[[experiments]]`` entry, checked key by key; its experiment must load."""
    if not isinstance(item, dict) or set(item) - set(_ENTRY_KEYS) or not {"name", "file"} <= set(
            item):
        raise ValueError(f"{path}: {where} = {item!r}: expected a table of name, file and "
                         f"optional quick, figures, numbers")
    for key, kind in _ENTRY_KEYS.items():
        if key in item and not isinstance(item[key], kind):
            raise ValueError(f"{path}: {where}.{key} = {item[key]!r}: expected "
                             f"{_TOML_TYPES[kind]}")
    name = _name(f"{path}: {where}.name", item["name"])
    entry = Entry(name, path.parent / item["file"], dict(item.get("quick", {})), (),
                  item.get("numbers", True))
    try:
        swept = bool(entry.experiment(quick=False).sweep)
        entry.experiment(quick=True)
    except ValueError as err:
        raise ValueError(f"{path}: {where} ({name}): {err}") from None
    figures = tuple(_figure(f"{path}: {where}.figures[{k}]", f, swept)
                    for k, f in enumerate(item.get("figures", [])))
    return replace(entry, figures=figures)


def read_paper_file(path: str | Path) -> PaperFile:
    """Parse and validate a paper file; every experiment file it names must load.

    Store and figure names are plain file names, so that ``reproduce`` writes
    only inside its ``--out``.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    PaperFile

    Raises
    ------
    ValueError
        Naming the offending key and value.
    """
    path = Path(path)
    raw = read_toml(path)
    for key in raw:
        if key not in ("experiments", "speed"):
            raise ValueError(f"{path}: {key} = {raw[key]!r}: unknown key (expected "
                             f"'experiments' and 'speed')")
    for key, kind in (("experiments", list), ("speed", dict)):
        if not isinstance(raw.get(key, kind()), kind):
            raise ValueError(f"{path}: {key} = {raw[key]!r}: expected {_TOML_TYPES[kind]}")
    entries: list[Entry] = []
    for i, item in enumerate(raw.get("experiments", [])):
        entries.append(_entry(path, f"experiments[{i}]", item))
        if entries[-1].name in [e.name for e in entries[:-1]]:
            raise ValueError(f"{path}: experiments[{i}].name = {entries[-1].name!r}: used twice")
    names = [f.name for e in entries for f in e.figures]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: figure names must be distinct")
    speed = dict(raw.get("speed", {}))
    if speed and speed.get("experiment") not in [e.name for e in entries]:
        raise ValueError(f"{path}: speed.experiment = {speed.get('experiment')!r}: not an "
                         f"experiment of the file")
    return PaperFile(path, tuple(entries), speed)
