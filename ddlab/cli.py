"""The ``ddlab`` command line: ``run``, ``show``, ``info`` and ``export``.

Bad input prints one line on stderr and exits with code 2, without a
traceback; nothing already on disk is changed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from .dataset import VARIABLES
from .experiment import Experiment, load_experiment, read_toml, set_key

__all__ = ["main"]

#: rough single-process CPU costs, seconds per hidden unit and row (benchmarks/seed_grid.py)
_TRAIN_COST, _EVAL_COST = 1.5e-8, 1.3e-9


def _experiment(config: str, overrides: Sequence[str]) -> Experiment:
    raw = read_toml(config)
    for assignment in overrides:
        set_key(raw, assignment)
    raw.setdefault("name", Path(config).stem)
    return load_experiment(raw)


def estimate_seconds(exp: Experiment) -> float:
    """A rough single-process CPU time for an experiment, from measured per-unit costs."""
    points = math.prod(exp.sweep_shape)
    if exp.closed_form:  # Gram, solve and predictions, at about 3 GFLOP/s
        n, cells = exp.data.n_train, exp.seeds.data * exp.seeds.init * points
        rows = n + exp.data.n_test + exp.data.n_population
        per_feature = 2 if exp.model.family == "linear" else 2 * (exp.data.dim + 2)
        flops = sum(min(n, w) ** 2 * max(n, w) + rows * w * per_feature
                    for w in exp.model.width)
        return cells * flops / 3e9
    worst = max((e for _, e in exp.points()), key=lambda e: (e.data.n_train, e.model.depth),
                default=exp)
    units = sum(exp.model.width) * exp.seeds.data * exp.seeds.init * points
    depth_factor = 1 + (worst.model.depth - 1) * max(exp.model.width) / max(1, worst.data.dim)
    bs = worst.train.batch_size or worst.data.n_train
    steps = exp.train.epochs * math.ceil(worst.data.n_train / bs)
    evals = len(exp.epochs) * (worst.data.n_test + exp.data.n_population)
    return units * depth_factor * (steps * worst.data.n_train * _TRAIN_COST + evals * _EVAL_COST)


def storage_bytes(exp: Experiment) -> int:
    """Uncompressed size of an experiment's result arrays."""
    from .dataset import variable_dims

    size = {"width": len(exp.model.width), "epoch": len(exp.epochs), "data_seed": exp.seeds.data,
            "init_seed": exp.seeds.init, "pop": exp.data.n_population}
    size |= dict(zip(exp.sweep_dims, exp.sweep_shape, strict=True))
    return sum(8 * math.prod(size[d] for d in dims) for dims in variable_dims(exp).values())


def _describe(exp: Experiment) -> str:
    points = math.prod(exp.sweep_shape)
    cells = len(exp.model.width) * exp.seeds.data * exp.seeds.init * points
    sweep = " x ".join(f"{d} ({n})" for d, n in zip(exp.sweep_dims, exp.sweep_shape,
                                                    strict=True))
    lines = [
        f"experiment {exp.name!r}",
        f"grid: {sweep + ' x ' if sweep else ''}width ({len(exp.model.width)}) x "
        f"data_seed ({exp.seeds.data}) x init_seed ({exp.seeds.init}) = {cells} cells, "
        + ("closed-form fit (one epoch entry)" if exp.closed_form else
         f"{len(exp.epochs)} recorded epochs of {exp.train.epochs}"),
        f"cost: about {estimate_seconds(exp):.3g} s on one CPU process (rough estimate); "
        f"storage: about {storage_bytes(exp) / 2**20:.3g} MiB",
        "resolved configuration:",
    ]
    for section, values in exp.to_dict().items():
        if isinstance(values, dict):
            lines.append(f"  [{section}]")
            lines += [f"    {k} = {json.dumps(v)}" for k, v in values.items()]
        else:
            lines.append(f"  {section} = {json.dumps(values)}")
    return "\n".join(lines)


def _summary(ds) -> str:
    """Final-epoch means over seeds (and swept values), one line per width."""
    last = ds.isel(epoch=-1).mean([d for d in ds.test_loss.dims if d not in ("width", "epoch")])
    names = [v for v in ("train_loss", "test_loss", "f_error_train", "f_error") if v in ds]
    lines = [f"{'width':>6} " + " ".join(f"{v:>14}" for v in names)]
    for k, w in enumerate(ds.width.values):
        lines.append(f"{int(w):>6} " + " ".join(f"{float(last[v][k]):14.4f}" for v in names))
    lines.append(f"diverged cells: {int(ds.diverged.sum())}; "
                 f"wall time {ds.attrs['wall_time_s']:.2f} s on {ds.attrs['device']}")
    return "\n".join(lines)


def _info(path: str) -> str:
    from .store import open_results

    ds = open_results(path)
    done = ds["completed"].values
    lines = [f"{path}: experiment {ds.attrs.get('name')!r}",
             "dims: " + ", ".join(f"{d}={n}" for d, n in ds.sizes.items()),
             f"completed: {int(done.sum())} of {done.size} cells "
             f"({100 * done.mean():.1f}%)",
             "variables: " + ", ".join(f"{v} [{ds[v].attrs.get('units')}]"
                                      for v in VARIABLES if v in ds),
             "provenance:"]
    lines += [f"  {k}: {v}" for k, v in ds.attrs.items() if k != "experiment"]
    lines.append("configuration:")
    lines.append(json.dumps(json.loads(ds.attrs["experiment"]), indent=2, sort_keys=True))
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ddlab", description="Double-descent simulations.")
    sub = parser.add_subparsers(dest="command", required=True)
    sets = {"action": "append", "default": [], "metavar": "SECTION.KEY=VALUE",
            "help": "override a key, e.g. train.lr=0.05 or data.noise=[0.01,1.5] (repeatable)"}
    run = sub.add_parser("run", help="run an experiment into a result store (resumes)")
    run.add_argument("config", help="experiment TOML file")
    run.add_argument("--out", help="zarr store (default: results/<experiment name>.zarr)")
    run.add_argument("--set", dest="overrides", **sets)
    run.add_argument("--n-jobs", type=int, default=1, help="CPU worker processes (-1: all)")
    run.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    run.add_argument("--fresh", action="store_true", help="overwrite an existing store")
    run.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    run.add_argument("--chunk-units", type=int, help="hidden units per chunk (advanced)")
    show = sub.add_parser("show", help="print the resolved experiment, grid size and cost")
    show.add_argument("config", help="experiment TOML file")
    show.add_argument("--set", dest="overrides", **sets)
    info = sub.add_parser("info", help="describe a stored result")
    info.add_argument("path", help="zarr store")
    export = sub.add_parser("export", help="copy a stored result to another format")
    export.add_argument("path", help="zarr store")
    export.add_argument("--netcdf", required=True, metavar="OUT.nc", help="netCDF4 file")
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
        0 on success, 2 on bad input, 130 when interrupted.
    """
    args = _parser().parse_args(argv)
    out = None
    try:
        if args.command == "info":
            print(_info(args.path))
        elif args.command == "export":
            from .store import export_netcdf

            print(f"wrote {export_netcdf(args.path, args.netcdf)}")
        else:
            exp = _experiment(args.config, args.overrides)
            if args.command == "show":
                print(_describe(exp))
                return 0
            from .grid import run

            out = args.out or str(Path("results") / f"{exp.name}.zarr")
            ds = run(exp, device=args.device, n_jobs=args.n_jobs, progress=not args.quiet,
                     out=out, fresh=args.fresh, chunk_units=args.chunk_units)
            if not args.quiet:
                print(_summary(ds))
                print(f"results: {out}")
    except ValueError as err:
        print(f"ddlab: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        where = f" in {out}" if out else ""
        print(f"ddlab: interrupted; completed chunks are saved{where}: run the same command "
              f"again to resume", file=sys.stderr)
        return 130
    return 0
