"""Bias-variance decomposition over initialisations and data sets, at every epoch."""

from __future__ import annotations

from typing import Literal

import xarray as xr

from ._common import SEEDS, derived, labelled, single_chunk
from ._kernels import bias_variance_terms, bias_variance_unbiased

__all__ = ["bias_variance"]

_NAMES = {  # output order of bias_variance_unbiased's last axis
    "bias2": "squared bias mean_x (E f̂(x) - f(x))²",
    "variance_init": "variance over initialisations, E_data Var_init",
    "variance_data": "variance over data sets, Var_data E_init",
    "variance": "variance E mean_x (f̂(x) - E f̂(x))²",
    "mean_f_error": "mean over seeds of f_error = bias² + variance",
}
_METHOD = ("unbiased estimate: pointwise over population points, then averaged; standard "
           "error: delete-one-data-set jackknife (conservative for bias², variance_data "
           "and variance, exact for variance_init and mean_f_error)")


def _one_data_set(out: dict[str, xr.DataArray], inits: int) -> None:
    """Say in the comments what one data set identifies."""
    notes = {"bias2": "one data set: holds bias² + variance_data (= total - variance_init), "
                      "which it cannot tell apart",
             "variance_data": "one data set: not identifiable (NaN)",
             "variance": "one data set: not identifiable (NaN); mean_f_error is"}
    if inits == 1:
        notes["variance_init"] = "one init: not identifiable (NaN)"
    for name, note in notes.items():
        out[name].attrs["comment"] = f"{out[name].attrs['comment']}; {note}"


def _unbiased(ds: xr.Dataset, core: list[str]) -> dict[str, xr.DataArray]:
    inits = ds.sizes["init_seed"]
    est, se = xr.apply_ufunc(
        bias_variance_unbiased, single_chunk(ds["pred_mean"], *core),
        single_chunk(ds["f_population"], *core), single_chunk(ds["pred_var_init"], "data_seed"),
        kwargs={"inits": inits}, input_core_dims=[core, core, ["data_seed"]],
        output_core_dims=[["term"], ["term"]], dask="parallelized",
        output_dtypes=[float, float], dask_gufunc_kwargs={"output_sizes": {"term": 5}})
    out = {}
    for i, (name, long_name) in enumerate(_NAMES.items()):
        out[name] = labelled(est.isel(term=i), long_name).assign_attrs(comment=_METHOD)
        out[f"{name}_se"] = labelled(se.isel(term=i), f"standard error of {name}, "
                                     "delete-one-data-set jackknife").assign_attrs(
            comment="NaN with fewer than 2 data sets (3 for bias2, variance_data, variance)")
    if ds.sizes["data_seed"] == 1:
        _one_data_set(out, inits)
    elif inits == 1:
        for name in ("variance_init", "variance_data"):
            out[name].attrs["comment"] += "; one init: not identifiable (NaN)"
    return out


def _plugin(ds: xr.Dataset, core: list[str]) -> dict[str, xr.DataArray]:
    bias2, var_init, var_data = xr.apply_ufunc(
        bias_variance_terms, single_chunk(ds["pred_mean"], *core),
        single_chunk(ds["f_population"], *core), single_chunk(ds["pred_var_init"], "data_seed"),
        input_core_dims=[core, core, ["data_seed"]], output_core_dims=[[], [], []],
        dask="parallelized", output_dtypes=[float, float, float])
    out = {"bias2": labelled(bias2, "squared bias mean_x (f̄(x) - f(x))², plug-in"),
           "variance": labelled(var_init + var_data, "variance mean_x mean_ks (f̂ - f̄)²"),
           "variance_init": labelled(var_init, "variance over initialisations, plug-in 1/K"),
           "variance_data": labelled(var_data, "variance over data sets, plug-in 1/S"),
           "mean_f_error": labelled(ds["f_error"].mean(SEEDS), "mean over seeds of f_error")}
    if ds.sizes["data_seed"] == 1:
        out["variance_data"].attrs["comment"] = (
            "one data set: not estimable, 0 by construction; bias2 includes the data "
            "set's own deviation from the mean over data sets")
    return out


def bias_variance(ds: xr.Dataset,
                  estimator: Literal["unbiased", "plugin"] = "unbiased") -> xr.Dataset:
    r"""Bias-variance decomposition over initialisations and data sets, at every epoch.

    The prediction of init k on data set s at a population point x is
    f̂_{ks}(x); inits are drawn afresh for every data set. The targets are
    bias² = mean_x (E f̂(x) - f(x))², V_init = mean_x E_s Var_k f̂_{ks}(x),
    V_data = mean_x Var_s E_k f̂_{ks}(x), and their sum, the expected
    ``f_error``. The result stores, per data set s, m_s(x) = mean_k f̂_{ks}(x)
    and v_s = mean_x (1/K) sum_k (f̂_{ks}(x) - m_s(x))²; write
    r_s(x) = m_s(x) - f_s(x) and r̄(x) = mean_s r_s(x).

    The plug-in estimates (``estimator="plugin"``) are mean_x r̄(x)²,
    mean_s v_s and mean_x (1/S) sum_s (r_s(x) - r̄(x))². With K inits and S
    data sets they are biased (Yang et al. 2020, "Rethinking bias-variance
    trade-off for generalization of neural networks"):
    E[plug-in bias²] = bias² + (V_data + V_init / K) / S, E[plug-in V_init]
    = (K - 1) / K V_init, E[plug-in V_data] = (S - 1) / S (V_data + V_init / K).

    The unbiased estimates (the default) correct each, pointwise in x before
    averaging over the population points:

    - ``bias2`` = mean_x sum_{s≠t} r_s(x) r_t(x) / (S (S - 1))
      (= mean_x r̄² - mean_x s_r²(x) / S, s_r² the 1/(S - 1) variance over
      data sets): E r_s r_t = bias² for independent data sets;
    - ``variance_init`` = K / (K - 1) mean_s v_s;
    - ``variance_data`` = mean_x s_r²(x) - ``variance_init`` / K;
    - ``variance`` = ``variance_init`` + ``variance_data``;
    - ``mean_f_error`` = mean over seeds of ``f_error`` = ``bias2`` + ``variance``:
      the plug-in total is already unbiased, the corrections only move error
      between the terms.

    The unbiased ``bias2`` and ``variance_data`` can be negative when the
    true values are near 0. Each term has a standard error ``<name>_se``:
    the delete-one-data-set jackknife, sqrt((S - 1) / S sum_i (θ_(i) - θ_(.))²).
    For ``variance_init`` and ``mean_f_error``, means over data sets, it is
    the standard error of the mean over data sets; for the others it is
    conservative (Efron-Stein: too large on average, not too small). It
    needs 2 data sets (3 for ``bias2``, ``variance_data`` and ``variance``).

    From one data set only ``variance_init`` (with K ≥ 2) and the total are
    identifiable: ``bias2`` then holds bias² + V_data (= total -
    ``variance_init``), and ``variance`` and ``variance_data`` are NaN; from
    one init, V_init and V_data are NaN and their sum is still estimated.
    The ``comment`` attributes say so, and every term carries ``n_data_sets``.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`ddlab.run` or :func:`ddlab.open_results` with a
        population sample and ``record_bias_variance`` (variables
        ``pred_mean``, ``pred_var_init``, ``f_population``).
    estimator : {"unbiased", "plugin"}
        The unbiased estimates with standard errors, or the plug-in ones
        (without standard errors; in the plug-in split from one data set,
        ``variance_data`` is 0 and ``bias2`` holds that data set's deviation).

    Returns
    -------
    xarray.Dataset
        Dims: swept keys, width, epoch; in units of y². Attribute
        ``estimator``.
    """
    if estimator not in ("unbiased", "plugin"):
        raise ValueError(f"estimator = {estimator!r}: not 'unbiased' or 'plugin'")
    if "pred_mean" not in ds:
        raise ValueError("ds: no 'pred_mean'; run with n_population > 0 and "
                         "record_bias_variance = true")
    core = ["data_seed", "pop"]
    out = (_unbiased if estimator == "unbiased" else _plugin)(ds, core)
    result = derived(out, ds, "ddlab.bias_variance")
    result.attrs["estimator"] = estimator
    for var in result.data_vars.values():
        var.attrs["n_data_sets"] = ds.sizes["data_seed"]
    return result
