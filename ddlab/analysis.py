"""Analysis of result datasets: risks, gaps, error decompositions, bias-variance, summaries.

Pure numpy/xarray: importing this module does not import torch. The one
exception is :func:`best_in_class`, which trains networks (it imports the
simulation layer when called).

Notation follows the ECON622 lecture ("ERM and Interpolation"): p* is the
data distribution, f the true regression function, sigma the noise level,
R(g, p*) = E (y - g(x))^2 the population risk, R(g, D) the empirical risk on
the training set D, f** = f the Bayes predictor with R(f**, p*) = sigma^2, and
f* the best predictor in the hypothesis class H (networks of a given width).
The README's "Analysis" section states each definition next to the variable
that holds it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import xarray as xr

from .experiment import Experiment, load_experiment

__all__ = [
    "best_in_class",
    "bias_variance",
    "decompose",
    "generalization_gap",
    "risks",
    "summarize",
]

SEEDS = ("data_seed", "init_seed")

#: swept keys that change the hypothesis class H or the distribution p*
CLASS_KEYS = ("data.target", "data.input", "data.dim", "data.signal", "data.teacher_width",
              "model.depth", "model.activation")


def _experiment(ds: xr.Dataset) -> Experiment:
    return load_experiment(json.loads(ds.attrs["experiment"]))


def _var(values, long_name: str, units: str = "y^2") -> xr.DataArray:
    out = values if isinstance(values, xr.DataArray) else xr.DataArray(values)
    return out.assign_attrs(long_name=long_name, units=units)


def noise_variance(ds: xr.Dataset) -> xr.DataArray:
    """sigma^2 = R(f**, p*), the Bayes risk: a scalar, or along ``noise`` when swept."""
    if "noise" in ds.dims:
        return _var(ds["noise"].astype(float) ** 2, "Bayes risk sigma^2 = R(f**, p*)")
    return _var(xr.DataArray(_experiment(ds).data.noise ** 2), "Bayes risk sigma^2 = R(f**, p*)")


def risks(ds: xr.Dataset) -> xr.Dataset:
    """Empirical, test, population and Bayes risk of every cell.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`ddlab.run` (with ``f_error``).

    Returns
    -------
    xarray.Dataset
        ``empirical_risk`` R(f̂, D) (= ``train_loss``), ``test_risk`` (mean
        squared error on the noisy test set, an unbiased estimate of
        R(f̂, p*)), ``population_risk`` R(f̂, p*) = ``f_error`` + sigma^2, and
        ``bayes_risk`` sigma^2.
    """
    s2 = noise_variance(ds)
    return xr.Dataset({
        "empirical_risk": _var(ds["train_loss"], "empirical risk R(f̂, D)"),
        "test_risk": _var(ds["test_loss"], "test risk: R(f̂, D_test) on the noisy test set"),
        "population_risk": _var(ds["f_error"] + s2, "population risk R(f̂, p*) = f_error + σ²"),
        "bayes_risk": s2,
    }, attrs=ds.attrs)


def generalization_gap(ds: xr.Dataset) -> xr.Dataset:
    """Generalization gaps of every cell.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`ddlab.run`.

    Returns
    -------
    xarray.Dataset
        ``gap_test`` = test risk - empirical risk, and, with ``f_error``,
        ``gap_population`` = R(f̂, p*) - R(f̂, D).
    """
    out = {"gap_test": _var(ds["test_loss"] - ds["train_loss"],
                            "generalization gap: test risk - empirical risk")}
    if "f_error" in ds:
        out["gap_population"] = _var(ds["f_error"] + noise_variance(ds) - ds["train_loss"],
                                     "generalization gap: R(f̂, p*) - R(f̂, D)")
    return xr.Dataset(out, attrs=ds.attrs)


def best_in_class(experiment, *, restarts: int = 5, epochs: int = 3000, n_samples: int = 2000,
                  lr: float = 0.01, device: str = "auto", n_jobs: int = 1,
                  cache: str | Path | None = "results/best_in_class",
                  progress: bool = False) -> xr.Dataset:
    """Estimate the best-in-class risk R(f*, p*) - sigma^2 = ε_app for each width.

    Each width is trained, from ``restarts`` initialisations, with full-batch
    Adam on ``n_samples`` noise-free draws (x, f(x)) from the population
    distribution, and the smallest squared L²(P) error to f over restarts,
    recorded epochs and narrower widths (the classes are nested) is kept.
    Every trained network is a member of the
    hypothesis class, so the result is an **upper bound** on the
    approximation error min_{g in H} ||g - f||²; optimisation that fails to
    find the best network makes it loose, which the spread over restarts helps
    to judge. The error is measured on the experiment's own population sample.

    Parameters
    ----------
    experiment : Experiment or mapping or path
        The experiment whose hypothesis classes (widths, depth, activation)
        and distribution (target, input, dim) define f*. Swept keys that change
        either become dims of the result; others (noise, lr, ...) do not
        matter.
    restarts : int
        Initialisations per width.
    epochs : int
        Full-batch Adam epochs (recorded on a log-spaced grid).
    n_samples : int
        Size of the noise-free fitting sample.
    lr : float
        Adam learning rate.
    device, n_jobs, progress
        As in :func:`ddlab.run`.
    cache : str or Path or None
        Directory where results are cached, keyed by the fitting problem; None
        disables caching.

    Returns
    -------
    xarray.Dataset
        ``approx_error`` (best over restarts; dims: swept class keys, width),
        ``approx_error_restarts`` (per restart), ``approx_error_spread`` (max
        minus min over restarts), all in y² units.

    Notes
    -----
    For the closed-form families (``linear``, ``random_features``) the class
    of a cell is the span of its own features, and f* is the exact
    least-squares projection of f on them, computed on ``n_samples``
    noise-free points (not trained, no restarts): ``approx_error`` then has
    dims (width, data_seed, init_seed) and is exact up to the finite
    projection sample (relative error about width / n_samples).
    """
    exp = load_experiment(experiment)
    spec = exp.to_dict()
    for key, _ in exp.sweep:
        if key not in CLASS_KEYS:
            section, name = key.split(".")
            spec[section][name] = spec[section][name][0]
    spec["data"] |= {"noise": 0.0, "n_train": n_samples, "n_test": 1}
    spec["name"], spec["description"] = f"{exp.name}_best_in_class", ""
    closed = exp.model.family != "mlp"
    if closed:  # each cell's own feature span: project f on it, per data and init seed
        spec["model"] |= {"fit": "min_norm", "ridge": 0.0}
        spec["train"] = {"record_bias_variance": False}
    else:
        spec["train"] = {"optimizer": "adam", "lr": lr, "epochs": epochs, "dtype": "float32",
                         "record": {"log": 40}, "record_bias_variance": False}
        spec["seeds"] = {"root": exp.seeds.root, "data": 1, "init": restarts}
    fit = load_experiment(spec)
    key = hashlib.sha256(fit.to_json().encode()).hexdigest()[:16]
    path = Path(cache) / f"{fit.name}-{key}.nc" if cache is not None else None
    if path is not None and path.exists():
        return xr.load_dataset(path)
    from .grid import run

    ds = run(fit, device=device, n_jobs=n_jobs, progress=progress)
    if closed:
        out = xr.Dataset({"approx_error": _var(
            ds["f_error"].isel(epoch=0, drop=True).reset_coords(drop=True),
            "approximation error R(f*, p*) - σ²: least-squares projection of f "
            "on the cell's features")}, attrs={"fit_experiment": fit.to_json()})
        return _cache(out, path)
    per_restart = (ds["f_error"].isel(data_seed=0, drop=True).min("epoch")
                   .rename(init_seed="restart").reset_coords(drop=True))
    # H_w is contained in H_w' for w < w' (extra units with zero weights), so the
    # best network of any narrower width also bounds a wider class.
    best = per_restart.min("restart")
    best = xr.apply_ufunc(np.minimum.accumulate, best, input_core_dims=[["width"]],
                          output_core_dims=[["width"]]).transpose(*best.dims)
    out = xr.Dataset({
        "approx_error": _var(best, "approximation error bound R(f*, p*) - σ² "
                                   "(best over restarts and narrower widths)"),
        "approx_error_restarts": _var(per_restart, "best L2(P) error of each restart"),
        "approx_error_spread": _var(per_restart.max("restart") - per_restart.min("restart"),
                                    "spread (max - min) of the restarts' errors"),
    }, attrs={"fit_experiment": fit.to_json(), "note": "upper bound on the approximation error"})
    return _cache(out, path)


def _cache(ds: xr.Dataset, path: Path | None) -> xr.Dataset:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.to_netcdf(path)
    return ds


def decompose(ds: xr.Dataset, best: xr.Dataset) -> xr.Dataset:
    """Split each cell's excess risk into approximation and estimation error.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`ddlab.run` (with ``f_error``).
    best : xarray.Dataset
        :func:`best_in_class` of the same experiment.

    Returns
    -------
    xarray.Dataset
        Per cell: ``excess_risk`` R(f̂, p*) - R(f**, p*) = ``f_error``;
        ``approximation_error`` ε_app = R(f*, p*) - R(f**, p*);
        ``estimation_error`` = excess - ε_app (so the identity
        excess = ε_app + ε_est holds exactly); ``lecture_estimation_error``
        R(f̂_D, D) - R(f*, p*), the lecture's ε_est before its expectation
        over D. Each also as ``<name>_mean``, the mean over data and init seeds.
    """
    s2 = noise_variance(ds)
    app = best["approx_error"].sel(width=ds["width"].values)
    app = app.sel({d: ds[d].values for d in app.dims if d in SEEDS}).broadcast_like(ds["f_error"])
    out = {
        "excess_risk": _var(ds["f_error"], "excess risk R(f̂, p*) - R(f**, p*)"),
        "approximation_error": _var(app, "approximation error ε_app = R(f*, p*) - R(f**, p*)"),
        "estimation_error": _var(ds["f_error"] - app,
                                 "estimation error ε_est = excess risk - ε_app"),
        "lecture_estimation_error": _var(ds["train_loss"] - (app + s2),
                                         "lecture's estimation error R(f̂_D, D) - R(f*, p*)"),
    }
    for name in list(out):
        out[f"{name}_mean"] = _var(out[name].mean(SEEDS),
                                   f"{out[name].attrs['long_name']}, mean over seeds")
    return xr.Dataset(out, attrs=ds.attrs)


def bias_variance(ds: xr.Dataset) -> xr.Dataset:
    """Bias-variance decomposition over initialisations and data sets, at every epoch.

    With r_s(x) = mean_k f̂_{k,s}(x) - f_s(x) the init-averaged residual of
    data set s, and r̄(x) = mean_s r_s(x):

    - ``bias2`` = mean_x r̄(x)²  (= mean_x (f̄(x) - f(x))² when f is fixed);
    - ``variance_init`` = mean_s mean_x Var_k f̂_{k,s}(x)  (E_data Var_init);
    - ``variance_data`` = mean_x mean_s (r_s(x) - r̄(x))²  (Var_data E_init);
    - ``variance`` = ``variance_init`` + ``variance_data``;
    - ``mean_f_error`` = mean over seeds of ``f_error`` = ``bias2`` + ``variance``.

    Both identities hold to float round-off, on the population sample.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`ddlab.run` with a population sample and
        ``record_bias_variance`` (variables ``pred_mean``, ``pred_var_init``,
        ``f_population``).

    Returns
    -------
    xarray.Dataset
        Dims: swept keys, width, epoch.
    """
    if "pred_mean" not in ds:
        raise ValueError("ds: no 'pred_mean'; run with n_population > 0 and "
                         "record_bias_variance = true")
    resid = ds["pred_mean"] - ds["f_population"]
    rbar = resid.mean("data_seed")
    var_init = ds["pred_var_init"].mean("data_seed")
    var_data = ((resid - rbar) ** 2).mean(("data_seed", "pop"))
    return xr.Dataset({
        "bias2": _var((rbar ** 2).mean("pop"), "squared bias mean_x (f̄(x) - f(x))²"),
        "variance": _var(var_init + var_data, "variance mean_x mean_ks (f̂ - f̄)²"),
        "variance_init": _var(var_init, "variance over initialisations, E_data Var_init"),
        "variance_data": _var(var_data, "variance over data sets, Var_data E_init"),
        "mean_f_error": _var(ds["f_error"].mean(SEEDS), "mean over seeds of f_error"),
    }, attrs=ds.attrs)


def _peak_after_first_minimum(curve: np.ndarray) -> tuple[int, float]:
    """Index and height of the highest point after a curve's first local minimum.

    Returns (-1, nan) when the curve never rises after its first local minimum.
    """
    finite = np.isfinite(curve)
    if finite.sum() < 3:
        return -1, np.nan
    c = np.where(finite, curve, np.inf)
    rises = np.flatnonzero(np.diff(c) > 0)
    if rises.size == 0:
        return -1, np.nan
    first_min = rises[0]
    after = np.where(finite[first_min + 1:], curve[first_min + 1:], -np.inf)
    k = first_min + 1 + int(np.argmax(after))
    return (k, float(curve[k])) if curve[k] > curve[first_min] else (-1, np.nan)


def summarize(ds: xr.Dataset, metric: str = "test_loss", tol: float = 1e-3) -> xr.Dataset:
    """Double-descent descriptors of the seed-averaged ``metric``.

    A *peak* along width (or epoch) is the highest point after the curve's
    first local minimum: the top of the second ascent. Curves that never
    rise again have no peak (NaN).

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`ddlab.run`.
    metric : str
        The variable to summarise (default ``test_loss``).
    tol : float
        Train-loss threshold (y² units) defining interpolation.

    Returns
    -------
    xarray.Dataset
        Per epoch: ``peak_width``, ``peak_height``, ``best_width``,
        ``best_height``. Per width: ``epoch_peak``, ``epoch_peak_height``.
        ``interpolation_width``: the smallest width whose final mean train loss
        is below ``tol``; ``interpolation_ratio``: its n_params / n_train.
    """
    mean = ds[metric].mean(SEEDS)
    train = ds["train_loss"].mean(SEEDS).isel(epoch=-1)
    widths = ds["width"].values

    def along(dim: str, coords: np.ndarray):
        def peak(curve):
            k, h = _peak_after_first_minimum(curve)
            return (coords[k] if k >= 0 else np.nan), h
        return xr.apply_ufunc(lambda c: peak(c), mean, input_core_dims=[[dim]],
                              output_core_dims=[[], []], vectorize=True)

    peak_w, peak_h = along("width", widths.astype(float))
    peak_e, peak_eh = along("epoch", ds["epoch"].values.astype(float))
    below = (train < tol).values
    first = np.where(below.any(axis=-1), below.argmax(axis=-1), -1)
    dims = [d for d in train.dims if d != "width"]
    interp = np.where(first >= 0, widths[np.maximum(first, 0)], np.nan)
    n_params = ds["n_params"].broadcast_like(train).transpose(*train.dims).values
    ratio = xr.DataArray(np.where(first >= 0, np.take_along_axis(
        n_params, np.maximum(first, 0)[..., None], axis=-1)[..., 0], np.nan), dims=dims,
        coords={d: ds[d] for d in dims}) / _n_train(ds)
    units = ds[metric].attrs.get("units", "y^2")
    return xr.Dataset({
        "peak_width": _var(peak_w, f"width at the peak of mean {metric}", "units"),
        "peak_height": _var(peak_h, f"mean {metric} at its width-wise peak", units),
        "best_width": _var(mean.idxmin("width"), f"width minimising mean {metric}", "units"),
        "best_height": _var(mean.min("width"), f"smallest mean {metric} over widths", units),
        "epoch_peak": _var(peak_e, f"epoch at the epoch-wise peak of mean {metric}", "epochs"),
        "epoch_peak_height": _var(peak_eh, f"mean {metric} at its epoch-wise peak", units),
        "interpolation_width": _var(xr.DataArray(interp, dims=dims),
                                    f"smallest width with final mean train loss < {tol}",
                                    "units"),
        "interpolation_ratio": _var(ratio, "n_params / n_train at the interpolation width", "1"),
    }, attrs={"metric": metric, "tol": tol})


def _n_train(ds: xr.Dataset) -> xr.DataArray | float:
    if "n_train" in ds.dims:
        return ds["n_train"].astype(float)
    return float(_experiment(ds).data.n_train)
