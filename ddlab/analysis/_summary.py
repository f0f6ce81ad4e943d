"""Double-descent summaries: peaks along width and epoch, the interpolation threshold."""

from __future__ import annotations

from numbers import Real

import xarray as xr

from ..results import experiment_of
from ._common import SEEDS, labelled, single_chunk
from ._kernels import first_below, peak_after_first_minimum

__all__ = ["summarize"]


def _peak(mean: xr.DataArray, dim: str) -> tuple[xr.DataArray, xr.DataArray]:
    return xr.apply_ufunc(
        peak_after_first_minimum, single_chunk(mean, dim), mean[dim].values,
        input_core_dims=[[dim], [dim]], output_core_dims=[[], []],
        dask="parallelized", output_dtypes=[float, float])


def _n_train(ds: xr.Dataset) -> xr.DataArray | float:
    if "n_train" in ds.dims:
        return ds["n_train"].astype(float)
    return float(experiment_of(ds).data.n_train)


def summarize(ds: xr.Dataset, metric: str = "test_loss", tol: float = 1e-3) -> xr.Dataset:
    """Double-descent descriptors of the seed-averaged ``metric``.

    A *peak* along width (or epoch) is the highest point after the curve's
    first local minimum: the top of the second ascent. Curves that never
    rise again have no peak (NaN). Cells not yet computed (NaN) are skipped.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`ddlab.run` or :func:`ddlab.open_results`.
    metric : str
        The variable to summarise (default ``test_loss``).
    tol : float
        Train-loss threshold (units of y²) defining interpolation.

    Returns
    -------
    xarray.Dataset
        Per epoch: ``peak_width``, ``peak_height``, ``best_width``,
        ``best_height``. Per width: ``epoch_peak``, ``epoch_peak_height``.
        ``interpolation_width``: the smallest width whose final mean train loss
        is below ``tol``; ``interpolation_ratio``: its n_params / n_train.
    """
    if isinstance(tol, bool) or not isinstance(tol, Real) or not 0 <= tol < float("inf"):
        raise ValueError(f"tol = {tol!r}: expected a finite number >= 0")
    if metric not in ds:
        raise ValueError(f"metric = {metric!r}: not a variable of ds "
                         f"(one of {', '.join(map(str, ds.data_vars))})")
    mean = ds[metric].mean(SEEDS)
    train = ds["train_loss"].mean(SEEDS).isel(epoch=-1).load()
    peak_w, peak_h = _peak(mean, "width")
    peak_e, peak_eh = _peak(mean, "epoch")
    first = xr.apply_ufunc(first_below, train, tol, input_core_dims=[["width"], []])
    index = first.clip(min=0)
    found = first >= 0
    interp = ds["width"].isel(width=index).where(found).reset_coords(drop=True)
    n_params = ds["n_params"].broadcast_like(train).isel(width=index).where(found)
    ratio = (n_params.reset_coords(drop=True) / _n_train(ds)).astype(float)
    units = ds[metric].attrs.get("units", "1")
    best = single_chunk(mean, "width")
    return xr.Dataset({
        "peak_width": labelled(peak_w, f"width at the peak of mean {metric}"),
        "peak_height": labelled(peak_h, f"mean {metric} at its width-wise peak", units),
        "best_width": labelled(best.idxmin("width"), f"width minimising mean {metric}"),
        "best_height": labelled(best.min("width"), f"smallest mean {metric} over widths", units),
        "epoch_peak": labelled(peak_e, f"epoch at the epoch-wise peak of mean {metric}"),
        "epoch_peak_height": labelled(peak_eh, f"mean {metric} at its epoch-wise peak", units),
        "interpolation_width": labelled(interp.astype(float),
                                        f"smallest width with final mean train loss < {tol}"),
        "interpolation_ratio": labelled(ratio, "n_params / n_train at the interpolation width"),
    }, attrs={"metric": metric, "tol": tol})
