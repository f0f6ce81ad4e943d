"""Heatmaps of a metric over two coordinates, with cell edges at the true coordinate values."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import matplotlib as mpl
import numpy as np
import xarray as xr
from matplotlib import colors, ticker
from matplotlib.axes import Axes
from matplotlib.collections import QuadMesh
from matplotlib.colorbar import Colorbar
from matplotlib.patches import Patch

from ._common import (
    SEEDS,
    axes_or_new,
    chars,
    coord_label,
    edges,
    log_axes,
    scale_of,
    seed_stats,
    select,
    var_label,
)
from ._style import CMAP, DIVERGED, MISSING, style

__all__ = ["Heatmap", "colorbar_ticks", "heatmap", "key_handles", "mesh_key", "missing_key",
           "reduced", "set_scale", "variable"]


class Heatmap(NamedTuple):
    """What :func:`heatmap` drew."""

    #: The axes drawn on.
    ax: Axes
    #: The cells; ``mesh.get_array()`` is a masked array of shape (len(y), len(x)),
    #: masked where a cell is missing.
    mesh: QuadMesh
    #: The colour bar, or None with ``colorbar=False``.
    colorbar: Colorbar | None


def variable(ds: xr.Dataset | xr.DataArray, var: str) -> xr.DataArray:
    """``ds[var]``, or a one-line ValueError naming the variables ``ds`` has."""
    if isinstance(ds, xr.DataArray):
        return ds
    if var not in ds.data_vars:
        names = ", ".join(str(v) for v in ds.data_vars)
        raise ValueError(f"var = {var!r}: not a variable of the data (one of {names})")
    return ds[var]


def _extra_dims(da: xr.DataArray, keep: tuple[str, ...], hint: str) -> xr.DataArray:
    """``da`` without size-1 dims outside ``keep``; a ValueError for larger ones."""
    extra = [d for d in da.dims if d not in keep]
    big = [d for d in extra if da.sizes[d] > 1]
    if big:
        sizes = ", ".join(f"{d} ({da.sizes[d]})" for d in big)
        raise ValueError(f"at = None: {da.name or 'the data'} also varies along {sizes}; "
                         f"select one value each, e.g. at={{{big[0]!r}: ...}}{hint}")
    return da.isel(dict.fromkeys(extra, 0))


def _positions(da: xr.DataArray, dim: str) -> tuple[xr.DataArray, np.ndarray, list[str] | None]:
    """``da`` sorted along ``dim``, the numeric positions, and tick labels if categorical."""
    values = da[dim].values
    if not np.issubdtype(values.dtype, np.number) or values.dtype == bool:
        return da, np.arange(len(values), dtype=float), [str(v) for v in values]
    if len(np.unique(values)) != len(values):
        raise ValueError(f"{dim} = {values.tolist()}: repeated coordinate values")
    if np.any(np.diff(values) < 0):
        da = da.sortby(dim)
    return da, da[dim].values.astype(float), None


#: Log axes of heatmaps with at most this many cells along them get a tick at every cell.
_TICK_EVERY = 8


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _plain(value: float, _pos: Any = None) -> str:
    """A tick label as a plain number: 0.001, 0.5, 20, 1000; 10⁴ and 10⁻⁴ beyond.

    Powers of ten from 10⁴ up (and 10⁻⁴ down) are written as such, so that
    neighbouring decade ticks (1000, 10⁴) do not run together.
    """
    exponent = round(math.log10(abs(value))) if value else 0
    if abs(exponent) >= 4 and math.isclose(abs(value), 10.0**exponent, rel_tol=1e-9):
        return ("-" if value < 0 else "") + "10" + str(exponent).translate(_SUPERSCRIPT)
    if value == int(value) and abs(value) < 1e7:
        return str(int(value))
    return f"{value:.3g}"


def set_scale(ax: Axes, which: str, values: np.ndarray,
              log: bool) -> tuple[str, dict[str, float]]:
    """Set a log/symlog/linear scale on the ``which`` (``"x"``/``"y"``) axis of ``ax``.

    Log axes get ticks at 1, 2 and 5 times powers of ten up to two decades
    on x (three on y); beyond, at powers of ten, or at 1 and 3 times powers
    of ten when fewer than three powers of ten lie in the range. Ticks are
    labelled as plain numbers (powers of ten from 10⁴ on as such).

    Returns
    -------
    scale, kwargs
        As :func:`ddlab.plot._common.scale_of`.
    """
    scale, kw = scale_of(values, log)
    (ax.set_xscale if which == "x" else ax.set_yscale)(scale, **kw)
    axis = ax.xaxis if which == "x" else ax.yaxis
    if len(values) == 1:  # one value: one tick, at it
        axis.set_ticks(np.asarray(values, dtype=float), [_plain(float(values[0]))])
        axis.set_minor_locator(ticker.NullLocator())
        return scale, kw
    if scale == "linear":
        if np.all(np.mod(values, 1) == 0):
            axis.set_major_locator(ticker.MaxNLocator(nbins="auto", integer=True,
                                                      steps=[1, 2, 2.5, 5, 10]))
        return scale, kw
    log_ticks(axis, values, which, kw.get("linthresh"))
    return scale, kw


def log_ticks(axis: Any, values: np.ndarray, which: str = "y",
              linthresh: float | None = None) -> None:
    """:func:`set_scale`'s ticks and plain labels on a log (symlog with ``linthresh``) axis.

    Also for a colour bar's axis under a log norm, ``values`` then its range.
    """
    positive = np.asarray(values, dtype=float)
    positive = positive[positive > 0]
    decades = np.log10(positive.max() / positive.min()) if positive.size else 0.0
    decades += 1.0 if linthresh is not None else 0.0  # the linear part and the tick at 0
    powers = np.floor(np.log10(positive.max())) - np.ceil(np.log10(positive.min())) + 1 \
        if positive.size else 0
    if decades <= (2.0 if which == "x" else 3.0):
        subs: tuple[float, ...] = (1.0, 2.0, 5.0)
    else:
        subs = (1.0, 3.0) if powers < 3 else (1.0,)
    if linthresh is None:
        axis.set_major_locator(ticker.LogLocator(base=10, subs=subs))
    else:
        axis.set_major_locator(ticker.SymmetricalLogLocator(
            base=10, linthresh=linthresh, subs=subs))
    axis.set_major_formatter(ticker.FuncFormatter(_plain))
    axis.set_minor_formatter(ticker.NullFormatter())


def colorbar_ticks(bar: Colorbar) -> None:
    """:func:`log_ticks` on a colour bar whose norm is logarithmic (else nothing)."""
    norm = bar.mappable.norm
    if isinstance(norm, colors.LogNorm):
        log_ticks(bar.ax.yaxis, np.array([norm.vmin, norm.vmax]))


def _norm(norm: Any, z: np.ndarray, vmin: float | None, vmax: float | None,
          name: str) -> colors.Normalize:
    finite = z[np.isfinite(z)]
    if norm is None or norm == "linear":
        lo = vmin if vmin is not None else (float(finite.min()) if finite.size else 0.0)
        hi = vmax if vmax is not None else (float(finite.max()) if finite.size else 1.0)
        return colors.Normalize(lo, hi if hi > lo else lo + 1.0)
    if norm == "log":
        if finite.size and finite.min() <= 0:
            raise ValueError(f"norm = 'log': {name} has values <= 0 (smallest "
                             f"{finite.min():.3g}); use norm=None or a "
                             f"matplotlib.colors.SymLogNorm")
        lo = vmin if vmin is not None else (float(finite.min()) if finite.size else 1.0)
        hi = vmax if vmax is not None else (float(finite.max()) if finite.size else 10.0)
        return colors.LogNorm(lo, hi if hi > lo else lo * 10)
    if isinstance(norm, colors.Normalize):
        if norm.vmin is None and finite.size:
            norm.vmin = float(finite.min()) if vmin is None else vmin
        if norm.vmax is None and finite.size:
            norm.vmax = float(finite.max()) if vmax is None else vmax
        return norm
    raise ValueError(f"norm = {norm!r}: expected None, 'log' or a matplotlib.colors.Normalize")


def reduced(ds: xr.Dataset | xr.DataArray, var: str, x: str, y: str,
            reduce: str, at: Mapping[str, Any] | None, hint: str = "") -> xr.DataArray:
    """The seed reduction of ``var`` at ``at``, as a (y, x) DataArray."""
    da = select(variable(ds, var), at)
    for name, dim in (("x", x), ("y", y)):
        if dim not in da.dims:
            raise ValueError(f"{name} = {dim!r}: not a dim of {da.name or 'the data'} "
                             f"(dims: {', '.join(map(str, da.dims))})")
    if x == y:
        raise ValueError(f"y = {y!r}: the same dim as x")
    centre = seed_stats(da, reduce)[0]
    centre = _extra_dims(centre, (x, y), hint).transpose(y, x)
    return centre.assign_attrs(da.attrs).rename(da.name)


def heatmap(ds: xr.Dataset | xr.DataArray, var: str = "test_loss", x: str = "epoch",
            y: str = "width", reduce: str = "mean", log: Any = None, norm: Any = None,
            ax: Axes | None = None, *, at: Mapping[str, Any] | None = None,
            cmap: str | colors.Colormap | None = None, vmin: float | None = None,
            vmax: float | None = None, colorbar: bool = True,
            legend: bool = True) -> Heatmap:
    """Heatmap of a seed-reduced metric over two coordinates (default width × epoch).

    Drawn with ``pcolormesh``: each cell spans the midpoints between its
    coordinate value and its neighbours' (geometric midpoints on log axes),
    so log-spaced and irregular grids sit at their true values. The cells
    are rasterized in vector files (at :data:`ddlab.plot.DPI`), the axes,
    labels and colour bar stay vector.

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataArray
        A result of :func:`ddlab.run` or :func:`ddlab.open_results`, or any
        dataset with the dims ``x`` and ``y`` (e.g. :func:`ddlab.analysis.bias_variance`);
        a DataArray is drawn as is (``var`` is then ignored).
    var : str
        The variable to draw.
    x, y : str
        Dims along the horizontal and vertical axis.
    reduce : {"mean", "median"}
        Reduction over the seed dims (``data_seed``, ``init_seed``) present.
        Missing seed cells (NaN, e.g. not yet computed) are skipped; a cell
        of the map with no computed seed is missing.
    log : None, bool, str or set of str
        Axes on a log scale: ``None`` (default) chooses those whose
        coordinate is log-spaced (positive, spanning a factor of 8 or more,
        ratios more even than differences); ``True`` both, ``False`` neither,
        or ``"x"``, ``"y"``, ``"xy"``, ``{"x"}``... A log axis whose coordinate
        includes 0 (epoch 0, the initialisation) is drawn as ``symlog``:
        linear from 0 to the smallest positive value, logarithmic beyond, so
        epoch 0 keeps its cell.
        A log axis of at most 8 values has a tick at each.
    norm : None, "log" or matplotlib.colors.Normalize
        Colour scale: linear (default) between the finite extremes (or
        ``vmin``/``vmax``), ``"log"`` (all values must be positive), or any
        Normalize.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure).
    at : mapping, optional
        Values of other dims to draw at, e.g. ``{"noise": 0.5}`` for a swept
        dataset (see :func:`curves`); dims of size 1 need none.
    cmap : str or Colormap, optional
        Colour map (default :data:`ddlab.plot.CMAP`, viridis).
    vmin, vmax : float, optional
        Colour scale limits.
    colorbar : bool
        Draw a colour bar labelled with the variable's ``long_name`` and units.
    legend : bool
        When cells are missing or diverged, a key above the axes says which
        colour marks them.

    Returns
    -------
    Heatmap
        ``(ax, mesh, colorbar)``. Missing cells (NaN) are masked in
        ``mesh.get_array()`` and drawn in :data:`ddlab.plot.MISSING` (light
        grey); diverged cells (infinite values) are drawn in
        :data:`ddlab.plot.DIVERGED` beyond the top of the colour scale.

    Raises
    ------
    ValueError
        If ``var``, ``x``, ``y``, ``reduce``, ``log``, ``norm`` or ``at`` do
        not fit the data, or the data varies along another dim.
    """
    with style():
        da = reduced(ds, var, x, y, reduce, at)
        da, xs, xticks = _positions(da, x)
        da, ys, yticks = _positions(da, y)
        axes = log_axes(log, {"x": da[x].values, "y": da[y].values})
        for name, ticks in (("x", xticks), ("y", yticks)):
            if name in axes and ticks is not None:
                raise ValueError(f"log = {log!r}: the {name} coordinate is not numeric")
        ax = axes_or_new(ax)
        xscale, xkw = set_scale(ax, "x", xs, "x" in axes)
        yscale, ykw = set_scale(ax, "y", ys, "y" in axes)
        for axis, values, scale in ((ax.xaxis, xs, xscale), (ax.yaxis, ys, yscale)):
            if scale != "linear" and len(values) <= _TICK_EVERY:  # a tick per row or column
                axis.set_ticks(values, [_plain(v) for v in values])
                axis.set_minor_locator(ticker.NullLocator())
        z = np.asarray(da.values, dtype=float)
        norm_ = _norm(norm, z, vmin, vmax, str(da.name))
        diverged = np.isinf(z)
        # diverged cells lie above the top of the scale, in the colour map's "over" colour
        data = np.ma.masked_invalid(np.where(diverged, np.finfo(float).max, z))
        cm = mpl.colormaps[cmap or CMAP] if not isinstance(cmap, colors.Colormap) else cmap
        cm = cm.with_extremes(bad=MISSING, **({"over": DIVERGED} if diverged.any() else {}))
        # rasterized: vector files would show hairline seams between the cells
        mesh = ax.pcolormesh(edges(xs, xscale, xkw), edges(ys, yscale, ykw), data,
                             cmap=cm, norm=norm_, shading="flat", rasterized=True)
        for axis, ticks, pos in ((ax.xaxis, xticks, xs), (ax.yaxis, yticks, ys)):
            if ticks is not None:
                axis.set_ticks(pos, ticks)
        ax.set_xlabel(coord_label(ds, x, chars(ax, "x")))
        ax.set_ylabel(coord_label(ds, y, chars(ax, "y")))
        ax.spines[["top", "right"]].set_visible(True)
        seeds = [d for d in SEEDS if d in variable(ds, var).dims]
        prefix = f"{reduce} over seeds of" if seeds else ""
        bar = None
        if colorbar:
            bar = ax.figure.colorbar(mesh, ax=ax, extend="max" if diverged.any() else "neither",
                                     label=var_label(da, prefix, chars(ax, "y")))
            colorbar_ticks(bar)
        if legend:
            missing_key(ax, bool(np.isnan(z).any()), bool(diverged.any()))
        return Heatmap(ax, mesh, bar)


def key_handles(missing: bool, diverged: bool) -> list[Patch]:
    """Legend patches for missing and diverged cells (those present)."""
    handles = []
    if missing:
        handles.append(Patch(facecolor=MISSING, edgecolor="0.5", linewidth=0.5,
                             label="missing (not computed)"))
    if diverged:
        handles.append(Patch(facecolor=DIVERGED, edgecolor="0.5", linewidth=0.5,
                             label="diverged (infinite)"))
    return handles


def missing_key(ax: Axes, missing: bool, diverged: bool) -> None:
    """A key above the top right corner of ``ax`` for missing and diverged cells."""
    handles = key_handles(missing, diverged)
    if handles:
        ax.legend(handles=handles, loc="lower right", bbox_to_anchor=(1.0, 1.0),
                  ncols=len(handles), borderaxespad=0.2, handlelength=1.2)


def mesh_key(mesh: QuadMesh) -> list[Patch]:
    """Legend patches for the missing and diverged cells of a drawn heatmap."""
    z = mesh.get_array()
    values = np.ma.getdata(z)
    return key_handles(bool(np.ma.getmaskarray(z).any()),
                       bool((values == np.finfo(float).max).any()))
