"""The paper's numbers of a learning-rate range test that also has a theory figure."""

from __future__ import annotations

import numpy as np

import ddlab
from ddlab.cli import _numbers


def test_lr_range_and_theory_numbers_together(monkeypatch, config):
    raw = ddlab.load_experiment(config).to_dict()
    raw["train"] |= {"lr": [0.01, 0.1], "optimizer": ["sgd", "adam"]}
    exp = ddlab.load_experiment(raw)
    ds = ddlab.run(exp, device="cpu", progress=False)
    monkeypatch.setattr(_numbers, "_theory_gaps", lambda *_: np.array([0.01, 0.03]))
    out = _numbers.experiment_numbers("tiny", ds, exp, theories=["rf"], kinds=["lr_range"])
    assert out["TinyTheoryMedianGap"] == "2" and out["TinyTheoryMaxGap"] == "3"
    chosen = {k: v for k, v in out.items() if "ChosenLr" in k}
    assert set(chosen) == {"TinyChosenLrSgd", "TinyChosenLrAdam"}
    assert set(chosen.values()) <= {"0.01", "0.1"}
