"""``ddlab plot``: a quick figure of a result store, finished or still being written.

Kinds: ``heatmap`` (default; width × epoch of ``--var``, small multiples over
swept keys), ``curves`` (``--var`` against ``--over``, one panel per sweep
point), ``seed`` (the 2×2 lecture figure), ``bias-variance`` (needs
``pred_mean``) and ``decomposition`` (trains the best-in-class networks with
:func:`ddlab.best_in_class`, cached, so the first call for an experiment takes
a while). Cells not yet computed are drawn as missing. Without ``--out`` the
figure goes next to the store: ``<store without .zarr>_<kind>[_<var>].png``.
Figures are drawn on :class:`matplotlib.figure.Figure` objects with the Agg
canvas (no pyplot, no display) and saved deterministically.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import xarray as xr

from ..results import METRICS, experiment_of, open_results

__all__ = ["KINDS", "add_parser", "default_out", "draw", "main"]

#: Figure kinds, in help order.
KINDS = ("heatmap", "curves", "seed", "bias-variance", "decomposition")
_USES_VAR = ("heatmap", "curves")
_FORMATS = ("png", "pdf", "svg")
_NOT_SWEPT = ("width", "epoch", "data_seed", "init_seed", "pop")
_DESCRIPTION = (
    "Draw a figure of a result store, finished or still being written (cells not yet "
    "computed are drawn as missing). Kinds: heatmap (width x epoch of --var; small "
    "multiples over swept keys), curves (--var against --over, mean over seeds with a "
    "standard-error band), seed (test loss and error in f as heatmaps and curves), "
    "bias-variance (needs pred_mean), decomposition (fits the best-in-class networks, "
    "cached; slow the first time). Files are byte-identical for the same store.")


def add_parser(sub) -> None:
    p = sub.add_parser("plot", help="draw a figure of a result store (also a partial one)",
                       description=_DESCRIPTION)
    p.add_argument("store", help="zarr result store")
    p.add_argument("--kind", default="heatmap", metavar="KIND",
                   help=f"one of {', '.join(KINDS)} (default: heatmap)")
    p.add_argument("--var", default=None,
                   help="variable of the heatmap and curves kinds (default: test_loss)")
    p.add_argument("--over", default=None, metavar="DIM",
                   help="x axis of curves, bias-variance and decomposition: width (default), "
                        "epoch or n_params")
    p.add_argument("--sel", action="append", default=[], metavar="DIM=VALUE",
                   help="draw at one value of a swept key, e.g. noise=0.5 (repeatable)")
    p.add_argument("--out", default=None, metavar="FIG.png",
                   help="figure file, .png, .pdf or .svg (default: next to the store, "
                        "<store>_<kind>[_<var>].png)")
    p.set_defaults(handler=main)


def default_out(store: str | Path, kind: str, var: str | None) -> Path:
    """``<store without .zarr>_<kind>[_<var>].png``, next to the store."""
    store = Path(store)
    stem = store.name[:-len(".zarr")] if store.name.endswith(".zarr") else store.name
    suffix = f"_{var}" if kind in _USES_VAR else ""
    return store.with_name(f"{stem}_{kind.replace('-', '_')}{suffix}.png")


def _value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _selection(ds: xr.Dataset, assignments: list[str]) -> dict[str, Any]:
    at: dict[str, Any] = {}
    for item in assignments:
        dim, sep, text = item.partition("=")
        dim = dim.strip()
        if not sep or not dim:
            raise ValueError(f"sel = {item!r}: expected DIM=VALUE, e.g. noise=0.5")
        if dim not in ds.dims or dim in ("data_seed", "init_seed", "pop"):
            dims = [d for d in ds.dims if d not in ("data_seed", "init_seed", "pop")]
            raise ValueError(f"sel = {item!r}: {dim!r} is not a dim of the store "
                             f"(one of {', '.join(map(str, dims))})")
        value = _value(text.strip())
        values = ds[dim].values.tolist()
        if value not in values:
            raise ValueError(f"sel = {item!r}: no {dim} = {value!r} in the store "
                             f"(one of {', '.join(map(str, values))})")
        at[dim] = value
    return at


def _swept(ds: xr.Dataset, at: dict[str, Any]) -> list[str]:
    return [d for d in ds["completed"].dims
            if d not in _NOT_SWEPT and d not in at and ds.sizes[d] > 1]


def _figure(figsize: tuple[float, float], axes: bool = False):
    """A house-style Figure without pyplot, and with ``axes`` its one Axes."""
    from matplotlib.figure import Figure

    from ..plot import style

    with style():
        fig = Figure(figsize=figsize, layout="constrained")
        return fig.add_subplot() if axes else fig


def draw(ds: xr.Dataset, kind: str, var: str | None = None, over: str | None = None,
         at: dict[str, Any] | None = None):
    """The figure ``ddlab plot`` draws of ``ds`` (a Figure without pyplot).

    Raises
    ------
    ValueError
        On an unknown kind, variable or dim, or a kind the store cannot
        give (bias-variance without ``pred_mean``, decomposition without
        ``f_error``, seed of a swept store without ``--sel``).
    """
    from .. import plot

    at = dict(at or {})
    if kind not in KINDS:
        raise ValueError(f"kind = {kind!r}: expected one of {', '.join(KINDS)}")
    if var is not None and kind not in _USES_VAR:
        raise ValueError(f"var = {var!r}: kind {kind!r} draws its own variables; "
                         f"--var is for {' and '.join(_USES_VAR)}")
    var = var or "test_loss"
    if var not in ds.data_vars or var in ("completed", "diverged", "f_population"):
        names = [v for v in (*METRICS, "wall_time", "pred_var_init") if v in ds.data_vars]
        raise ValueError(f"var = {var!r}: not a variable of the store to plot "
                         f"(one of {', '.join(names)})")
    if over is not None and kind in ("heatmap", "seed"):
        raise ValueError(f"over = {over!r}: kind {kind!r} draws width × epoch; --over is for "
                         f"curves, bias-variance and decomposition")
    over = over or "width"
    if over not in ("width", "epoch", "n_params"):
        raise ValueError(f"over = {over!r}: expected width, epoch or n_params")
    swept = _swept(ds, at)
    if kind in _USES_VAR and swept:
        if len(swept) > 2:
            raise ValueError(f"sel = {at}: the store is swept over {', '.join(swept)}; "
                             f"choose all but two with --sel DIM=VALUE")
        from ..plot._grid import grid_size

        row, col = (None, swept[0]) if len(swept) == 1 else swept
        size = grid_size(ds.sizes[row] if row else 1, ds.sizes[col])
        return plot.sweep_grid(ds, var, row, col, fig=_figure(size), at=at, over=over,
                               kind="heatmap" if kind == "heatmap" else "curves").fig
    if swept:
        sizes = ", ".join(f"{d} ({ds.sizes[d]})" for d in swept)
        raise ValueError(f"kind = {kind!r}: the store is swept over {sizes}; choose one point "
                         f"with --sel {swept[0]}=VALUE")
    if kind == "heatmap":
        fig = plot.heatmap(ds, var, at=at, ax=_figure((5.0, 3.6), axes=True)).ax.figure
    elif kind == "curves":
        fig = plot.curves(ds, var, over=over, at=at, ax=_figure((6.4, 3.6), axes=True)).ax.figure
    elif kind == "seed":
        fig = _figure((9.0, 6.2))
        plot.seed_figure(ds, fig, at=at)
    elif kind == "bias-variance":
        if "pred_mean" not in ds:
            raise ValueError("kind = 'bias-variance': the store has no pred_mean; run with "
                             "data.n_population > 0 and train.record_bias_variance = true")
        from ..analysis import bias_variance

        fig = plot.bias_variance(bias_variance(ds), over=over, at=at,
                                 ax=_figure((6.4, 3.6), axes=True)).ax.figure
    else:
        if "f_error" not in ds or not bool(ds["f_error"].notnull().any()):
            raise ValueError("kind = 'decomposition': the store has no f_error values; run "
                             "with data.n_population > 0 (and a synthetic target)")
        from ..analysis import decompose
        from ..sim import best_in_class  # trains networks: only for this kind

        best = best_in_class(experiment_of(ds))
        fig = plot.decomposition(decompose(ds, best), over=over, at=at,
                                 ax=_figure((6.4, 3.6), axes=True)).ax.figure
    return fig


def main(args: argparse.Namespace) -> int:
    ds = open_results(args.store)
    out = Path(args.out) if args.out else default_out(args.store, args.kind, args.var
                                                      or "test_loss")
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in _FORMATS:
        raise ValueError(f"out = '{out}': expected a .png, .pdf or .svg file name")
    fig = draw(ds, args.kind, args.var, args.over, _selection(ds, args.sel))
    from ..plot import save

    (path,) = save(fig, out)
    done = ds["completed"].values
    note = "" if done.all() else (f" ({int(done.sum())} of {done.size} cells computed, "
                                  f"{math.floor(100 * done.mean())}%)")
    print(f"wrote {path}{note}")
    return 0
