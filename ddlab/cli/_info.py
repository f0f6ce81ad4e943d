"""``ddlab info``: dims, completion, variables, provenance and resolved experiment of a store."""

from __future__ import annotations

import argparse
import json
import textwrap
from typing import Any

from ..config import load_experiment
from ..results import VARIABLES, experiment_of, open_results, verify
from ._show import experiment_lines, non_defaults

__all__ = ["add_parser", "describe", "facts", "main"]

#: Attrs shown elsewhere: the experiment (resolved, below), history (its own list), and
#: title (name and description).
_NOT_PROVENANCE = ("experiment", "history", "title")


def add_parser(sub) -> None:
    p = sub.add_parser("info", help="describe a stored result")
    p.add_argument("path", help="zarr store")
    p.add_argument("--json", action="store_true", help="print the same as one JSON object")
    p.set_defaults(handler=main)


def _plain(value: Any) -> Any:
    """An attr value as a JSON-ready Python value (numpy scalars unwrapped)."""
    return value.item() if hasattr(value, "item") else value


def facts(path: str) -> dict[str, Any]:
    """What ``ddlab info`` prints of a store, as JSON-ready data.

    Returns
    -------
    dict
        ``path``, ``name``, ``description``, ``dims`` (name -> size),
        ``completed`` (``cells`` computed of ``total``, ``damaged`` of them:
        :func:`ddlab.verify`), ``integrity`` (its report, one line), ``variables`` (name ->
        units), ``provenance`` (the store's attrs but the experiment, history
        and title), ``history`` (its lines), ``experiment`` (the resolved
        experiment, TOML form) and ``non_default`` (key -> default for the
        keys not at their default).
    """
    ds = open_results(path)
    exp = experiment_of(ds)
    done = ds["completed"].values
    report = verify(path)
    return {
        "path": str(path),
        "name": exp.name,
        "description": exp.description.strip(),
        "dims": {str(d): int(n) for d, n in ds.sizes.items()},
        "completed": {"cells": int(done.sum()), "total": int(done.size),
                      "damaged": report.damaged},
        "integrity": str(report),
        "variables": {v: ds[v].attrs.get("units") for v in VARIABLES if v in ds},
        "provenance": {k: _plain(v) for k, v in ds.attrs.items() if k not in _NOT_PROVENANCE},
        "history": str(ds.attrs.get("history", "")).splitlines(),
        "experiment": exp.to_dict(),
        "non_default": non_defaults(exp),
    }


def describe(path: str) -> str:
    """:func:`facts` as text, the resolved experiment as TOML with its non-defaults marked."""
    got = facts(path)
    done = got["completed"]
    lines = [f"{path}: experiment {got['name']!r}"]
    if got["description"]:
        lines.append(textwrap.fill(" ".join(got["description"].split()), 100,
                                   initial_indent="description: ", subsequent_indent="  "))
    lines += [
        "dims: " + ", ".join(f"{d}={n}" for d, n in got["dims"].items()),
        f"completed: {done['cells']} of {done['total']} cells "
        f"({100 * done['cells'] / done['total']:.1f}%)"
        + (f", {done['damaged']} of them damaged" if done["damaged"] else ""),
        f"integrity: {got['integrity']}",
        "variables: " + ", ".join(f"{v} [{u}]" for v, u in got["variables"].items()),
        "provenance:",
        *(f"  {k}: {v}" for k, v in got["provenance"].items()),
        "history:",
        *(f"  {h}" for h in got["history"]),
        "resolved experiment (keys not at their default marked # default ...):",
        *(f"  {line}" for line in experiment_lines(load_experiment(got["experiment"]))),
    ]
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(facts(args.path), indent=2))
    else:
        print(describe(args.path))
    return 0
