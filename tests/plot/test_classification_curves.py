"""plot.curves on classification results: the interpolation threshold and the chance level."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

import ddlab
from ddlab import plot


def test_classification_threshold_is_the_first_width_fitting_every_label():
    exp = ddlab.load_experiment({
        "data": {"target": "teacher_classes", "classes": 3, "dim": 4, "n_train": 20,
                 "n_test": 50, "label_noise": 0.2},
        "model": {"width": [1, 4, 64]},
        "train": {"loss": "cross_entropy", "optimizer": "adam", "lr": 0.05, "epochs": 120,
                  "dtype": "float64"},
        "seeds": {"data": 1, "init": 2}})
    ds = ddlab.run(exp, device="cpu", progress=False)
    fits = ds["train_error"].isel(epoch=-1).mean(("data_seed", "init_seed")).values
    drawn = plot.curves(ds, "test_error")
    assert fits[0] > 0 and fits[-1] == 0  # the narrowest cannot fit the flipped labels
    first = float(ds["width"].values[np.argmax(fits < 1e-3)])
    assert drawn.threshold.get_xdata()[0] == first
    assert "0-1 train error" in drawn.threshold.get_label()
    assert drawn.null["chance level 1 − 1/3"].get_ydata()[0] == 1 - 1 / 3
    plt.close("all")
