"""Risks, generalization gaps and the approximation/estimation decomposition.

Notation follows the ECON622 lecture ("ERM and Interpolation"): p* is the
data distribution, f the true regression function, sigma the noise level,
R(g, p*) = E (y - g(x))^2 the population risk, R(g, D) the empirical risk on
the training set D, f** = f the Bayes predictor with R(f**, p*) = sigma^2, and
f* the best predictor in the hypothesis class H (networks of a given width).
"""

from __future__ import annotations

import xarray as xr

from ._common import SEEDS, derived, labelled, noise_variance

__all__ = ["decompose", "generalization_gap", "risks"]


def risks(ds: xr.Dataset) -> xr.Dataset:
    """Empirical, test, population and Bayes risk of every cell.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`ddlab.run` or :func:`ddlab.open_results` (with
        ``f_error``).

    Returns
    -------
    xarray.Dataset
        ``empirical_risk`` R(f̂, D) (= ``train_loss``), ``test_risk`` (mean
        squared error on the noisy test set, an unbiased estimate of
        R(f̂, p*)), ``population_risk`` R(f̂, p*) = ``f_error`` + sigma^2, and
        ``bayes_risk`` sigma^2; all in units of y².
    """
    s2 = noise_variance(ds)
    return derived({
        "empirical_risk": labelled(ds["train_loss"], "empirical risk R(f̂, D)"),
        "test_risk": labelled(ds["test_loss"], "test risk R(f̂, D_test) on the noisy test set"),
        "population_risk": labelled(ds["f_error"] + s2,
                                    "population risk R(f̂, p*) = f_error + σ²"),
        "bayes_risk": s2,
    }, ds, "ddlab.risks")


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
