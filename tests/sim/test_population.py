"""Population sample: Sobol design, replicate blocks, f_error_se, fast evaluation paths."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from conftest import assert_close64, cell_curves, plain_curves, torch_optimizer

import ddlab
from ddlab.sim import _engine
from ddlab.sim._data import POPULATION_REPLICATES, population_blocks
from ddlab.sim._models import feature_params
from ddlab.sim._seeding import uniforms_of

BASE = {
    "data": {"dim": 3, "n_train": 13, "n_test": 7, "n_population": 70, "noise": 0.5},
    "model": {"width": [1, 3, 6]},
    "train": {"epochs": 9, "dtype": "float64"},
    "seeds": {"root": 4, "data": 2, "init": 3},
}


def _trained(exp, width: int, data_seed: int, init_seed: int) -> torch.nn.Module:
    """One cell trained alone to the last epoch (full batch), as the reference loop does."""
    s = ddlab.make_data(exp, data_seed)
    model = ddlab.make_model(exp, width, data_seed, init_seed)
    opt = torch_optimizer(exp, model.parameters())
    for _ in range(exp.train.epochs):
        opt.zero_grad()
        ((model(s.x_train).squeeze(-1) - s.y_train) ** 2).mean().backward()
        opt.step()
    return model


def test_population_blocks_split_evenly():
    assert population_blocks(0) == ()
    assert population_blocks(1) == (1,)
    assert sum(population_blocks(71)) == 71
    assert max(population_blocks(71)) - min(population_blocks(71)) <= 1
    assert len(population_blocks(1024)) == POPULATION_REPLICATES


@pytest.mark.parametrize("inputs", ["uniform", "normal"])
def test_sobol_blocks_are_independent_stratified_scramblings(inputs):
    exp = ddlab.load_experiment({"data": {"n_population": 2048, "input": inputs, "dim": 4},
                                 "train": {"dtype": "float64"}})
    x = ddlab.make_data(exp, 0).x_pop.numpy()
    assert x.shape == (2048, 4)
    u = x if inputs == "uniform" else torch.special.ndtr(torch.from_numpy(x)).numpy()
    start = 0
    blocks = []
    for size in population_blocks(2048):
        block = u[start:start + size]
        start += size
        # a scrambled Sobol block of 2^m points puts one point in each of 2^m strata per axis
        strata = np.floor(block * size).astype(int)
        for axis in range(4):
            assert sorted(strata[:, axis]) == list(range(size))
        blocks.append(block)
    assert not np.allclose(blocks[0], blocks[1])  # independent scramblings
    assert np.isfinite(x).all()
    # the same for every data seed, a new design for another root seed
    np.testing.assert_array_equal(x, ddlab.make_data(exp, 3).x_pop.numpy())
    other = exp.replace(seeds={"root": 1})
    assert not np.allclose(x, ddlab.make_data(other, 0).x_pop.numpy())


def test_iid_population_keeps_the_iid_stream():
    exp = ddlab.load_experiment({"data": {"n_population": 50, "population": "iid"},
                                 "train": {"dtype": "float64"}, "seeds": {"root": 9}})
    np.testing.assert_array_equal(ddlab.make_data(exp, 0).x_pop.numpy(),
                                  uniforms_of(9, "x_pop", shape=(50, 5)).numpy())
    sobol = ddlab.make_data(exp.replace(data={"population": "sobol"}), 0).x_pop
    assert not np.allclose(sobol.numpy(), ddlab.make_data(exp, 0).x_pop.numpy())
    with pytest.raises(ValueError, match=r"data\.population = 'grid': expected one of sobol, iid"):
        ddlab.load_experiment({"data": {"population": "grid"}})
    with pytest.raises(ValueError, match="cannot be swept"):
        ddlab.load_experiment({"data": {"population": ["sobol", "iid"]}})


@pytest.mark.parametrize("population", ["sobol", "iid"])
def test_population_metrics_match_a_plain_evaluation_of_each_cell(population):
    exp = ddlab.load_experiment({**BASE, "data": {**BASE["data"], "population": population}})
    ds = ddlab.run(exp, device="cpu", progress=False)
    blocks = population_blocks(exp.data.n_population)
    edges = np.cumsum([0, *blocks])
    for d in range(exp.seeds.data):
        s = ddlab.make_data(exp, d)
        for width in exp.model.width:
            models = [_trained(exp, width, d, i) for i in range(exp.seeds.init)]
            with torch.no_grad():
                preds = np.stack([m(s.x_pop)[:, 0].numpy() for m in models])
            err2 = (preds - s.f_pop.numpy()) ** 2
            cell = ds.sel(width=width, data_seed=d).isel(epoch=-1)
            assert_close64(cell.f_error, err2.mean(axis=1))
            # standard error by hand from the replicate means
            means = np.stack([err2[:, a:b].mean(axis=1) for a, b in itertools.pairwise(edges)],
                             axis=1)
            w = np.array(blocks) / exp.data.n_population
            r = len(blocks)
            dev = (means - err2.mean(axis=1, keepdims=True)) * w
            se = np.sqrt((dev**2).sum(axis=1) * r / (r - 1))
            assert_close64(cell.f_error_se, se)
            if r == 2:  # two equal blocks: half the difference of the replicate estimates
                assert_close64(se, np.abs(means[:, 0] - means[:, 1]) / 2)
            assert_close64(cell.pred_mean, preds.mean(axis=0))
            assert_close64(cell.pred_var_init, preds.var(axis=0).mean())
    assert ds.f_error_se.attrs["units"] == "1" and "standard error" in ds.f_error_se.long_name
    assert ds.f_error_se.dims == ds.f_error.dims


def test_f_error_se_is_missing_with_one_block_and_absent_without_population():
    one = ddlab.run({**BASE, "data": {**BASE["data"], "n_population": 1}}, progress=False)
    assert bool(one.f_error_se.isnull().all()) and bool(one.f_error.notnull().all())
    none = ddlab.run({**BASE, "data": {**BASE["data"], "n_population": 0}}, progress=False)
    assert "f_error_se" not in none and "f_error" not in none


def test_closed_form_f_error_se_by_hand():
    exp = ddlab.load_experiment({
        "data": {"target": "teacher", "input": "normal", "dim": 5, "n_train": 15,
                 "n_test": 9, "n_population": 64, "noise": 0.3},
        "model": {"family": "random_features", "activation": "relu", "width": [4, 20]},
        "seeds": {"data": 2, "init": 2}})
    ds = ddlab.run(exp, device="cpu", progress=False)
    assert ds.f_error_se.dims == ds.f_error.dims
    half = exp.data.n_population // 2  # two equal replicate blocks
    for width, d, i in [(4, 0, 1), (20, 1, 0)]:
        s = ddlab.make_data(exp, d)
        w, b = (t.numpy() for t in feature_params(exp, width, d, i))
        theta = np.linalg.pinv(np.maximum(s.x_train.double().numpy() @ w.T + b, 0)) @ (
            s.y_train.double().numpy())
        pred = np.maximum(s.x_pop.double().numpy() @ w.T + b, 0) @ theta
        err2 = (pred - s.f_pop.double().numpy()) ** 2
        cell = ds.sel(width=width, data_seed=d, init_seed=i, epoch=0)
        assert float(cell.f_error) == pytest.approx(err2.mean(), rel=1e-8)
        assert float(cell.f_error_se) == pytest.approx(
            abs(err2[:half].mean() - err2[half:].mean()) / 2, rel=1e-6)


@pytest.mark.parametrize("batch", ["full", 1, 4, 5, 13])
def test_tiles_and_slabs_do_not_change_a_cell(monkeypatch, batch):
    """Many training tiles and population slabs (forced small) give the plain loop's curves."""
    exp = ddlab.load_experiment({**BASE, "train": {**BASE["train"], "batch_size": batch,
                                                   "optimizer": "sgd", "lr": 0.05,
                                                   "momentum": 0.9}})
    ref = ddlab.run(exp, device="cpu", progress=False)
    monkeypatch.setitem(_engine._TILE_ELEMENTS, "cpu", 8)  # one cell per tile
    monkeypatch.setitem(_engine._EVAL_ELEMENTS, "cpu", 16)  # a few population rows per slab
    small = ddlab.run(exp, device="cpu", progress=False)
    for v in ("train_loss", "test_loss", "f_error_train", "f_error", "f_error_se", "pred_mean",
              "pred_var_init"):
        # f_error_se is a difference of block means: its round-off is absolute, ~1e-16
        assert_close64(small[v], ref[v], v, atol=1e-14)
    for width, d, i in [(1, 0, 2), (6, 1, 0)]:
        curves = plain_curves(exp, width, d, i)
        got = cell_curves(small, width, d, i)
        for name, curve in curves.items():
            assert_close64(got[name], curve, name)


@pytest.mark.parametrize("optimizer,depth,activation,batch", [
    ("adam", 1, "relu", 1), ("adam", 2, "tanh", 3), ("sgd", 1, "softplus", 8),
    ("rmsprop", 2, "relu", 12), ("adamw", 1, "cos", 6),
])
def test_gathered_minibatches_match_plain_loop(optimizer, depth, activation, batch):
    """Each cell trains on its own gathered minibatch rows, exactly as it would alone."""
    exp = ddlab.load_experiment({
        **BASE, "model": {"width": [2, 5], "depth": depth, "activation": activation},
        "train": {**BASE["train"], "optimizer": optimizer, "batch_size": batch, "lr": 0.01,
                  "epochs": 7}})
    ds = ddlab.run(exp, device="cpu", progress=False, chunk_units=6)
    for width, d, i in [(2, 0, 0), (5, 1, 2), (5, 0, 1)]:
        ref = plain_curves(exp, width, d, i)
        got = cell_curves(ds, width, d, i)
        for name, curve in ref.items():
            assert_close64(got[name], curve, f"{name} width={width} d={d} i={i}")


def test_minibatch_order_ties_follow_torch():
    keys = torch.rand(6, 3, 40, dtype=torch.float64)
    keys[1, 2, 5] = keys[1, 2, 30]  # a tie
    keys[4, 0] = 0.25  # all tied
    np.testing.assert_array_equal(_engine._argsort(keys), keys.argsort(dim=-1))
