"""Analysis API: hand computations, exact identities on real runs, best-in-class in closed form."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import xarray as xr

import ddlab
from ddlab import analysis as A
from ddlab.results import build_dataset
from ddlab.sim._data import target_function


def test_import_does_not_load_torch():
    code = "import sys, ddlab.analysis; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.fixture(scope="module")
def hand():
    """A dataset filled by hand from explicit per-cell population predictions."""
    exp = ddlab.load_experiment({"data": {"noise": 0.5, "n_population": 4, "n_train": 10},
                                 "model": {"width": [1, 2, 3, 4, 5]},
                                 "train": {"epochs": 2}, "seeds": {"data": 2, "init": 3}})
    rng = np.random.default_rng(0)
    W, E, D, K, X = 5, 3, 2, 3, 4
    preds = rng.normal(size=(W, E, D, K, X))  # f̂_{k,s}(x)
    f = rng.normal(size=X)
    train = rng.uniform(0.5, 1.0, size=(W, E, D, K))
    test = rng.uniform(1.0, 2.0, size=(W, E, D, K))
    # hand-made double descent: mean test loss over widths at each epoch
    curve = np.array([3.0, 1.0, 2.0, 5.0, 4.0])
    test += curve[:, None, None, None] - test.mean(axis=(2, 3), keepdims=True)
    train[:, -1] = np.array([1.0, 0.5, 1e-4, 1e-5, 0.0])[:, None, None]
    values = {
        "train_loss": train, "test_loss": test,
        "f_error_train": train,
        "f_error": ((preds - f) ** 2).mean(-1),
        "pred_mean": preds.mean(3),  # (W, E, D, X)
        "pred_var_init": preds.var(3).mean(-1),
        "f_population": np.broadcast_to(f, (D, X)).copy(),
    }
    ds = build_dataset(exp, {"experiment": exp.to_json()}, values)
    return ds, preds, f


def test_risks_and_gaps_by_hand(hand):
    ds, _, f = hand
    r = A.risks(ds)
    np.testing.assert_allclose(r.population_risk, ds.f_error + 0.25)
    assert float(r.bayes_risk) == 0.25
    np.testing.assert_array_equal(r.empirical_risk, ds.train_loss)
    g = A.generalization_gap(ds)
    np.testing.assert_allclose(g.gap_test, ds.test_loss - ds.train_loss)
    np.testing.assert_allclose(g.gap_population, ds.f_error + 0.25 - ds.train_loss)
    for v in [*r.data_vars, *g.data_vars]:
        assert {"long_name", "units"} <= set((r if v in r else g)[v].attrs)
    var_f = f.var(ddof=1)  # one f for both data sets, at 4 population points
    assert float(r.var_f) == pytest.approx(var_f)
    assert float(r.constant_risk) == pytest.approx(0.25 + var_f)
    assert float(r.train_mean_risk) == pytest.approx((0.25 + var_f) * (1 + 1 / 10))
    assert r.attrs["snr"] == pytest.approx(var_f / 0.25) == float(r.snr)
    assert "constant_risk" not in A.risks(ds.drop_vars("f_population"))


def test_bias_variance_by_hand(hand):
    ds, preds, f = hand
    bv = A.bias_variance(ds, estimator="plugin")
    assert bv.attrs["estimator"] == "plugin" and "bias2_se" not in bv
    fbar = preds.mean(axis=(2, 3))  # (W, E, X)
    np.testing.assert_allclose(bv.bias2, ((fbar - f) ** 2).mean(-1))
    np.testing.assert_allclose(bv.variance_init, preds.var(axis=3).mean(axis=(2, 3)))
    np.testing.assert_allclose(bv.variance_data, preds.mean(3).var(axis=2).mean(-1))
    np.testing.assert_allclose(bv.variance, ((preds - fbar[:, :, None, None]) ** 2).mean(
        axis=(2, 3, 4)))
    np.testing.assert_allclose(bv.mean_f_error, bv.bias2 + bv.variance)


def test_unbiased_bias_variance_by_hand(hand):
    """The unbiased terms from the per-init predictions, written out for S = 2, K = 3."""
    ds, preds, f = hand
    bv = A.bias_variance(ds)
    assert bv.attrs["estimator"] == "unbiased"
    r = preds.mean(3) - f  # (W, E, S=2, X)
    np.testing.assert_allclose(bv.bias2, (r[:, :, 0] * r[:, :, 1]).mean(-1))
    v_init = preds.var(3, ddof=1).mean(-1)  # (W, E, S)
    np.testing.assert_allclose(bv.variance_init, v_init.mean(-1))
    np.testing.assert_allclose(bv.variance_data,
                               r.var(2, ddof=1).mean(-1) - v_init.mean(-1) / 3)
    np.testing.assert_allclose(bv.mean_f_error, ds.f_error.mean(("data_seed", "init_seed")))
    np.testing.assert_allclose(bv.bias2 + bv.variance, bv.mean_f_error)
    np.testing.assert_allclose(bv.variance_init_se, v_init.std(-1, ddof=1) / np.sqrt(2))
    np.testing.assert_allclose(bv.mean_f_error_se,
                               ds.f_error.mean("init_seed").std("data_seed", ddof=1) / np.sqrt(2))
    assert bv.bias2_se.isnull().all() and bv.variance_data_se.isnull().all()  # S = 2 < 3
    for name, var in bv.data_vars.items():
        assert var.attrs["units"] == "1" and var.attrs["long_name"], name


def test_summarize_by_hand(hand):
    ds, *_ = hand
    # 2 data sets: a difference over its SE is t with 1 degree of freedom, and the
    # fall from 5.0 to 4.0 after the peak does not clear t = 14.3 (z = 2); any fall does
    assert (A.summarize(ds).peak_status == 4).all()
    s = A.summarize(ds, z=0.0)
    assert list(s.peak_width.values) == [4.0] * 3  # top of the second ascent: 5.0 at width 4
    np.testing.assert_allclose(s.peak_height, 5.0)
    assert list(s.best_width.values) == [2] * 3
    np.testing.assert_allclose(s.best_height, 1.0)
    assert float(s.interpolation_width) == 3.0  # first final train loss below 1e-3
    assert float(s.interpolation_ratio) == pytest.approx(ds.n_params.sel(width=3) / 10)
    assert np.isnan(A.peak_after_first_minimum(np.array([3.0, 2.0, 1.0]), np.arange(3.0))[1])
    x, h = A.peak_after_first_minimum(np.array([2.0, 1.0, 3.0, 2.5, 4.0, 1.0]), np.arange(6.0))
    assert (float(x), float(h)) == (4.0, 4.0)
    # along any axis, missing points skipped: the rise 1 -> nan -> 3 is not a rise
    curves = np.array([[2.0, 1.0, np.nan, 3.0, 2.0], [1.0, 2.0, 3.0, 2.0, 5.0]]).T
    x, h = A.peak_after_first_minimum(curves, np.array([1, 2, 4, 8, 16]), axis=0)
    np.testing.assert_array_equal(x, [np.nan, 16.0])
    np.testing.assert_array_equal(h, [np.nan, 5.0])


def test_decompose_by_hand(hand):
    ds, *_ = hand
    best = xr.Dataset({"approx_error": ("width", np.array([0.5, 0.4, 0.3, 0.2, 0.1]))},
                      coords={"width": [1, 2, 3, 4, 5]})
    dec = A.decompose(ds, best)
    app = np.array([0.5, 0.4, 0.3, 0.2, 0.1])[:, None, None, None]
    np.testing.assert_allclose(dec.approximation_error, np.broadcast_to(app, ds.f_error.shape))
    np.testing.assert_allclose(dec.estimation_error, ds.f_error - app)
    np.testing.assert_allclose(dec.lecture_estimation_error, ds.train_loss - (app + 0.25))
    np.testing.assert_allclose(dec.estimation_error_mean,
                               (ds.f_error - app).mean(("data_seed", "init_seed")))


@pytest.fixture(scope="module")
def real():
    exp = ddlab.load_experiment({
        "data": {"dim": 3, "n_train": 12, "n_population": 300, "noise": [0.3, 1.0]},
        "model": {"width": [1, 3, 9]},
        "train": {"epochs": 30, "dtype": "float64", "lr": 0.03},
        "seeds": {"data": 3, "init": 4}})
    return exp, ddlab.run(exp, device="cpu", progress=False)


def test_bias_variance_identities_on_a_real_run(real):
    exp, ds = real
    for estimator in ("unbiased", "plugin"):
        bv = A.bias_variance(ds, estimator=estimator)
        assert bv.bias2.dims == ("noise", "width", "epoch")
        np.testing.assert_allclose(bv.mean_f_error, bv.bias2 + bv.variance, rtol=1e-10)
        np.testing.assert_allclose(bv.variance, bv.variance_init + bv.variance_data,
                                   rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(bv.mean_f_error, ds.f_error.mean(("data_seed", "init_seed")),
                                   rtol=1e-10)
    assert float(bv.variance_data.min()) > 0 and float(bv.variance_init.min()) > 0  # plug-in
    # the recorded init-averaged predictions are those of the networks themselves
    s = ddlab.make_data(exp.point((0,)), 1)
    with torch.no_grad():
        preds = [ddlab.make_model(exp, 3, 1, k)(s.x_pop)[:, 0].numpy() for k in range(4)]
    np.testing.assert_allclose(ds.pred_mean.sel(noise=0.3, width=3, epoch=0, data_seed=1),
                               np.mean(preds, axis=0), rtol=1e-12)
    np.testing.assert_allclose(ds.f_population.sel(noise=0.3, data_seed=1), s.f_pop)


def test_decompose_on_a_real_run(real, tmp_path):
    _, ds = real
    best = ddlab.best_in_class(json.loads(ds.attrs["experiment"]), restarts=2, epochs=200,
                           n_samples=300, cache=None)
    dec = A.decompose(ds, best)
    np.testing.assert_array_equal(dec.excess_risk, ds.f_error)
    # approximation error per width is the best-in-class bound, the same for every cell
    app = best.approx_error.sel(width=ds.width)
    np.testing.assert_array_equal(dec.approximation_error.isel(epoch=0, data_seed=0, init_seed=0,
                                                               noise=0), app)
    assert (np.diff(best.approx_error.values) <= 0).all()  # nested classes
    r = A.risks(ds)
    np.testing.assert_allclose(r.population_risk.sel(noise=1.0), ds.f_error.sel(noise=1.0) + 1.0)


def test_best_in_class_equals_the_affine_projection(tmp_path, monkeypatch):
    # identity activation: every width is the class of affine functions of x.
    # f = 1 + 2x - 3x^2 on U[0, 1]: ||f - proj f||^2 = 9 * int (x^2 - x + 1/6)^2 = 9/180
    exp = ddlab.load_experiment({"data": {"target": "quadratic", "dim": 1, "noise": 1.0,
                                          "n_population": 20000},
                                 "model": {"width": [1, 3], "activation": "identity"}})
    best = ddlab.best_in_class(exp, restarts=2, epochs=1500, n_samples=2000, lr=0.05,
                           cache=tmp_path)
    fit = ddlab.load_experiment(json.loads(best.attrs["fit_experiment"]))
    s = ddlab.make_data(fit, 0)
    design = np.c_[np.ones(2000), s.x_train.double().numpy()]
    coef = np.linalg.lstsq(design, s.f_train.double().numpy(), rcond=None)[0]
    proj = ((coef[0] + coef[1] * s.x_pop.double().numpy()[:, 0] - s.f_pop.double().numpy())
            ** 2).mean()
    np.testing.assert_allclose(best.approx_error, proj, rtol=2e-3)
    np.testing.assert_allclose(best.approx_error, 9 / 180, rtol=0.05)
    assert best.approx_error_restarts.dims == ("width", "restart")
    # cached on disk: a second call trains nothing
    monkeypatch.setattr("ddlab.sim._best.run", lambda *a, **k: pytest.fail("retrained"))
    again = ddlab.best_in_class(exp, restarts=2, epochs=1500, n_samples=2000, lr=0.05,
                            cache=tmp_path)
    xr.testing.assert_identical(again, best)


def test_best_in_class_of_linear_family_is_the_projection(tmp_path):
    # weak features: f* = x_p . beta_p, so eps_app = ||beta_{-p}||^2 for every data set
    exp = ddlab.load_experiment({
        "data": {"target": "linear", "input": "normal", "dim": 40, "n_population": 20000,
                 "noise": 0.5},
        "model": {"family": "linear", "width": [5, 20, 40]},
        "seeds": {"data": 3, "init": 1}})
    best = ddlab.best_in_class(exp, n_samples=8000, cache=tmp_path)
    assert best.approx_error.dims == ("width", "data_seed", "init_seed")
    for d in range(3):
        beta = target_function(exp.data, exp.seeds.root, d)(torch.eye(40, dtype=torch.float64))
        for p in (5, 20, 40):
            missed = float((beta[p:] ** 2).sum())
            got = float(best.approx_error.sel(width=p, data_seed=d, init_seed=0))
            assert got == pytest.approx(missed, rel=0.03, abs=2e-4), (p, d)
    # at p = dim the class holds f: estimation error is the whole excess risk
    ds = ddlab.run(exp, device="cpu", progress=False)
    dec = A.decompose(ds, best)
    np.testing.assert_allclose(dec.estimation_error.sel(width=40), ds.f_error.sel(width=40),
                               atol=1e-6)


def test_summarize_a_closed_form_result_with_one_epoch():
    ds = ddlab.run({"data": {"target": "linear", "input": "normal", "dim": 10, "n_train": 8,
                             "n_population": 100},
                    "model": {"family": "linear", "width": [2, 4, 6, 8, 10]},
                    "seeds": {"data": 20, "init": 1}}, progress=False)
    s = A.summarize(ds)
    assert s.epoch_peak.isnull().all()
    assert s.peak_width.item() == 8.0  # min-norm least squares peaks at p = n
    at_peak = ds.test_loss.sel(width=8).isel(epoch=0, init_seed=0)
    assert s.peak_height.item() == pytest.approx(float(at_peak.mean()))
    assert s.peak_height_se.item() == pytest.approx(float(at_peak.std(ddof=1)) / np.sqrt(20))
    assert s.peak_height_median.item() == pytest.approx(float(at_peak.median()))
    # heavy tails: the mean rests on a few data sets, the median is far below it
    assert s.peak_height_median.item() < s.peak_height.item() / 3
    few = A.summarize(ds.isel(data_seed=slice(4)))  # one data set at 3.2e3: not significant
    assert few.peak_width.isnull().all() and int(few.peak_status.item()) == 4
