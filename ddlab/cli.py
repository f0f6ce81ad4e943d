"""The ``ddlab`` command line: ``ddlab run`` and ``ddlab show``.

Bad input (unreadable TOML, unknown keys, bad values) prints one line on
stderr and exits with code 2, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from .experiment import Experiment, load_experiment

__all__ = ["main"]


def _summary(ds) -> str:
    """Final-epoch means over seeds, one line per width."""
    last = ds.isel(epoch=-1).mean(("data_seed", "init_seed"))
    names = [v for v in ("train_loss", "test_loss", "f_error_train", "f_error") if v in ds]
    lines = [f"{'width':>6} {'n_params':>9} " + " ".join(f"{v:>14}" for v in names)]
    for k, w in enumerate(ds.width.values):
        vals = " ".join(f"{float(last[v][k]):14.4f}" for v in names)
        lines.append(f"{int(w):>6} {int(ds.n_params[k]):>9} {vals}")
    best = int(ds.width[int(np.nanargmin(last.test_loss.values))])
    lines.append(f"best width by final mean test loss: {best}; "
                 f"diverged cells: {int(ds.diverged.sum())}; "
                 f"wall time {ds.attrs['wall_time_s']:.2f} s on {ds.attrs['device']}")
    return "\n".join(lines)


def _describe(exp: Experiment) -> str:
    cells = len(exp.model.width) * exp.seeds.data * exp.seeds.init
    units = sum(exp.model.width) * exp.seeds.data * exp.seeds.init
    lines = [f"experiment {exp.name!r}: {cells} cells x {len(exp.epochs)} recorded epochs "
             f"({exp.train.epochs} trained), {units} hidden units in all"]
    for section, values in exp.to_dict().items():
        if isinstance(values, dict):
            lines.append(f"[{section}]")
            lines += [f"  {k} = {v!r}" for k, v in values.items()]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ddlab", description="Double-descent simulations.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train every cell of an experiment and print a summary")
    run.add_argument("config", help="experiment TOML file")
    run.add_argument("--n-jobs", type=int, default=1, help="CPU worker processes")
    run.add_argument("--device", default="auto", help="cpu, cuda or auto")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    show = sub.add_parser("show", help="print the resolved experiment without running it")
    show.add_argument("config", help="experiment TOML file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ddlab`` console script.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 on success, 2 on bad input.
    """
    args = _parser().parse_args(argv)
    try:
        exp = load_experiment(args.config)
        if args.command == "show":
            print(_describe(exp))
            return 0
        from .grid import run

        ds = run(exp, device=args.device, n_jobs=args.n_jobs, progress=not args.quiet)
    except ValueError as err:
        print(f"ddlab: error: {err}", file=sys.stderr)
        return 2
    print(_summary(ds))
    return 0
