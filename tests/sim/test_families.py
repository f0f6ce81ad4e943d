"""Linear and random-features families: closed forms, gradient descent, theory, real data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import RTOL64, assert_close64, cell_curves, plain_curves, requires_cuda

import ddlab
from ddlab import theory
from ddlab.sim._models import feature_params


def _numpy_fit(exp, width, d, i, ridge=None):
    """Train/test/population errors of one closed-form cell, computed plainly with numpy.

    Also ``cond``, the condition number of the training features.
    """
    s = ddlab.make_data(exp, d)
    w, b = (t.numpy() for t in feature_params(exp, width, d, i))
    act = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh, "cos": np.cos,
           "identity": lambda z: z}[exp.model.activation]

    def phi(x):
        return act(x.double().numpy() @ w.T + b)

    y = s.y_train.double().numpy()
    if ridge is None:
        theta = np.linalg.pinv(phi(s.x_train)) @ y
    else:
        a = phi(s.x_train)
        theta = np.linalg.solve(a.T @ a + len(y) * ridge * np.eye(width), a.T @ y)
    err = {"cond": np.linalg.cond(phi(s.x_train)),
           "train_loss": ((phi(s.x_train) @ theta - y) ** 2).mean(),
           "test_loss": ((phi(s.x_test) @ theta - s.y_test.double().numpy()) ** 2).mean()}
    if s.x_pop.shape[0]:
        err["f_error"] = ((phi(s.x_pop) @ theta - s.f_pop.double().numpy()) ** 2).mean()
    return err


@pytest.mark.parametrize("family,activation,fit", [
    ("linear", "identity", "min_norm"),
    ("random_features", "relu", "min_norm"),
    ("random_features", "tanh", "ridge"),
    ("random_features", "cos", "min_norm"),
])
def test_closed_form_matches_numpy(family, activation, fit):
    exp = ddlab.load_experiment({
        "data": {"target": "teacher", "input": "normal", "dim": 12, "n_train": 15,
                 "n_test": 9, "n_population": 50, "noise": 0.3},
        "model": {"family": family, "activation": activation, "fit": fit, "ridge": 0.05,
                  "width": [3, 9, 12] if family == "linear" else [4, 15, 40]},
        "seeds": {"data": 2, "init": 3}})
    ds = ddlab.run(exp, device="cpu", progress=False)
    assert ds.sizes["epoch"] == 1 and list(ds.n_params.values) == list(exp.model.width)
    for width in exp.model.width:
        for d, i in [(0, 0), (1, 2)]:
            ref = _numpy_fit(exp, width, d, i, 0.05 if fit == "ridge" else None)
            # two algorithms (normal equations, SVD) agree to round-off times cond^2: 6e-11
            # at width = n_train (cond 1e3), below 1e-14 elsewhere
            rtol = max(RTOL64, 1e-15 * ref.pop("cond") ** 2)
            for name, value in ref.items():
                got = float(ds[name].sel(width=width, data_seed=d, init_seed=i, epoch=0))
                # an interpolating cell's train loss is round-off, ~1e-30
                np.testing.assert_allclose(got, value, rtol=rtol, atol=1e-20,
                                           err_msg=f"{name} {width} {d} {i}")


def test_random_features_are_nested_and_seeded():
    exp = ddlab.load_experiment({"model": {"family": "random_features", "activation": "cos",
                                           "width": [5, 8]}})
    w5, b5 = feature_params(exp, 5, 1, 2)
    w8, b8 = feature_params(exp, 8, 1, 2)
    assert torch.equal(w8[:5], w5) and torch.equal(b8[:5], b5)
    assert not torch.equal(feature_params(exp, 5, 1, 3)[0], w5)
    assert float(b8.min()) >= 0 and float(b8.max()) < 2 * np.pi


@pytest.mark.parametrize("family,activation,optimizer", [
    ("linear", "identity", "sgd"),
    ("random_features", "tanh", "adam"),
    ("random_features", "cos", "rmsprop"),
])
def test_gradient_descent_families_match_plain_torch_loop(family, activation, optimizer):
    exp = ddlab.load_experiment({
        "data": {"dim": 6, "n_train": 12, "n_test": 7, "n_population": 40, "noise": 0.4},
        "model": {"family": family, "activation": activation, "fit": "gd", "width": [2, 5]},
        "train": {"optimizer": optimizer, "lr": 0.02, "epochs": 15, "dtype": "float64",
                  "batch_size": 5},
        "seeds": {"data": 2, "init": 2}})
    ds = ddlab.run(exp, device="cpu", progress=False)
    for width, d, i in [(2, 0, 1), (5, 1, 0)]:
        ref = plain_curves(exp, width, d, i)
        got = cell_curves(ds, width, d, i)
        for name, curve in ref.items():
            assert_close64(got[name], curve, name)
    model = ddlab.make_model(exp, 5, 0, 0)
    assert [p.requires_grad for p in model.parameters()] == [False, False, True, False]


def test_fixed_feature_cells_in_later_tiles_keep_their_own_features(monkeypatch):
    # a training tile per cell or two: each tile's parameters start where the
    # previous tiles' cells end, whatever the family counts as fitted parameters
    from ddlab.sim import _engine

    monkeypatch.setitem(_engine._TILE_ELEMENTS, "cpu", 12 * 5)
    exp = ddlab.load_experiment({
        "data": {"dim": 6, "n_train": 12, "n_test": 7, "n_population": 40, "noise": 0.4},
        "model": {"family": "random_features", "activation": "tanh", "fit": "gd",
                  "width": [2, 5]},
        "train": {"optimizer": "adam", "lr": 0.02, "epochs": 15, "dtype": "float64"},
        "seeds": {"data": 1, "init": 2}})
    ds = ddlab.run(exp, device="cpu", progress=False)
    for width, i in [(2, 1), (5, 0), (5, 1)]:
        ref, got = plain_curves(exp, width, 0, i), cell_curves(ds, width, 0, i)
        for name, curve in ref.items():
            assert_close64(got[name], curve, name)


def test_gd_linear_matches_closed_form_path():
    exp = ddlab.load_experiment({
        "data": {"target": "linear", "input": "normal", "dim": 30, "n_train": 20,
                 "n_test": 10, "n_population": 500, "noise": 0.5},
        "model": {"family": "linear", "fit": "gd", "width": [10, 30]},
        "train": {"optimizer": "sgd", "lr": 0.05, "epochs": 60, "dtype": "float64"},
        "seeds": {"data": 2, "init": 1}})
    ds = ddlab.run(exp, device="cpu", progress=False)
    for width in (10, 30):
        for d in (0, 1):
            s = ddlab.make_data(exp, d)
            x, y = s.x_train.numpy()[:, :width], s.y_train.numpy()
            path = theory.gd_linear_path(x, y, lr=0.05, epochs=60)  # (61, width)
            train = ((path @ x.T - y) ** 2).mean(axis=1)
            pop = ((path @ s.x_pop.numpy()[:, :width].T - s.f_pop.numpy()) ** 2).mean(axis=1)
            cell = ds.sel(width=width, data_seed=d, init_seed=0)
            assert_close64(cell.train_loss, train)
            assert_close64(cell.f_error, pop)
    # the risk path tends to the min-norm / least-squares fit
    g = torch.Generator().manual_seed(0)
    x = torch.randn(20, 30, generator=g, dtype=torch.float64).numpy()
    beta = np.ones(30) / np.sqrt(30)
    path = theory.gd_linear_path(x, x @ beta, lr=0.1, epochs=4000)
    np.testing.assert_allclose(path[-1], np.linalg.pinv(x) @ (x @ beta), atol=1e-8)
    assert theory.linear_excess_risk(path[-1], beta) < theory.linear_excess_risk(path[0], beta)


def test_min_norm_least_squares_matches_exact_theory():
    n, D, signal, noise = 30, 90, 1.0, 0.5
    ps = [6, 12, 18, 24, 36, 45, 60, 90]  # |p - n| >= 6: finite variance
    exp = ddlab.load_experiment({
        "data": {"target": "linear", "input": "normal", "dim": D, "n_train": n, "n_test": 10,
                 "n_population": 2000, "noise": noise, "signal": signal},
        "model": {"family": "linear", "width": ps},
        "train": {"record_bias_variance": False},
        "seeds": {"root": 11, "data": 800, "init": 1}})
    ds = ddlab.run(exp, device="cpu", progress=False)
    err = ds.f_error.isel(epoch=0, init_seed=0)
    sim, se = err.mean("data_seed").values, err.std("data_seed").values / np.sqrt(800)
    exact = theory.weak_features_risk(n, np.array(ps), D, signal, noise).risk
    np.testing.assert_array_less(np.abs(sim - exact), 4 * se + 0.01 * exact)
    # with all D features, the weak-features formula is min_norm_risk itself
    full = theory.min_norm_risk(n, D, signal, noise)
    assert theory.weak_features_risk(n, D, D, signal, noise).risk == pytest.approx(full.risk)
    assert np.isinf(theory.min_norm_risk(n, [n - 1, n, n + 1], signal, noise).risk).all()


def test_ridge_matches_asymptotic_theory():
    n, p, lam = 300, 150, 0.2
    exp = ddlab.load_experiment({
        "data": {"target": "linear", "input": "normal", "dim": p, "n_train": n, "n_test": 10,
                 "n_population": 3000, "noise": 1.0, "signal": 2.0},
        "model": {"family": "linear", "fit": "ridge", "ridge": lam, "width": [p]},
        "train": {"record_bias_variance": False},
        "seeds": {"root": 3, "data": 200, "init": 1}})
    ds = ddlab.run(exp, device="cpu", progress=False)
    sim = float(ds.f_error.mean())
    asym = theory.ridge_risk(p / n, lam, 2.0, 1.0)
    assert sim == pytest.approx(float(asym.risk), rel=0.05)
    # the optimal penalty minimises the asymptotic risk; lam -> 0 is the min-norm limit
    lams = np.linspace(0.05, 2, 400)
    best = lams[np.argmin(theory.ridge_risk(0.5, lams, 2.0, 1.0).risk)]
    assert best == pytest.approx(theory.optimal_ridge_lambda(0.5, 2.0, 1.0), abs=0.01)
    for gamma in (0.5, 2.0):
        assert float(theory.ridge_risk(gamma, 1e-7, 2.0, 1.0).risk) == pytest.approx(
            float(theory.min_norm_risk(100, 100 * gamma, 2.0, 1.0, exact=False).risk), rel=1e-4)


def test_digits_random_features_peak_at_interpolation():
    pytest.importorskip("sklearn")
    n_train = 200
    exp = ddlab.load_experiment({
        "data": {"target": "digits", "n_train": n_train, "n_test": 400},
        "model": {"family": "random_features", "activation": "cos",
                  "width": {"start": 20, "stop": 2000, "num": 30, "log": True}},
        "seeds": {"data": 2, "init": 3}})
    ds = ddlab.run(exp, device="cpu", progress=False)
    assert not {"f_error", "f_error_train", "pred_mean"} & set(ds.data_vars)  # classification
    mean = ds.test_loss.mean(("data_seed", "init_seed")).isel(epoch=0)
    peak = int(mean.idxmax("width"))
    assert 0.8 * n_train <= peak <= 1.2 * n_train
    assert float(mean.max()) > 3 * float(mean.isel(width=-1))  # a real peak, then descent
    error = ds.test_error.mean(("data_seed", "init_seed")).isel(epoch=0)  # Belkin's 0-1 loss
    assert 0.8 * n_train <= int(error.idxmax("width")) <= 1.2 * n_train
    assert float(error.isel(width=-1)) < float(error.sel(width=slice(None, n_train // 2)).min())


def test_diabetes_target_and_splits():
    pytest.importorskip("sklearn")
    exp = ddlab.load_experiment({"data": {"target": "diabetes", "n_train": 100, "n_test": 50},
                                 "seeds": {"data": 2}})
    a, b = ddlab.make_data(exp, 0), ddlab.make_data(exp, 1)
    assert a.x_train.shape == (100, 10) and a.y_train.shape == (100,)
    assert not torch.equal(a.x_train, b.x_train)
    assert torch.equal(a.x_train, ddlab.make_data(exp, 0).x_train)
    assert bool(torch.isnan(a.f_train).all())


@pytest.mark.parametrize("spec,message", [
    ({"model": {"family": "linear", "width": [3, 9]}, "data": {"dim": 5}},
     "model.width = [3, 9]: the linear family uses the first p"),
    ({"model": {"family": "random_features", "activation": "sigmoid"}},
     "model.activation = 'sigmoid': random features use one of"),
    ({"model": {"fit": "min_norm"}}, "model.fit = 'min_norm': the mlp family"),
    ({"model": {"family": "linear", "fit": "ridge"}, "data": {"dim": 10}},
     "model.ridge = 0.0: fit = 'ridge' needs ridge > 0"),
    ({"data": {"target": "digits", "dim": 64}, "train": {"loss": "cross_entropy"},
      "model": {"family": "random_features", "fit": "min_norm"}},
     "train.loss = 'cross_entropy': a closed-form fit"),
    ({"train": {"loss": "cross_entropy"}}, "train.loss = 'cross_entropy': needs a "
     "classification target"),
    ({"data": {"target": "digits", "n_train": 1500, "n_test": 500}},
     "data.n_train = 1500: n_train + n_test must be <= 1797"),
    ({"data": {"target": "diabetes", "dim": 5}}, "data.dim = 5: target 'diabetes' has 10"),
])
def test_family_validation(spec, message):
    with pytest.raises(ValueError) as err:
        ddlab.load_experiment(spec)
    assert str(err.value).startswith(message), str(err.value)



@requires_cuda
def test_closed_form_cuda_matches_cpu():
    exp = ddlab.load_experiment({
        "data": {"target": "teacher", "input": "normal", "dim": 8, "n_train": 30,
                 "n_test": 20, "n_population": 300, "noise": 0.3},
        "model": {"family": "random_features", "activation": "tanh",
                  "width": [5, 29, 31, 90]},
        "seeds": {"data": 3, "init": 4}})
    a = ddlab.run(exp, device="cpu", progress=False)
    b = ddlab.run(exp, device="cuda", progress=False)
    for v in ("train_loss", "test_loss", "f_error", "pred_mean"):
        np.testing.assert_allclose(a[v], b[v], rtol=1e-7, atol=1e-10, err_msg=v)
