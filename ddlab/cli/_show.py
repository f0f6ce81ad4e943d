"""``ddlab show``: the resolved experiment, its grid, cost and storage, before a run."""

from __future__ import annotations

import argparse
import json
import math

from ..config import Experiment
from ..results import storage_bytes
from ._common import add_config, experiment

__all__ = ["add_parser", "describe", "main"]


def add_parser(sub) -> None:
    p = sub.add_parser("show", help="print the resolved experiment, grid size and cost")
    add_config(p)
    p.add_argument("--memory-budget", metavar="SIZE",
                   help="peak memory per process the run will get (default 2GiB)")
    p.set_defaults(handler=main)


def describe(exp: Experiment, memory_budget: str | None = None) -> str:
    """The grid, its cost, peak memory and storage, and the resolved configuration, as text.

    Parameters
    ----------
    exp : Experiment
    memory_budget : str, optional
        As ``ddlab run --memory-budget`` takes it (default 2 GiB).

    Returns
    -------
    str
    """
    from ..sim import estimate_seconds, format_bytes, plan_run

    plan = plan_run(exp, memory_budget=memory_budget)

    cells = len(exp.model.width) * exp.seeds.data * exp.seeds.init * math.prod(exp.sweep_shape)
    sweep = " x ".join(f"{d} ({n})" for d, n in zip(exp.sweep_dims, exp.sweep_shape,
                                                    strict=True))
    lines = [
        f"experiment {exp.name!r}",
        f"grid: {sweep + ' x ' if sweep else ''}width ({len(exp.model.width)}) x "
        f"data_seed ({exp.seeds.data}) x init_seed ({exp.seeds.init}) = {cells} cells, "
        + ("closed-form fit (one epoch entry)" if exp.closed_form else
           f"{len(exp.epochs)} recorded epochs of {exp.train.epochs}"),
        f"cost: about {estimate_seconds(exp):.3g} s on one CPU process (rough estimate); "
        f"storage: about {storage_bytes(exp) / 2**20:.3g} MiB uncompressed",
        f"peak memory: about {format_bytes(plan.local_bytes)} in one process; with worker "
        f"processes (--n-jobs, --backend dask) {format_bytes(plan.worker_bytes)} per worker "
        f"and {format_bytes(plan.parent_bytes)} for the parent (budget "
        f"{format_bytes(plan.budget)}: {len(plan.chunks)} chunk(s) of at most "
        f"{plan.chunk_units} hidden units)",
        f"store size: about {format_bytes(plan.store_bytes)} on disk (compressed)",
        "resolved configuration:",
    ]
    for section, values in exp.to_dict().items():
        if isinstance(values, dict):
            lines.append(f"  [{section}]")
            lines += [f"    {k} = {json.dumps(v)}" for k, v in values.items()]
        else:
            lines.append(f"  {section} = {json.dumps(values)}")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    print(describe(experiment(args.config, args.overrides), args.memory_budget))
    return 0
