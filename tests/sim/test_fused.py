"""The compiled CPU kernel (ddlab.sim._fused) against a plain one-model loop, and itself."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close64, cell_curves, plain_curves

import ddlab
from ddlab.sim import _engine

#: widths 1-5 are laid out unit-major (cells as vector lanes), 33 and 40 cell-major;
#: 13 train and 7 test rows and dim 6 (7 inputs with the bias) all need padding
BASE = {
    "data": {"target": "exp_diff", "dim": 6, "n_train": 13, "n_test": 7,
             "n_population": 40, "noise": 0.5},
    "model": {"width": [1, 5, 33, 40]},
    "train": {"epochs": 15, "dtype": "float64"},
    "seeds": {"root": 3, "data": 2, "init": 3},
}

OPTIMIZERS = [
    {"optimizer": "adam"},
    {"optimizer": "adam", "weight_decay": 0.01, "betas": [0.8, 0.99]},
    {"optimizer": "adamw", "weight_decay": 0.1},
    {"optimizer": "sgd", "lr": 0.1},
    {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    {"optimizer": "sgd", "lr": 0.05, "momentum": 0.5},
    {"optimizer": "rmsprop", "lr": 0.003},
    {"optimizer": "rmsprop", "lr": 0.003, "momentum": 0.3, "weight_decay": 0.001},
]


@pytest.fixture
def fused_chunks(monkeypatch):
    """Count the chunks the compiled kernel trains."""
    calls = []
    kernel = _engine._fused_full_batch

    def spy(*args):
        calls.append(args)
        return kernel(*args)

    monkeypatch.setattr(_engine, "_fused_full_batch", spy)
    return calls


@pytest.mark.parametrize("train", OPTIMIZERS, ids=lambda t: "-".join(map(str, t.values())))
def test_kernel_matches_plain_torch_loop(train, fused_chunks):
    exp = ddlab.load_experiment({**BASE, "train": {**BASE["train"], **train}})
    ds = ddlab.run(exp, device="cpu", progress=False, n_jobs=1)
    assert fused_chunks, "the kernel did not train this experiment"
    for width, d, i in [(1, 0, 0), (5, 1, 2), (33, 0, 1), (40, 1, 0)]:
        got = cell_curves(ds, width, d, i)
        for name, curve in plain_curves(exp, width, d, i).items():
            assert_close64(got[name], curve, f"{name} width={width} d={d} i={i}")
    assert not np.allclose(ds.train_loss.isel(epoch=0), ds.train_loss.isel(epoch=-1))


def test_per_cell_hyperparameters_and_targets_match_plain_torch_loop(fused_chunks):
    exp = ddlab.load_experiment({**BASE, "data": {**BASE["data"], "noise": [0.2, 1.5]},
                                 "train": {**BASE["train"], "optimizer": "adamw",
                                           "lr": [0.01, 0.05], "weight_decay": [0.0, 0.1]}})
    ds = ddlab.run(exp, device="cpu", progress=False, n_jobs=1)
    assert fused_chunks and ds.attrs["n_chunks"] == 2  # the points share a chunk
    for idx, width in [((0, 1, 1), 5), ((1, 0, 1), 40), ((1, 1, 0), 33)]:
        got = cell_curves(ds.isel(noise=idx[0], lr=idx[1], weight_decay=idx[2]), width, 1, 0)
        for name, curve in plain_curves(exp.point(idx), width, 1, 0).items():
            assert_close64(got[name], curve, f"{name} {idx} width={width}")


def test_float32_close_to_plain_loop(fused_chunks):
    exp = ddlab.load_experiment({**BASE, "train": {**BASE["train"], "dtype": "float32"}})
    ds = ddlab.run(exp, device="cpu", progress=False, n_jobs=1)
    assert fused_chunks
    for width in (5, 40):
        got = cell_curves(ds, width, 1, 2)
        for name, curve in plain_curves(exp, width, 1, 2).items():
            np.testing.assert_allclose(got[name], curve, rtol=2e-5, err_msg=name)


def test_a_cell_is_the_same_bits_in_any_group():
    """Groups of 1 to 24 cells: every cell's numbers are bit-identical to its run alone."""
    exp = ddlab.load_experiment({**BASE, "model": {"width": [3, 40]},
                                 "seeds": {**BASE["seeds"], "init": 24},
                                 "train": {**BASE["train"], "dtype": "float32"}})
    cells = [(0, w, 1, i) for w in (3, 40) for i in range(24)]
    together = _engine.train_chunk([exp], cells)
    for k in (0, 7, 8, 23, 24, 40):
        alone = _engine.train_chunk([exp], [cells[k]])
        for name in ("train_loss", "test_loss", "f_error_train", "f_error"):
            np.testing.assert_array_equal(together[name][:, [k]], alone[name], err_msg=name)


def test_resuming_continues_the_same_run():
    exp = ddlab.load_experiment({**BASE, "train": {**BASE["train"], "optimizer": "sgd",
                                                   "lr": 0.05, "momentum": 0.9}})
    cells = [(0, w, 0, i) for w in (5, 33) for i in range(2)]
    whole = _engine.train_chunk([exp], cells)
    first = _engine.train_chunk([exp.replace(train={"epochs": 6})], cells, keep_state=True)
    rest = _engine.train_chunk([exp], cells, state=first["state"], start=6)
    for name in ("train_loss", "test_loss", "f_error_train", "f_error", "pred_mean"):
        assert_close64(rest[name], whole[name][6:], name)
