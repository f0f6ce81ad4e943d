"""Exact and asymptotic risk curves of linear least squares (numpy/scipy only).

Conventions shared by every function: inputs x ~ N(0, I) (isotropic Gaussian),
responses y = x . beta + noise * eps with eps ~ N(0, 1), beta drawn isotropic
with ||beta||^2 = ``signal``; ``noise`` is the standard deviation sigma. Each
function returns the **excess risk** E(x . beta_hat - x . beta)^2 =
E||beta_hat - beta||^2 (the test MSE minus sigma^2), together with its bias
and variance parts, as a :class:`Risk`. Add ``noise**2`` for the test MSE.
"""

from __future__ import annotations

import numpy as np

from ._risk import Risk, _risk

__all__ = [
    "gd_linear_path",
    "linear_excess_risk",
    "min_norm_risk",
    "optimal_ridge_lambda",
    "ridge_risk",
    "weak_features_risk",
]


def min_norm_risk(n, p, signal: float, noise: float, exact: bool = True) -> Risk:
    r"""Expected excess risk of min-norm least squares with p isotropic features.

    beta_hat = X^+ y, the ordinary least-squares fit for p < n and the
    minimum-norm interpolator for p > n (Hastie, Montanari, Rosset &
    Tibshirani 2019, "Surprises in high-dimensional ridgeless least squares
    interpolation", Sec. 2).

    ``exact=True`` gives the finite-sample expectation over X, eps and beta,
    from inverse-Wishart moments E[(X^T X)^{-1}] = I / (n - p - 1):

    - p <= n - 2: bias 0, variance sigma^2 p / (n - p - 1);
    - p >= n + 2: bias r^2 (1 - n/p), variance sigma^2 n / (p - n - 1);
    - |p - n| <= 1: infinite.

    ``exact=False`` gives the proportional limit n, p -> inf with
    gamma = p / n: sigma^2 gamma / (1 - gamma) for gamma < 1, and
    r^2 (1 - 1/gamma) + sigma^2 / (gamma - 1) for gamma > 1 (infinite at 1).

    Parameters
    ----------
    n, p : int or array_like
        Sample size and number of features (``p / n`` is used when
        ``exact=False``; arrays broadcast).
    signal : float
        r^2 = ||beta||^2.
    noise : float
        sigma, the noise standard deviation.
    exact : bool

    Returns
    -------
    Risk
        Excess risk E||beta_hat - beta||^2 and its bias and variance.
    """
    n, p = np.asarray(n, dtype=float), np.asarray(p, dtype=float)
    s2 = noise**2
    with np.errstate(divide="ignore", invalid="ignore"):
        if exact:
            under = p <= n - 2
            over = p >= n + 2
            bias = np.where(over, signal * (1 - n / p), np.where(under, 0.0, np.inf))
            var = np.where(under, s2 * p / (n - p - 1),
                           np.where(over, s2 * n / (p - n - 1), np.inf))
        else:
            g = p / n
            bias = np.where(g > 1, signal * (1 - 1 / g), np.where(g < 1, 0.0, np.inf))
            var = np.where(g < 1, s2 * g / (1 - g), np.where(g > 1, s2 / (g - 1), np.inf))
    return _risk(bias, var)


def weak_features_risk(n, p, D: int, signal: float, noise: float) -> Risk:
    r"""Excess risk of min-norm least squares on the first p of D isotropic features.

    The "weak features" model of Belkin, Hsu & Xu (2019), "Two models of
    double descent for weak features", Theorem 1: with beta isotropic,
    ||beta||^2 = r^2, the unused features act as extra noise of variance
    r^2 (1 - p/D), and their coefficients are missed entirely. Finite-sample
    and exact (an expectation over X, eps and beta), for |p - n| >= 2:

        risk = r^2 (1 - p/D) + min_norm_risk(n, p, r^2 p/D, sqrt(sigma^2 + r^2 (1 - p/D)))

    Belkin et al. state the test MSE, which is this plus sigma^2.

    Parameters
    ----------
    n, p : int or array_like
        Sample size and number of features used (p <= D).
    D : int
        Total number of features.
    signal, noise : float
        r^2 and sigma.

    Returns
    -------
    Risk
        ``bias`` includes the missed part r^2 (1 - p/D).
    """
    p = np.asarray(p, dtype=float)
    missed = signal * (1 - p / D)
    inner = min_norm_risk(n, p, signal * p / D, np.sqrt(noise**2 + missed))
    return _risk(inner.bias + missed, inner.variance)


def _mp_stieltjes(gamma: float, lam):
    """m(-lam) = int dmu(s) / (s + lam) for the Marchenko-Pastur law of ratio gamma, and dm/dz."""
    lam = np.asarray(lam, dtype=float)
    # m solves gamma z m^2 - (1 - gamma - z) m + 1 = 0 at z = -lam (the root with m > 0)
    z = -lam
    a, b = gamma * z, -(1 - gamma - z)
    m = (-b - np.sqrt(b * b - 4 * a)) / (2 * a)
    dm = -(gamma * m * m + m) / (2 * gamma * z * m - (1 - gamma - z))  # implicit differentiation
    return m, dm


def ridge_risk(gamma, lam, signal: float, noise: float) -> Risk:
    r"""Asymptotic excess risk of ridge regression with isotropic features.

    beta_hat = argmin (1/n) ||y - X b||^2 + lam ||b||^2, in the limit
    n, p -> inf with p / n -> gamma (Hastie et al. 2019, Theorem 5 and
    Corollary 5), using the Stieltjes transform m of the Marchenko-Pastur law:

        bias = r^2 lam^2 m'(-lam),  variance = sigma^2 gamma (m(-lam) - lam m'(-lam)).

    The risk is minimised at lam* = sigma^2 gamma / r^2
    (:func:`optimal_ridge_lambda`). Holds for lam > 0; as lam -> 0 it tends to
    :func:`min_norm_risk` with ``exact=False``.

    Parameters
    ----------
    gamma : float or array_like
        p / n.
    lam : float or array_like
        Ridge penalty (> 0).
    signal, noise : float
        r^2 and sigma.

    Returns
    -------
    Risk
    """
    gamma = np.asarray(gamma, dtype=float)
    lam = np.asarray(lam, dtype=float)
    if np.any(lam <= 0):
        raise ValueError(f"lam = {lam!r}: must be > 0 (use min_norm_risk for lam = 0)")
    m, dm = _mp_stieltjes(gamma, lam)
    return _risk(signal * lam**2 * dm, noise**2 * gamma * (m - lam * dm))


def optimal_ridge_lambda(gamma, signal: float, noise: float):
    """The penalty minimising :func:`ridge_risk`: lam* = sigma^2 gamma / r^2 (Hastie et al.)."""
    return noise**2 * np.asarray(gamma, dtype=float) / signal


def gd_linear_path(X, y, lr: float, epochs: int) -> np.ndarray:
    r"""Closed-form trajectory of full-batch gradient descent on least squares from zero.

    GD on L(theta) = (1/n) ||y - X theta||^2 with step ``lr``, started at
    theta_0 = 0, has in the SVD X = U S V^T the closed form

        theta_t = V diag((1 - (1 - 2 lr s_i^2 / n)^t) / s_i) U^T y,

    which tends to the min-norm solution X^+ y when 2 lr s_max^2 / n < 2.

    Parameters
    ----------
    X : array_like (n, p)
    y : array_like (n,)
    lr : float
    epochs : int

    Returns
    -------
    ndarray (epochs + 1, p)
        theta_t for t = 0..epochs.
    """
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    n = X.shape[0]
    u, s, vt = np.linalg.svd(X, full_matrices=False)
    keep = s > s.max() * max(X.shape) * np.finfo(float).eps
    u, s, vt = u[:, keep], s[keep], vt[keep]
    t = np.arange(epochs + 1)[:, None]
    shrink = 1 - (1 - 2 * lr * s**2 / n) ** t  # (epochs + 1, rank)
    return (shrink * (u.T @ y) / s) @ vt


def linear_excess_risk(theta, beta) -> np.ndarray:
    """Excess risk ||theta - beta||^2 of a linear predictor under isotropic inputs.

    ``theta`` may use only the first p <= len(beta) features (the rest count as 0),
    and may carry leading batch dims (e.g. a :func:`gd_linear_path`).
    """
    theta, beta = np.asarray(theta, dtype=float), np.asarray(beta, dtype=float)
    p = theta.shape[-1]
    return ((theta - beta[:p]) ** 2).sum(-1) + (beta[p:] ** 2).sum()
