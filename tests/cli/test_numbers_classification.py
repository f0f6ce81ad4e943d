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
