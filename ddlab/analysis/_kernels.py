"""numpy kernels of the analysis: plain arrays in, plain arrays out, along an ``axis``."""

from __future__ import annotations

import numpy as np

__all__ = ["bias_variance_terms", "first_below", "peak_after_first_minimum"]


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
