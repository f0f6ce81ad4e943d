"""Risks, generalization gaps and the approximation/estimation decomposition.

Notation follows the ECON622 lecture ("ERM and Interpolation"): p* is the
data distribution, f the true regression function, sigma the noise level,
R(g, p*) = E (y - g(x))^2 the population risk, R(g, D) the empirical risk on
the training set D, f** = f the Bayes predictor with R(f**, p*) = sigma^2, and
f* the best predictor in the hypothesis class H (networks of a given width).
"""

from __future__ import annotations

import xarray as xr

from ..results import experiment_of
from ._common import SEEDS, derived, labelled, noise_variance

__all__ = ["decompose", "generalization_gap", "n_train", "risks"]


def n_train(ds: xr.Dataset) -> xr.DataArray | float:
    """The number of training points n: a float, or along ``n_train`` when swept."""
    if "n_train" in ds.dims:
        return ds["n_train"].astype(float)
    return float(experiment_of(ds).data.n_train)


def _null_models(ds: xr.Dataset, s2: xr.DataArray) -> dict[str, xr.DataArray]:
    """Var f from the population sample and the risks of the two constant predictors."""
    var_f = ds["f_population"].var("pop", ddof=1).mean("data_seed")
    n = n_train(ds)
    return {
        "var_f": labelled(var_f, "variance of f over the population sample, Var f").assign_attrs(
            comment="1/(N - 1) variance over the N population points, mean over data seeds"),
        "constant_risk": labelled(s2 + var_f, "population risk of the best constant "
                                  "predictor E f: σ² + Var f"),
        "train_mean_risk": labelled((s2 + var_f) * (1 + 1 / n), "expected population risk "
                                    "of the training mean ȳ: (σ² + Var f)(1 + 1/n)"),
        "snr": labelled(var_f / s2.where(s2 > 0), "signal-to-noise ratio Var f / σ²").assign_attrs(
            comment="NaN without noise (σ² = 0)"),
    }


def risks(ds: xr.Dataset) -> xr.Dataset:
    """Empirical, test, population and Bayes risk of every cell, and two null models.

    The null models are constant predictors. The best one, c = E f(x), has
    population risk σ² + Var f (``constant_risk``). The mean ȳ of the n
    training labels y_i = f(x_i) + ε_i (x_i i.i.d. from the population,
    noise of variance σ²) has R(ȳ, p*) = σ² + Var f + (ȳ - E f)², and
    E (ȳ - E f)² = Var ȳ = (Var f + σ²) / n, so E R(ȳ, p*) = (σ² + Var f)
    (1 + 1/n) (``train_mean_risk``). Var f is the 1/(N - 1) variance of f
    over the N points of the population sample (its mean over data seeds
    when f depends on the data set).

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`ddlab.run` or :func:`ddlab.open_results` (with
        ``f_error``; the null models need ``f_population``, recorded with
        ``record_bias_variance``).

    Returns
    -------
    xarray.Dataset
        ``empirical_risk`` R(f̂, D) (= ``train_loss``), ``test_risk`` (mean
        squared error on the noisy test set, an unbiased estimate of
        R(f̂, p*)), ``population_risk`` R(f̂, p*) = ``f_error`` + sigma^2,
        ``bayes_risk`` sigma^2, and with ``f_population``: ``constant_risk``,
        ``train_mean_risk``, ``var_f`` and ``snr`` = Var f / σ² (also the
        attribute ``snr`` when it is one number); all in units of y².
    """
    s2 = noise_variance(ds)
    out = {
        "empirical_risk": labelled(ds["train_loss"], "empirical risk R(f̂, D)"),
        "test_risk": labelled(ds["test_loss"], "test risk R(f̂, D_test) on the noisy test set"),
        "population_risk": labelled(ds["f_error"] + s2,
                                    "population risk R(f̂, p*) = f_error + σ²"),
        "bayes_risk": s2,
    }
    if "f_population" in ds:
        out |= _null_models(ds, s2)
    result = derived(out, ds, "ddlab.risks")
    if "snr" in result and result["snr"].ndim == 0:
        result.attrs["snr"] = float(result["snr"])
    return result


def generalization_gap(ds: xr.Dataset) -> xr.Dataset:
    """Generalization gaps of every cell.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`ddlab.run` or :func:`ddlab.open_results`.

    Returns
    -------
    xarray.Dataset
        ``gap_test`` = test risk - empirical risk, and, with ``f_error``,
        ``gap_population`` = R(f̂, p*) - R(f̂, D).
    """
    out = {"gap_test": labelled(ds["test_loss"] - ds["train_loss"],
                                "generalization gap: test risk - empirical risk")}
    if "f_error" in ds:
        out["gap_population"] = labelled(ds["f_error"] + noise_variance(ds) - ds["train_loss"],
                                         "generalization gap: R(f̂, p*) - R(f̂, D)")
    return derived(out, ds, "ddlab.generalization_gap")


def decompose(ds: xr.Dataset, best: xr.Dataset) -> xr.Dataset:
    """Split each cell's excess risk into approximation and estimation error.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`ddlab.run` or :func:`ddlab.open_results` (with
        ``f_error``).
    best : xarray.Dataset
        :func:`ddlab.best_in_class` of the same experiment.

    Returns
    -------
    xarray.Dataset
        Per cell: ``excess_risk`` R(f̂, p*) - R(f**, p*) = ``f_error``;
        ``approximation_error`` ε_app = R(f*, p*) - R(f**, p*);
        ``estimation_error`` = excess - ε_app; ``lecture_estimation_error``
        R(f̂_D, D) - R(f*, p*), the lecture's ε_est before its expectation
        over D. Each also as ``<name>_mean``, the mean over data and init seeds.
    """
    s2 = noise_variance(ds)
    app = best["approx_error"].sel(width=ds["width"].values)
    app = app.sel({d: ds[d].values for d in app.dims if d in SEEDS}).broadcast_like(ds["f_error"])
    out = {
        "excess_risk": labelled(ds["f_error"], "excess risk R(f̂, p*) - R(f**, p*)"),
        "approximation_error": labelled(app, "approximation error ε_app = R(f*, p*) - R(f**, p*)"),
        "estimation_error": labelled(ds["f_error"] - app,
                                     "estimation error ε_est = excess risk - ε_app"),
        "lecture_estimation_error": labelled(ds["train_loss"] - (app + s2),
                                             "lecture's estimation error R(f̂_D, D) - R(f*, p*)"),
    }
    for name in list(out):
        out[f"{name}_mean"] = labelled(out[name].mean(SEEDS),
                                       f"{out[name].attrs['long_name']}, mean over seeds")
    return derived(out, ds, "ddlab.decompose")
