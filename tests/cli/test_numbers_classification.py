"""Paper numbers of classification experiments: 0-1 errors along the widths, per swept value."""

from __future__ import annotations

import numpy as np

import ddlab
from ddlab.cli import _numbers


def test_classification_numbers_read_the_final_mean_error(tmp_path):
    exp = ddlab.load_experiment({
        "name": "cls",
        "data": {"target": "teacher_classes", "classes": 3, "dim": 8, "n_train": 40,
                 "n_test": 200, "label_noise": [0.0, 0.25]},
        "model": {"family": "random_features", "width": [5, 20, 30, 40, 60, 400]},
        "seeds": {"data": 2, "init": 2}})
    ds = ddlab.run(exp, out=tmp_path / "c.zarr", device="cpu", progress=False)
    out = _numbers.experiment_numbers("cls", ds, exp)
    mean = ds["test_error"].isel(epoch=-1).mean(("data_seed", "init_seed"))
    for p, label in ((0.0, "ZeroZero"), (0.25, "ZeroTwoFive")):
        curve, key = mean.sel(label_noise=p), f"ClsLabelNoise{label}Error"
        near = curve.sel(width=[20, 30, 40, 60])  # within a factor 2 of n_train = 40
        assert out[key + "First"] == _numbers._fmt(100 * float(curve.sel(width=5)))
        assert out[key + "Widest"] == _numbers._fmt(100 * float(curve.sel(width=400)))
        assert out[key + "Peak"] == _numbers._fmt(100 * float(near.max()))
        assert out[key + "PeakWidth"] == _numbers._fmt(float(near.idxmax("width")))
        assert out[key + "BestUnder"] == _numbers._fmt(
            100 * float(curve.sel(width=[5, 20, 30]).min()))
    noisy = float(mean.sel(label_noise=0.25, width=40))
    assert np.isfinite(noisy) and noisy > float(mean.sel(label_noise=0.0, width=40))


def _networks(path, name: str, widths: list[int], n_test: int, epochs: int, record: dict,
              data_seeds: int):
    """A cross-entropy run of 3-class networks on 20 % flipped labels, and its paper numbers."""
    exp = ddlab.load_experiment({
        "name": name,
        "data": {"target": "teacher_classes", "classes": 3, "dim": 4, "n_train": 30,
                 "n_test": n_test, "label_noise": 0.2},
        "model": {"width": widths},
        "train": {"loss": "cross_entropy", "optimizer": "adam", "lr": 0.05, "epochs": epochs,
                  "record": record},
        "seeds": {"data": data_seeds, "init": 3}})
    ds = ddlab.run(exp, out=path / f"{name}.zarr", device="cpu", progress=False)
    return ds, _numbers.experiment_numbers(name, ds, exp)


def test_memorization_numbers_of_a_network_trained_over_epochs(tmp_path):
    ds, out = _networks(tmp_path, "net", [2, 8, 64], 100, 150, {"dense": 5, "log": 12}, 1)
    cells = ds["test_error"].isel(epoch=-1, width=-1).values.ravel()
    assert out["NetErrorWidestSe"] == _numbers._fmt(100 * cells.std(ddof=1) / np.sqrt(3), 2)
    widest = ds["test_error"].isel(width=-1).mean(("data_seed", "init_seed"))
    assert out["NetWidestMinError"] == _numbers._fmt(100 * float(widest.min()))
    assert out["NetWidestMinEpoch"] == _numbers._fmt(float(widest.idxmin("epoch")))
    memo = ds["memorized_fraction"].isel(width=-1).mean(("data_seed", "init_seed")).values
    first = int(ds["epoch"].values[np.argmax(memo >= 0.5)])
    assert memo.max() >= 0.5 and out["NetWidestMemorizedEpoch"] == str(first)
    fits = ds["train_error"].isel(epoch=-1).mean(("data_seed", "init_seed")).values
    assert out["NetInterpolationWidth"] == str(int(ds["width"].values[np.argmax(fits < 1e-3)]))


def test_cross_entropy_split_numbers(tmp_path):
    ds, out = _networks(tmp_path, "ce", [2, 8, 32], 60, 40, {"log": 5}, 2)
    last = ds.isel(epoch=-1).mean("data_seed")
    var = last["test_ce_variance"]
    top = float(var.idxmax("width"))
    assert out["CeCeVarianceMax"] == _numbers._fmt(float(var.max()))
    assert out["CeCeVarianceMaxWidth"] == _numbers._fmt(top)
    assert out["CeCeBiasAtVarianceMax"] == _numbers._fmt(
        float(last["test_ce_bias"].sel(width=top)))
    assert out["CeCeBiasWidest"] == _numbers._fmt(float(last["test_ce_bias"].sel(width=32)))
    assert out["CeErrorVarianceMax"] == _numbers._fmt(
        100 * float(last["test_error_variance"].max()))
