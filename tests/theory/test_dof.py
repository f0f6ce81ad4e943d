"""Effective degrees of freedom tr(S) (ddlab.theory.ridge_dof, ridge_dof_mp)."""

import numpy as np
import pytest
from conftest import RTOL64

from ddlab.theory import ridge_dof, ridge_dof_mp


def test_exact_dof_is_the_trace_of_the_smoother():
    rng = np.random.default_rng(1)
    for n, p in ((30, 12), (30, 70)):
        phi = rng.standard_normal((n, p)) * rng.uniform(0.1, 2, p)
        for lam in (1e-3, 0.1, 2.0):
            s = phi @ np.linalg.solve(phi.T @ phi + n * lam * np.eye(p), phi.T)
            np.testing.assert_allclose(ridge_dof(phi, lam), np.trace(s), rtol=RTOL64)
        assert ridge_dof(phi, 0.0) == pytest.approx(min(n, p), rel=RTOL64)


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_mp_limit_matches_a_large_design(gamma):
    n, scale = 1000, 0.5
    x = np.random.default_rng(2).standard_normal((n, int(gamma * n))) * scale
    lam = np.array([0.01, 0.1, 1.0])
    # measured: largest relative gap 0.17% at n = 1000
    np.testing.assert_allclose(ridge_dof(x, lam) / n, ridge_dof_mp(gamma, lam, scale), rtol=0.01)
    assert ridge_dof_mp(gamma, 1e-12, scale) == pytest.approx(min(gamma, 1.0), rel=1e-6)


def test_bad_input():
    with pytest.raises(ValueError, match=r"ridge = -1"):
        ridge_dof(np.ones((3, 2)), -1)
    with pytest.raises(ValueError, match=r"^gamma = 0"):
        ridge_dof_mp(0, 0.1)


def test_generalized_effective_parameters():
    rng = np.random.default_rng(3)
    n, p, lam = 40, 15, 0.05
    phi = rng.standard_normal((n, p))
    s = phi @ np.linalg.solve(phi.T @ phi + n * lam * np.eye(p), phi.T)
    # at the training inputs: (n / n) sum_i ||row i of S||^2 = tr(S^T S)
    np.testing.assert_allclose(ridge_dof(phi, lam, at=phi), np.trace(s.T @ s), rtol=RTOL64)
    assert ridge_dof(phi, 0.0, at=phi) == pytest.approx(p, rel=RTOL64)
    # least squares at new Gaussian inputs: E x^T (X^T X)^{-1} x = p / (n - p - 1)
    draws = [ridge_dof(rng.standard_normal((n, p)), 0.0, at=rng.standard_normal((200, p)))
             for _ in range(400)]
    assert np.mean(draws) == pytest.approx(n * p / (n - p - 1), rel=0.03)
