"""Asymptotic risk of random-features ridge regression (Mei & Montanari 2019; numpy/scipy only)."""

from __future__ import annotations

import functools

import numpy as np
from scipy import integrate, special

from ._risk import Risk, _risk

__all__ = ["random_features_risk"]

#: Activations with a Gaussian-moment description, as numpy functions.
_ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "sigmoid": special.expit,
    "softplus": lambda z: np.logaddexp(0.0, z),
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
    "softsign": lambda z: z / (1 + np.abs(z)),
}

_BISECTIONS = 80  # halvings of [0, p*]: past float64 resolution (2^-52) with room to spare


@functools.lru_cache(maxsize=16)
def _moments(activation: str) -> tuple[float, float, float]:
    """(mu_0, mu_1, mu_star^2) of an activation under G ~ N(0, 1).

    mu_0 = E s(G), mu_1 = E G s(G), mu_star^2 = E s(G)^2 - mu_0^2 - mu_1^2; exact for
    relu, else adaptive quadrature against the Gaussian density, split at the origin
    (where elu and softsign are not smooth).
    """
    if activation == "cos":
        raise ValueError("activation = 'cos': random Fourier features cos(w . x + b) with "
                         "b ~ U[0, 2 pi) are not the model of Mei & Montanari "
                         "(features s(w . x) without bias)")
    if activation == "identity":
        raise ValueError("activation = 'identity': linear features have mu_star = 0, outside "
                         "the Mei-Montanari formula (use min_norm_risk / ridge_risk)")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation = {activation!r}: expected one of "
                         f"{', '.join(map(repr, _ACTIVATIONS))}")
    if activation == "relu":
        return 1 / np.sqrt(2 * np.pi), 0.5, 0.25 - 1 / (2 * np.pi)
    fn = _ACTIVATIONS[activation]

    def gauss(g):
        total = 0.0
        for a, b in ((-np.inf, 0.0), (0.0, np.inf)):
            total += integrate.quad(lambda z: g(z) * np.exp(-z * z / 2), a, b,
                                    epsabs=1e-14, epsrel=1e-13, limit=200)[0]
        return total / np.sqrt(2 * np.pi)

    mu0 = gauss(fn)
    mu1 = gauss(lambda z: z * fn(z))
    second = gauss(lambda z: fn(z) ** 2)
    return mu0, mu1, second - mu0**2 - mu1**2


def _h(p, zeta2):
    """h(p) = p (1 + zeta^2 / (1 + zeta^2 p)), increasing in p >= 0."""
    return p + zeta2 * p / (1 + zeta2 * p)


def _h_inverse(t, zeta2):
    """The p >= 0 with h(p) = t: the positive root of zeta^2 p^2 + (1 + zeta^2 - zeta^2 t) p - t,
    written without cancellation (and valid at zeta = 0)."""
    b = 1 + zeta2 - zeta2 * t
    return 2 * t / (b + np.sqrt(b * b + 4 * zeta2 * t))


def _minus_chi(psi1, psi2, zeta2, y):
    r"""p = -chi = -nu_1(i y) nu_2(i y) of Definition 1, for y >= 0 (arrays broadcast).

    On the imaginary axis nu_k(i y) = i a_k with a_k > 0, and the fixed point reads
    a_1 = psi_1 / (y + a_2 s), a_2 = psi_2 / (y + a_1 s), s = 1 + zeta^2 / (1 + zeta^2 a_1 a_2).
    Hence y a_k = psi_k - h(p) with p = a_1 a_2, and p is the root of

        g(p) = y^2 p - (psi_1 - h(p)) (psi_2 - h(p))

    on [0, p*], h(p*) = min(psi_1, psi_2): g is increasing there, from -psi_1 psi_2 to
    y^2 p*, so the root is unique (and found by bisection). At y = 0 it is p* itself,
    Theorem 3's closed form.
    """
    top = _h_inverse(np.minimum(psi1, psi2), zeta2)
    ridgeless = y == 0
    if np.all(ridgeless):
        return top
    lo, hi = np.zeros_like(top), top.copy()
    y2 = y * y
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        hm = _h(mid, zeta2)
        up = y2 * mid > (psi1 - hm) * (psi2 - hm)
        hi = np.where(up, mid, hi)
        lo = np.where(up, lo, mid)
    return np.where(ridgeless, top, 0.5 * (lo + hi))


def random_features_risk(n, N, d, signal: float, noise: float, activation: str = "relu",
                         ridge=0.0) -> Risk:
    r"""Asymptotic excess risk of random-features ridge regression on a linear target.

    The model of ddlab's ``random_features`` family with ``data.input = "normal"`` and
    ``data.target = "linear"``: inputs x ~ N(0, I_d), features s(w_j . x), j = 1..N, with
    w_j ~ N(0, I_d / d) and no bias, targets y = beta . x + sigma eps with
    ||beta||^2 = ``signal`` = r^2, and coefficients

        a_hat = argmin (1/n) ||y - Phi a||^2 + lam ||a||^2   (lam = ``ridge``)

    (the minimum-norm least-squares solution Phi^+ y at lam = 0). Returns the limit of
    E(f_hat - f)^2, the test MSE minus sigma^2, as n, N, d -> inf with psi_1 = N / d and
    psi_2 = n / d fixed (Mei & Montanari 2019, "The generalization error of random
    features regression: precise asymptotics and the double descent curve", Definition 1
    and Theorem 2 for lam > 0, Theorem 3 for the ridgeless limit lam -> 0).

    Mei & Montanari penalise (N lam_MM / d) ||a||^2, so lam_MM = lam d / N is used
    inside. With mu_0 = E s(G), mu_1 = E G s(G), mu_star^2 = E s(G)^2 - mu_0^2 - mu_1^2
    (G ~ N(0, 1)), zeta = mu_1 / mu_star and lam_bar = lam_MM / mu_star^2, let nu_1, nu_2
    be the solutions in the upper half plane of

        nu_1 = psi_1 (-xi - nu_2 - zeta^2 nu_2 / (1 - zeta^2 nu_1 nu_2))^{-1},
        nu_2 = psi_2 (-xi - nu_1 - zeta^2 nu_1 / (1 - zeta^2 nu_1 nu_2))^{-1},

    and chi = nu_1(xi) nu_2(xi) at xi = i sqrt(psi_1 psi_2 lam_bar) (real and negative;
    solved exactly as a scalar monotone equation, see ``_minus_chi``). At lam = 0, with
    psi = min(psi_1, psi_2),

        chi = -[(psi zeta^2 - zeta^2 - 1) + sqrt((psi zeta^2 - zeta^2 - 1)^2
               + 4 zeta^2 psi)] / (2 zeta^2).

    Then bias = r^2 E_1 / E_0 and variance = sigma^2 E_2 / E_0 with

        E_0 = -chi^5 zeta^6 + 3 chi^4 zeta^4 + (psi_1 psi_2 - psi_2 - psi_1 + 1) chi^3 zeta^6
              - 2 chi^3 zeta^4 - 3 chi^3 zeta^2 + (psi_1 + psi_2 - 3 psi_1 psi_2 + 1)
              chi^2 zeta^4 + 2 chi^2 zeta^2 + chi^2 + 3 psi_1 psi_2 chi zeta^2 - psi_1 psi_2,
        E_1 = psi_2 chi^3 zeta^4 - psi_2 chi^2 zeta^2 + psi_1 psi_2 chi zeta^2 - psi_1 psi_2,
        E_2 = chi^5 zeta^6 - 3 chi^4 zeta^4 + (psi_1 - 1) chi^3 zeta^6 + 2 chi^3 zeta^4
              + 3 chi^3 zeta^2 + (-psi_1 - 1) chi^2 zeta^4 - 2 chi^2 zeta^2 - chi^2.

    (The target has no nonlinear part, F_star = 0, so the bias is F_1^2 B = r^2 E_1/E_0
    and the variance tau^2 V = sigma^2 E_2 / E_0.) The ridgeless risk is infinite at
    psi_1 = psi_2 (N = n); any lam > 0 keeps it finite. As psi_1 -> inf the ridgeless
    risk tends to that of kernel ridgeless regression, i.e. of linear ridge regression
    on x with penalty 1 / (psi_2 zeta^2) (``ridge_risk(d / n, d / (n zeta^2), ...)``).

    Conditions: Mei & Montanari take w_j and x uniform on spheres of radius 1 and
    sqrt(d); Gaussian w_j and x have the same limit. The activation must be nonlinear
    (mu_star > 0) with finite Gaussian moments; mu_0 plays no role in the limit.

    Finite-d gap, measured with ``ddlab.run`` (``benchmarks/rf_theory.py``: n = 3 d,
    psi_1 = 0.3 to 30, mean f_error over data seeds, relative to this formula): at
    d = 100 within 3 % for psi_1 <= 6.5, on both sides of the peak, for relu and tanh,
    ridge 0 and 0.01, except -4 % and -5 % (relu, ridge 0.01, psi_1 = 2.3 and 3.9) and
    +4 % (tanh, ridgeless, psi_1 = 6.5); in the wide (kernel) regime the simulation lies
    above, +4 % (tanh) to +8 % (relu) at psi_1 = 30. At d = 400 (relu) within 3 % up to
    psi_1 = 3.9 and +4 % at psi_1 = 11 and 30. The gap shrinks with d: at the kernel
    endpoint psi_1 = inf (exact arc-cosine kernel, ridgeless, n = 3 d) it is +18 % at
    d = 100, +5 % at d = 400 and -1 +- 2 % at d = 1600; at d = 50 random features sit up
    to +17 % above at psi_1 = 20.

    Parameters
    ----------
    n, N, d : int or array_like
        Training samples, features and input dimension (> 0; only psi_1 = N / d and
        psi_2 = n / d matter, besides the ridge conversion). Arrays broadcast.
    signal : float
        r^2 = ||beta||^2.
    noise : float
        sigma, the noise standard deviation.
    activation : str
        ``"relu"``, ``"tanh"``, ``"sigmoid"``, ``"softplus"``, ``"elu"`` or ``"softsign"``
        (moments exact for relu, by quadrature otherwise). ``"cos"`` (random Fourier
        features with a uniform bias) and ``"identity"`` raise ``ValueError``.
    ridge : float or array_like
        lam >= 0 in ddlab's convention (``model.ridge``); broadcasts with n, N, d.

    Returns
    -------
    Risk
        The excess risk E(f_hat - f)^2 and its bias and variance parts; add
        ``noise**2`` for the test MSE.

    Raises
    ------
    ValueError
        For an unsupported activation, n, N, d <= 0 or ridge < 0.
    """
    _, mu1, mustar2 = _moments(activation)
    n, N, d, ridge = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (n, N, d, ridge)))
    if np.any(~(n > 0)) or np.any(~(N > 0)) or np.any(~(d > 0)):
        raise ValueError("n, N and d must be > 0")
    if np.any(~(ridge >= 0)):
        raise ValueError(f"ridge = {ridge!r}: must be >= 0")
    psi1, psi2 = N / d, n / d
    zeta2 = mu1**2 / mustar2
    lam_bar = ridge * d / N / mustar2  # lam_MM = lam d / N
    chi = -_minus_chi(psi1, psi2, zeta2, np.sqrt(psi1 * psi2 * lam_bar))
    z2, z4, z6 = zeta2, zeta2**2, zeta2**3
    pp = psi1 * psi2
    c2, c3 = chi**2, chi**3
    e0 = (-(chi**5) * z6 + 3 * chi**4 * z4 + (pp - psi2 - psi1 + 1) * c3 * z6 - 2 * c3 * z4
          - 3 * c3 * z2 + (psi1 + psi2 - 3 * pp + 1) * c2 * z4 + 2 * c2 * z2 + c2
          + 3 * pp * chi * z2 - pp)
    e1 = psi2 * c3 * z4 - psi2 * c2 * z2 + pp * chi * z2 - pp
    e2 = (chi**5 * z6 - 3 * chi**4 * z4 + (psi1 - 1) * c3 * z6 + 2 * c3 * z4 + 3 * c3 * z2
          - (psi1 + 1) * c2 * z4 - 2 * c2 * z2 - c2)
    peak = (ridge == 0) & (psi1 == psi2)  # E_0 = 0 there: the interpolation peak
    with np.errstate(divide="ignore", invalid="ignore"):
        bias = np.where(peak, np.inf, signal * e1 / e0)
        var = np.where(peak, np.inf if noise else 0.0, noise**2 * e2 / e0)
    return _risk(bias, var)
