"""Sweeps over any scalar key: one dim per swept key, equal to separate runs."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close64, cell_curves, plain_curves

import ddlab

BASE = {
    "data": {"dim": 3, "n_train": 10, "n_test": 8, "n_population": 60},
    "model": {"width": [1, 4, 6]},
    "train": {"epochs": 15, "dtype": "float64"},
    "seeds": {"root": 5, "data": 2, "init": 2},
}
METRICS = ["train_loss", "test_loss", "f_error_train", "f_error"]


def _with(**sections):
    spec = {k: dict(v) for k, v in BASE.items()}
    for section, values in sections.items():
        spec[section].update(values)
    return spec


def test_two_axis_sweep_equals_separate_runs():
    noises, lrs = [0.1, 1.0, 2.0], [0.003, 0.03]
    ds = ddlab.run(_with(data={"noise": noises}, train={"lr": lrs}), device="cpu",
                   progress=False)
    assert ds.train_loss.dims == ("noise", "lr", "width", "epoch", "data_seed", "init_seed")
    assert list(ds.noise.values) == noises and list(ds.lr.values) == lrs
    assert ds.attrs["n_chunks"] == 2  # one batch per data seed: noise and lr share it
    for noise in noises:
        for lr in lrs:
            alone = ddlab.run(_with(data={"noise": noise}, train={"lr": lr}), device="cpu",
                              progress=False)
            for v in METRICS:
                assert_close64(ds[v].sel(noise=noise, lr=lr), alone[v],
                               f"{v} noise={noise} lr={lr}")


def test_per_cell_hyperparameters_match_plain_torch_loop():
    exp = ddlab.load_experiment(_with(
        data={"noise": [0.2, 1.5]},
        train={"optimizer": "adamw", "lr": [0.01, 0.05], "weight_decay": [0.0, 0.1],
               "batch_size": 4}))
    ds = ddlab.run(exp, device="cpu", progress=False)
    assert ds.attrs["n_chunks"] == 2
    for idx in [(0, 1, 1), (1, 0, 1), (1, 1, 0)]:
        point = exp.point(idx)
        got = cell_curves(ds.isel(noise=idx[0], lr=idx[1], weight_decay=idx[2]), 4, 1, 0)
        for name, curve in plain_curves(point, 4, 1, 0).items():
            assert_close64(got[name], curve, f"{name} {idx}")


def test_shared_shuffle_with_per_cell_targets_matches_plain_torch_loop():
    # a noise sweep gives each batched point its own targets; the order is the data set's
    exp = ddlab.load_experiment(_with(data={"noise": [0.2, 1.5]},
                                      train={"batch_size": 3, "shuffle": "data"}))
    ds = ddlab.run(exp, device="cpu", progress=False)
    for k, (width, d, i) in enumerate([(1, 0, 1), (6, 1, 0)]):
        got = cell_curves(ds.isel(noise=k), width, d, i)
        for name, curve in plain_curves(exp.point((k,)), width, d, i).items():
            assert_close64(got[name], curve, name)


@pytest.mark.parametrize("key,values", [
    ("train.optimizer", ["sgd", "rmsprop"]),
    ("model.activation", ["tanh", "relu"]),
    ("model.depth", [1, 2]),
    ("data.dim", [2, 4]),
    ("train.batch_size", ["full", 3]),
    ("train.shuffle", ["cell", "data"]),
])
def test_shape_changing_sweeps_equal_separate_runs(key, values):
    section, name = key.split(".")

    def spec(value):
        out = _with(train={"lr": 0.01, "epochs": 6})
        out[section][name] = value
        return out

    ds = ddlab.run(spec(values), device="cpu", progress=False)
    coord = [0 if v == "full" else v for v in values]
    assert list(ds[name].values) == coord
    for value, c in zip(values, coord, strict=True):
        alone = ddlab.run(spec(value), device="cpu", progress=False)
        for v in METRICS:
            assert_close64(ds[v].sel({name: c}), alone[v], v)
        np.testing.assert_array_equal(ds.n_params.sel({name: c}) if name in ds.n_params.dims
                                      else ds.n_params, alone.n_params)


def test_n_params_follows_swept_dim_and_depth():
    ds = ddlab.run(_with(data={"dim": [2, 5]}, model={"depth": [1, 3]},
                         train={"epochs": 1}), device="cpu", progress=False)
    assert ds.n_params.dims == ("dim", "depth", "width")
    # d=5, depth 3, width 4: 6*4 + 2*(5*4) + 5
    assert int(ds.n_params.sel(dim=5, depth=3, width=4)) == 24 + 40 + 5


def test_sweep_roundtrips_and_rejects_bad_sweeps():
    exp = ddlab.load_experiment(_with(train={"lr": [0.1, 0.01], "batch_size": ["full", 4]}))
    assert ddlab.load_experiment(exp.to_dict()) == exp
    with pytest.raises(ValueError, match=r"train\.epochs = \[1, 2\]: this key cannot be swept"):
        ddlab.load_experiment(_with(train={"epochs": [1, 2]}))
    with pytest.raises(ValueError, match=r"train\.lr\[1\] = -1\.0: must be > 0"):
        ddlab.load_experiment(_with(train={"lr": [0.1, -1]}))
    with pytest.raises(ValueError, match="distinct"):
        ddlab.load_experiment(_with(data={"noise": [1, 1]}))
    with pytest.raises(ValueError, match="empty sweep"):
        ddlab.load_experiment(_with(data={"noise": []}))
