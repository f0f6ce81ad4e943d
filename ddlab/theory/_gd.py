"""Expected test risk of gradient descent on least squares over training time.

Setting: full-batch gradient descent on L(theta) = (1/n) ||y - X theta||^2
with step ``lr`` from theta_0 = 0, responses y = X beta + noise * eps. On a
design X with sample covariance Sigma_hat = X^T X / n = V diag(lambda) V^T,
the iterate is theta_t = (I - Q_t) beta_hat with Q_t = (I - 2 lr Sigma_hat)^t,
so theta_t - beta = -Q_t beta + (I - Q_t) Sigma_hat^+ X^T eps / n and, for
inputs x ~ N(0, Sigma),

    excess risk = E (theta_t - beta)^T Sigma (theta_t - beta)
                = tr(Q_t Sigma Q_t E[beta beta^T])                 (bias)
                + noise^2 / n sum_i (V^T Sigma V)_ii (1 - q_i(t))^2 / lambda_i  (variance)

with q_i(t) = (1 - 2 lr lambda_i)^t (the sum over lambda_i > 0).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._risk import Risk, _risk

__all__ = ["gd_risk", "gd_risk_mp"]


def _epochs(epochs) -> np.ndarray:
    t = np.atleast_1d(np.asarray(epochs))
    if t.ndim != 1 or t.size == 0 or not np.issubdtype(t.dtype, np.integer) or t.min() < 0:
        raise ValueError(f"epochs = {epochs!r}: expected non-negative integers")
    return t


def _block_table(blocks: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature input scale and E[beta_i^2] of ``blocks``, validated."""
    if not blocks:
        raise ValueError(f"blocks = {blocks!r}: expected at least one block")
    scale, beta2 = [], []
    for i, b in enumerate(blocks):
        if set(b) != {"dim", "scale", "signal"}:
            raise ValueError(f"blocks[{i}] = {b!r}: expected keys dim, scale, signal")
        if int(b["dim"]) < 1 or b["scale"] <= 0 or b["signal"] < 0:
            raise ValueError(f"blocks[{i}] = {b!r}: needs dim >= 1, scale > 0, signal >= 0")
        scale += [float(b["scale"])] * int(b["dim"])
        beta2 += [b["signal"] / int(b["dim"])] * int(b["dim"])
    return np.array(scale), np.array(beta2)


def _design_path(x: np.ndarray, sigma: np.ndarray, beta2: np.ndarray, noise: float,
                 lr: float, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bias and variance over ``t`` on one design ``x``, averaged over beta and eps."""
    n = x.shape[0]
    lam, v = np.linalg.eigh(x.T @ x / n)
    positive = lam > lam.max() * max(x.shape) * np.finfo(float).eps
    lam = np.where(positive, lam, 0.0)
    q = (1 - 2 * lr * lam) ** t[:, None]  # (epochs, dim); 1 on the null space
    sv = (v * sigma[:, None]).T @ v  # V^T Sigma V (Sigma diagonal)
    bv = (v * beta2[:, None]).T @ v  # V^T E[beta beta^T] V
    bias = ((q @ (sv * bv)) * q).sum(axis=1)
    weight = np.divide(np.diag(sv), lam, out=np.zeros_like(lam), where=positive)
    variance = noise**2 / n * ((1 - q) ** 2 @ weight)
    return bias, variance


def gd_risk(n: int, blocks: Sequence[Mapping[str, Any]], noise: float, lr: float, epochs,
            designs: int = 1000, seed: int = 0) -> Risk:
    r"""Expected excess risk of gradient descent over time, for block-anisotropic inputs.

    Inputs of block b are N(0, scale_b^2) (independent features), beta is
    isotropic within block b with ||beta_b||^2 = signal_b, as ``data.blocks``
    of the ``linear`` target draws them. For each design the risk is the
    **exact** expectation over beta and the noise (module docstring); the
    expectation over designs is a **Monte Carlo average** over ``designs``
    Gaussian designs drawn from ``seed`` (its relative error is about
    1 / sqrt(designs) times the coefficient of variation over designs; not a
    deterministic equivalent). One block of unit scale is the isotropic case,
    whose proportional limit is :func:`gd_risk_mp`.

    Parameters
    ----------
    n : int
        Training sample size.
    blocks : sequence of mapping
        ``{"dim": int, "scale": float, "signal": float}`` per block.
    noise : float
        sigma, the standard deviation of the noise on y.
    lr : float
        Step size of gradient descent on (1/n) ||y - X theta||^2.
    epochs : int or array_like of int
        Times t (full-batch steps) at which to evaluate.
    designs : int
        Monte Carlo designs to average over.
    seed : int
        Seed of the designs.

    Returns
    -------
    Risk
        Excess risk E(x . theta_t - x . beta)^2 (add ``noise**2`` for the test
        MSE) and its bias and variance, each of shape ``(len(epochs),)``.
    """
    t = _epochs(epochs)
    scale, beta2 = _block_table(blocks)
    if n < 1 or designs < 1:
        raise ValueError(f"n = {n}, designs = {designs}: both must be >= 1")
    rng = np.random.default_rng(seed)
    total = np.zeros((2, t.size))
    for _ in range(designs):
        x = rng.standard_normal((n, scale.size)) * scale
        total += _design_path(x, scale**2, beta2, noise, lr, t)
    return _risk(*(total / designs))


def gd_risk_mp(n: float, dim: float, signal: float, noise: float, lr: float, epochs,
               scale: float = 1.0, nodes: int = 4000) -> Risk:
    r"""Asymptotic excess risk of gradient descent over time, isotropic inputs (Marchenko-Pastur).

    Inputs x ~ N(0, scale^2 I_dim), beta isotropic with ||beta||^2 = ``signal``,
    in the proportional limit n, dim -> inf with gamma = dim / n fixed (Advani &
    Saxe 2017; Ali, Kolter & Tibshirani 2019, who also compare GD with ridge).
    With q(lambda) = (1 - 2 lr lambda)^t and mu the Marchenko-Pastur law of the
    eigenvalues of X^T X / n (atom 1 - 1/gamma at 0 when gamma > 1),

        bias = scale^2 signal int q^2 dmu,
        variance = noise^2 gamma scale^2 int (1 - q)^2 / lambda dmu.

    The integrals are computed with ``nodes`` midpoints in theta, where
    lambda = (a + b) / 2 + (b - a) / 2 cos(theta) on the support [a, b].

    Parameters
    ----------
    n, dim : float
        Sample size and number of features (only gamma = dim / n enters).
    signal : float
        ||beta||^2.
    noise : float
        sigma.
    lr : float
        Step size of gradient descent on (1/n) ||y - X theta||^2.
    epochs : int or array_like of int
    scale : float
        Standard deviation of each input.
    nodes : int
        Quadrature nodes.

    Returns
    -------
    Risk
        Excess risk and its bias and variance, each of shape ``(len(epochs),)``.
    """
    t = _epochs(epochs)
    if n <= 0 or dim <= 0 or scale <= 0:
        raise ValueError(f"n = {n}, dim = {dim}, scale = {scale}: must be > 0")
    gamma, s2 = dim / n, scale**2
    a, b = s2 * (1 - gamma**0.5) ** 2, s2 * (1 + gamma**0.5) ** 2
    theta = (np.arange(nodes) + 0.5) * np.pi / nodes
    lam = (a + b) / 2 + (b - a) / 2 * np.cos(theta)
    # mu(dlambda) = sqrt((b - lambda)(lambda - a)) / (2 pi s2 gamma lambda) dlambda
    w = ((b - a) / 2 * np.sin(theta)) ** 2 / (2 * np.pi * s2 * gamma * lam) * (np.pi / nodes)
    q = (1 - 2 * lr * lam) ** t[:, None]
    atom = max(0.0, 1 - 1 / gamma)
    bias = s2 * signal * (atom + q**2 @ w)
    variance = noise**2 * gamma * s2 * ((1 - q) ** 2 @ (w / lam))
    return _risk(bias, variance)
