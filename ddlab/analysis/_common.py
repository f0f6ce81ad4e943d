"""Helpers shared by the analysis wrappers."""

from __future__ import annotations

from collections.abc import Mapping

import xarray as xr

from ..results import experiment_of
from ..results._provenance import STORE_MARK, history_line

__all__ = ["SEEDS", "derived", "labelled", "noise_variance", "single_chunk"]

SEEDS = ("data_seed", "init_seed")


def labelled(values: xr.DataArray, long_name: str, units: str = "1") -> xr.DataArray:
    """``values`` with CF ``long_name`` and ``units`` (errors are in units of y², so "1")."""
    return values.assign_attrs(long_name=long_name, units=units)


def derived(variables: Mapping[str, xr.DataArray], ds: xr.Dataset, made_by: str) -> xr.Dataset:
    """A dataset derived from the result ``ds``: its provenance, not its identity as a store.

    The experiment, versions and ``source`` are kept and ``history`` gains a
    line; the store mark and the store's encodings (its chunks and codecs) are
    dropped, so that the derived dataset can be written to zarr and
    :func:`ddlab.open_results` refuses it (it has no ``completed`` cells).

    Parameters
    ----------
    variables : mapping
        Names and values of the derived variables.
    ds : xarray.Dataset
        The result.
    made_by : str
        The function that derived the dataset, e.g. ``"ddlab.risks"``.

    Returns
    -------
    xarray.Dataset
    """
    attrs = {k: v for k, v in ds.attrs.items() if k != STORE_MARK}
    line = history_line(f"{made_by}(ds)", "derived; not a result store")
    attrs["history"] = "\n".join(filter(None, [str(ds.attrs.get("history", "")), line]))
    return xr.Dataset(variables, attrs=attrs).drop_encoding()


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
