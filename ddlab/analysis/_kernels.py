"""numpy kernels of the analysis: plain arrays in, plain arrays out, along an ``axis``."""

from __future__ import annotations

import numpy as np

__all__ = ["bias_variance_terms", "bias_variance_unbiased", "first_below",
           "peak_after_first_minimum", "significant_peak"]


def peak_after_first_minimum(curve: np.ndarray, x: np.ndarray,
                             axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Position and height of the highest point after each curve's first local minimum.

    The first local minimum is the last point before the curve first rises
    between two finite neighbours; the peak is the highest finite point after
    it, if higher than the minimum (the top of a second ascent).

    Parameters
    ----------
    curve : ndarray
        Curves along ``axis`` (NaN marks missing points).
    x : ndarray
        Coordinates of the points along ``axis`` (1-D, same length).
    axis : int

    Returns
    -------
    x_peak, height : ndarray
        The curves' shape without ``axis``; NaN where a curve never rises
        again or has fewer than three finite points.
    """
    c = np.moveaxis(np.asarray(curve, dtype=float), axis, -1)
    x = np.asarray(x, dtype=float)
    if c.shape[-1] < 3:  # no room for a second ascent
        nan = np.full(c.shape[:-1], np.nan)
        return nan, nan.copy()
    finite = np.isfinite(c)
    rises = (np.diff(c, axis=-1) > 0) & finite[..., 1:] & finite[..., :-1]
    has = rises.any(axis=-1) & (finite.sum(axis=-1) >= 3)
    first_min = rises.argmax(axis=-1)
    pos = np.arange(c.shape[-1])
    after = finite & (pos > first_min[..., None])
    k = np.where(after, c, -np.inf).argmax(axis=-1)
    top = np.take_along_axis(c, k[..., None], axis=-1)[..., 0]
    low = np.take_along_axis(c, first_min[..., None], axis=-1)[..., 0]
    ok = has & (top > low)
    return np.where(ok, x[k], np.nan), np.where(ok, top, np.nan)


def first_below(values: np.ndarray, tol: float, axis: int = -1) -> np.ndarray:
    """Index of the first value below ``tol`` along ``axis``, or -1 where there is none."""
    below = np.moveaxis(np.asarray(values) < tol, axis, -1)
    return np.where(below.any(axis=-1), below.argmax(axis=-1), -1)


def bias_variance_terms(pred_mean: np.ndarray, f: np.ndarray,
                        var_init: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Squared bias and the two variances from init-averaged predictions.

    With r_s(x) = pred_mean_s(x) - f_s(x) and r̄(x) = mean_s r_s(x): bias² =
    mean_x r̄(x)², variance over data = mean_x mean_s (r_s(x) - r̄(x))², and
    variance over inits = mean_s var_init_s.

    Parameters
    ----------
    pred_mean : ndarray (..., data, points)
        Mean over inits of the prediction, per data seed and point.
    f : ndarray (..., data, points)
        The true f (broadcastable against ``pred_mean``).
    var_init : ndarray (..., data)
        Per data seed, the mean over points of the variance over inits.

    Returns
    -------
    bias2, variance_init, variance_data : ndarray (...)
        ``bias2 + variance_init + variance_data`` is the mean over data seeds,
        inits and points of (f̂ - f)².
    """
    resid = pred_mean - f
    rbar = resid.mean(axis=-2, keepdims=True)
    bias2 = np.square(rbar[..., 0, :]).mean(axis=-1)
    var_data = np.square(resid - rbar).mean(axis=(-2, -1))
    return bias2, np.mean(var_init, axis=-1), var_data


def _unbiased_terms(a: np.ndarray, q: np.ndarray, v: np.ndarray, s: int,
                    k: int) -> np.ndarray:
    """(..., 5) bias², V_init, V_data, variance, total from sums over ``s`` data sets.

    ``a``, ``q`` (..., points): sums over data sets of r_s(x) and r_s(x)²; ``v``
    (...): sum of the 1/K init variances. NaN where a term needs more data
    sets (bias² and V_data: 2) or inits (V_init, V_data: 2) than given.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        total = (q.mean(axis=-1) + v) / s
        bias2 = ((a * a - q) / (s * (s - 1))).mean(axis=-1) if s > 1 else np.nan * total
        v_init = v / s * (k / (k - 1)) if k > 1 else np.nan * total
    variance = total - bias2
    return np.stack(np.broadcast_arrays(bias2, v_init, variance - v_init, variance, total),
                    axis=-1)


def bias_variance_unbiased(pred_mean: np.ndarray, f: np.ndarray, var_init: np.ndarray,
                           inits: int) -> tuple[np.ndarray, np.ndarray]:
    """Unbiased bias², variances and total error, with jackknife standard errors.

    With r_s(x) = pred_mean_s(x) - f_s(x) over S data sets and K = ``inits``:
    bias² = mean_x sum_{s≠t} r_s(x) r_t(x) / (S (S - 1)); V_init = K / (K - 1)
    mean_s var_init_s; total = mean_x mean_s r_s(x)² + mean_s var_init_s;
    variance = total - bias²; V_data = variance - V_init. Standard errors are
    the delete-one-data-set jackknife's. From one data set the bias² slot
    holds bias² + V_data (= total - V_init), and variance and V_data are NaN.

    Parameters
    ----------
    pred_mean : ndarray (..., data, points)
        Mean over the K inits of the prediction, per data seed and point.
    f : ndarray (..., data, points)
        The true f (broadcastable against ``pred_mean``).
    var_init : ndarray (..., data)
        Per data seed, the mean over points of the 1/K variance over inits.
    inits : int
        K, the number of inits behind ``pred_mean`` and ``var_init``.

    Returns
    -------
    estimate, se : ndarray (..., 5)
        bias², V_init, V_data, variance and total, and their standard errors.
    """
    r = np.asarray(pred_mean, dtype=float) - f
    v_s = np.asarray(var_init, dtype=float)
    s = r.shape[-2]
    a, q, v = r.sum(axis=-2), np.square(r).sum(axis=-2), v_s.sum(axis=-1)
    est = _unbiased_terms(a, q, v, s, inits)
    if s == 1:  # bias² + V_data is what one data set identifies
        est[..., 0] = est[..., 4] - est[..., 1]
        est[..., 2:4] = np.nan
    loo = _unbiased_terms(a[..., None, :] - r, q[..., None, :] - np.square(r),
                          v[..., None] - v_s, s - 1, inits) if s > 1 else np.nan * est[..., None, :]
    dev = loo - loo.mean(axis=-2, keepdims=True)
    se = np.sqrt((s - 1) / s * np.square(dev).sum(axis=-2))
    return est, se


#: ``status`` codes of :func:`significant_peak`
PEAK_STATUS = {0: "significant_peak", 1: "fewer_than_3_points", 2: "never_rises_after_a_minimum",
               3: "never_falls_after_rising", 4: "rise_or_fall_not_significant"}


def _nanmean(x: np.ndarray, axis: int | tuple[int, ...]) -> np.ndarray:
    """Mean of the finite values along ``axis``; NaN (without a warning) where there are none.

    Warning filters are process-wide, so the kernels, run in dask's threads,
    avoid warnings rather than silence them.
    """
    finite = np.isfinite(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(finite, x, 0.0).sum(axis=axis) / finite.sum(axis=axis)


def _cluster_se(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Standard error of the mean of ``d`` (..., data, init), clustered by data set.

    With two or more data sets: the spread of the per-data-set means over
    data sets, sd / sqrt(S); with one: the spread over inits (conditional on
    that data set). Missing (NaN) cells are skipped. Also returns its
    degrees of freedom (clusters - 1).
    """
    d = _nanmean(d, axis=-1) if d.shape[-2] > 1 else d[..., 0, :]
    n = np.isfinite(d).sum(axis=-1)
    dev = np.where(np.isfinite(d), d - _nanmean(d, axis=-1)[..., None], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(np.square(dev).sum(axis=-1) / (n - 1) / n), n - 1


def _extreme_before(m: np.ndarray, reverse: bool) -> np.ndarray:
    """Per point j, the index of the lowest finite point before j (after j if ``reverse``).

    -1 where there is none.
    """
    p = m.shape[-1]
    v = np.where(np.isfinite(m), m, np.inf)
    if reverse:
        v = v[..., ::-1]
    low = np.minimum.accumulate(v, axis=-1)
    idx = np.maximum.accumulate(np.where(np.isfinite(v) & (v <= low), np.arange(p), -1), axis=-1)
    idx = np.concatenate([np.full((*idx.shape[:-1], 1), -1), idx[..., :-1]], axis=-1)
    return np.where(idx >= 0, p - 1 - idx, -1)[..., ::-1] if reverse else idx


def _t_bar(z: float, dof: np.ndarray) -> np.ndarray:
    """The Student t quantile with ``dof`` degrees of freedom at the normal tail of ``z``.

    A difference over an estimated standard error with few degrees of freedom
    is t-distributed; this keeps the one-sided level of "more than z SE" at
    that of the normal (z = 2: t = 4.54 with 2 degrees of freedom, 2.26 with 10).
    """
    from scipy import stats  # scipy.stats takes a second to import: only when needed

    with np.errstate(invalid="ignore"):
        return stats.t.isf(stats.norm.sf(z), np.where(dof >= 1, dof, np.nan))


def _at(v: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Cells (..., P, data, init) of ``v`` at points ``index`` (..., P); NaN where -1."""
    got = np.take_along_axis(v, np.clip(index, 0, None)[..., None, None], axis=-3)
    return np.where((index >= 0)[..., None, None], got, np.nan)


def significant_peak(values: np.ndarray, x: np.ndarray, z: float = 2.0
                     ) -> tuple[np.ndarray, ...]:
    """The highest point that stands z standard errors above the lowest points on both sides.

    A point j of the mean curve m is a peak when m_j - m_i > z SE and m_j -
    m_l > z SE, with i the lowest point before j and l the lowest after it
    (a descent, an ascent, and a second descent), each SE that of the mean
    of the paired per-seed differences d = v_j - v_i (:func:`_cluster_se`),
    and z read as the Student t quantile of the same one-sided level
    (:func:`_t_bar`).

    Parameters
    ----------
    values : ndarray (..., points, data, init)
        Per-seed values along the curve (NaN marks missing cells).
    x : ndarray (points,)
        Coordinates of the points.
    z : float
        Standard errors a rise and a fall must exceed.

    Returns
    -------
    x_peak, height, height_se, height_median, status : ndarray (...)
        The peak's position, mean, standard error of the mean, and median
        over seed cells (NaN without a peak), and its :data:`PEAK_STATUS` code.
    """
    v = np.asarray(values, dtype=float)
    m = _nanmean(v, axis=(-2, -1))
    steps = []
    for index in (_extreme_before(m, False), _extreme_before(m, True)):
        low = np.take_along_axis(m, np.clip(index, 0, None), axis=-1)
        gap = np.where(index >= 0, m - low, np.nan)
        se, dof = _cluster_se(v - _at(v, index))
        steps.append((gap, gap > _t_bar(z, dof) * se))
    (rise, rises), (fall, falls) = steps
    ok = rises & falls
    k = np.where(ok, m, -np.inf).argmax(axis=-1)
    status = np.select([np.isfinite(m).sum(axis=-1) < 3, ~(rise > 0).any(axis=-1),
                        ~((rise > 0) & (fall > 0)).any(axis=-1), ~ok.any(axis=-1)],
                       [1, 2, 3, 4], 0)
    cells = _at(v, k[..., None])[..., 0, :, :]
    flat = cells.reshape(*cells.shape[:-2], -1)
    empty = ~np.isfinite(flat).any(axis=-1)  # np.nanmedian would warn
    median = np.where(empty, np.nan, np.nanmedian(np.where(empty[..., None], 0.0, flat), axis=-1))
    height = np.take_along_axis(m, k[..., None], axis=-1)[..., 0]
    x_peak = np.asarray(x, dtype=float)[k]
    found = status == 0
    return (*(np.where(found, a, np.nan) for a in (x_peak, height, _cluster_se(cells)[0], median)),
            status)
