"""Curves over width, epoch, parameter count or a swept key: seed bands, theory, threshold."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..analysis import first_below
from ..results import experiment_of
from ..theory import Risk
from ._common import (
    SEEDS,
    as_at,
    axes_or_new,
    chars,
    coord_label,
    coord_symbol,
    coord_text,
    is_log_spaced,
    log_axes,
    place_legend,
    seed_stats,
    select,
    var_label,
    wrap,
)
from ._heatmap import set_scale, variable
from ._style import style

__all__ = ["Curves", "band_key", "bias_variance", "curves", "decomposition", "spread"]

#: Train loss below which a width interpolates (as in :func:`ddlab.analysis.summarize`).
TOL = 1e-3
_BANDS = {"se": "± standard error", "quantile": "10–90% quantiles"}
#: Line width of the data under a theory curve.
_UNDER_THEORY = 2.6


class Curves(NamedTuple):
    """What :func:`curves`, :func:`decomposition` and :func:`bias_variance` drew."""

    #: The axes drawn on.
    ax: Axes
    #: Legend label -> the line of the mean (or median) over seeds.
    lines: dict[str, Line2D]
    #: Legend label -> its band across seeds (absent without a band).
    bands: dict[str, PolyCollection]
    #: The theory curve, or None.
    theory: Line2D | None
    #: The vertical line at the interpolation threshold, or None.
    threshold: Line2D | None
    #: Legend label -> a horizontal line of a null model (:func:`curves` only; else empty).
    null: dict[str, Line2D]


def spread(values: np.ndarray, k: int = 4) -> list:
    """Up to ``k`` values spread evenly across ``values`` (on a log scale if log-spaced)."""
    values = np.asarray(values)
    if len(values) <= k:
        return values.tolist()
    t = np.log(values.astype(float)) if is_log_spaced(values) else values.astype(float)
    picks = sorted({int(np.argmin(np.abs(t - g))) for g in np.linspace(t[0], t[-1], k)})
    return values[picks].tolist()


def _defaults(da: xr.DataArray | xr.Dataset, dim: str, at: Mapping[str, Any] | float | None,
              lines: str) -> dict[str, Any]:
    """``at`` with defaults: final epoch; for width, ``lines`` "spread" (4) or "last"."""
    out = as_at(at)
    if dim in out:
        other = "width" if dim == "epoch" else "epoch"
        raise ValueError(f"at = {at!r}: {dim} is the x axis; select other dims, e.g. "
                         f"at={{{other!r}: ...}}")
    for d in da.dims:
        if d in out or d == dim or d in SEEDS:
            continue
        if d == "epoch":
            out[d] = -1
        elif d == "width":
            out[d] = spread(da["width"].values) if lines == "spread" else -1
    return out


def _scalar_coords(da: xr.DataArray, dims: Sequence[str]) -> str:
    return ", ".join(coord_text(da, d, da[d].values.item()) for d in dims
                     if d in da.coords and da[d].ndim == 0)


def _xvalues(line: xr.DataArray, over: str) -> np.ndarray:
    x = line[over].values if over in line.coords else line[line.dims[0]].values
    if x.ndim != 1:
        raise ValueError(f"over = {over!r}: its coordinate also varies along "
                         f"{', '.join(d for d in line[over].dims if d not in line.dims)}; "
                         f"select one value with at=")
    return x.astype(float)


def _draw(ax: Axes, da: xr.DataArray, over: str, band: str | None, reduce: str, *,
          label: str | None = None, color: str | None = None,
          linestyle: str = "-", linewidth: float | None = None):
    """One line (and band) per combination of the dims of ``da`` besides ``over`` and seeds.

    ``label`` names a single line; with several, it comes before each line's
    coordinates (``"noise = 0.1, width = 8"``). Returns lines and bands as
    dicts keyed by legend label.
    """
    dim = "width" if over == "n_params" else over
    centre, low, high = seed_stats(da, reduce, band)
    line_dims = [d for d in centre.dims if d != dim]
    combos = list(itertools.product(*(range(centre.sizes[d]) for d in line_dims)))
    lines, bands = {}, {}
    for idx in combos:
        sel = dict(zip(line_dims, idx, strict=True))
        c = centre.isel(sel).transpose(dim)
        x = _xvalues(c, over)
        coords = _scalar_coords(c, line_dims) if label is None or len(combos) > 1 else ""
        name = ", ".join(part for part in (label, coords) if part) or f"{reduce} over seeds"
        if not np.isfinite(c.values).any():
            name += " (no data yet)"
        kwargs = {"linestyle": linestyle}
        if color is not None:
            kwargs["color"] = color
        if linewidth is not None:
            kwargs["linewidth"] = linewidth
        if len(x) == 1:  # a line of one point shows as a marker
            kwargs["marker"] = "o"
        y = c.values
        (line,) = ax.plot(x, np.where(np.isfinite(y), y, np.nan), label=wrap(name, 40),
                          **kwargs)
        lines[name] = line
        if low is not None:
            lo, hi = low.isel(sel).transpose(dim).values, high.isel(sel).transpose(dim).values
            bands[name] = ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.22,
                                          linewidth=0, label="_band")
    return lines, bands


def _theory(theory: Any, over: str) -> tuple[np.ndarray, np.ndarray, str]:
    """x, the excess risk and a label from a theory argument."""
    label = "theory (excess risk)"
    if isinstance(theory, xr.DataArray):
        dim = theory.dims[0] if theory.ndim == 1 else None
        if dim is None:
            raise ValueError(f"theory = DataArray with dims {theory.dims}: expected one dim")
        x = theory[over].values if over in theory.coords else theory[dim].values
        return x.astype(float), np.asarray(theory.values, dtype=float), str(
            theory.attrs.get("long_name") or theory.name or label)
    if isinstance(theory, tuple) and len(theory) in (2, 3):
        x, risk = theory[0], theory[1]
        label = str(theory[2]) if len(theory) == 3 else label
        y = risk.risk if isinstance(risk, Risk) else risk
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if x.shape != y.shape or x.ndim != 1:
            raise ValueError(f"theory = (x, risk): x and risk must be 1-D of one length, got "
                             f"shapes {x.shape} and {y.shape}")
        return x, y, label
    raise ValueError(f"theory = {type(theory).__name__}: expected (x, Risk), (x, Risk, label), "
                     f"(x, values) or a DataArray along {over!r}")


def _noise2(ds: xr.Dataset | xr.DataArray) -> float:
    """sigma² of a selection: from a scalar ``noise`` coordinate or the experiment."""
    if "noise" in ds.coords:
        noise = np.unique(ds["noise"].values)
        if noise.size != 1:
            raise ValueError("theory = ...: the curves span several noise levels; select one "
                             "with at={'noise': ...} to add σ² to the theory")
        return float(noise[0]) ** 2
    noise = experiment_of(ds).data.noise if isinstance(ds, xr.Dataset) else None
    if noise is None:
        raise ValueError("theory = ...: cannot find the noise level to add σ² for test_loss")
    return float(noise) ** 2


def _threshold(ds: xr.Dataset | xr.DataArray, over: str, threshold: Any,
               at: Mapping[str, Any]) -> tuple[float, str] | None:
    """Where the interpolation threshold lies on the x axis, with its label."""
    if threshold is None or threshold is False:
        return None
    if isinstance(threshold, tuple):
        return float(threshold[0]), str(threshold[1])
    if threshold != "auto" and threshold is not True:
        value = float(threshold)
        where = coord_text(ds, over, value) if over in ds.coords else f"{over} = {value:g}"
        return value, f"interpolation threshold {where}"
    if over == "epoch" or not isinstance(ds, xr.Dataset) or "experiment" not in ds.attrs:
        return None
    sub = select(ds, {d: v for d, v in at.items() if d not in ("width", "epoch")})
    n = np.unique(sub["n_train"].values if "n_train" in sub.coords else
                  experiment_of(ds).data.n_train)
    if over == "n_params":
        return (float(n[0]), f"n_params = n_train = {int(n[0])}") if n.size == 1 else None
    if experiment_of(ds).model.family != "mlp":
        # fixed features: N (or p) >= n_train features fit the n_train points exactly; a
        # train loss below TOL can come earlier (one-hot labels nearly in the span)
        return (float(n[0]), f"interpolation threshold {coord_symbol(ds, 'width')} = n = "
                             f"{int(n[0])}") if n.size == 1 else None
    # summarize(ds).interpolation_width's definition, without its peak search
    fit = "train_error" if "train_error" in sub else "train_loss"
    if fit not in sub:
        return None
    train = seed_stats(sub[fit].isel(epoch=-1), "mean")[0]
    if train.dims != ("width",):
        return None
    first = int(first_below(train.values, TOL))
    if first < 0:
        return None
    width = float(train["width"].values[first])
    what = "0-1 train error" if fit == "train_error" else "train loss"
    return width, (f"interpolation threshold {coord_text(sub, 'width', width)} "
                   f"(first with final {what} < {TOL:g})")


def _threshold_line(ax: Axes, where: tuple[float, str] | None) -> Line2D | None:
    """The dotted vertical line at a place from :func:`_threshold`, if there is one."""
    if where is None:
        return None
    return ax.axvline(where[0], color="0.35", linestyle=":", linewidth=1.2,
                      label=wrap(where[1], 40), zorder=1)


def _finish(ax: Axes, ds, over: str, ylabel: str, log: Any, title: str,
            extra: list, legend: bool | str, lines: dict[str, Line2D]) -> None:
    def values(axis: str) -> np.ndarray:
        got = [np.asarray(getattr(line, f"get_{axis}data")(), dtype=float)
               for line in lines.values()]
        v = np.concatenate(got) if got else np.array([])
        return np.unique(v[np.isfinite(v)])

    xs, ys = values("x"), values("y")
    wide = ys.size > 1 and ys[0] > 0 and ys[-1] / ys[0] >= 1000
    axes = log_axes(log, {"x": xs, "y": ys})
    if log is None:
        axes = (axes - {"y"}) | ({"y"} if wide else set())
    set_scale(ax, "x", xs, "x" in axes)
    if "y" in axes:
        set_scale(ax, "y", ys, True)
        _floor_bands(ax, ys)
    ax.set_xlabel(coord_label(ds, over, chars(ax, "x")))
    ax.set_ylabel(wrap(ylabel.replace("\n", " "), chars(ax, "y")))
    if title:
        ax.set_title(title, loc="left")
    if legend:
        handles = [h for h in ax.get_lines() if not h.get_label().startswith("_")] + extra
        place_legend(ax, handles, legend)
    if legend == "below":  # the legend takes height: wrap the y label to the laid-out axes
        ax.figure.draw_without_rendering()
        ax.set_ylabel(wrap(ylabel.replace("\n", " "), chars(ax, "y")))


def _floor_bands(ax: Axes, ys: np.ndarray) -> None:
    """On a log y axis, keep the autoscale within half a decade below the lowest line.

    A band's lower edge (mean - SE) can sit at or just above zero, which a log
    axis would otherwise reach down to (1e-16 for a seed-constant error); the
    band then runs off the bottom of the axes instead. Only the data limits
    change, so axes sharing y still autoscale together.
    """
    positive = ys[ys > 0]
    if ax.get_yscale() != "log" or not positive.size:
        return
    floor = positive.min() / np.sqrt(10)
    y0, y1 = ax.dataLim.intervaly
    if y0 < floor:
        ax.dataLim.intervaly = (floor, max(y1, floor))
        ax.autoscale_view(scalex=False)


def band_key(band: str | None, n: int | Sequence[int]) -> list[Patch]:
    """The legend patch that says what the bands are (none without a band or with one seed).

    ``n`` is the number of seed cells, or those of several data sets (a range
    if they differ).
    """
    counts = sorted({int(k) for k in np.atleast_1d(n)})
    if band is None or counts[-1] < 2:
        return []
    cells = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
    return [Patch(facecolor="0.5", alpha=0.3, linewidth=0,
                  label=wrap(f"band: {_BANDS[band]}, {cells} seed cells", 40))]


def _limit_theory(ax: Axes, y_data: np.ndarray, y_theory: np.ndarray) -> None:
    """Keep the y range on the data when the theory curve shoots far above it (a pole)."""
    finite = y_data[np.isfinite(y_data)]
    if not finite.size or ax.get_yscale() == "log":
        return
    lo, hi = float(finite.min()), float(finite.max())
    top = hi + 1.0 * (hi - lo) if hi > lo else 2 * hi
    if np.nanmax(np.where(np.isfinite(y_theory), y_theory, np.nan)) > top:
        bottom = min(0.0, lo) if lo >= 0 else lo - 0.05 * (top - lo)
        ax.set_ylim(bottom, top)


def curves(ds: xr.Dataset | xr.DataArray | Mapping[str, xr.Dataset | xr.DataArray],
           var: str = "test_loss", over: str = "width",
           at: Mapping[str, Any] | float | None = None, band: str | None = "se",
           theory: Any = None, threshold: Any = "auto", ax: Axes | None = None, *,
           reduce: str = "mean", log: Any = None, legend: bool | str = True,
           null: bool | None = None) -> Curves:
    """A metric against width, epoch or parameter count: mean over seeds with a band.

    Parameters
    ----------
    ds : xarray.Dataset, xarray.DataArray, or mapping of str to them
        A result of :func:`ddlab.run` or :func:`ddlab.open_results` (or a
        DataArray, drawn as is; then no automatic threshold). A mapping of
        labels to results draws them all on the same axes, each line's
        legend label starting with its result's label; when a result gives
        several lines, every result has a line style of its own, and where
        all give as many lines the colours repeat, so a colour means the
        same line of each.
    var : str
        The variable to draw.
    over : str
        The x axis: ``width``, ``epoch``, ``n_params`` (the parameter count
        of each width) or any other dim, e.g. a swept ``n_train`` or ``noise``.
    at : mapping or number, optional
        Values of the other dims, as coordinate labels (a negative integer
        that is not a label counts from the end). A list draws one line per
        value. A number alone is an epoch: ``at=1000`` is
        ``{"epoch": 1000}``. Defaults: the final epoch (``{"epoch": -1}``)
        unless ``over`` is epoch; four widths spread across the grid unless
        ``over`` is width or n_params. Other dims of size 1 need none;
        larger ones (swept keys) give one line per value unless selected.
    band : {"se", "quantile"} or None
        The band around each line: ± the standard error of the mean over
        all computed seed cells (data_seed × init_seed; std with ddof=1 over
        sqrt(n)), the 10–90% quantiles over them, or none.
    theory : optional
        A theory curve drawn as a black dashed line: ``(x, risk)`` or
        ``(x, risk, label)`` with ``risk`` a :class:`ddlab.theory.Risk` (its
        ``risk``) or an array, in units of ``over``; or a 1-D DataArray along
        ``over``. Theory functions return the excess risk E(f̂ - f)², which
        is drawn as given against ``f_error`` (and any other variable); for
        ``test_loss`` σ² (the noise variance, from the experiment or the
        selected ``noise``) is added, since the test MSE is excess risk + σ².
        When the theory has a pole (min-norm at p = n), the y range stays on
        the data.
    threshold : "auto", float, (float, str), or None
        A dotted vertical line at the interpolation threshold (with several
        results, only where they all put it). ``"auto"``:
        against n_params, at n_params = n_train; against width, for the
        fixed-feature families (``random_features``, ``linear``) at N (or p)
        = n_train, and for networks at :func:`ddlab.analysis.summarize`'s
        ``interpolation_width`` (the smallest width whose final train loss,
        or 0-1 train error for classification, mean over seeds, is below
        1e-3), when there is one; none against
        epoch. A number: there, in
        units of ``over``; a (number, label) pair: there, with that legend
        label. None or False: no line.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure).
    reduce : {"mean", "median"}
        The line; the "se" band is always around the mean.
    log : None, bool, str or set of str
        Log axes, as in :func:`heatmap`. ``None``: x log if its values are
        log-spaced (symlog where they include 0), y log if the lines are
        positive and span a factor of 1000 or more (e.g. the spike at the
        interpolation threshold), else linear.
    legend : bool or {"right", "below"}
        A legend outside the axes: to the right (True, ``"right"``), or below
        it as a figure legend in columns (``"below"``, for a figure with one
        axes); False: none.
    null : bool or None
        Horizontal grey reference lines of the null models, beside the
        networks' risk: for ``test_loss`` the Bayes risk σ² (dotted) and the
        best constant predictor's population risk σ² + Var f (dash-dotted);
        for ``f_error`` the constant predictor's excess risk Var f; for
        ``test_error`` the chance level 1 − 1/k of a uniform guess among k
        classes (dashed; a constant predictor does no better on balanced
        classes). Var f
        is the variance of f over the population sample (recorded with
        ``record_bias_variance``), as in :func:`ddlab.analysis.risks`.
        ``None`` (default): drawn for those variables where the result has
        what they need and all results agree on them; True: required
        (ValueError if they cannot be drawn); False: none.

    Returns
    -------
    Curves
        ``(ax, lines, bands, theory, threshold, null)``: dicts of the lines
        and bands by label, the theory line and the threshold line (or
        None), and the null-model lines by label.

    Raises
    ------
    ValueError
        If ``var``, ``over``, ``at``, ``band``, ``reduce``, ``theory`` or
        ``log`` do not fit the data.

    Notes
    -----
    With a theory curve the data lines are drawn wide and slightly
    transparent, the theory as a thin black dashed line on top.
    """
    with style():
        sources = {label: _source(one, var, over, at) for label, one in _labelled(ds).items()}
        ax = axes_or_new(ax, (6.4, 3.6) if legend else None)
        lines, bands = _draw_sources(ax, sources, over, band, reduce, theory is not None)
        n = [int(np.prod([s.sel.sizes[d] for d in SEEDS if d in s.sel.dims]))
             for s in sources.values()]
        y_data = np.concatenate([np.ravel(line.get_ydata()) for line in lines.values()] +
                                [np.ravel(p.get_paths()[0].vertices[:, 1])
                                 for p in bands.values() if p.get_paths()])
        theory_line = None
        if theory is not None:
            theory_line, ty = _theory_line(ax, theory, over, list(sources.values()))
        places = {_threshold(s.ds, over, threshold, s.at) for s in sources.values()}
        threshold_line = _threshold_line(ax, places.pop() if len(places) == 1 else None)
        null_lines = _null_lines(ax, var, list(sources.values()), null)
        titles = {s.title for s in sources.values()}
        title = titles.pop() if len(titles) == 1 else ""
        first = next(iter(sources.values()))
        _finish(ax, first.ds, over, var_label(first.sel, "", 44), log,
                f"at {title}" if title else "", band_key(band, n), legend, lines)
        if theory_line is not None:
            _limit_theory(ax, y_data, ty)
        return Curves(ax, lines, bands, theory_line, threshold_line, null_lines)


#: The risk variables with null-model lines: their offset from the excess risk (σ² or 0).
_NULL_VARS = {"test_loss": True, "f_error": False}


def _null_values(src: _Source, var: str) -> dict[str, float]:
    """Label -> level of each null model of one source (empty where it lacks the data)."""
    if var == "test_error" and isinstance(src.ds, xr.Dataset) and "experiment" in src.ds.attrs:
        k = experiment_of(src.ds).outputs
        return {f"chance level 1 − 1/{k}": 1 - 1 / k}
    if var not in _NULL_VARS or not isinstance(src.ds, xr.Dataset):
        return {}
    at = {k: v for k, v in src.at.items() if k not in ("width", "epoch")}
    try:
        s2 = _noise2(select(src.ds, at)) if _NULL_VARS[var] else 0.0
    except ValueError:  # several noise levels drawn at once: no one level
        return {}
    out = {"Bayes risk σ²": s2} if _NULL_VARS[var] else {}
    if "f_population" in src.ds:
        f = select(src.ds["f_population"], {k: v for k, v in at.items()
                                              if k in src.ds["f_population"].dims})
        if set(f.dims) <= {"data_seed", "pop"}:
            var_f = float(f.var("pop", ddof=1).mean("data_seed"))
            label = "constant predictor σ² + Var f" if _NULL_VARS[var] else \
                "constant predictor Var f"
            out[label] = s2 + var_f
    return out


def _null_lines(ax: Axes, var: str, sources: Sequence[_Source],
                null: bool | None) -> dict[str, Line2D]:
    """Grey horizontal lines at the null models' risks, where every source agrees."""
    if null is False:
        return {}
    values = [_null_values(s, var) for s in sources]
    agreed = {k: v for k, v in values[0].items()
              if all(np.isclose(other.get(k, np.nan), v) for other in values[1:])}
    if null and not any(k.startswith(("constant", "chance")) for k in agreed):
        raise ValueError(f"null = True: no null model for {var!r} here (needs test_error, "
                         f"or test_loss or f_error with one noise level and f_population "
                         f"from record_bias_variance, the same in every result)")
    styles = {"Bayes": ":", "constant": "-.", "chance": "--"}
    return {label: ax.axhline(level, color="0.45", linewidth=1.0, zorder=1,
                              linestyle=styles[label.split()[0]], label=label)
            for label, level in agreed.items() if level > 0}


class _Source(NamedTuple):
    """One result drawn by :func:`curves`."""

    #: The result.
    ds: xr.Dataset | xr.DataArray
    #: The values of its other dims, defaults filled in.
    at: dict[str, Any]
    #: The variable at ``at``.
    sel: xr.DataArray
    #: The selected dims that vary in the result, as ``epoch = 50``.
    title: str


def _labelled(ds: Any) -> dict[str | None, xr.Dataset | xr.DataArray]:
    """One result unlabelled, or a mapping's results by label."""
    if isinstance(ds, (xr.Dataset, xr.DataArray)):
        return {None: ds}
    if isinstance(ds, Mapping) and ds and all(isinstance(v, (xr.Dataset, xr.DataArray))
                                              for v in ds.values()):
        return {str(label): one for label, one in ds.items()}
    raise ValueError(f"ds = {type(ds).__name__}: expected a Dataset, a DataArray or a "
                     f"non-empty mapping of labels to them")


def _source(ds: xr.Dataset | xr.DataArray, var: str, over: str,
            at: Mapping[str, Any] | float | None) -> _Source:
    da = variable(ds, var)
    dim = "width" if over == "n_params" else over
    if dim not in da.dims:
        raise ValueError(f"over = {over!r}: {da.name or 'the data'} has no {dim} dim "
                         f"(dims: {', '.join(map(str, da.dims))})")
    at = _defaults(da, dim, at, "spread")
    sel = select(da, at)
    title = _scalar_coords(sel, [d for d in da.dims if d not in sel.dims and da.sizes[d] > 1])
    return _Source(ds, at, sel, title)


def _draw_sources(ax: Axes, sources: Mapping[str | None, _Source], over: str,
                  band: str | None, reduce: str, under_theory: bool):
    """The lines (and bands) of every source; a line style each if they give several lines.

    When every source gives the same lines (as many, more than one), each
    starts the colour cycle again, so a colour is the same line of each.
    """
    dim = "width" if over == "n_params" else over
    counts = {int(np.prod([s.sel.sizes[d] for d in s.sel.dims if d not in (dim, *SEEDS)]))
              for s in sources.values()}
    restyle = len(sources) > 1 and max(counts) > 1
    recolour = restyle and len(counts) == 1
    lines, bands = {}, {}
    for (label, src), linestyle in zip(sources.items(), itertools.cycle(("-", "--", ":", "-.")),
                                       strict=False):
        if recolour:
            ax.set_prop_cycle(None)
        got = _draw(ax, src.sel, over, band, reduce, label=label,
                    linestyle=linestyle if restyle else "-",
                    linewidth=_UNDER_THEORY if under_theory else None)
        lines |= got[0]
        bands |= got[1]
    if under_theory:  # wide and pale, so the theory reads on top
        for line in lines.values():
            line.set_alpha(0.75)
    return lines, bands


def _theory_line(ax: Axes, theory: Any, over: str,
                 sources: Sequence[_Source]) -> tuple[Line2D, np.ndarray]:
    """The theory curve (σ² added for test_loss) and its y values."""
    tx, ty, tlabel = _theory(theory, over)
    if sources[0].sel.name == "test_loss":
        noise2 = {_noise2(select(s.ds, {k: v for k, v in s.at.items()
                                        if k not in ("width", "epoch")})) for s in sources}
        if len(noise2) > 1:
            raise ValueError("theory = ...: the results differ in noise; draw the theory "
                             "with one of them")
        ty = ty + noise2.pop()
        tlabel += " + σ²"
    (line,) = ax.plot(tx, np.where(np.isfinite(ty), ty, np.nan), color="black",
                      linestyle="--", linewidth=1.0, label=wrap(tlabel, 40), zorder=3)
    return line, ty


def _one_line(obj: xr.Dataset, over: str,
              at: Mapping[str, Any] | float | None) -> dict[str, Any]:
    dim = "width" if over == "n_params" else over
    if dim not in obj.dims:
        raise ValueError(f"over = {over!r}: the data has no {dim} dim "
                         f"(dims: {', '.join(map(str, obj.dims))})")
    at = _defaults(obj, dim, at, "last")
    rest = [d for d in select(obj, at).dims if d not in (dim, *SEEDS, "pop", "restart")]
    big = [d for d in rest if obj.sizes[d] > 1]
    if big:
        raise ValueError(f"at = {dict(at)!r}: the data also varies along "
                         f"{', '.join(big)}; select one value each")
    return at


def decomposition(dec: xr.Dataset, over: str = "width", ax: Axes | None = None, *,
                  at: Mapping[str, Any] | float | None = None, band: str | None = "se",
                  lecture: bool = False, log: Any = None,
                  legend: bool | str = True) -> Curves:
    """Excess risk = approximation + estimation error, against width or epoch.

    Parameters
    ----------
    dec : xarray.Dataset
        :func:`ddlab.analysis.decompose` of a result.
    over : str
        The x axis: width, epoch, n_params or another dim (see :func:`curves`).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure).
    at : mapping or number, optional
        Values of the other dims (see :func:`curves`; a number is an
        epoch); default the final epoch against width, the widest width
        against epoch.
    band : {"se", "quantile"} or None
        Band across seeds, as in :func:`curves`.
    lecture : bool
        Also draw the lecture's estimation error R(f̂_D, D) - R(f*, p*).
    log : None, bool, str or set of str
        Log axes, as in :func:`heatmap`.
    legend : bool or {"right", "below"}
        A legend outside the axes: to the right (True, ``"right"``), or below
        it as a figure legend in columns (``"below"``, for a figure with one
        axes); False: none.

    Returns
    -------
    Curves
        ``lines`` and ``bands`` keyed by each variable's ``long_name``;
        ``theory`` and ``threshold`` are None.
    """
    names = ["excess_risk", "approximation_error", "estimation_error"]
    names += ["lecture_estimation_error"] if lecture else []
    missing = [n for n in names if n not in dec]
    if missing:
        raise ValueError(f"dec: no {', '.join(missing)}; pass ddlab.analysis.decompose(ds, best)")
    styles = {"excess_risk": ("black", "-", 1.8), "approximation_error": ("#0072B2", "-", None),
              "estimation_error": ("#D55E00", "-", None),
              "lecture_estimation_error": ("#D55E00", ":", None)}
    with style():
        at = _one_line(dec, over, at)
        ax = axes_or_new(ax, (6.4, 3.6) if legend else None)
        lines, bands = {}, {}
        for name in names:
            da = select(dec[name], at)
            color, ls, lw = styles[name]
            got = _draw(ax, da, over, band, "mean", label=str(da.attrs.get("long_name", name)),
                        color=color, linestyle=ls, linewidth=lw)
            lines |= got[0]
            bands |= got[1]
        sel = select(dec["excess_risk"], at)
        n = int(np.prod([sel.sizes[d] for d in SEEDS if d in sel.dims]))
        title = _scalar_coords(sel, [d for d in dec["excess_risk"].dims
                                     if d not in sel.dims and dec.sizes[d] > 1])
        ax.axhline(0.0, color="0.6", linewidth=0.6, zorder=0)
        _finish(ax, dec, over, "risk, mean over seeds (in units of y²)", log,
                f"at {title}" if title else "", band_key(band, n), legend, lines)
        return Curves(ax, lines, bands, None, None, {})


def bias_variance(bv: xr.Dataset, over: str = "width", ax: Axes | None = None, *,
                  at: Mapping[str, Any] | float | None = None, threshold: Any = "auto",
                  log: Any = None, legend: bool | str = True) -> Curves:
    """Squared bias, variance over initialisations and over data sets, and their total.

    Parameters
    ----------
    bv : xarray.Dataset
        :func:`ddlab.analysis.bias_variance` of a result.
    over : str
        The x axis: width, epoch, n_params or another dim (see :func:`curves`).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure).
    at : mapping or number, optional
        Values of the other dims (see :func:`curves`; a number is an
        epoch); default the final epoch against width, the widest width
        against epoch.
    threshold : "auto", float, (float, str), or None
        The interpolation threshold's dotted line, as in :func:`curves`
        (``"auto"`` draws it against n_params, and against width for the
        fixed-feature families; ``bv`` holds no train loss to find it from).
    log : None, bool, str or set of str
        Log axes, as in :func:`heatmap`.
    legend : bool or {"right", "below"}
        A legend outside the axes: to the right (True, ``"right"``), or below
        it as a figure legend in columns (``"below"``, for a figure with one
        axes); False: none.

    Returns
    -------
    Curves
        ``lines`` keyed by their legend labels, in this order: the total
        (mean ``f_error``), bias², variance, variance over inits, variance
        over data; no bands; ``threshold`` as in :func:`curves`; ``theory``
        is None. The
        variance is a wide pale line, so that its two parts, drawn over it,
        stay visible where one of them is all of it. From one data set
        (``n_data_sets`` = 1) there is no variance over data to show: the
        variance and the variance over data are not drawn, and the labels
        say that bias² holds the data set's own error.
    """
    parts = {"mean_f_error": ("total: mean f_error = bias² + variance", "black", "-", 1.8),
             "bias2": ("bias²", "#0072B2", "-", None),
             "variance": ("variance = over inits + over data", "#D55E00", "-", 4.0),
             "variance_init": ("variance over inits (E_data Var_init)", "#D55E00", "--", None),
             "variance_data": ("variance over data (Var_data E_init)", "#D55E00", ":", None)}
    missing = [n for n in parts if n not in bv]
    if missing:
        raise ValueError(f"bv: no {', '.join(missing)}; pass ddlab.analysis.bias_variance(ds)")
    if bv["variance_data"].attrs.get("n_data_sets") == 1:  # no variance over data to show
        labels = {"mean_f_error": "total: mean f_error = bias² + variance over inits",
                  "bias2": "bias² + variance over data (one data set cannot tell them "
                           "apart)",
                  "variance_init": "variance over inits (Var_init)"}
        parts = {k: (label, *parts[k][1:]) for k, label in labels.items()}
    with style():
        at = _one_line(bv, over, at)
        ax = axes_or_new(ax, (6.4, 3.6) if legend else None)
        lines = {}
        for name, (label, color, ls, lw) in parts.items():
            da = select(bv[name], at)
            lines |= _draw(ax, da, over, None, "mean", label=label, color=color,
                           linestyle=ls, linewidth=lw)[0]
        if "variance" in parts:
            lines[parts["variance"][0]].set_alpha(0.35)
        sel = select(bv["bias2"], at)
        title = _scalar_coords(sel, [d for d in bv["bias2"].dims
                                     if d not in sel.dims and bv.sizes[d] > 1])
        threshold_line = _threshold_line(ax, _threshold(bv, over, threshold, at))
        _finish(ax, bv, over, "error in f and its parts (in units of y²)", log,
                f"at {title}" if title else "", [], legend, lines)
        return Curves(ax, lines, {}, None, threshold_line, {})
