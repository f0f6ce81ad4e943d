"""``ddlab show``: the resolved experiment, its grid, cost and storage, before a run."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from ..config import FIELDS, Experiment
from ..results import storage_bytes, variable_bytes
from ._common import add_config, experiment

__all__ = ["add_parser", "describe", "experiment_lines", "facts", "main", "non_defaults",
           "toml_value"]

#: Key-value lines are padded to this width before a ``# default ...`` comment.
_PAD = 34


def add_parser(sub) -> None:
    p = sub.add_parser("show", help="print the resolved experiment, grid size and cost")
    add_config(p)
    p.add_argument("--memory-budget", metavar="SIZE",
                   help="peak memory per process the run will get (default 2GiB)")
    p.add_argument("--json", action="store_true",
                   help="print the same as one JSON object (sizes in bytes, times in seconds)")
    p.set_defaults(handler=main)


def toml_value(value: Any) -> str:
    """``value`` (a key's, in TOML form) as a TOML value: ``0.5``, ``"sgd"``, ``{log = 30}``."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)


def non_defaults(exp: Experiment) -> dict[str, Any]:
    """The keys of ``exp`` not at their defaults: ``"section.key"`` -> the default (TOML form).

    A swept key always counts; defaults that depend on other keys (the
    activation on the family, ...) are taken given the experiment's.
    """
    spec, swept = exp.to_dict(), {key for key, _ in exp.sweep}
    out = {}
    for f in FIELDS:
        section = spec[f.key.section]
        value, default = section[f.key.name], f.default_for(section)
        if f.key in swept or f.parse(value) != f.parse(default):
            out[str(f.key)] = default
    return out


def experiment_lines(exp: Experiment) -> list[str]:
    """The resolved experiment as TOML, every key, those not at their default commented.

    Non-default keys end in ``# default <value>`` (``# swept; default <value>``
    for a swept key).
    """
    changed, swept = non_defaults(exp), {str(key) for key, _ in exp.sweep}
    lines = [f"name = {toml_value(exp.name)}"]
    for section, values in exp.to_dict().items():
        if not isinstance(values, dict):
            continue
        lines.append(f"[{section}]")
        for key, value in values.items():
            line = f"{key} = {toml_value(value)}"
            name = f"{section}.{key}"
            if name in changed:
                note = "swept; " if name in swept else ""
                line = f"{line:<{_PAD}}  # {note}default {toml_value(changed[name])}"
            lines.append(line)
    return lines


def facts(exp: Experiment, memory_budget: str | None = None) -> dict[str, Any]:
    """What ``ddlab show`` prints, as JSON-ready data (sizes in bytes, times in seconds).

    Parameters
    ----------
    exp : Experiment
    memory_budget : str, optional
        As ``ddlab run --memory-budget`` takes it (default 2 GiB).

    Returns
    -------
    dict
        ``name``; ``grid`` (``dims``: size of each swept dim, width and the
        seed dims; ``cells``; ``closed_form``; ``recorded_epochs`` and
        ``epochs``); ``cost_s`` (rough one-process estimate);
        ``storage_bytes`` (uncompressed), of which ``state_bytes`` is the kept
        state (``train.keep_state``; 0 without it); ``memory`` (peak bytes in one
        process, per worker and of the parent, the budget, the chunks and
        their hidden units); ``store_bytes`` (on disk, compressed);
        ``experiment`` (the resolved experiment, TOML form) and
        ``non_default`` (key -> default, see :func:`non_defaults`).
    """
    from ..sim import estimate_seconds, plan_run

    plan = plan_run(exp, memory_budget=memory_budget)
    dims = {**dict(zip(exp.sweep_dims, exp.sweep_shape, strict=True)),
            "width": len(exp.model.width), "data_seed": exp.seeds.data,
            "init_seed": exp.seeds.init}
    return {
        "name": exp.name,
        "grid": {"dims": dims, "cells": math.prod(dims.values()),
                 "closed_form": exp.closed_form, "recorded_epochs": len(exp.epochs),
                 "epochs": exp.train.epochs},
        "cost_s": estimate_seconds(exp),
        "storage_bytes": storage_bytes(exp),
        "state_bytes": variable_bytes(exp).get("state", 0),
        "memory": {"one_process_bytes": plan.local_bytes, "worker_bytes": plan.worker_bytes,
                   "parent_bytes": plan.parent_bytes, "budget_bytes": plan.budget,
                   "chunks": len(plan.chunks), "chunk_units": plan.chunk_units},
        "store_bytes": plan.store_bytes,
        "experiment": exp.to_dict(),
        "non_default": non_defaults(exp),
    }


def describe(exp: Experiment, memory_budget: str | None = None) -> str:
    """:func:`facts` as text: grid, cost, memory, storage, and the resolved experiment."""
    from ..sim import format_bytes

    got = facts(exp, memory_budget)
    grid, mem = got["grid"], got["memory"]
    sizes = " x ".join(f"{d} ({n})" for d, n in grid["dims"].items())
    lines = [
        f"experiment {exp.name!r}",
        f"grid: {sizes} = {grid['cells']} cells, "
        + ("closed-form fit (one epoch entry)" if grid["closed_form"] else
           f"{grid['recorded_epochs']} recorded epochs of {grid['epochs']}"),
        f"cost: about {got['cost_s']:.3g} s on one CPU process (rough estimate); "
        f"storage: about {got['storage_bytes'] / 2**20:.3g} MiB uncompressed"
        + (f", of which the kept state (train.keep_state) {got['state_bytes'] / 2**20:.3g} MiB"
           if got["state_bytes"] else ""),
        f"peak memory: about {format_bytes(mem['one_process_bytes'])} in one process; with "
        f"worker processes (--n-jobs, --backend dask) {format_bytes(mem['worker_bytes'])} per "
        f"worker and {format_bytes(mem['parent_bytes'])} for the parent (budget "
        f"{format_bytes(mem['budget_bytes'])}: {mem['chunks']} chunk(s) of at most "
        f"{mem['chunk_units']} hidden units)",
        f"store size: about {format_bytes(got['store_bytes'])} on disk (compressed)",
        "resolved experiment (keys not at their default marked # default ...):",
    ]
    return "\n".join(lines + [f"  {line}" for line in experiment_lines(exp)])


def main(args: argparse.Namespace) -> int:
    exp = experiment(args.config, args.overrides)
    if args.json:
        print(json.dumps(facts(exp, args.memory_budget), indent=2))
    else:
        print(describe(exp, args.memory_budget))
    return 0
