"""The batched engine reproduces a plain one-model torch.optim loop, cell by cell."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close64, cell_curves, plain_curves

import ddlab

BASE = {
    "data": {"target": "exp_diff", "dim": 3, "n_train": 12, "n_test": 9,
             "n_population": 50, "noise": 0.5},
    "model": {"width": [1, 3, 4, 7]},
    "train": {"epochs": 12, "dtype": "float64"},
    "seeds": {"root": 11, "data": 2, "init": 3},
}

CASES = [
    ("adam", {}, 1, "relu", "full"),
    ("adam", {"weight_decay": 0.01}, 2, "tanh", 5),
    ("adamw", {"weight_decay": 0.1}, 1, "elu", "full"),
    ("adamw", {"betas": [0.8, 0.99]}, 2, "softplus", 4),
    ("sgd", {"lr": 0.1}, 1, "sigmoid", "full"),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, 2, "relu", 5),
    ("sgd", {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.01}, 1, "softsign", 3),
    ("rmsprop", {"lr": 0.003}, 2, "identity", "full"),
    ("rmsprop", {"lr": 0.003, "momentum": 0.3, "weight_decay": 0.001}, 1, "tanh", 5),
    ("adam", {"loss": "l1"}, 1, "relu", 4),
    ("adam", {"shuffle": "data"}, 2, "relu", 5),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "shuffle": "data"}, 1, "tanh", 4),
]


@pytest.mark.parametrize("optimizer,extra,depth,activation,batch", CASES)
def test_run_matches_plain_torch_loop(optimizer, extra, depth, activation, batch):
    train = {**BASE["train"], "optimizer": optimizer, "batch_size": batch, **extra}
    exp = ddlab.load_experiment({**BASE, "train": train,
                                 "model": {**BASE["model"], "depth": depth,
                                           "activation": activation}})
    ds = ddlab.run(exp, device="cpu", progress=False, chunk_units=9)
    rng = np.random.default_rng(len(optimizer) + depth)
    for width, d, i in [(1, 0, 0), (7, 1, 2), (int(rng.choice([3, 4])), int(rng.integers(2)),
                                                int(rng.integers(3)))]:
        ref = plain_curves(exp, width, d, i)
        got = cell_curves(ds, width, d, i)
        for name, curve in ref.items():
            assert_close64(got[name], curve, f"{name} width={width} d={d} i={i}")
    # training actually moved the parameters
    assert not np.allclose(ds.train_loss.isel(epoch=0), ds.train_loss.isel(epoch=-1))


def test_float32_matches_plain_loop_at_short_horizon():
    exp = ddlab.load_experiment({**BASE, "train": {"epochs": 10}})
    ds = ddlab.run(exp, device="cpu", progress=False)
    ref = plain_curves(exp, 4, 1, 2)
    got = cell_curves(ds, 4, 1, 2)
    for name, curve in ref.items():
        np.testing.assert_allclose(got[name], curve, rtol=1e-4, err_msg=name)


def test_minibatch_shuffling_over_many_epochs_matches_plain_loop():
    # more epochs than the engine draws shuffle keys for at a time
    exp = ddlab.load_experiment({**BASE, "model": {"width": [2, 5]},
                                 "train": {**BASE["train"], "epochs": 37, "batch_size": 5,
                                           "optimizer": "sgd", "lr": 0.05, "momentum": 0.9},
                                 "seeds": {"root": 3, "data": 1, "init": 2}})
    ds = ddlab.run(exp, device="cpu", progress=False)
    for width, i in [(2, 1), (5, 0)]:
        ref = plain_curves(exp, width, 0, i)
        got = cell_curves(ds, width, 0, i)
        for name, curve in ref.items():
            assert_close64(got[name], curve, name)
