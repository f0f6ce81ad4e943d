"""``ddlab run``: train an experiment's grid into a result store (resumes).

A full disk prints one line naming the store and the space the rest of the
run needs, and exits with :data:`EXIT_DISK_FULL` (75, ``EX_TEMPFAIL``): the
store stays resumable, and the same command finishes it once there is room.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import xarray as xr

from ..results import DIMS, METRICS, StorageFullError
from ._common import add_config, experiment, positive_int

__all__ = ["EXIT_DISK_FULL", "add_parser", "main", "summary"]

#: Exit code of a run stopped by a full disk (sysexits.h EX_TEMPFAIL: retry later).
EXIT_DISK_FULL = 75


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="run an experiment into a result store (resumes)")
    add_config(p)
    p.add_argument("--out", help="zarr store (default: results/<experiment name>.zarr)")
    p.add_argument("--n-jobs", type=int, default=1, help="CPU worker processes (-1: all)")
    p.add_argument("--device", default="auto",
                   help="cpu, cuda (every visible GPU, a process each), cuda:N or auto")
    p.add_argument("--fresh", action="store_true", help="replace an existing store")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction,
                   help="show a progress bar (default: only when stderr is a terminal, so "
                        "that batch-job logs get none)")
    p.add_argument("--chunk-units", type=positive_int,
                   help="most hidden units per chunk (advanced)")
    p.add_argument("--backend", default="local",
                   help="local (this process, or --n-jobs processes) or dask")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT|local",
                   help="dask scheduler to use, or local: a LocalCluster of --n-jobs workers "
                        "(default: dask's scheduler-address setting, else local)")
    p.add_argument("--memory-budget", metavar="SIZE",
                   help="peak memory per process, e.g. 2GB or 1.5GiB (default 2GiB)")
    p.add_argument("--wait", action="store_true",
                   help="if another run is writing the store, wait for it instead of refusing")
    p.set_defaults(handler=main)


def _label(value: object) -> str:
    """A coordinate value as the summary prints it: 0.01, 1e-05, adam."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def summary(ds: xr.Dataset) -> str:
    """Final-epoch means over seeds: a line per width of each sweep point, then the totals.

    Swept keys lead the table, so no two sweep points are averaged together.
    """
    names = [v for v in METRICS if v in ds]
    last = ds[names].isel(epoch=-1).mean(["data_seed", "init_seed"]).compute()
    keys = [*(d for d in ds["test_loss"].dims if d not in DIMS), "width"]
    rows = [keys + names]
    for index in itertools.product(*(range(ds.sizes[d]) for d in keys)):
        row = last.isel(dict(zip(keys, index, strict=True)))
        rows.append([_label(row[d].item()) for d in keys]
                    + [f"{float(row[v]):.4f}" for v in names])
    widths = [max(len(r[j]) for r in rows) for j in range(len(keys))] + [14] * len(names)
    lines = [" ".join(f"{cell:>{w}}" for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.append(f"diverged cells: {int(ds.diverged.sum())}; "
                 f"wall time {float(ds.attrs['wall_time_s']):.2f} s on {ds.attrs['device']}")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    exp = experiment(args.config, args.overrides)
    from ..sim import run

    out = args.out or str(Path("results") / f"{exp.name}.zarr")
    args.store = out  # for the interruption message
    try:
        ds = run(exp, device=args.device, n_jobs=args.n_jobs, out=out, fresh=args.fresh,
                 progress=False if args.quiet else args.progress,
                 chunk_units=args.chunk_units, backend=args.backend, scheduler=args.scheduler,
                 memory_budget=args.memory_budget, wait=args.wait)
    except StorageFullError as err:
        print(f"ddlab: error: {err.strerror}", file=sys.stderr)
        return EXIT_DISK_FULL
    if not args.quiet:
        print(summary(ds))
        print(f"results: {out}")
    return 0
