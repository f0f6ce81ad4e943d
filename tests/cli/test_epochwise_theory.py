"""The epoch-wise showcase's theory figure and numbers (theory = "gd")."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ddlab
from ddlab.cli._figures import draw, gd_theory
from ddlab.cli._numbers import experiment_numbers
from ddlab.cli._paperfile import Figure

BLOCKS = [{"dim": 20, "scale": 1.0, "signal": 0.25}, {"dim": 5, "scale": 0.1, "signal": 45.0}]


@pytest.fixture(scope="module")
def epochwise():
    torch.set_num_threads(1)
    exp = ddlab.load_experiment({
        "name": "tiny",
        "data": {"target": "linear", "input": "normal", "blocks": BLOCKS, "n_train": 40,
                 "n_test": 40, "n_population": 1024, "noise": 1.0},
        "model": {"family": "linear", "fit": "gd", "width": [25]},
        "train": {"optimizer": "sgd", "lr": 0.2, "epochs": 600, "dtype": "float64",
                  "record": {"log": 10}, "record_bias_variance": False},
        "seeds": {"root": 3, "data": 20, "init": 1}})
    return exp, ddlab.run(exp, device="cpu", progress=False)


def test_numbers_give_the_rise_and_the_second_fall(epochwise):
    exp, ds = epochwise
    out = experiment_numbers("tiny", ds, exp, theories=["gd"])
    start, peak, dip = (float(out[f"TinyEpoch{k}"]) for k in ("Start", "Peak", "Dip"))
    assert peak > 1.5 * start and dip < 0.8 * peak
    assert float(out["TinyEpochPeakEpoch"]) in ds["epoch"].values
    assert float(out["TinyTheoryMaxZ"]) < 4
    # epoch 0 predicts 0: the theory there is the signal variance 20 * 0.25 / 20 + 0.01 * 45
    assert float(out["TinyEpochPeakTheory"]) > 0.7
    assert gd_theory(exp, [0]).risk[0] == pytest.approx(0.25 + 0.45, rel=1e-12)


def test_figure_overlays_the_theory_from_epoch_zero(epochwise):
    exp, ds = epochwise
    fig = draw(Figure("tiny", "curves", {"var": "f_error", "over": "epoch", "theory": "gd",
                                         "log": "x"}), ds, exp, quick=False)
    theory = [line for line in fig.axes[0].lines if "GD risk" in str(line.get_label())]
    assert len(theory) == 1
    x, y = theory[0].get_data()
    assert x[0] == 0 and x[-1] == 600 and y[0] == pytest.approx(0.7, rel=1e-12)
    assert np.isfinite(y).all()


def test_gd_theory_needs_all_features_of_blocks(epochwise):
    exp, _ = epochwise
    with pytest.raises(ValueError, match=r"^theory = 'gd': needs family 'linear'"):
        gd_theory(exp.replace(model={"width": [10]}), [1])


def test_gd_theory_of_the_first_p_features_matches_simulation():
    """Isotropic inputs, p < D used: the omitted features are noise while training, bias after."""
    exp = ddlab.load_experiment({
        "name": "weak",
        "data": {"target": "linear", "input": "normal", "dim": 20, "n_train": 15,
                 "n_test": 10, "n_population": 512, "noise": 0.5, "signal": 1.0},
        "model": {"family": "linear", "fit": "gd", "width": [6, 15, 20]},
        "train": {"optimizer": "sgd", "lr": 0.1, "epochs": 200, "dtype": "float64",
                  "record": {"log": 8}, "record_bias_variance": False},
        "seeds": {"root": 8, "data": 200, "init": 1}})
    ds = ddlab.run(exp, device="cpu", progress=False)
    out = experiment_numbers("weak", ds, exp, theories=["gd"])
    assert float(out["WeakTheoryMaxZ"]) < 4
    # at epoch 0 the prediction is 0: the risk is the whole signal, whatever p
    for p in (6, 15, 20):
        assert gd_theory(exp, [0], p).risk[0] == pytest.approx(1.0, rel=1e-12)
    # the omitted features' share is a floor under the risk of the narrowest model
    assert gd_theory(exp, [200], 6).bias[0] > 14 / 20
    fig = draw(Figure("weak", "curves", {"var": "f_error", "over": "epoch", "theory": "gd",
                                         "at": {"width": [6, 15, 20]}}), ds, exp, quick=False)
    assert sum(line.get_linestyle() == "--" for line in fig.axes[0].lines) == 3
