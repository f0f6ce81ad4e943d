"""The figures of the paper, drawn from stores by ``ddlab reproduce`` (no pyplot).

Each figure of the paper file names a kind; :func:`draw` turns it, the
experiment's dataset and the experiment into a matplotlib Figure. A figure's
``size`` option sets its size in inches (draw it at about the width the paper
shows it, so its text keeps the house font size); figures narrower than
5.5 inches put their legend below the axes instead of to the right.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .. import analysis, plot, theory
from ..config import Experiment
from ..plot._common import coord_symbol
from ..plot._grid import facet_order
from ._paperfile import Figure
from ._plot import _figure

__all__ = ["chosen_lr", "draw", "effective_dof", "gd_path", "gd_theory", "theory_curve"]

_WIDE = (6.4, 3.6)
#: Figures narrower than this (inches) put their legend below the axes.
_NARROW = 5.5


def _size(fig: Figure, default: tuple[float, float]) -> tuple[float, float]:
    """The figure's ``size`` option, or ``default``."""
    width, height = fig.options.get("size", default)
    return float(width), float(height)


def _legend(size: tuple[float, float]) -> str:
    """Where a single-axes figure of ``size`` puts its legend."""
    return "below" if size[0] < _NARROW else "right"


#: Monte Carlo designs behind the ``gd`` theory curve (its error is far below the seeds')
GD_DESIGNS = 500


def gd_theory(exp: Experiment, epochs, width: int | None = None) -> theory.Risk:
    """:func:`ddlab.theory.gd_risk` of a ``linear`` experiment trained by full-batch GD.

    The designs are drawn from the root seed; ``width`` defaults to the
    model's only width. With ``data.blocks`` the model must use every feature
    (``width`` = data.dim). With isotropic
    inputs it may use the first p = ``width`` of the D = data.dim features: the
    omitted ones are independent of the used ones, so their part of y, with
    E||beta_omitted||^2 = signal (D - p) / D, acts as extra noise of that
    variance while training and adds that much to the excess risk (a bias); the
    result is exact in the same sense as :func:`ddlab.theory.gd_risk`.
    """
    d, m = exp.data, exp.model
    p = int(width if width is not None else m.width[0] if len(m.width) == 1 else 0)
    if m.family != "linear" or m.fit != "gd" or not 1 <= p <= d.dim or (d.blocks and p != d.dim):
        raise ValueError(f"theory = 'gd': needs family 'linear', fit 'gd' and a width of at "
                         f"most data.dim = {d.dim} (all of it with data.blocks), got "
                         f"{m.family!r}, {m.fit!r}, width {p}")
    if d.blocks:
        return theory.gd_risk(d.n_train, [dict(b) for b in d.blocks], d.noise, exp.train.lr,
                              epochs, designs=GD_DESIGNS, seed=exp.seeds.root)
    omitted = d.signal * (d.dim - p) / d.dim
    used = [{"dim": p, "scale": 1.0, "signal": d.signal - omitted}]
    risk = theory.gd_risk(d.n_train, used, float(np.sqrt(d.noise**2 + omitted)), exp.train.lr,
                          epochs, designs=GD_DESIGNS, seed=exp.seeds.root)
    return theory.Risk(risk.risk + omitted, risk.bias + omitted, risk.variance)


def theory_curve(exp: Experiment, name: str, ds: xr.Dataset, sel: dict[str, Any],
                 over: str = "width") -> tuple[np.ndarray, theory.Risk, str]:
    """The exact curve of ``name`` for ``exp`` on a fine grid of ``over``, with its label.

    ``over`` is ``width`` (model-wise, at the experiment's ``n_train``) or a
    swept ``n_train`` (sample-wise, at the width in ``sel`` or the only one);
    ``gd`` is always over epochs.
    """
    if name == "gd":
        x = np.unique(np.r_[0, np.geomspace(1, exp.train.epochs, 120).round()].astype(int))
        return x, gd_theory(exp, x, sel.get("width")), "exact GD risk (mean over designs)"
    d = exp.first_point.data
    ridge = float(sel.get("ridge", exp.model.ridge if not exp.sweep else 0.0))
    if over not in ("width", "n_train"):
        raise ValueError(f"over = {over!r}: theory {name!r} is drawn over width or n_train")
    values = np.asarray(ds[over].values if over == "n_train" else exp.model.width, dtype=float)
    x = (np.geomspace(values.min(), values.max(), 400) if name == "random_features"
         else np.arange(values.min(), values.max() + 1))
    n, p = (x, float(sel.get("width", exp.model.width[0]))) if over == "n_train" else (
        d.n_train, x)
    if name == "random_features":
        risk = theory.random_features_risk(n, p, d.dim, d.signal, d.noise,
                                           exp.model.activation, ridge=ridge)
        return x, risk, "Mei–Montanari asymptotics" + (f", λ = {ridge:g}" if ridge else "")
    if name == "weak_features":
        return x, theory.weak_features_risk(n, p, d.dim, d.signal, d.noise), \
            "exact (Belkin, Hsu & Xu 2019)"
    return x, theory.min_norm_risk(n, p, d.signal, d.noise), "exact min-norm risk"


def gd_path(exp: Experiment, ds: xr.Dataset) -> xr.DataArray:
    """The exact gradient-descent path's f_error for every width, data seed and epoch.

    :func:`ddlab.theory.gd_linear_path` on each cell's own training data, its
    error measured on the same population sample as the simulation.
    """
    from ..sim import make_data

    epochs = ds["epoch"].values
    out = np.full((ds.sizes["width"], len(epochs), ds.sizes["data_seed"]), np.nan)
    for s_i, seed in enumerate(ds["data_seed"].values):
        s = make_data(exp, int(seed))
        x, y = s.x_train.double().numpy(), s.y_train.double().numpy()
        x_pop, f_pop = s.x_pop.double().numpy(), s.f_pop.double().numpy()
        for w_i, width in enumerate(ds["width"].values):
            path = theory.gd_linear_path(x[:, :width], y, exp.train.lr, exp.train.epochs)
            pred = path[epochs] @ x_pop[:, :width].T
            out[w_i, :, s_i] = ((pred - f_pop) ** 2).mean(axis=1)
    return xr.DataArray(out, dims=("width", "epoch", "data_seed"),
                        coords={"width": ds["width"], "epoch": ds["epoch"],
                                "data_seed": ds["data_seed"]})


def _gd_path_figure(ds: xr.Dataset, exp: Experiment, size: tuple[float, float]):
    ax = _figure(size, axes=True)
    exact = gd_path(exp, ds).mean("data_seed")
    drawn = plot.curves(ds, "f_error", over="epoch", at={"width": list(ds["width"].values)},
                        ax=ax, legend=_legend(size),
                        theory=(ds["epoch"].values, exact.isel(width=0).values,
                                "closed-form GD path (mean over data sets)"))
    for width in ds["width"].values[1:]:
        ax.plot(ds["epoch"].values, exact.sel(width=width).values, linestyle="--",
                color=drawn.theory.get_color(), linewidth=drawn.theory.get_linewidth(),
                zorder=drawn.theory.get_zorder())
    return ax.figure


#: seed cells whose fits the effective-dof figure averages
DOF_CELLS = 20


def effective_dof(exp: Experiment, ds: xr.Dataset, at_population: bool = True) -> xr.DataArray:
    """Exact effective degrees of freedom of every cell's ridge fit.

    :func:`ddlab.theory.ridge_dof` of the cell's fitted design (its features of
    its own training inputs) for each penalty of a swept ``model.ridge`` (or the
    one penalty): with ``at_population`` the generalized effective number of
    parameters at (the first 500 of) the population inputs (Curth et al. 2023),
    else tr(S). Dims ``(ridge, width, data_seed, init_seed)``, over the first
    :data:`DOF_CELLS` seed cells (an SVD per cell and width; the mean varies
    little from cell to cell).
    """
    from ..sim import make_data, make_model

    point = exp.first_point
    ridges = np.atleast_1d(ds["ridge"].values if "ridge" in ds.dims else exp.model.ridge)
    ds = ds.isel(data_seed=slice(max(1, DOF_CELLS // ds.sizes["init_seed"])))
    cells = [(int(s), int(i)) for s in ds["data_seed"].values for i in ds["init_seed"].values]
    out = np.empty((len(ridges), ds.sizes["width"], len(cells)))
    for c, (seed, init) in enumerate(cells):
        data = make_data(point, seed)
        for w_i, width in enumerate(ds["width"].values):
            features = make_model(point, int(width), seed, init)[:-1].to(data.x_train.dtype)
            phi, at = (features(x).detach().double().numpy()
                       for x in (data.x_train, data.x_pop[:500]))
            out[:, w_i, c] = theory.ridge_dof(phi, ridges, at=at if at_population else None)
    shape = (len(ridges), ds.sizes["width"], ds.sizes["data_seed"], ds.sizes["init_seed"])
    name = ("generalized effective number of parameters" if at_population
            else "effective degrees of freedom tr(S)")
    return xr.DataArray(out.reshape(shape), dims=("ridge", "width", "data_seed", "init_seed"),
                        coords={"ridge": ridges, "width": ds["width"].values,
                                "data_seed": ds["data_seed"], "init_seed": ds["init_seed"]},
                        attrs={"long_name": name, "units": "1"})


def _dof_figure(ds: xr.Dataset, exp: Experiment, size: tuple[float, float]):
    """Mean final f_error against the mean generalized effective number of parameters
    (at the population inputs), a line per penalty."""
    dof = effective_dof(exp, ds).mean(("data_seed", "init_seed"))
    risk = ds["f_error"].isel(epoch=-1).mean(("data_seed", "init_seed")).compute()
    ax = _figure(size, axes=True)
    with plot.style():
        for lam in dof["ridge"].values:
            y = risk.sel(ridge=lam) if "ridge" in risk.dims else risk
            ax.plot(dof.sel(ridge=lam).values, y.values, marker="o", markersize=2.5,
                    label=f"λ = {lam:g}")
        n = exp.first_point.data.n_train
        ax.axvline(n, color="0.25", linestyle=":", linewidth=1.0, label=f"n = {n}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("effective parameters at test inputs\n(Curth et al. 2023; mean)")
        ax.set_ylabel(f"{risk.attrs.get('long_name', 'f_error')}\n(final epoch, mean)")
        ax.legend(frameon=False, fontsize="small",
                  **({"loc": "upper center", "bbox_to_anchor": (0.5, -0.3), "ncols": 2}
                     if _legend(size) == "below" else {"loc": "upper left",
                                                        "bbox_to_anchor": (1.02, 1.0)}))
    return ax.figure


def chosen_lr(ds: xr.Dataset, var: str = "train_loss") -> xr.DataArray:
    """The learning rate a range test picks: the lowest final loss (median over seeds and
    widths), per value of the other swept keys."""
    final = ds[var].isel(epoch=-1).median(("data_seed", "init_seed", "width")).compute()
    return final.idxmin("lr")


def _lr_range_figure(ds: xr.Dataset, size: tuple[float, float]):
    """Median final training loss against lr (as :func:`chosen_lr` ranks it), the picks marked.

    A panel per value of the other swept key (the optimiser), a line per width.
    """
    best = chosen_lr(ds)
    col = best.dims[0] if best.dims else None
    grid = plot.sweep_grid(ds, "train_loss", col=col, fig=_figure(size), kind="curves",
                           over="lr", reduce="median", band="quantile")
    with plot.style():
        for j, k in enumerate(facet_order(best, col)):
            lr = float(best[k] if col else best)
            ax = grid.axes[0, j]
            ax.axvline(lr, color="0.25", linestyle=":", linewidth=1.0)
            ax.annotate(f"chosen lr = {lr:g}", (lr, 1.0), xycoords=("data", "axes fraction"),
                        xytext=(3, -2), textcoords="offset points", ha="left", va="top",
                        fontsize="small", color="0.25")
    return grid.fig


def _sweeps(ds: xr.Dataset, exp: Experiment) -> list[str]:
    """The swept dims with more than one value."""
    return [d for d in exp.sweep_dims if ds.sizes.get(d, 1) > 1]


def _curves(fig: Figure, ds: xr.Dataset, exp: Experiment):
    o = fig.options
    var, over = o.get("var", "test_loss"), o.get("over", "width")
    kwargs = {k: o[k] for k in ("at", "band", "threshold", "log") if k in o}
    name = o.get("theory")
    size = _size(fig, _WIDE)
    ax = _figure(size, axes=True)
    kwargs["legend"] = _legend(size)
    if not name:
        return plot.curves(ds, var, over=over, ax=ax, **kwargs).ax.figure
    # exact curves: the pole of min-norm fits sits at p (or N) = n_train
    n = exp.first_point.data.n_train
    if over == "n_train":
        p = int(exp.model.width[0])
        kwargs.setdefault("threshold", (p, f"interpolation threshold n = p = {p}"))
    elif name != "gd":
        kwargs.setdefault("threshold", (n, f"interpolation threshold "
                                           f"{coord_symbol(ds, over)} = n = {n}"))
    swept = [d for d in _sweeps(ds, exp) if d != over]
    if name == "gd" and ds.sizes["width"] > 1:  # one exact curve per width
        swept = ["width", *swept]
    values = [{}] if not swept else [{swept[0]: v.item()} for v in ds[swept[0]].values]
    curves = [theory_curve(exp, name, ds, sel, over) for sel in values]
    x, risk, label = curves[0]
    label = label.split(", λ")[0] + (f" (one per {swept[0]})" if swept else "")
    drawn = plot.curves(ds, var, over=over, ax=ax, theory=(x, risk, label), **kwargs)
    for x, risk, _ in curves[1:]:  # the other swept values' curves, in the same style
        ax.plot(x, risk.risk, color=drawn.theory.get_color(), linestyle="--",
                linewidth=drawn.theory.get_linewidth(), zorder=drawn.theory.get_zorder())
    return ax.figure


def draw(fig: Figure, ds: xr.Dataset, exp: Experiment, quick: bool):
    """The matplotlib Figure of one paper figure.

    Parameters
    ----------
    fig : Figure
        The paper file's figure entry.
    ds : xarray.Dataset
        The experiment's results (opened from its store).
    exp : Experiment
        The experiment (as run: quick overrides applied).
    quick : bool
        Whether ``--quick`` is on (best-in-class fits are cut down too).
    """
    o = fig.options
    if fig.kind == "seed":
        out = _figure(_size(fig, (9.0, 6.2)))
        plot.seed_figure(ds, out, widths=o.get("widths"), norm=o.get("norm"))
        return out
    if fig.kind == "heatmap":
        return plot.heatmap(ds, o.get("var", "test_loss"), x=o.get("x", "epoch"),
                            y=o.get("y", "width"), norm=o.get("norm"), at=o.get("at"),
                            ax=_figure(_size(fig, (5.6, 3.8)), axes=True)).ax.figure
    if fig.kind == "curves":
        return _curves(fig, ds, exp)
    if fig.kind == "gd_path":
        return _gd_path_figure(ds, exp, _size(fig, _WIDE))
    if fig.kind == "dof":
        return _dof_figure(ds, exp, _size(fig, _WIDE))
    if fig.kind == "lr_range":
        return _lr_range_figure(ds, _size(fig, _WIDE))
    size = _size(fig, _WIDE)
    if fig.kind == "bias_variance":
        return plot.bias_variance(analysis.bias_variance(ds), over=o.get("over", "width"),
                                  at=o.get("at"), ax=_figure(size, axes=True),
                                  legend=_legend(size)).ax.figure
    if fig.kind == "decomposition":
        from ..sim import best_in_class

        scale = 0.2 if quick else 1.0
        best = best_in_class(exp, restarts=o.get("restarts", 5) if not quick else 2,
                             epochs=max(50, int(o.get("epochs", 3000) * scale)),
                             n_samples=max(200, int(o.get("n_samples", 2000) * scale)),
                             progress=False)
        return plot.decomposition(analysis.decompose(ds, best), over=o.get("over", "width"),
                                  at=o.get("at"), ax=_figure(size, axes=True),
                                  legend=_legend(size)).ax.figure
    # sweep: small multiples over the swept dims
    from ..plot._grid import grid_size

    row, col = o.get("row"), o.get("col")
    nrow, ncol = ds.sizes[row] if row else 1, ds.sizes[col] if col else 1
    if "wrap" in o and not row and ncol > o["wrap"]:
        nrow, ncol = -(-ncol // o["wrap"]), o["wrap"]
    kwargs = {k: o[k] for k in ("over", "at", "x", "y", "norm", "band", "log", "wrap") if k in o}
    return plot.sweep_grid(ds, o.get("var", "test_loss"), row, col,
                           fig=_figure(_size(fig, grid_size(nrow, ncol))),
                           kind=o.get("kind", "curves"), **kwargs).fig
