"""Bias-variance decomposition over initialisations and data sets, at every epoch."""

from __future__ import annotations

import xarray as xr

from ._common import SEEDS, derived, labelled, single_chunk
from ._kernels import bias_variance_terms

__all__ = ["bias_variance"]


def bias_variance(ds: xr.Dataset) -> xr.Dataset:
    """Bias-variance decomposition over initialisations and data sets, at every epoch.

    With r_s(x) = mean_k f̂_{k,s}(x) - f_s(x) the init-averaged residual of
    data set s, and r̄(x) = mean_s r_s(x):

    - ``bias2`` = mean_x r̄(x)²  (= mean_x (f̄(x) - f(x))² when f is fixed);
    - ``variance_init`` = mean_s mean_x Var_k f̂_{k,s}(x)  (E_data Var_init);
    - ``variance_data`` = mean_x mean_s (r_s(x) - r̄(x))²  (Var_data E_init);
    - ``variance`` = ``variance_init`` + ``variance_data``;
    - ``mean_f_error`` = mean over seeds of ``f_error`` = ``bias2`` + ``variance``.

    Both identities hold to float round-off, on the population sample. With
    one data set the variance over data sets cannot be told apart from that
    data set's own error: ``variance_data`` is then 0 by construction and
    ``bias2`` holds the data set's deviation too; its ``n_data_sets`` and
    ``comment`` attributes say so (every term carries ``n_data_sets``).

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`ddlab.run` or :func:`ddlab.open_results` with a
        population sample and ``record_bias_variance`` (variables
        ``pred_mean``, ``pred_var_init``, ``f_population``).

    Returns
    -------
    xarray.Dataset
        Dims: swept keys, width, epoch; in units of y².
    """
    if "pred_mean" not in ds:
        raise ValueError("ds: no 'pred_mean'; run with n_population > 0 and "
                         "record_bias_variance = true")
    core = ["data_seed", "pop"]
    bias2, var_init, var_data = xr.apply_ufunc(
        bias_variance_terms, single_chunk(ds["pred_mean"], *core),
        single_chunk(ds["f_population"], *core), single_chunk(ds["pred_var_init"], "data_seed"),
        input_core_dims=[core, core, ["data_seed"]], output_core_dims=[[], [], []],
        dask="parallelized", output_dtypes=[float, float, float])
    n_data = ds.sizes["data_seed"]
    variance_data = labelled(var_data, "variance over data sets, Var_data E_init")
    if n_data == 1:
        note = ("one data set: not estimable, 0 by construction; bias2 includes the data "
                "set's own deviation from the mean over data sets")
        before = variance_data.attrs.get("comment")
        variance_data.attrs["comment"] = f"{before}; {note}" if before else note
    out = derived({
        "bias2": labelled(bias2, "squared bias mean_x (f̄(x) - f(x))²"),
        "variance": labelled(var_init + var_data, "variance mean_x mean_ks (f̂ - f̄)²"),
        "variance_init": labelled(var_init, "variance over initialisations, E_data Var_init"),
        "variance_data": variance_data,
        "mean_f_error": labelled(ds["f_error"].mean(SEEDS), "mean over seeds of f_error"),
    }, ds, "ddlab.bias_variance")
    for var in out.data_vars.values():
        var.attrs["n_data_sets"] = n_data
    return out
