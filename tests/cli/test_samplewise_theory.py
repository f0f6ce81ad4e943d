"""Sample-wise double descent: theory over a swept n_train, its figure and numbers."""

from __future__ import annotations

import numpy as np
import pytest

import ddlab
from ddlab.cli import _numbers
from ddlab.cli._figures import draw, theory_curve
from ddlab.cli._paperfile import Figure
from ddlab.theory import min_norm_risk

N_TRAIN = [5, 10, 14, 17, 23, 26, 30, 40, 60]


@pytest.fixture(scope="module")
def samplewise():
    exp = ddlab.load_experiment({
        "name": "tiny",
        "data": {"target": "linear", "input": "normal", "dim": 20, "n_train": N_TRAIN,
                 "n_test": 20, "n_population": 2000, "noise": 0.5, "signal": 1.0},
        "model": {"family": "linear", "fit": "min_norm", "width": [20]},
        "train": {"record_bias_variance": False},
        "seeds": {"root": 5, "data": 400, "init": 1}})
    return exp, ddlab.run(exp, device="cpu", progress=False)


def test_theory_over_n_train_is_min_norm_at_fixed_p(samplewise):
    exp, ds = samplewise
    x, risk, _ = theory_curve(exp, "min_norm", ds, {}, over="n_train")
    assert (x[0], x[-1]) == (5, 60)
    np.testing.assert_array_equal(risk.risk, min_norm_risk(x, 20, 1.0, 0.5).risk)
    f = ds.f_error.isel(epoch=-1, width=0, init_seed=0)
    far = np.abs(np.array(N_TRAIN) - 20) > 4  # the pole's neighbours have heavy tails
    exact = min_norm_risk(np.array(N_TRAIN), 20, 1.0, 0.5).risk
    z = (f.mean("data_seed").values - exact) / (f.std("data_seed").values / np.sqrt(400))
    assert np.abs(z[far]).max() < 4, z


def test_numbers_and_figure(samplewise):
    exp, ds = samplewise
    out = _numbers.experiment_numbers("tiny", ds, exp, theories=["min_norm"])
    assert out["TinyPeakN"] in ("17", "23") and out["TinyLargestN"] == "60"
    assert float(out["TinyPeakRisk"]) > 2 * float(out["TinyLowRisk"])
    assert float(out["TinyTheoryMedianGap"]) < 10
    fig = draw(Figure("tiny", "curves", {"var": "f_error", "over": "n_train",
                                         "theory": "min_norm"}), ds, exp, quick=False)
    labels = [str(line.get_label()) for line in fig.axes[0].lines]
    assert "interpolation threshold n = p = 20" in labels and "exact min-norm risk" in labels


def test_theory_over_an_unknown_coordinate(samplewise):
    exp, ds = samplewise
    with pytest.raises(ValueError, match=r"^over = 'noise'"):
        theory_curve(exp, "min_norm", ds, {}, over="noise")
