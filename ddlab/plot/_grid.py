"""Multi-panel figures: the seed figure (heatmaps and curves) and small multiples of sweeps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import matplotlib as mpl
import numpy as np
import xarray as xr
from matplotlib.colorbar import Colorbar
from matplotlib.figure import Figure

from ._common import (
    SEEDS,
    as_at,
    chars,
    coord_text,
    legend_columns,
    select,
    text_width,
    var_label,
    wrap,
)
from ._curves import Curves, band_key, curves, spread
from ._heatmap import (
    Heatmap,
    _norm,
    colorbar_ticks,
    heatmap,
    key_handles,
    mesh_key,
    reduced,
    set_scale,
    variable,
)
from ._style import new_figure, style

__all__ = ["Grid", "SeedFigure", "f_metric", "grid_size", "seed_figure", "sweep_grid"]

_GRID_DIMS = ("width", "epoch", *SEEDS, "pop")


class SeedFigure(NamedTuple):
    """What :func:`seed_figure` drew."""

    #: The figure.
    fig: Figure
    #: Heatmaps of test loss and of the error in f (width × epoch).
    heatmaps: tuple[Heatmap, Heatmap]
    #: Curves of the same two metrics against epoch at ``widths``.
    curves: tuple[Curves, Curves]
    #: The widths of the curves, marked on the heatmaps' right edge.
    widths: list


class Grid(NamedTuple):
    """What :func:`sweep_grid` drew."""

    #: The figure.
    fig: Figure
    #: The panels, shape (rows, cols).
    axes: np.ndarray
    #: Per panel (same shape), its :class:`Heatmap` or :class:`Curves`.
    panels: np.ndarray
    #: The colour bar shared by heatmap panels (None for curves).
    colorbar: Colorbar | None


def f_metric(ds: xr.Dataset) -> str:
    """``f_error`` where the dataset has it (and values), else ``f_error_train``."""
    if "f_error" in ds and ds["f_error"].notnull().any():
        return "f_error"
    if "f_error_train" in ds:
        return "f_error_train"
    raise ValueError("ds: no f_error or f_error_train to draw the error in f")


def _figure(fig: Figure | None, figsize: tuple[float, float]) -> Figure:
    return fig if fig is not None else new_figure(figsize)


def seed_figure(ds: xr.Dataset, fig: Figure | None = None, *,
                widths: Sequence[int] | None = None,
                at: Mapping[str, Any] | float | None = None,
                reduce: str = "mean", band: str | None = "se", log: Any = None,
                norm: Any = None) -> SeedFigure:
    """The lecture's 2×2 figure: test loss and error in f, as heatmaps and as curves.

    Top row: heatmaps over epoch × width of the seed-reduced test loss (left)
    and error in f (right: ``f_error``, the population error, if recorded,
    else ``f_error_train``, on the training inputs). Bottom row: the same two
    metrics against epoch at a few widths, mean over seeds with a band; the
    widths are marked with coloured triangles on the heatmaps' right edge.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`ddlab.run` or :func:`ddlab.open_results`.
    fig : matplotlib.figure.Figure, optional
        Figure to draw on (default: a new one, 9 × 6.2 inches); should be empty.
    widths : sequence of int, optional
        Widths of the curves (default: four spread across the grid, evenly on
        a log scale if the widths are log-spaced).
    at : mapping, optional
        Values of swept dims to draw at, e.g. ``{"noise": 1.5, "lr": 0.01}``.
    reduce : {"mean", "median"}
        Seed reduction of the heatmaps and the lines.
    band : {"se", "quantile"} or None
        Band of the curves, as in :func:`curves`.
    log : None, bool, str or set of str
        Log axes of the heatmaps, as in :func:`heatmap`; the curves' epoch
        axis follows the heatmaps'.
    norm : None, "log" or matplotlib.colors.Normalize
        Colour scale of the heatmaps.

    Returns
    -------
    SeedFigure
        ``(fig, heatmaps, curves, widths)``.

    Raises
    ------
    ValueError
        If ``ds`` has fewer than two recorded epochs, or no error in f.
    """
    f_var = f_metric(ds)
    if ds.sizes.get("epoch", 0) < 2:
        raise ValueError("ds: one recorded epoch (a closed-form fit, or record = [epoch]); "
                         "seed_figure draws training over epochs; use curves(ds, over='width')")
    with style():
        fig = _figure(fig, (9.0, 6.2))
        axes = fig.subplots(2, 2)
        picked = list(widths) if widths is not None else spread(ds["width"].values)
        maps, lines = [], []
        for col, (var, title) in enumerate((("test_loss", "test loss"),
                                            (f_var, "error in f" + (
                                                " (population)" if f_var == "f_error"
                                                else " (training inputs)")))):
            h = heatmap(ds, var, reduce=reduce, log=log, norm=norm, ax=axes[0, col], at=at,
                        legend=False)
            h.colorbar.set_label(var_label(variable(ds, var), "", chars(h.ax, "y")))
            h.ax.set_title(f"{title}: {reduce} over seeds", loc="left")
            xlog = h.ax.get_xscale() != "linear"
            c = curves(ds, var, over="epoch", at={**as_at(at), "width": picked}, band=band,
                       reduce=reduce, ax=axes[1, col], log="x" if xlog else False,
                       legend=False)
            c.ax.set_title(f"{title} at {len(picked)} widths", loc="left")
            c.ax.set_xlim(h.ax.get_xlim())
            for w, line in zip(picked, c.lines.values(), strict=True):
                h.ax.plot([1.0], [w], marker="<", markersize=6, color=line.get_color(),
                          markeredgecolor="white", markeredgewidth=0.7, clip_on=False,
                          transform=h.ax.get_yaxis_transform(), linestyle="none",
                          label="_width")
            maps.append(h)
            lines.append(c)
        sel = select(variable(ds, "test_loss"), at)
        n = int(np.prod([sel.sizes[d] for d in SEEDS if d in sel.dims]))
        keys = {p.get_label(): p for h in maps for p in mesh_key(h.mesh)}
        handles = [*lines[0].lines.values(), *band_key(band, n), *keys.values()]
        fig.legend(handles=handles, loc="outside lower center",
                   ncols=legend_columns([h.get_label() for h in handles], fig.get_figwidth()))
        return SeedFigure(fig, (maps[0], maps[1]), (lines[0], lines[1]), picked)


def _facets(da: xr.DataArray, row: str | None, col: str | None,
            keep: tuple[str, ...]) -> tuple[str | None, str | None]:
    free = [d for d in da.dims if d not in keep and d not in (row, col) and da.sizes[d] > 1]
    for name, dim in (("row", row), ("col", col)):
        if dim is not None and dim not in da.dims:
            raise ValueError(f"{name} = {dim!r}: not a dim of {da.name} "
                             f"(dims: {', '.join(map(str, da.dims))})")
    if row is None and col is None and len(free) == 1:
        col = free.pop(0)  # one swept dim: a row of panels
    if row is None and free:
        row = free.pop(0)
    if col is None and free:
        col = free.pop(0)
    if free:
        sizes = ", ".join(f"{d} ({da.sizes[d]})" for d in free)
        raise ValueError(f"at = None: {da.name} also varies along {sizes} beyond row "
                         f"{row!r} and col {col!r}; select with at={{{free[0]!r}: ...}}")
    return row, col


def facet_order(da: xr.DataArray, dim: str | None) -> list[int]:
    """Indices of the values of ``dim`` in panel order: ascending if numeric, else as stored.

    Batch size 0 (the full batch) comes after every minibatch size.
    """
    if dim is None:
        return [0]
    values = da[dim].values
    if not np.issubdtype(values.dtype, np.number) or values.dtype == bool:
        return list(range(len(values)))
    key = np.where(values == 0, np.inf, values) if dim == "batch_size" else values
    return [int(i) for i in np.argsort(key, kind="stable")]


def sweep_grid(ds: xr.Dataset, var: str = "test_loss", row: str | None = None,
               col: str | None = None, fig: Figure | None = None, *, kind: str = "heatmap",
               x: str = "epoch", y: str = "width", over: str = "width",
               at: Mapping[str, Any] | float | None = None, reduce: str = "mean",
               log: Any = None,
               norm: Any = None, band: str | None = "se", sharey: bool = True,
               wrap: int | None = None) -> Grid:
    """Small multiples over swept dims: one heatmap (or curve panel) per row × col value.

    Parameters
    ----------
    ds : xarray.Dataset
        A result swept over one or two keys (e.g. noise × lr).
    var : str
        The variable to draw.
    row, col : str, optional
        Dims of the rows and columns (default: the first and second swept
        dims with more than one value, a single one along the columns; a
        dataset without any gives one panel). Numeric values run in
        ascending order (batch size 0, the full batch, last), others in the
        order of the data.
    fig : matplotlib.figure.Figure, optional
        Figure to draw on (default: a new one sized to the grid).
    kind : {"heatmap", "curves"}
        Panels: :func:`heatmap` over ``x`` × ``y`` with one colour scale and
        colour bar for all, or :func:`curves` over ``over`` with a shared y axis.
    x, y : str
        Heatmap axes.
    over : str
        Curve axis.
    at : mapping, optional
        Values of further dims (see :func:`curves`).
    reduce : {"mean", "median"}
        Seed reduction.
    log : None, bool, str or set of str
        Log axes, as in :func:`heatmap`.
    norm : None or "log"
        Shared colour scale of the heatmaps: linear or log over the finite
        values of all panels.
    band : {"se", "quantile"} or None
        Band of the curves.
    sharey : bool
        One y axis for all curve panels (heatmap panels always share both axes).
    wrap : int, optional
        With one facet dim (``col``, no ``row``): at most this many panels
        per row, the rest on further rows (left to right, top to bottom).

    Returns
    -------
    Grid
        ``(fig, axes, panels, colorbar)``; with ``wrap``, the cells of the
        last row left empty are hidden axes with panel None.
    """
    if kind not in ("heatmap", "curves"):
        raise ValueError(f"kind = {kind!r}: expected 'heatmap' or 'curves'")
    da = select(variable(ds, var), at)
    keep = (*SEEDS, "pop", x, y) if kind == "heatmap" else (*SEEDS, "pop", "epoch", "width",
                                                               over)
    if wrap is not None and (not isinstance(wrap, int) or wrap < 1):
        raise ValueError(f"wrap = {wrap!r}: expected a positive integer")
    row, col = _facets(da, row, col, keep)
    # (grid row, grid column, facet point) of every panel
    cells = [(i, j, {**({row: da[row].values[r]} if row else {}),
                     **({col: da[col].values[c]} if col else {})})
             for i, r in enumerate(facet_order(da, row))
             for j, c in enumerate(facet_order(da, col))]
    if wrap is not None and row is None and len(cells) > wrap:
        cells = [(k // wrap, k % wrap, point) for k, (_, _, point) in enumerate(cells)]
    nrow, ncol = max(c[0] for c in cells) + 1, max(c[1] for c in cells) + 1
    with style():
        fig = _figure(fig, grid_size(nrow, ncol))
        axes = np.asarray(fig.subplots(nrow, ncol, squeeze=False, sharex=True,
                                       sharey=sharey or kind == "heatmap"))
        panels = np.empty((nrow, ncol), dtype=object)
        shared = None
        if kind == "heatmap":
            sub = select(ds, at)
            z = np.concatenate([reduced(sub, var, x, y, reduce, point).values.ravel()
                                for _, _, point in cells])
            shared = _norm(norm, z, None, None, var)
        for i, j, point in cells:
            where = {**as_at(at), **point}
            ax = axes[i, j]
            if kind == "heatmap":
                panels[i, j] = heatmap(ds, var, x=x, y=y, reduce=reduce, log=log,
                                       norm=shared, ax=ax, at=where, colorbar=False,
                                       legend=False)
            else:
                panels[i, j] = curves(ds, var, over=over, at=where, band=band,
                                      reduce=reduce, log=log, ax=ax, threshold=None,
                                      legend=False)
            if i < nrow - 1:
                ax.set_xlabel("")
            if j > 0:
                ax.set_ylabel("")
        _titles(fig, axes, [(i, j, [coord_text(da, d, v) for d, v in point.items()])
                            for i, j, point in cells])
        if kind == "curves":
            _shared_scales(axes, panels, sharey)
        for i in range(1, nrow):
            for j in range(ncol):
                if panels[i, j] is None:  # an empty cell of a wrapped last row
                    axes[i, j].set_visible(False)
                    axes[i - 1, j].xaxis.set_tick_params(labelbottom=True)
        bar = None
        if kind == "heatmap":
            mesh = panels[0, 0].mesh
            prefix = f"{reduce} over seeds of" if any(d in da.dims for d in SEEDS) else ""
            bar = fig.colorbar(mesh, ax=axes.ravel().tolist(),
                               label=var_label(da, prefix, _chars(fig.get_figheight())),
                               extend="max" if np.isinf(z).any() else "neither",
                               shrink=1.0 if nrow > 1 else 0.9)
            colorbar_ticks(bar)
            handles = key_handles(bool(np.isnan(z).any()), bool(np.isinf(z).any()))
        else:
            first = panels[0, 0]
            sel = select(variable(ds, var), at)
            n = int(np.prod([sel.sizes[d] for d in SEEDS if d in sel.dims]))
            handles = [*first.lines.values(), *band_key(band, n)]
        if handles:
            fig.legend(handles=handles, loc="outside upper center",
                       ncols=legend_columns([h.get_label() for h in handles],
                                            fig.get_figwidth()))
        if nrow > 1 or ncol > 1:
            _share_labels(fig, axes)
        return Grid(fig, axes, panels, bar)


def _titles(fig: Figure, axes: np.ndarray, titles: list[tuple[int, int, list[str]]]) -> None:
    """Set the panel titles: ``a = 1, b = 2``, or one part per line if any would not fit.

    Every panel gets the same form, decided by the longest title against
    the horizontal pitch of the panels.
    """
    pitch = (fig.get_figwidth() - 0.8) / axes.shape[1]  # a panel and its gap, in inches
    longest = max(text_width(", ".join(parts), "axes.titlesize") for _, _, parts in titles)
    sep = ", " if longest <= pitch - 0.15 else "\n"
    for i, j, parts in titles:
        axes[i, j].set_title(sep.join(parts), loc="left")


def _shared_scales(axes: np.ndarray, panels: np.ndarray, sharey: bool) -> None:
    """Log ticks of the shared axes of curve panels, from the lines of all panels.

    Shared axes share one locator, so the last panel's own would otherwise
    decide the ticks of all.
    """
    drawn = [p for p in panels.ravel() if p is not None]
    for which in ("x", "y") if sharey else ("x",):
        values = np.concatenate([np.asarray(getattr(line, f"get_{which}data")(), dtype=float)
                                 for p in drawn for line in p.lines.values()])
        values = np.unique(values[np.isfinite(values)])
        scale = axes[0, 0].get_xscale() if which == "x" else axes[0, 0].get_yscale()
        if scale != "linear" and values.size:
            set_scale(axes[0, 0], which, values, True)


def _share_labels(fig: Figure, axes: np.ndarray) -> None:
    """One x label below the grid and one y label left of it, instead of per panel."""
    xlabel, ylabel = axes[-1, 0].get_xlabel(), axes[0, 0].get_ylabel()
    for ax in axes.ravel():
        ax.set_xlabel("")
        ax.set_ylabel("")
    size = mpl.rcParams["axes.labelsize"]
    fig.supxlabel(wrap(xlabel.replace("\n", " "), _chars(fig.get_figwidth())), fontsize=size)
    fig.supylabel(wrap(ylabel.replace("\n", " "), _chars(fig.get_figheight())), fontsize=size)


def _chars(inches: float) -> int:
    """About how many label characters fit along 80% of ``inches``."""
    size = mpl.rcParams["axes.labelsize"]
    size = size if isinstance(size, (int, float)) else mpl.rcParams["font.size"]
    return max(24, int(0.8 * inches * 72 / (0.56 * size)))


def grid_size(nrow: int, ncol: int) -> tuple[float, float]:
    """The default figure size of a :func:`sweep_grid` of ``nrow`` × ``ncol`` panels."""
    return min(2.6 * ncol + 1.6, 13.0), min(2.1 * nrow + 1.1, 11.0)

