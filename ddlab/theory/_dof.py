"""Effective degrees of freedom tr(S) of ridge(less) least-squares fits.

A fit y_hat = S y of ridge regression on features Phi (n x N),
argmin (1/n) ||y - Phi a||^2 + ridge ||a||^2, has the smoother matrix
S = Phi (Phi^T Phi + n ridge I)^{-1} Phi^T, so with the singular values s_i of Phi

    dof = tr(S) = sum_i s_i^2 / (s_i^2 + n ridge),

which is rank(Phi) = min(n, N) (for features in general position) at ridge = 0:
the effective number of parameters that Curth, Jeffares & van der Schaar (2023)
plot risk against instead of the raw count N.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ridge_dof", "ridge_dof_mp"]


def ridge_dof(features, ridge, at=None) -> np.ndarray:
    """Exact effective degrees of freedom of a ridge fit on ``features``.

    Without ``at``: tr(S), the in-sample degrees of freedom. With test inputs'
    features ``at`` (m x N): the generalized effective number of parameters of
    Curth, Jeffares & van der Schaar (2023), (n / m) sum_j ||s(x_j)||^2 with
    s(x) = Phi (Phi^T Phi + n ridge I)^{-1} phi(x) the smoother weights of a
    prediction at x; it is p for least squares on p < n features evaluated at
    its own inputs, and grows beyond p (towards infinity) near the interpolation
    threshold when evaluated at new inputs.

    Parameters
    ----------
    features : array_like (n, N)
        The fitted design (inputs of a linear fit, or random features).
    ridge : float or array_like
        Penalty in (1/n) ||y - Phi a||^2 + ridge ||a||^2 (0: the min-norm fit,
        whose tr(S) is the rank); arrays give one value each.
    at : array_like (m, N), optional
        Features of the inputs at which predictions are made.

    Returns
    -------
    ndarray
        The degrees of freedom, of the shape of ``ridge``.
    """
    phi = np.asarray(features, dtype=float)
    lam = np.asarray(ridge, dtype=float)[..., None]
    if phi.ndim != 2 or np.any(lam < 0):
        raise ValueError(f"features of shape {phi.shape}, ridge = {ridge!r}: expected a 2-D "
                         f"design and ridge >= 0")
    _, s, vt = np.linalg.svd(phi, full_matrices=False)
    keep = s > s.max() * max(phi.shape) * np.finfo(float).eps
    s, vt, n = s[keep], vt[keep], phi.shape[0]
    if at is None:
        return (s**2 / (s**2 + n * lam)).sum(-1)
    coef = (np.asarray(at, dtype=float) @ vt.T) ** 2  # (m, rank)
    return n * ((s / (s**2 + n * lam)) ** 2 @ coef.mean(0))


def ridge_dof_mp(gamma, ridge, scale: float = 1.0) -> np.ndarray:
    r"""Asymptotic tr(S) / n of ridge on isotropic Gaussian inputs (Marchenko-Pastur).

    With p = gamma n features x ~ N(0, scale^2 I) and n, p -> inf,
    tr(S) / n = gamma (1 - ridge m(-ridge)), where
    m(-l) = (sqrt((s^2 (1 - gamma) + l)^2 + 4 gamma s^2 l) - (s^2 (1 - gamma) + l))
    / (2 gamma s^2 l) is the Stieltjes transform of the Marchenko-Pastur law of
    X^T X / n (s = scale); it tends to min(gamma, 1) as ridge -> 0.

    Parameters
    ----------
    gamma : float or array_like
        p / n.
    ridge : float or array_like, > 0
        Penalty in ddlab's convention.
    scale : float

    Returns
    -------
    ndarray
        tr(S) / n (broadcast over ``gamma`` and ``ridge``).
    """
    g, lam = np.asarray(gamma, dtype=float), np.asarray(ridge, dtype=float)
    if np.any(g <= 0) or np.any(lam <= 0):
        raise ValueError(f"gamma = {gamma!r}, ridge = {ridge!r}: both must be > 0")
    s2 = scale**2
    b = s2 * (1 - g) + lam
    m = (np.sqrt(b**2 + 4 * g * s2 * lam) - b) / (2 * g * s2 * lam)
    return g * (1 - lam * m)
