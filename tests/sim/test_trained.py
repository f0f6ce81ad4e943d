"""ddlab.trained_model: the network of one stored cell, as the run trained it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import ROOT

import ddlab

SPEC = {
    "data": {"n_train": 14, "n_test": 9, "n_population": 16, "noise": [0.1, 0.6]},
    "model": {"width": [2, 5], "depth": 2},
    "train": {"epochs": 7, "dtype": "float64", "optimizer": "sgd", "lr": 0.05,
              "momentum": 0.9, "batch_size": 4},
    "seeds": {"root": 3, "data": 2, "init": 2},
}


def _mse(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).squeeze(-1) - y).square().mean())


@pytest.mark.parametrize("keep_state", [True, False])
def test_a_trained_cell_reproduces_its_stored_losses(tmp_path, keep_state):
    exp = ddlab.load_experiment({**SPEC, "train": {**SPEC["train"], "keep_state": keep_state}})
    ddlab.run(exp, out=tmp_path / "r.zarr", progress=False)
    ds = ddlab.open_results(tmp_path / "r.zarr")
    cell = {"width": 5, "data_seed": 1, "init_seed": 0}
    for epoch in (None, 3, 0):
        model = ddlab.trained_model(tmp_path / "r.zarr", epoch=epoch, noise=0.6, **cell)
        s = ddlab.make_data(exp.point([1]), data_seed=1)
        at = ds.sel(noise=0.6, epoch=7 if epoch is None else epoch, **cell)
        for x, y, name in ((s.x_train, s.y_train, "train_loss"), (s.x_test, s.y_test,
                                                                  "test_loss")):
            np.testing.assert_allclose(_mse(model, x, y), float(at[name]), rtol=1e-12)
    if keep_state:  # the kept state and a cell trained again agree bit for bit
        again = ddlab.trained_model(ds.drop_vars("state"), noise=0.6, **cell)
        kept = ddlab.trained_model(ds, noise=0.6, **cell)
        for a, b in zip(again.parameters(), kept.parameters(), strict=True):
            assert torch.equal(a, b)


@pytest.mark.parametrize("kwargs,message", [
    ({"width": 3, "data_seed": 0, "init_seed": 0, "noise": 0.1}, "width = 3: not a width"),
    ({"width": 2, "data_seed": 2, "init_seed": 0, "noise": 0.1}, "data_seed = 2"),
    ({"width": 2, "data_seed": 0, "init_seed": 0}, "noise: swept"),
    ({"width": 2, "data_seed": 0, "init_seed": 0, "noise": 0.3}, "noise = 0.3: not among"),
    ({"width": 2, "data_seed": 0, "init_seed": 0, "noise": 0.1, "epoch": 8}, "epoch = 8"),
    ({"width": 2, "data_seed": 0, "init_seed": 0, "noise": 0.1, "lr": 1}, "lr = 1: not a swept"),
])
def test_a_cell_the_result_lacks_is_a_one_line_error(kwargs, message):
    ds = ddlab.run({**SPEC, "train": {**SPEC["train"], "epochs": 2}}, progress=False)
    with pytest.raises(ValueError, match=message):
        ddlab.trained_model(ds, **kwargs)


def test_show_counts_the_kept_state(capsys):
    from ddlab.cli import main

    spec = str(ROOT / "experiments" / "seed_high_noise.toml")
    assert main(["show", spec, "--set", "train.keep_state=true", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    # 10 widths x 100 inits; Adam: parameters and two moments of the widest (3 x 71) each
    assert got["state_bytes"] == 10 * 100 * 3 * (10 * 7 + 1) * 8
    assert main(["show", spec, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["state_bytes"] == 0
