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
    p.set_defaults(handler=main)


def describe(exp: Experiment) -> str:
    """The grid, its cost and storage, and the resolved configuration, as text."""
    from ..sim import estimate_seconds

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
    print(describe(experiment(args.config, args.overrides)))
    return 0
