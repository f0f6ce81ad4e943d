"""ddlab.theory.random_features_risk: Mei & Montanari's formula, its limits and simulation."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ddlab
from ddlab.theory import random_features_risk, ridge_risk

SIGNAL, NOISE = 1.0, 0.5


def moments(activation: str) -> tuple[float, float]:
    """(zeta^2, mu_star^2), independently of the module: closed form for relu, 120-point
    Gauss-Hermite quadrature (probabilists' weight) for the smooth tanh."""
    if activation == "relu":  # mu_0 = 1/sqrt(2 pi), mu_1 = 1/2, E relu(G)^2 = 1/2
        mustar2 = 0.25 - 1 / (2 * np.pi)
        return 0.25 / mustar2, mustar2
    g, w = np.polynomial.hermite_e.hermegauss(120)
    w = w / w.sum()
    s = np.tanh(g)
    mu0, mu1 = w @ s, w @ (g * s)
    mustar2 = w @ s**2 - mu0**2 - mu1**2
    return mu1**2 / mustar2, mustar2


# --- against simulation ------------------------------------------------------------------

D, N_TRAIN, SEEDS = 60, 180, 100  # psi_2 = 3
PSI1 = (0.5, 1.5, 5.0)  # both sides of the ridgeless peak at psi_1 = psi_2 = 3
RIDGE = 1e-2
# Finite-d gap mean(f_error) / theory - 1 at d = 60, n = 180, measured with 200 other data
# seeds (root 7; relative standard errors 0.8-1.4 %). At d = 100 and 400 the gaps are
# smaller (benchmarks/rf_theory.py).
MEASURED_GAP = {
    ("relu", 0.0): (0.012, 0.011, 0.056),
    ("relu", RIDGE): (0.010, -0.007, 0.014),
    ("tanh", 0.0): (-0.010, -0.010, 0.067),
    ("tanh", RIDGE): (-0.009, -0.034, -0.007),
}


@functools.cache
def simulated(activation: str, ridge: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Widths, mean f_error over data seeds and its standard error."""
    widths = [round(p * D) for p in PSI1]
    model = {"family": "random_features", "activation": activation, "width": widths}
    model.update({"fit": "ridge", "ridge": ridge} if ridge else {"fit": "min_norm"})
    exp = ddlab.load_experiment({
        "data": {"target": "linear", "input": "normal", "dim": D, "n_train": N_TRAIN,
                 "n_test": 1, "n_population": 1000, "noise": NOISE, "signal": SIGNAL},
        "model": model, "train": {"record_bias_variance": False},
        "seeds": {"root": 2019, "data": SEEDS, "init": 1}})
    err = ddlab.run(exp, progress=False).f_error.isel(epoch=0, init_seed=0).values
    return np.array(widths), err.mean(axis=1), err.std(axis=1, ddof=1) / np.sqrt(SEEDS)


@pytest.mark.parametrize("ridge", [0.0, RIDGE], ids=["min_norm", "ridge"])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_matches_simulation(activation, ridge):
    widths, mean, se = simulated(activation, ridge)
    theory = random_features_risk(N_TRAIN, widths, D, SIGNAL, NOISE, activation, ridge).risk
    tol = np.abs(MEASURED_GAP[activation, ridge]) + 3 * se / theory
    np.testing.assert_array_less(np.abs(mean / theory - 1), tol)


def test_ridge_conversion_is_visible_in_simulation():
    """At psi_1 = 5 the simulation tells lam_MM = lam d / N from lam_MM = lam or lam N / d."""
    widths, mean, se = simulated("relu", RIDGE)
    for lam_mm in (RIDGE, RIDGE * widths / D):  # the ddlab ridge that would give them
        wrong = random_features_risk(N_TRAIN, widths, D, SIGNAL, NOISE, "relu",
                                     lam_mm * widths / D)
        assert abs(mean[-1] - wrong.risk[-1]) > 8 * se[-1]


# --- limits ------------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("psi2", [0.5, 3.0])
def test_wide_limit_is_kernel_regression(activation, psi2):
    """psi_1 -> inf: random features -> kernel regression with K(x, x') = E_w s(w.x) s(w.x').

    In the proportional limit (El Karoui 2010) K = mu_0^2 1 1^T + mu_1^2 X X^T / d
    + mu_star^2 I + o(1) in operator norm; the rank-one part does not matter, so the kernel
    predictor k(x)^T (K + c I)^{-1} y is linear ridge regression on x with
    (1/n)||y - X b||^2 + lam_lin ||b||^2, lam_lin = d (mu_star^2 + c) / (n mu_1^2). Ridgeless
    (c = 0): lam_lin = 1 / (psi_2 zeta^2). A Mei-Montanari penalty lam_MM (ddlab ridge
    lam_MM N / d) gives c = psi_2 lam_MM, lam_lin = (1 + psi_2 lam_MM / mu_star^2) /
    (psi_2 zeta^2). Compare with the Marchenko-Pastur ridge_risk at gamma = d / n.
    """
    d, n = 100.0, psi2 * 100.0
    z2, mustar2 = moments(activation)
    huge = 1e9 * d
    got = random_features_risk(n, huge, d, SIGNAL, NOISE, activation)
    want = ridge_risk(d / n, 1 / (psi2 * z2), SIGNAL, NOISE)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    lam_mm = 0.05
    got = random_features_risk(n, huge, d, SIGNAL, NOISE, activation, lam_mm * huge / d)
    want = ridge_risk(d / n, (1 + psi2 * lam_mm / mustar2) / (psi2 * z2), SIGNAL, NOISE)
    np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("psi1", [0.5, 3.0])
def test_infinite_data_limit_is_approximation_error(activation, psi1):
    """psi_2 -> inf: the population least-squares fit in span{s(w_j . x)}.

    Its error is beta^T (I + zeta^2 W^T W)^{-1} beta (features' covariance mu_1^2 W W^T
    + mu_star^2 I, plus a rank-one mu_0 part), and W^T W = psi_1 S with S Marchenko-Pastur
    of ratio g = 1 / psi_1, so the error is r^2 m(-t) / (zeta^2 psi_1), t = 1 / (zeta^2
    psi_1), m the MP Stieltjes transform: g z m^2 - (1 - g - z) m + 1 = 0 at z = -t.
    The variance vanishes.
    """
    d, (z2, _) = 100.0, moments(activation)
    g, t = 1 / psi1, 1 / (z2 * psi1)
    a, b = -g * t, -(1 - g + t)
    m = (-b - np.sqrt(b * b - 4 * a)) / (2 * a)
    got = random_features_risk(1e10 * d, psi1 * d, d, SIGNAL, NOISE, activation)
    np.testing.assert_allclose(got.bias, SIGNAL * m * t, rtol=1e-6)
    assert got.variance < 1e-8


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_underparameterised_variance_is_least_squares(activation):
    """Ridgeless, N < n: the noise enters as in least squares on N features,
    sigma^2 gamma / (1 - gamma) with gamma = N / n, whatever the features."""
    n, d, N = 300, 100, np.array([10.0, 100.0, 250.0, 299.0])
    got = random_features_risk(n, N, d, SIGNAL, NOISE, activation)
    np.testing.assert_allclose(got.variance, NOISE**2 * N / (n - N), rtol=1e-9)


@pytest.mark.parametrize("ridge", [0.0, 1e-3, 1.0])
def test_noise_free_variance_is_zero(ridge):
    N = np.array([10.0, 150.0, 300.0, 301.0, 5000.0])
    got = random_features_risk(300, N, 100, SIGNAL, 0.0, "relu", ridge)
    assert np.all(got.variance == 0)
    assert np.all(got.risk[np.isfinite(got.risk)] == got.bias[np.isfinite(got.risk)])


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_ridgeless_peak_and_ridge_removes_it(activation):
    n, d = 300, 100
    eps = np.array([1e-1, 1e-2, 1e-3, 1e-4])
    below = random_features_risk(n, n * (1 - eps), d, SIGNAL, NOISE, activation).risk
    above = random_features_risk(n, n * (1 + eps), d, SIGNAL, NOISE, activation).risk
    for side in (below, above):  # grows like 1 / |psi_1 - psi_2|
        assert np.all(np.diff(side) > 0)
        assert side[-1] > 1e3
        np.testing.assert_allclose(side * eps, side[-1] * eps[-1], rtol=0.1)
    at = random_features_risk(n, n, d, SIGNAL, NOISE, activation)
    assert np.isinf(at.risk) and np.isinf(at.bias) and np.isinf(at.variance)
    widths = np.linspace(0.8, 1.2, 401) * n  # through the peak, including N = n
    ridged = random_features_risk(n, widths, d, SIGNAL, NOISE, activation, 1e-2).risk
    assert np.all(np.isfinite(ridged)) and ridged.max() < 5


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_small_ridge_tends_to_ridgeless(activation):
    """The fixed point at lam -> 0 tends to Theorem 3's closed-form chi (away from the peak)."""
    N = np.array([30.0, 150.0, 600.0, 3000.0])
    ridgeless = random_features_risk(300, N, 100, SIGNAL, NOISE, activation)
    tiny = random_features_risk(300, N, 100, SIGNAL, NOISE, activation, 1e-10)
    np.testing.assert_allclose(tiny, ridgeless, rtol=1e-6)
    small = random_features_risk(300, N, 100, SIGNAL, NOISE, activation, 1e-2)
    assert np.all(small.risk < ridgeless.risk)  # here the ridge helps (sigma^2 / r^2 > 0)


def test_depends_on_ratios_only_when_ridgeless():
    a = random_features_risk(300, [30, 600], 100, SIGNAL, NOISE)
    b = random_features_risk(3000, [300, 6000], 1000, SIGNAL, NOISE)
    np.testing.assert_allclose(a, b, rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(psi1=st.floats(0.01, 100), psi2=st.floats(0.01, 100), ridge=st.floats(1e-6, 10),
       activation=st.sampled_from(["relu", "tanh"]))
def test_parts_are_finite_and_nonnegative(psi1, psi2, ridge, activation):
    got = random_features_risk(psi2 * 50, psi1 * 50, 50, SIGNAL, NOISE, activation, ridge)
    assert np.all(np.isfinite(got.risk))
    assert got.bias >= 0 and got.variance >= 0
    np.testing.assert_allclose(got.risk, got.bias + got.variance)


# --- interface ---------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["cos", "identity", "swish"])
def test_unsupported_activation(activation):
    with pytest.raises(ValueError, match=repr(activation)):
        random_features_risk(300, 100, 100, SIGNAL, NOISE, activation)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="ridge"):
        random_features_risk(300, 100, 100, SIGNAL, NOISE, ridge=-1.0)
    with pytest.raises(ValueError, match="> 0"):
        random_features_risk(300, [0, 100], 100, SIGNAL, NOISE)


def test_broadcasting():
    n = np.array([100.0, 300.0, 900.0])[:, None]
    N = np.geomspace(10, 10_000, 4)
    ridge = np.array([0.0, 1e-2])[:, None, None]
    got = random_features_risk(n, N, 100, SIGNAL, NOISE, "tanh", ridge)
    assert all(part.shape == (2, 3, 4) for part in got)
    np.testing.assert_allclose(got.risk, got.bias + got.variance)
    one = random_features_risk(300, N[2], 100, SIGNAL, NOISE, "tanh", 1e-2)
    assert one.risk.shape == ()
    np.testing.assert_allclose(one.risk, got.risk[1, 1, 2], rtol=1e-12)
    curve = random_features_risk(300, np.geomspace(10, 3000, 400), 100, SIGNAL, NOISE,
                                 ridge=1e-3)
    assert curve.risk.shape == (400,) and np.all(np.isfinite(curve.risk))
