"""Double-descent summaries: peaks along width and epoch, the interpolation threshold."""

from __future__ import annotations

from numbers import Real

import xarray as xr

from ._common import SEEDS, labelled, single_chunk
from ._kernels import PEAK_STATUS, first_below, significant_peak
from ._risk import n_train

__all__ = ["summarize"]


def _peaks(ds: xr.Dataset, metric: str, dim: str, z: float, position: str,
           prefix: str) -> dict[str, xr.DataArray]:
    """The peak along ``dim``: ``position``, ``<prefix>_height``, ``_height_se``,
    ``_height_median`` and ``_status``."""
    core = [dim, *SEEDS]
    values = single_chunk(ds[metric], *core)
    x_peak, height, se, median, status = xr.apply_ufunc(
        significant_peak, values, ds[dim].values, kwargs={"z": z},
        input_core_dims=[core, [dim]], output_core_dims=[[]] * 5, dask="parallelized",
        output_dtypes=[float, float, float, float, int])
    units = ds[metric].attrs.get("units", "1")
    rule = (f"NaN unless the peak exceeds both the lowest point before it and the lowest "
            f"after it by more than z = {z:g} standard errors (as a t quantile) of the "
            f"paired per-seed differences, clustered by data set; {prefix}_status says why "
            "not")
    flags = {"flag_values": list(PEAK_STATUS), "flag_meanings": " ".join(PEAK_STATUS.values())}
    what = f"{dim}-wise"
    return {
        position: labelled(x_peak, f"{dim} at the {what} peak of mean {metric}").assign_attrs(
            comment=rule),
        f"{prefix}_height": labelled(height, f"mean {metric} at its {what} peak",
                                     units).assign_attrs(comment=rule),
        f"{prefix}_height_se": labelled(se, f"standard error of mean {metric} at its {what} "
                                        "peak, clustered by data set", units),
        f"{prefix}_height_median": labelled(median, f"median over seeds of {metric} at its "
                                            f"{what} peak", units),
        f"{prefix}_status": labelled(status, f"why the {what} peak of mean {metric} is or "
                                     "is not reported").assign_attrs(flags),
    }


def summarize(ds: xr.Dataset, metric: str = "test_loss", tol: float = 1e-3,
              z: float = 2.0) -> xr.Dataset:
    """Double-descent descriptors of ``metric``, with peaks tested against the seed spread.

    A *peak* along width (or epoch) is the highest point j of the mean curve
    m (mean over seeds) that rises above the lowest point i before it and
    falls again to the lowest point l after it by more than ``z`` standard
    errors each: m_j - m_i > z SE(j, i) and m_j - m_l > z SE(j, l). SE(j, i)
    is the standard error of the mean of the paired per-seed differences
    v_j - v_i (the same data and init seeds at both points), clustered by
    data set: the standard deviation over data sets of their init-averaged
    differences over sqrt(S), or, from one data set, that over its inits
    (then the peak is one of this data set). As such a ratio is t-distributed
    with (clusters - 1) degrees of freedom, "z standard errors" means the t
    quantile of the normal's one-sided level at z (z = 2: 4.54 SE from 3
    data sets, 2.26 from 11). A U-curve (no second descent),
    a monotone curve and a wiggle within the seed noise have no peak (NaN);
    ``peak_status`` says which. With one seed cell there is no standard
    error and no peak. The test is a screen: it does not allow for the
    choice of i, l and j among the points, so its false-peak rate exceeds
    that of one z test. Cells not yet computed (NaN) are skipped.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`ddlab.run` or :func:`ddlab.open_results`.
    metric : str
        The variable to summarise (default ``test_loss``).
    tol : float
        Train-loss threshold (units of y²) defining interpolation; for a
        classification result, threshold of the 0-1 ``train_error`` (against
        the labels as trained on, flipped ones included): interpolation is
        fitting every training label.
    z : float
        Standard errors by which a peak must exceed the lowest points on
        both sides (default 2).

    Returns
    -------
    xarray.Dataset
        Per epoch: ``peak_width``, ``peak_height`` (mean), ``peak_height_se``,
        ``peak_height_median`` (median over seed cells), ``peak_status``
        (:data:`ddlab.analysis._kernels.PEAK_STATUS` codes, CF flags),
        ``best_width``, ``best_height``. Per width: ``epoch_peak``,
        ``epoch_peak_height`` and its ``_se``, ``_median`` and ``_status``.
        ``interpolation_width``: the smallest width whose final mean train loss
        (0-1 train error for classification) is below ``tol``;
        ``interpolation_ratio``: its n_params / n_train.
    """
    if isinstance(tol, bool) or not isinstance(tol, Real) or not 0 <= tol < float("inf"):
        raise ValueError(f"tol = {tol!r}: expected a finite number >= 0")
    if not z >= 0:
        raise ValueError(f"z = {z!r}: expected a number >= 0")
    if metric not in ds:
        raise ValueError(f"metric = {metric!r}: not a variable of ds "
                         f"(one of {', '.join(map(str, ds.data_vars))})")
    mean = ds[metric].mean(SEEDS)
    fit = "train_error" if "train_error" in ds else "train_loss"
    train = ds[fit].mean(SEEDS).isel(epoch=-1).load()
    first = xr.apply_ufunc(first_below, train, tol, input_core_dims=[["width"], []])
    index = first.clip(min=0)
    found = first >= 0
    interp = ds["width"].isel(width=index).where(found).reset_coords(drop=True)
    n_params = ds["n_params"].broadcast_like(train).isel(width=index).where(found)
    ratio = (n_params.reset_coords(drop=True) / n_train(ds)).astype(float)
    units = ds[metric].attrs.get("units", "1")
    best = single_chunk(mean, "width")
    return xr.Dataset({
        **_peaks(ds, metric, "width", z, "peak_width", "peak"),
        "best_width": labelled(best.idxmin("width"), f"width minimising mean {metric}"),
        "best_height": labelled(best.min("width"), f"smallest mean {metric} over widths", units),
        **_peaks(ds, metric, "epoch", z, "epoch_peak", "epoch_peak"),
        "interpolation_width": labelled(interp.astype(float),
                                        f"smallest width with final mean {fit} < {tol}"),
        "interpolation_ratio": labelled(ratio, "n_params / n_train at the interpolation width"),
    }, attrs={"metric": metric, "tol": tol, "z": z})
