"""Expected risk of gradient descent over training time (ddlab.theory.gd_risk, gd_risk_mp)."""

import numpy as np
import pytest
import torch

import ddlab
from ddlab.theory import gd_risk, gd_risk_mp, min_norm_risk

EPOCHS = np.unique(np.round(np.logspace(0, 4, 25)).astype(int))


@pytest.mark.parametrize("gamma", [0.5, 1.5])
def test_mp_limit_matches_the_exact_finite_n_average(gamma):
    n, dim = 800, int(gamma * 800)
    exact = gd_risk(n, [{"dim": dim, "scale": 1.0, "signal": 1.0}], 0.5, 0.1, EPOCHS, designs=3)
    limit = gd_risk_mp(n, dim, 1.0, 0.5, 0.1, EPOCHS)
    # measured: largest relative gap 0.4% (gamma 0.5) and 0.07% (gamma 1.5) at n = 800
    np.testing.assert_allclose(exact.risk, limit.risk, rtol=0.01)
    np.testing.assert_allclose(exact.bias, limit.bias, rtol=0.01, atol=1e-3)


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_mp_limit_tends_to_min_norm(gamma):
    scale, signal, noise = 0.5, 2.0, 0.7
    late = gd_risk_mp(100, 100 * gamma, signal, noise, 0.5, [10**6], scale=scale)
    # the converged path is the min-norm fit; x -> scale x is beta -> scale beta
    ref = min_norm_risk(100, 100 * gamma, scale**2 * signal, noise, exact=False)
    np.testing.assert_allclose([late.bias[0], late.variance[0]], [ref.bias, ref.variance],
                               rtol=1e-6)


def test_start_is_the_signal_and_the_end_is_ols():
    blocks = [{"dim": 6, "scale": 2.0, "signal": 0.5}, {"dim": 3, "scale": 0.3, "signal": 4.0}]
    start = gd_risk(30, blocks, 1.0, 0.05, 0, designs=5)
    assert start.risk[0] == pytest.approx(4 * 0.5 + 0.09 * 4.0, rel=1e-12)
    assert start.variance[0] == 0.0
    # converged, n > dim: OLS, whose excess risk is sigma^2 p / (n - p - 1) for any Sigma
    end = gd_risk(30, blocks, 1.0, 0.05, 10**6, designs=4000, seed=1)
    assert end.bias[0] == pytest.approx(0.0, abs=1e-12)
    assert end.risk[0] == pytest.approx(9 / 20, rel=0.02)


def test_bad_input():
    with pytest.raises(ValueError, match=r"^epochs = -1"):
        gd_risk(10, [{"dim": 2, "scale": 1.0, "signal": 1.0}], 1.0, 0.1, -1)
    with pytest.raises(ValueError, match=r"^blocks\[0\] = "):
        gd_risk(10, [{"dim": 2, "scale": 0.0, "signal": 1.0}], 1.0, 0.1, 1)


def test_theory_follows_simulated_gradient_descent():
    """Simulated f_error over 200 data sets within Monte Carlo error of gd_risk at every epoch."""
    torch.set_num_threads(1)
    blocks = [{"dim": 20, "scale": 1.0, "signal": 0.25}, {"dim": 5, "scale": 0.1, "signal": 45.0}]
    ds = ddlab.run({
        "data": {"target": "linear", "input": "normal", "blocks": blocks, "n_train": 40,
                 "n_test": 40, "n_population": 4096, "noise": 1.0},
        "model": {"family": "linear", "fit": "gd", "width": [25]},
        "train": {"optimizer": "sgd", "lr": 0.1, "epochs": 600, "dtype": "float64",
                  "record": {"log": 12}, "record_bias_variance": False},
        "seeds": {"root": 27, "data": 200, "init": 1}}, progress=False)
    f = ds.f_error.isel(width=0, init_seed=0)
    mean = f.mean("data_seed").values
    se = f.std("data_seed", ddof=1).values / np.sqrt(f.sizes["data_seed"])
    theory = gd_risk(40, blocks, 1.0, 0.1, ds.epoch.values, designs=20000).risk
    z = (mean - theory) / se
    assert mean.max() > 2 * mean[0]  # the rise of epoch-wise double descent is there
    assert np.abs(z).max() < 4, z
