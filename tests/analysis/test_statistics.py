"""The estimators against known truths: unbiased bias-variance, significant peaks, null models."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from ddlab import analysis as A

# a Gaussian model of the predictions at X population points: f̂_{ks}(x) = f(x) + b(x)
# + D_s(x) + I_ks(x), D_s ~ N(0, V_data(x)) per data set, I_ks ~ N(0, V_init(x)) per init
X = 8
BIAS = np.linspace(-0.3, 0.3, X)
V_DATA = np.linspace(0.1, 0.4, X)
V_INIT = np.linspace(0.5, 1.5, X)
TRUTH = {"bias2": np.mean(BIAS**2), "variance_init": V_INIT.mean(),
         "variance_data": V_DATA.mean(), "variance": V_INIT.mean() + V_DATA.mean(),
         "mean_f_error": np.mean(BIAS**2) + V_INIT.mean() + V_DATA.mean()}


def _gaussian(reps: int, data: int, inits: int, seed: int = 0) -> xr.Dataset:
    """``reps`` independent results of the model, as ddlab stores them (``rep`` as a sweep)."""
    rng = np.random.default_rng(seed)
    f = rng.normal(size=X)
    preds = (f + BIAS + rng.normal(size=(reps, data, 1, X)) * np.sqrt(V_DATA)
             + rng.normal(size=(reps, data, inits, X)) * np.sqrt(V_INIT))
    return xr.Dataset({
        "pred_mean": (("rep", "data_seed", "pop"), preds.mean(2)),
        "pred_var_init": (("rep", "data_seed"), preds.var(2).mean(-1)),  # 1/K, as stored
        "f_population": (("data_seed", "pop"), np.broadcast_to(f, (data, X))),
        "f_error": (("rep", "data_seed", "init_seed"), ((preds - f) ** 2).mean(-1)),
    })


@pytest.fixture(scope="module")
def gaussian():
    return _gaussian(reps=20_000, data=3, inits=2)


def test_unbiased_terms_match_the_truth_and_plugin_ones_do_not(gaussian):
    unbiased, plugin = A.bias_variance(gaussian), A.bias_variance(gaussian, estimator="plugin")
    reps = gaussian.sizes["rep"]
    for name, truth in TRUTH.items():
        est = unbiased[name]
        mc_se = float(est.std("rep")) / np.sqrt(reps)
        assert abs(float(est.mean("rep")) - truth) < 4 * mc_se, name
        if name != "mean_f_error":  # the plug-in total is unbiased too
            off = float(plugin[name].mean("rep")) - truth
            assert abs(off) > 20 * float(plugin[name].std("rep")) / np.sqrt(reps), name
    # the plug-in biases as derived, with K = 2 and S = 3
    k, s = 2, 3
    expected = {"bias2": TRUTH["bias2"] + (V_DATA.mean() + V_INIT.mean() / k) / s,
                "variance_init": (k - 1) / k * V_INIT.mean(),
                "variance_data": (s - 1) / s * (V_DATA.mean() + V_INIT.mean() / k)}
    for name, value in expected.items():
        np.testing.assert_allclose(float(plugin[name].mean("rep")), value, rtol=0.02)


def test_jackknife_standard_errors_are_calibrated(gaussian):
    bv = A.bias_variance(gaussian)
    for name in TRUTH:
        ratio = float((bv[f"{name}_se"] ** 2).mean("rep") / bv[name].var("rep"))
        if name in ("variance_init", "mean_f_error"):  # means over data sets: exact
            assert 0.95 < ratio < 1.05, (name, ratio)
        else:  # Efron-Stein: conservative, never too small on average
            assert 1.0 < ratio < 4.0, (name, ratio)


def test_one_data_set_identifies_bias2_plus_variance_data():
    ds = _gaussian(reps=20_000, data=1, inits=3, seed=1)
    bv = A.bias_variance(ds)
    mc_se = float(bv.bias2.std("rep")) / np.sqrt(ds.sizes["rep"])
    assert abs(float(bv.bias2.mean("rep")) - TRUTH["bias2"] - V_DATA.mean()) < 4 * mc_se
    assert abs(float(bv.variance_init.mean("rep")) - V_INIT.mean()) < 0.01
    assert bv.variance.isnull().all() and bv.variance_data.isnull().all()
    assert bv.variance_init_se.isnull().all()
    assert "bias² + variance_data" in bv.bias2.attrs["comment"]
    assert "not identifiable" in bv.variance_data.attrs["comment"]
    assert bv.bias2.attrs["n_data_sets"] == 1


def test_bias_variance_refuses_an_unknown_estimator(gaussian):
    with pytest.raises(ValueError, match=r"^estimator = 'jackknife'"):
        A.bias_variance(gaussian, estimator="jackknife")


WIDTHS = [1, 2, 3, 4, 5, 6, 7, 8]
CURVES = {  # mean test loss over widths
    "double_descent": [3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.5, 1.4],
    "u_curve": [3.0, 2.0, 1.0, 0.8, 1.0, 2.0, 3.0, 4.0],
    "monotone": [3.0, 2.5, 2.0, 1.7, 1.5, 1.4, 1.3, 1.2],
    "plateau_with_wiggle": [1.0, 1.0, 1.0, 1.0, 1.0 + 1e-4, 1.0, 1.0, 1.0],
}


def _curve_result(curve, data: int = 3, inits: int = 4, sd: float = 0.1,
                  seed: int = 0) -> xr.Dataset:
    """A result whose test loss is ``curve`` over widths plus N(0, sd²) seed noise."""
    import ddlab
    from ddlab.results import build_dataset

    exp = ddlab.load_experiment({"data": {"n_train": 10}, "model": {"width": WIDTHS},
                                 "train": {"epochs": 1},
                                 "seeds": {"data": data, "init": inits}})
    rng = np.random.default_rng(seed)
    shape = (len(WIDTHS), 2, data, inits)
    test = np.asarray(curve)[:, None, None, None] + sd * rng.normal(size=shape)
    values = {"test_loss": test, "train_loss": np.ones(shape), "f_error": test,
              "f_error_train": np.ones(shape)}
    return build_dataset(exp, {"experiment": exp.to_json()}, values)


@pytest.mark.parametrize("name", list(CURVES))
def test_summarize_reports_only_significant_peaks(name):
    s = A.summarize(_curve_result(CURVES[name])).isel(epoch=-1)
    status = {"double_descent": 0, "u_curve": 3, "monotone": 2, "plateau_with_wiggle": 4}[name]
    assert int(s.peak_status) == status
    flags = dict(zip(s.peak_status.attrs["flag_values"],
                     s.peak_status.attrs["flag_meanings"].split(), strict=True))
    assert flags[status] == {0: "significant_peak", 2: "never_rises_after_a_minimum",
                             3: "never_falls_after_rising",
                             4: "rise_or_fall_not_significant"}[status]
    if name != "double_descent":
        assert s.peak_width.isnull() and s.peak_height.isnull() and s.peak_height_se.isnull()
        assert "z = 2 standard errors (as a t quantile)" in s.peak_width.attrs["comment"]
        return
    assert float(s.peak_width) == 5.0
    cells = _curve_result(CURVES[name]).test_loss.isel(epoch=-1).sel(width=5)
    assert float(s.peak_height) == pytest.approx(float(cells.mean()))
    assert float(s.peak_height_median) == pytest.approx(float(cells.median()))
    # clustered by data set: the spread of the 3 data sets' init means
    se = float(cells.mean("init_seed").std(ddof=1)) / np.sqrt(3)
    assert float(s.peak_height_se) == pytest.approx(se)
    assert 0.01 < se < 0.1


def test_a_small_peak_needs_small_noise_and_z_sets_the_bar():
    curve = [3.0, 2.0, 1.0, 1.2, 1.0, 0.9, 0.8, 0.7]  # a bump of 0.2 at width 4
    assert int(A.summarize(_curve_result(curve, sd=0.5)).peak_status[-1]) == 4
    quiet = _curve_result(curve, sd=0.02)
    assert float(A.summarize(quiet).peak_width[-1]) == 4.0
    assert int(A.summarize(quiet, z=200.0).peak_status[-1]) == 4
    assert float(A.summarize(quiet, z=0.0).peak_width[-1]) == 4.0


def test_summarize_from_one_data_set_or_one_seed():
    curve = CURVES["double_descent"]
    one_data = _curve_result(curve, data=1, inits=4)
    s = A.summarize(one_data).isel(epoch=-1)  # the spread over this data set's inits
    cells = one_data.test_loss.isel(epoch=-1).sel(width=5)
    assert float(s.peak_height_se) == pytest.approx(float(cells.std(ddof=1)) / 2)
    single = A.summarize(_curve_result(curve, data=1, inits=1)).isel(epoch=-1)
    assert int(single.peak_status) == 4 and single.peak_width.isnull()  # no SE, no peak
    with pytest.raises(ValueError, match=r"^z = -1"):
        A.summarize(one_data, z=-1)


def test_the_training_mean_has_the_expected_risk_of_the_null_model():
    """Monte Carlo over training sets drawn from the population sample itself."""
    import ddlab
    from ddlab.results import build_dataset

    n, noise, points = 5, 0.5, 2000
    exp = ddlab.load_experiment({"data": {"n_train": n, "noise": noise, "n_population": points},
                                 "model": {"width": [1, 2, 3]}, "train": {"epochs": 1},
                                 "seeds": {"data": 1, "init": 1}})
    rng = np.random.default_rng(3)
    f = 1.0 + 0.8 * rng.normal(size=points)
    ds = build_dataset(exp, {"experiment": exp.to_json()}, {"f_population": f[None]})
    r = A.risks(ds)
    ybar = (f[rng.integers(points, size=(200_000, n))] + noise * rng.normal(size=(200_000, n))
            ).mean(axis=1)
    risk = noise**2 + ((f[:, None] - ybar) ** 2).mean(axis=0)  # R(ȳ, p*) per training set
    mc_se = risk.std() / np.sqrt(risk.size)
    assert abs(risk.mean() - float(r.train_mean_risk)) < 4 * mc_se + 1e-3 * risk.mean()
    assert risk.mean() - float(r.constant_risk) > 40 * mc_se  # the 1/n term is there
    assert float(r.snr) == pytest.approx(f.var(ddof=1) / noise**2)


def test_the_paper_numbers_say_when_there_is_no_significant_peak():
    from ddlab.cli._numbers import experiment_numbers
    from ddlab.results import experiment_of

    unfilled = ["pred_mean", "pred_var_init", "f_population"]
    ds = _curve_result(CURVES["u_curve"]).drop_vars(unfilled)
    nums = experiment_numbers("toy", ds, experiment_of(ds))
    for what in ("Width", "Height", "HeightSe", "HeightMedian", "Ratio"):
        assert nums[f"ToyPeak{what}"] == "no significant peak", what
    ds = _curve_result(CURVES["double_descent"]).drop_vars(unfilled)
    nums = experiment_numbers("toy", ds, experiment_of(ds))
    assert nums["ToyPeakWidth"] == "5" and nums["ToyPeakHeight"].startswith("3.0")
    assert float(nums["ToyPeakHeightSe"]) < 0.1
