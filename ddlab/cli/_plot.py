"""``ddlab plot``: a quick figure of result stores, finished or still being written.

Kinds: ``heatmap`` (``--var`` over epoch × width, or over the two dims with
more than one value, small multiples over further swept keys), ``curves``
(``--var`` against ``--over``: width, epoch, n_params or a swept key; one
panel per further sweep point), ``seed`` (the 2×2 lecture figure),
``bias-variance`` (needs ``pred_mean``) and ``decomposition`` (trains the
best-in-class networks with :func:`ddlab.best_in_class`, cached, so the first
call for an experiment takes a while). The default kind is a heatmap for a
store trained over several recorded epochs, else curves (a closed-form fit
has one epoch entry). Several stores are drawn as curves on shared axes,
each labelled by the keys its experiment does not share with the others.
Cells not yet computed are drawn as missing. Without ``--out`` the figure
goes next to the (first) store: ``<store without .zarr>_<kind>[_<var>].png``.
Figures are drawn on :class:`matplotlib.figure.Figure` objects with the Agg
canvas (no pyplot, no display) and saved deterministically.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import xarray as xr

from ..analysis import differing_keys
from ..config import set_key
from ..results import METRICS, check_writable, experiment_of, open_results, private_dir

__all__ = ["KINDS", "add_parser", "compare", "default_kind", "default_out", "draw", "main",
           "store_labels"]

#: Figure kinds, in help order.
KINDS = ("heatmap", "curves", "seed", "bias-variance", "decomposition")
_USES_VAR = ("heatmap", "curves")
_FORMATS = ("png", "pdf", "svg")
_NOT_DRAWN = ("data_seed", "init_seed", "pop")
#: More differing keys than this make a legend label unreadable: stores go by name.
_MOST_KEYS = 3
_DESCRIPTION = (
    "Draw a figure of result stores, finished or still being written (cells not yet "
    "computed are drawn as missing). Kinds: heatmap (--var over epoch x width, or over the "
    "two dims with more than one value; small multiples over further swept keys), curves "
    "(--var against --over, mean over seeds with a standard-error band), seed (test loss "
    "and error in f as heatmaps and curves), bias-variance (needs pred_mean), decomposition "
    "(fits the best-in-class networks, cached; slow the first time). Default: heatmap for a "
    "store trained over several recorded epochs, else curves. Several stores are drawn as "
    "curves on shared axes, labelled by the experiment keys that differ between them. Files "
    "are byte-identical for the same stores.")


def add_parser(sub) -> None:
    p = sub.add_parser("plot", help="draw a figure of result stores (also partial ones)",
                       description=_DESCRIPTION)
    p.add_argument("stores", nargs="+", metavar="STORE", help="zarr result store(s)")
    p.add_argument("--kind", default=None, metavar="KIND",
                   help=f"one of {', '.join(KINDS)} (default: heatmap for a store trained "
                        f"over several recorded epochs, else curves; curves with --over)")
    p.add_argument("--var", default=None,
                   help="variable of the heatmap and curves kinds (default: test_loss)")
    p.add_argument("--over", default=None, metavar="DIM",
                   help="x axis of curves, bias-variance and decomposition: width, epoch, "
                        "n_params or a swept key such as n_train (default: width, or else "
                        "the first swept key with several values)")
    p.add_argument("--sel", action="append", default=[], metavar="DIM=VALUE",
                   help="draw at values of a dim, read as TOML like --set: noise=0.5, "
                        "optimizer=sgd, width=[2,8] (a line each; repeatable)")
    p.add_argument("--out", default=None, metavar="FIG.png",
                   help="figure file, .png, .pdf or .svg (default: next to the first store, "
                        "<store>_<kind>[_<var>].png)")
    p.add_argument("--force", action="store_true",
                   help="replace --out even if ddlab did not write it")
    p.set_defaults(handler=main)


def _stem(store: str | Path) -> str:
    name = Path(store).name
    return name[:-len(".zarr")] if name.endswith(".zarr") else name


def default_out(store: str | Path | Sequence[str | Path], kind: str, var: str | None) -> Path:
    """``<store without .zarr>_<kind>[_<var>].png`` next to the (first) store.

    Several stores: ``<first>_vs_<second>[_vs_...]_<kind>_<var>.png``.
    """
    stores = [store] if isinstance(store, (str, Path)) else list(store)
    stem = "_vs_".join(_stem(s) for s in stores)
    suffix = f"_{var}" if kind in _USES_VAR else ""
    return Path(stores[0]).with_name(f"{stem}_{kind.replace('-', '_')}{suffix}.png")


def _value(dim: str, text: str) -> Any:
    """A ``--sel`` value, read as TOML as ``--set`` reads its values (``"full"`` batch: 0)."""
    value = set_key({}, f"sel.{dim}={text}")["sel"][dim]
    if dim == "batch_size":
        return [0 if v == "full" else v for v in value] if isinstance(value, list) else (
            0 if value == "full" else value)
    return value


def _selection(ds: xr.Dataset, assignments: list[str],
               name: str = "the store") -> dict[str, Any]:
    at: dict[str, Any] = {}
    for item in assignments:
        dim, sep, text = item.partition("=")
        dim = dim.strip()
        if not sep or not dim:
            raise ValueError(f"sel = {item!r}: expected DIM=VALUE, e.g. noise=0.5")
        if dim not in ds.dims or dim in _NOT_DRAWN:
            dims = [d for d in ds.dims if d not in _NOT_DRAWN]
            raise ValueError(f"sel = {item!r}: {dim!r} is not a dim of {name} "
                             f"(one of {', '.join(map(str, dims))})")
        value = _value(dim, text.strip())
        values = ds[dim].values.tolist()
        for v in value if isinstance(value, list) else [value]:
            if v not in values:
                raise ValueError(f"sel = {item!r}: no {dim} = {v!r} in {name} "
                                 f"(one of {', '.join(map(str, values))})")
        at[dim] = value
    return at


def _figure(figsize: tuple[float, float], axes: bool = False):
    """A house-style Figure without pyplot, and with ``axes`` its one Axes."""
    from matplotlib.figure import Figure

    from ..plot import style

    with style():
        fig = Figure(figsize=figsize, layout="constrained")
        return fig.add_subplot() if axes else fig


def _check(ds: xr.Dataset, kind: str | None, var: str | None, over: str | None) -> str:
    """Refuse kinds, variables and ``--over`` that do not go together; the variable drawn."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind = {kind!r}: expected one of {', '.join(KINDS)}")
    if var is not None and kind not in (None, *_USES_VAR):
        raise ValueError(f"var = {var!r}: kind {kind!r} draws its own variables; "
                         f"--var is for {' and '.join(_USES_VAR)}")
    var = var or "test_loss"
    if var not in ds.data_vars or var in ("completed", "diverged", "f_population"):
        names = [v for v in (*METRICS, "wall_time", "pred_var_init") if v in ds.data_vars]
        raise ValueError(f"var = {var!r}: not a variable of the store to plot "
                         f"(one of {', '.join(names)})")
    if over is not None and kind in ("heatmap", "seed"):
        raise ValueError(f"over = {over!r}: kind {kind!r} draws a map over two dims; --over "
                         f"is for curves, bias-variance and decomposition")
    return var


def _varying(ds: xr.Dataset, var: str, at: Mapping[str, Any]) -> list[str]:
    """The dims of ``var`` with several values at ``at``: swept keys first, then width, epoch."""
    da = ds[var].sel({d: v for d, v in at.items() if d in ds[var].dims})
    dims = [d for d in da.dims if d not in _NOT_DRAWN and da.sizes[d] > 1]
    return sorted(dims, key=lambda d: ("width", "epoch").index(d) + 1
                  if d in ("width", "epoch") else 0)


def _over(ds: xr.Dataset, var: str, over: str | None, varying: list[str],
          name: str = "the store") -> str:
    """``--over``, checked, or its default: width, else the first swept key that varies."""
    if over is None:
        return "width" if "width" in varying or len(varying) < 1 else varying[0]
    dim = "width" if over == "n_params" else over
    if dim not in ds[var].dims or dim in _NOT_DRAWN:
        dims = [d for d in ds[var].dims if d not in _NOT_DRAWN]
        raise ValueError(f"over = {over!r}: not a dim of {var} in {name} "
                         f"(one of {', '.join(map(str, dims))}, or n_params)")
    if dim not in varying:
        raise ValueError(f"over = {over!r}: {name} has one {dim} here; choose a dim with "
                         f"several values ({', '.join(varying) or 'none'})")
    return over


def _facets(kind: str, facets: list[str]) -> tuple[str | None, str]:
    """Row and column dims of the small multiples (at most two)."""
    if len(facets) > 2:
        raise ValueError(f"kind = {kind!r}: the store also varies along {', '.join(facets)}; "
                         f"choose all but two with --sel DIM=VALUE")
    return (None, facets[0]) if len(facets) == 1 else (facets[0], facets[1])


def _map_or_lines(ds: xr.Dataset, kind: str, var: str, over: str | None,
                  at: dict[str, Any], varying: list[str]):
    """A heatmap or curves figure, with small multiples over the dims left over."""
    from .. import plot
    from ..plot._grid import grid_size

    if kind == "heatmap":
        if len(varying) < 2:
            raise ValueError(f"kind = 'heatmap': {var} varies along "
                             f"{' and '.join(varying) or 'no dim'} only here (one recorded "
                             f"epoch: a closed-form fit?); use --kind curves")
        x = "epoch" if "epoch" in varying else next(d for d in varying if d != "width")
        y = "width" if "width" in varying and x != "width" else next(
            d for d in varying if d != x)
        used = (x, y)
    else:  # a dim selected at a list of values gives a line each
        used = ("epoch", "width", "width" if over == "n_params" else over,
                *(d for d, v in at.items() if isinstance(v, list)))
    facets = [d for d in varying if d not in used]
    if not facets:
        if kind == "heatmap":
            return plot.heatmap(ds, var, x=x, y=y, at=at,
                                ax=_figure((5.0, 3.6), axes=True)).ax.figure
        return plot.curves(ds, var, over=over, at=at,
                           ax=_figure((6.4, 3.6), axes=True)).ax.figure
    row, col = _facets(kind, facets)
    size = grid_size(ds.sizes[row] if row else 1, ds.sizes[col])
    extra = {"x": x, "y": y} if kind == "heatmap" else {"over": over}
    return plot.sweep_grid(ds, var, row, col, fig=_figure(size), at=at, kind=kind,
                           **extra).fig


def default_kind(ds: xr.Dataset, var: str = "test_loss",
                 at: Mapping[str, Any] | None = None) -> str:
    """``heatmap`` if ``var`` varies along epoch and another dim at ``at``, else ``curves``.

    A closed-form fit has one epoch entry: its heatmap would be a column of
    one-colour blocks, so it gets curves.
    """
    varying = _varying(ds, var, at or {})
    return "heatmap" if "epoch" in varying and len(varying) > 1 else "curves"


def draw(ds: xr.Dataset, kind: str | None = None, var: str | None = None,
         over: str | None = None, at: dict[str, Any] | None = None):
    """The figure ``ddlab plot`` draws of one store (a Figure without pyplot).

    Parameters
    ----------
    ds : xarray.Dataset
        An opened result store.
    kind : str, optional
        One of :data:`KINDS`; default: curves with ``over``, else
        :func:`default_kind`.
    var : str, optional
        Variable of the heatmap and curves kinds (default ``test_loss``).
    over : str, optional
        x axis of the curve kinds (default: width if it has several values,
        else the first swept key that has).
    at : dict, optional
        Values of dims to draw at, as ``--sel`` gives them.

    Raises
    ------
    ValueError
        On an unknown kind, variable or dim, or a kind the store cannot
        give (bias-variance without ``pred_mean``, decomposition without
        ``f_error``, seed of a one-epoch or swept store without ``--sel``).
    """
    at = dict(at or {})
    var = _check(ds, kind, var, over)
    varying = _varying(ds, var, at)
    kind = kind or ("curves" if over else default_kind(ds, var, at))
    over = None if kind in ("heatmap", "seed") else _over(ds, var, over, varying)
    if kind in _USES_VAR:
        return _map_or_lines(ds, kind, var, over, at, varying)
    swept = [d for d in varying if d not in ("epoch", "width", over)]
    if swept:
        sizes = ", ".join(f"{d} ({ds.sizes[d]})" for d in swept)
        raise ValueError(f"kind = {kind!r}: the store is swept over {sizes}; choose one point "
                         f"with --sel {swept[0]}=VALUE")
    return _single(ds, kind, over, at)


def _single(ds: xr.Dataset, kind: str, over: str | None, at: dict[str, Any]):
    """The seed, bias-variance and decomposition figures of one sweep point."""
    from .. import plot

    if kind == "seed":
        if ds.sizes.get("epoch", 0) < 2:
            raise ValueError("kind = 'seed': draws training over epochs, and the store has one "
                             "recorded epoch (a closed-form fit?); use --kind curves")
        fig = _figure((9.0, 6.2))
        plot.seed_figure(ds, fig, at=at)
        return fig
    ax = _figure((6.4, 3.6), axes=True)
    if kind == "bias-variance":
        if "pred_mean" not in ds:
            raise ValueError("kind = 'bias-variance': the store has no pred_mean; run with "
                             "data.n_population > 0 and train.record_bias_variance = true")
        from ..analysis import bias_variance

        return plot.bias_variance(bias_variance(ds), over=over, at=at, ax=ax).ax.figure
    if "f_error" not in ds or not bool(ds["f_error"].notnull().any()):
        raise ValueError("kind = 'decomposition': the store has no f_error values; run "
                         "with data.n_population > 0 (and a synthetic target)")
    from ..analysis import decompose
    from ..sim import best_in_class  # trains networks: only for this kind

    best = best_in_class(experiment_of(ds))
    return plot.decomposition(decompose(ds, best), over=over, at=at, ax=ax).ax.figure


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(map(_text, value)) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def store_labels(stores: Sequence[str | Path], datasets: Sequence[xr.Dataset]) -> list[str]:
    """Legend labels of stores: the experiment keys that differ between them, as ``key = value``.

    Keys go by their name without the section (``noise = 0.1, lr = 0.05``).
    When no key tells the stores apart, or more than three do, the stores go
    by name (``a`` for ``a.zarr``; their paths if names repeat).
    """
    differ = differing_keys([experiment_of(ds) for ds in datasets])
    labels = [", ".join(f"{key.split('.', 1)[1]} = {_text(value)}"
                        for key, value in keys.items()) for keys in differ]
    if all(labels) and len(set(labels)) == len(labels) and len(differ[0]) <= _MOST_KEYS:
        return labels
    names = [_stem(store) for store in stores]
    return names if len(set(names)) == len(names) else [str(store) for store in stores]


def compare(datasets: Mapping[str, xr.Dataset], kind: str | None = None,
            var: str | None = None, over: str | None = None,
            at: dict[str, Any] | None = None):
    """The figure ``ddlab plot`` draws of several stores: curves on shared axes.

    Parameters
    ----------
    datasets : mapping of str to xarray.Dataset
        Legend label -> opened store (see :func:`store_labels`).
    kind : {None, "curves"}
        Several stores are drawn as curves only.
    var, over, at
        As :func:`draw`; ``over`` defaults from the first store.
    """
    if kind not in (None, "curves"):
        raise ValueError(f"kind = {kind!r}: several stores are drawn as curves on shared axes; "
                         f"give one store for kind {kind!r}")
    from .. import plot

    at = dict(at or {})
    first = next(iter(datasets.values()))
    var = _check(first, "curves", var, over)
    over = _over(first, var, over, _varying(first, var, at))
    for label, ds in datasets.items():
        _check(ds, "curves", var, None)
        _over(ds, var, over, _varying(ds, var, at), f"the store labelled {label!r}")
    return plot.curves(dict(datasets), var, over=over, at=at,
                       ax=_figure((7.2, 3.8), axes=True)).ax.figure


def _progress(ds: xr.Dataset) -> str:
    done = ds["completed"].values
    return "" if done.all() else (f"{int(done.sum())} of {done.size} cells computed, "
                                  f"{math.floor(100 * done.mean())}%")


def main(args: argparse.Namespace) -> int:
    if args.out and Path(args.out).suffix.lower().lstrip(".") not in _FORMATS:
        raise ValueError(f"out = '{args.out}': expected a .png, .pdf or .svg file name")
    datasets = [open_results(store) for store in args.stores]
    ats = [_selection(ds, args.sel, f"'{store}'" if len(datasets) > 1 else "the store")
           for store, ds in zip(args.stores, datasets, strict=True)]
    var = _check(datasets[0], args.kind, args.var, args.over)
    if len(datasets) == 1:
        kind = args.kind or ("curves" if args.over else default_kind(datasets[0], var, ats[0]))
    else:
        kind = args.kind or "curves"
    path = Path(args.out or default_out(args.stores, kind, var))
    if path.is_dir():
        raise ValueError(f"out = '{path}': is a directory; give a file name such as "
                         f"'{path / default_out(args.stores, kind, var).name}'")
    from ..plot import save, written_by_ddlab

    if path.exists() and not args.force and not written_by_ddlab(path):
        raise ValueError(f"out = '{path}': exists and was not written by ddlab; use --force "
                         f"to replace it")
    check_writable(path)
    if len(datasets) == 1:
        fig = draw(datasets[0], kind, args.var, args.over, ats[0])
    else:
        labels = store_labels(args.stores, datasets)
        fig = compare(dict(zip(labels, datasets, strict=True)), kind, args.var, args.over,
                      ats[0])
    with private_dir(path) as tmp:  # written whole, never through a planted link
        save(fig, tmp / path.name)
        os.replace(tmp / path.name, path)
    notes = [(store, _progress(ds)) for store, ds in zip(args.stores, datasets, strict=True)]
    notes = [f"{store}: {note}" if len(datasets) > 1 else note for store, note in notes if note]
    print(f"wrote {path}" + (f" ({'; '.join(notes)})" if notes else ""))
    return 0
