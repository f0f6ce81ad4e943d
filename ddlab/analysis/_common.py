"""Helpers shared by the analysis wrappers."""

from __future__ import annotations

import xarray as xr

from ..results import experiment_of

__all__ = ["SEEDS", "labelled", "noise_variance", "single_chunk"]

SEEDS = ("data_seed", "init_seed")


def labelled(values: xr.DataArray, long_name: str, units: str = "1") -> xr.DataArray:
    """``values`` with CF ``long_name`` and ``units`` (errors are in units of y², so "1")."""
    return values.assign_attrs(long_name=long_name, units=units)


def single_chunk(da: xr.DataArray, *dims: str) -> xr.DataArray:
    """``da`` with ``dims`` in one dask chunk each (a no-op on numpy-backed data)."""
    return da.chunk(dict.fromkeys(dims, -1)) if da.chunks else da


def noise_variance(ds: xr.Dataset) -> xr.DataArray:
    """sigma^2 = R(f**, p*), the Bayes risk: a scalar, or along ``noise`` when swept.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`ddlab.run` or :func:`ddlab.open_results`.

    Returns
    -------
    xarray.DataArray
    """
    name = "Bayes risk σ² = R(f**, p*) (in units of y²)"
    if "noise" in ds.dims:
        return labelled(ds["noise"].astype(float) ** 2, name)
    return labelled(xr.DataArray(experiment_of(ds).data.noise ** 2), name)
