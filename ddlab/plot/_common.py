"""Helpers shared by the plotting functions: labels, selections, seed statistics, scales."""

from __future__ import annotations

import math
import numbers
import re
import textwrap
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
import xarray as xr
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.font_manager import FontProperties
from matplotlib.scale import SymmetricalLogTransform
from matplotlib.textpath import TextToPath

from ..results import coordinate_attrs
from ._style import new_figure

__all__ = [
    "SEEDS",
    "as_at",
    "axes_or_new",
    "chars",
    "coord_label",
    "coord_symbol",
    "coord_text",
    "edges",
    "is_log_spaced",
    "label",
    "legend_columns",
    "log_axes",
    "place_legend",
    "scale_of",
    "seed_stats",
    "select",
    "text_width",
    "var_label",
    "wrap",
]

SEEDS = ("data_seed", "init_seed")
REDUCTIONS = ("mean", "median")


#: A short parenthetical at the end of a label ("(in units of y²)"), kept on one line.
_TAIL = re.compile(r"\([^()]{1,24}\)$")
_NBSP = "\u00a0"
#: The width coordinate's symbol for the families whose width counts features.
_SYMBOLS = {coordinate_attrs("width", "linear")["long_name"]: "p",
            coordinate_attrs("width", "random_features")["long_name"]: "N"}


def wrap(text: str, width: int = 48) -> str:
    """``text`` broken into balanced lines of at most ``width`` characters.

    As few lines as greedy filling at ``width`` gives, each about equally
    long (no one-word last line), and a short trailing parenthetical such as
    ``(in units of y²)`` is never split.
    """
    text = _TAIL.sub(lambda m: m.group(0).replace(" ", _NBSP), text)

    def fill(w: int) -> list[str]:
        return textwrap.wrap(text, w, break_on_hyphens=False, break_long_words=False)

    n = len(fill(width))
    shortest = next((w for w in range(max(1, math.ceil(len(text) / max(n, 1))), width)
                     if len(fill(w)) == n), width)
    return "\n".join(fill(shortest)).replace(_NBSP, " ")


def label(attrs: Mapping[str, Any], fallback: str, width: int = 48) -> str:
    """``long_name [units]`` from CF attrs; units ``"1"`` (dimensionless) are left out."""
    text = str(attrs.get("long_name") or fallback)
    units = attrs.get("units")
    if units not in (None, "", "1"):
        text += f" [{units}]"
    return wrap(text, width)


def var_label(da: xr.DataArray, prefix: str = "", width: int = 48) -> str:
    """The label of a data variable, optionally prefixed (``"mean over seeds of"``)."""
    attrs = dict(da.attrs)
    name = str(attrs.get("long_name") or da.name or "value")
    attrs["long_name"] = f"{prefix} {name}".strip() if prefix else name
    return label(attrs, str(da.name), width)


def coord_label(obj: xr.Dataset | xr.DataArray, name: str, width: int = 48) -> str:
    """The label of a coordinate, from its attrs (or the schema's, or its name)."""
    attrs = dict(obj[name].attrs) if name in obj.coords else {}
    if "long_name" not in attrs:
        try:
            attrs = coordinate_attrs(name)
        except StopIteration:
            attrs = {"long_name": name}
    return label(attrs, name, width)


def coord_symbol(obj: xr.Dataset | xr.DataArray, dim: str) -> str:
    """The short name of a coordinate in labels: ``p`` or ``N`` for a feature-count width."""
    if dim in obj.coords:
        return _SYMBOLS.get(str(obj[dim].attrs.get("long_name")), dim)
    return dim


def coord_text(obj: xr.Dataset | xr.DataArray, dim: str, value: Any) -> str:
    """``dim = value`` as a legend label or panel title reads it.

    Numbers in the shortest form (``0.001``, ``64``); a feature-count width as
    ``p = 10`` (linear family) or ``N = 10`` (random features); batch size 0
    as ``full batch``.
    """
    if isinstance(value, np.generic):
        value = value.item()
    if dim == "batch_size" and value == 0:
        return "full batch"
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return f"{coord_symbol(obj, dim)} = {value:g}" if number else f"{dim} = {value}"


def _points(key: str) -> float:
    """The font size of rcParams ``key`` in points (``font.size`` if given by name)."""
    size = mpl.rcParams[key]
    return float(size) if isinstance(size, (int, float)) else float(mpl.rcParams["font.size"])


def text_width(text: str, key: str = "font.size") -> float:
    """The width in inches of ``text`` (its longest line) at the font size of rcParams ``key``."""
    prop = FontProperties(size=_points(key))
    return max(TextToPath().get_text_width_height_descent(line, prop, ismath=False)[0]
               for line in str(text).split("\n")) / 72


def legend_columns(labels: Sequence[str], inches: float) -> int:
    """How many columns a legend of ``labels`` takes in ``inches`` of width.

    The fewest rows that fit (one row if it fits), then the fewest columns
    that give those rows, so no column is left half empty. Each entry is
    as wide as its label's longest line at the legend font size, plus the
    handle and the spacing between columns.
    """
    em = _points("legend.fontsize") / 72
    widths = [text_width(text, "legend.fontsize") + 4.8 * em for text in labels]
    n = len(widths)
    for rows in range(1, n + 1):
        cols = math.ceil(n / rows)
        if sum(max(c) for c in np.array_split(widths, cols)) <= 0.95 * inches:
            return cols
    return 1


def place_legend(ax: Axes, handles: Sequence[Artist], where: bool | str) -> None:
    """A legend of ``handles`` for ``ax``: ``"right"`` (or True) of it, or ``"below"``.

    ``"below"`` is a figure legend under the axes, in as many columns as fit
    the figure's width (meant for a figure whose only axes is ``ax``).
    """
    if where is True or where == "right":
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  borderaxespad=0.0)
    elif where == "below":
        fig = ax.figure
        ncols = legend_columns([h.get_label() for h in handles], fig.get_figwidth())
        fig.legend(handles=handles, loc="outside lower center", ncols=ncols)
    elif where is not False:
        raise ValueError(f"legend = {where!r}: expected True, False, 'right' or 'below'")


def chars(ax: Axes, along: str) -> int:
    """About how many label characters fit along the ``"x"`` or ``"y"`` side of ``ax``."""
    box = ax.get_position()
    fig = ax.figure
    inches = box.width * fig.get_figwidth() if along == "x" else \
        box.height * fig.get_figheight()
    return max(24, int(inches * 72 / (0.56 * _points("axes.labelsize"))))


def axes_or_new(ax: Axes | None, figsize: tuple[float, float] | None = None) -> Axes:
    """``ax``, or the axes of a new house-style figure."""
    return ax if ax is not None else new_figure(figsize).add_subplot()


def _locate(coord: xr.DataArray, dim: str, value: Any) -> int:
    values = coord.values
    hits = np.flatnonzero(values == value)
    if hits.size:
        return int(hits[0])
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and \
            -len(values) <= value < 0:
        return len(values) + int(value)
    shown = ", ".join(map(str, values[:12])) + (" ..." if len(values) > 12 else "")
    raise ValueError(f"at = {{{dim!r}: {value!r}}}: not a {dim} of the data (one of {shown}; "
                     f"a negative integer counts from the end)")


def as_at(at: Mapping[str, Any] | float | None) -> dict[str, Any]:
    """``at`` as a dict of dim -> value; a number alone is an epoch.

    ``at=1000`` means ``{"epoch": 1000}``; None means ``{}``.

    Raises
    ------
    ValueError
        If ``at`` is neither a mapping, a number nor None.
    """
    if at is None:
        return {}
    if isinstance(at, Mapping):
        return dict(at)
    if isinstance(at, numbers.Real) and not isinstance(at, bool):
        return {"epoch": at}
    raise ValueError(f"at = {at!r}: expected a mapping of dims to values, e.g. "
                     f"{{'noise': 0.5}}, or an epoch, e.g. 1000")


def select(obj: xr.Dataset | xr.DataArray, at: Mapping[str, Any] | float | None):
    """``obj`` at the coordinate values of ``at`` (see :func:`as_at`).

    A value is a coordinate label; a negative integer that is not a label
    counts from the end (``-1``: the last). A list keeps the dim (one line per
    value); a scalar drops it.
    """
    for dim, value in as_at(at).items():
        if dim not in obj.dims:
            raise ValueError(f"at = {{{dim!r}: {value!r}}}: {dim!r} is not a dim of the data "
                             f"(dims: {', '.join(map(str, obj.dims))})")
        coord = obj[dim]
        if isinstance(value, (list, tuple, np.ndarray, range)):
            obj = obj.isel({dim: [_locate(coord, dim, v) for v in value]})
        else:
            obj = obj.isel({dim: _locate(coord, dim, value)})
    return obj


def seed_stats(da: xr.DataArray, reduce: str = "mean",
               band: str | None = None) -> tuple[xr.DataArray, xr.DataArray | None,
                                                 xr.DataArray | None]:
    """The centre line and band over the seed dims of ``da``, skipping missing (NaN) cells.

    Parameters
    ----------
    da : xarray.DataArray
    reduce : {"mean", "median"}
        The centre line.
    band : {"se", "quantile"} or None
        ``"se"``: mean ± the standard error of the mean, std(ddof=1) / sqrt(n)
        over the n computed seed cells; ``"quantile"``: the 10% and 90%
        quantiles over the computed seed cells.

    Returns
    -------
    centre, low, high : xarray.DataArray
        ``low`` and ``high`` are None without a band. A point with no
        computed cell is NaN; a band needs two cells for ``"se"``. Non-finite
        values of diverged cells (inf) propagate.
    """
    if reduce not in REDUCTIONS:
        raise ValueError(f"reduce = {reduce!r}: expected one of {', '.join(REDUCTIONS)}")
    if band not in (None, "se", "quantile"):
        raise ValueError(f"band = {band!r}: expected 'se', 'quantile' or None")
    seeds = [d for d in SEEDS if d in da.dims]
    rest = [d for d in da.dims if d not in seeds]
    stacked = da.transpose(*rest, *seeds)
    x = np.asarray(stacked.values, dtype=float).reshape(*stacked.shape[:len(rest)], -1)
    template = stacked.isel(dict.fromkeys(seeds, 0), drop=True).copy(deep=False)
    present = ~np.isnan(x)
    n = present.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.where(present, x, 0.0).sum(-1) / n
        centre = mean if reduce == "mean" else np.nanmedian(x, axis=-1)
        low = high = None
        if band == "se":
            dev = np.where(present, x - mean[..., None], 0.0)
            se = np.sqrt((dev ** 2).sum(-1) / (n - 1) / n)
            se = np.where(n >= 2, se, np.nan)
            low, high = mean - se, mean + se
        elif band == "quantile":
            low, high = np.nanquantile(x, [0.1, 0.9], axis=-1)

    def wrapped(values):
        return None if values is None else template.copy(data=np.asarray(values, dtype=float))

    return wrapped(centre), wrapped(low), wrapped(high)


def is_log_spaced(values: Iterable[float]) -> bool:
    """Whether positive ``values`` (a leading 0 aside) are closer to log than to linear spacing.

    Parameters
    ----------
    values : iterable of float
        Coordinate values (order and repeats do not matter).

    Returns
    -------
    bool
        True when at least three distinct positive values span a factor of 8
        or more and the ratios between neighbours are more uniform than their
        differences (smaller coefficient of variation). A 0 (epoch 0) is
        ignored.
    """
    v = np.unique(np.asarray(list(values), dtype=float))
    v = v[np.isfinite(v)]
    if v.size and v[0] == 0:
        v = v[1:]
    if v.size < 3 or v[0] <= 0 or v[-1] / v[0] < 8:
        return False

    def cv(d):
        return float(np.std(d) / np.mean(d))

    return cv(np.diff(np.log(v))) < cv(np.diff(v))


def log_axes(log: Any, coords: Mapping[str, np.ndarray]) -> set[str]:
    """The axes (``"x"``, ``"y"``) to draw on a log scale.

    ``None``: those whose coordinate :func:`is_log_spaced`; ``False`` or ``""``:
    none; ``True``: both; a string or a set of ``"x"``/``"y"``.
    """
    if log is None:
        return {a for a, v in coords.items() if _numeric(v) and is_log_spaced(v)}
    if log is False:
        return set()
    if log is True:
        return set(coords)
    axes = set(log) if isinstance(log, (str, set, frozenset, list, tuple)) else None
    if axes is None or not axes <= set(coords):
        raise ValueError(f"log = {log!r}: expected None (automatic), True, False, or some of "
                         f"{', '.join(repr(a) for a in coords)} (e.g. 'xy')")
    return axes


def _numeric(values: np.ndarray) -> bool:
    return np.issubdtype(np.asarray(values).dtype, np.number) and not np.issubdtype(
        np.asarray(values).dtype, np.bool_)


def scale_of(values: np.ndarray, log: bool) -> tuple[str, dict[str, float]]:
    """The matplotlib axis scale for ``values``: linear, log, or symlog where 0 is present.

    Log axes of coordinates that include 0 (epoch 0, the initialisation) are
    drawn as ``symlog``: linear from 0 to the smallest positive value, log
    beyond, so every recorded value, 0 included, sits at its true position.
    """
    if not log:
        return "linear", {}
    v = np.asarray(values, dtype=float)
    if np.any(v < 0):
        raise ValueError(f"log = True: a log axis needs values >= 0, got {v.min()}")
    if np.any(v == 0):
        positive = v[v > 0]
        return "symlog", {"linthresh": float(positive.min()) if positive.size else 1.0,
                          "linscale": 0.5}
    return "log", {}


def _transform(scale: str, kw: Mapping[str, float]):
    if scale == "log":
        return np.log10, lambda t: 10.0 ** t
    if scale == "symlog":
        forward = SymmetricalLogTransform(10, kw["linthresh"], kw["linscale"])
        backward = forward.inverted()
        return (lambda a: forward.transform(np.asarray(a, dtype=float)),
                lambda t: backward.transform(np.asarray(t, dtype=float)))
    return (lambda a: np.asarray(a, dtype=float)), (lambda t: np.asarray(t, dtype=float))


def edges(values: np.ndarray, scale: str = "linear",
          kw: Mapping[str, float] | None = None) -> np.ndarray:
    """Cell edges around increasing ``values``: midpoints between neighbours on the axis scale.

    On a linear axis the midpoints are arithmetic, on a log axis geometric,
    on a symlog axis midpoints of the symlog transform. The outer edges lie
    half a neighbour spacing beyond the first and last value (a single value
    gets a cell of width 1 on linear axes, a factor of 2 on log axes).

    Parameters
    ----------
    values : ndarray
        Strictly increasing coordinate values.
    scale : {"linear", "log", "symlog"}
    kw : mapping
        ``linthresh`` and ``linscale`` of a symlog axis.

    Returns
    -------
    ndarray
        ``len(values) + 1`` edges.
    """
    forward, backward = _transform(scale, kw or {})
    t = forward(np.asarray(values, dtype=float))
    if t.size == 1:
        half = 0.5 if scale != "log" else np.log10(2) / 2
        return backward(np.array([t[0] - half, t[0] + half]))
    mid = (t[1:] + t[:-1]) / 2
    first, last = t[0] - (t[1] - t[0]) / 2, t[-1] + (t[-1] - t[-2]) / 2
    return backward(np.concatenate([[first], mid, [last]]))
