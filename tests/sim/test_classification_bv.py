"""Bias-variance terms over init seeds of cross-entropy classification runs, on the test set."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import assert_close64

import ddlab
from ddlab.results import CLASS_BIAS_VARIANCE, records_class_variance

SPEC = {
    "data": {"target": "teacher_classes", "dim": 4, "classes": 3, "label_noise": 0.2,
             "n_train": 30, "n_test": 20},
    "model": {"width": [2, 5]},
    "train": {"loss": "cross_entropy", "optimizer": "sgd", "lr": 0.5, "epochs": 5,
              "dtype": "float64"},
    "seeds": {"data": 2, "init": 3},
}
GROUP_DIMS = ("width", "epoch", "data_seed")


def _spec(**sections: dict) -> dict:
    return {k: {**v, **sections.get(k, {})} for k, v in SPEC.items()}


@pytest.fixture(scope="module")
def kept():
    """A run that keeps each cell's final network."""
    exp = ddlab.load_experiment(_spec(train={"keep_state": True}))
    return exp, ddlab.run(exp, device="cpu", progress=False)


def _by_hand(exp, ds, width: int, data_seed: int, epoch: int | None = None) -> np.ndarray:
    """The three terms from each init seed's network alone, in numpy."""
    s = ddlab.make_data(exp, data_seed)
    with torch.no_grad():
        logits = np.stack([ddlab.trained_model(ds, width=width, data_seed=data_seed,
                                               init_seed=i, epoch=epoch)(s.x_test).numpy()
                           for i in range(exp.seeds.init)])  # (inits, n_test, classes)
    p = np.exp(logits - logits.max(axis=2, keepdims=True))
    p /= p.sum(axis=2, keepdims=True)
    geo = np.exp(np.log(p).mean(axis=0))
    p_bar = geo / geo.sum(axis=1, keepdims=True)
    y = s.y_test.numpy()  # one-hot (n_test, classes)
    bias = -(y * np.log(p_bar)).sum(axis=1).mean()
    kl = (p_bar * (np.log(p_bar) - np.log(p))).sum(axis=2)  # (inits, n_test)
    miss = p.argmax(axis=2) != p_bar.argmax(axis=1)
    return np.array([bias, kl.mean(), miss.mean()])


def test_dims_attrs_and_the_exact_identity(kept):
    _, ds = kept
    for name in CLASS_BIAS_VARIANCE:
        assert ds[name].dims == GROUP_DIMS
        assert ds[name].attrs["units"] == "1" and ds[name].attrs["long_name"]
        assert bool(np.isfinite(ds[name]).all())
    assert float(ds.test_error_variance.max()) > 0  # three seeds disagree somewhere
    # mean over init seeds of the cross-entropy = bias + variance, at every epoch
    assert_close64(ds.test_ce_bias + ds.test_ce_variance, ds.test_loss.mean("init_seed"))
    assert bool((ds.test_ce_variance > -1e-15).all())


@pytest.mark.parametrize("width,data_seed", [(2, 0), (5, 1)])
def test_terms_match_single_networks_by_hand(kept, width, data_seed):
    exp, ds = kept
    got = ds.sel(width=width, data_seed=data_seed)
    want = _by_hand(exp, ds, width, data_seed)  # the kept final networks
    assert_close64([float(got[n].isel(epoch=-1)) for n in CLASS_BIAS_VARIANCE], want)
    mid = _by_hand(exp, ds.drop_vars("state"), width, data_seed, epoch=2)  # trained again
    assert_close64([float(got[n].sel(epoch=2)) for n in CLASS_BIAS_VARIANCE], mid)


def test_one_init_seed_has_no_variance():
    ds = ddlab.run(_spec(seeds={"init": 1}), device="cpu", progress=False)
    assert float(abs(ds.test_ce_variance).max()) < 1e-15
    assert float(ds.test_error_variance.max()) == 0
    assert_close64(ds.test_ce_bias, ds.test_loss.isel(init_seed=0))


@pytest.mark.parametrize("sections", [
    {"train": {"loss": "mse"}},  # classification trained on squared error
    {"train": {"record_bias_variance": False}},
    {"data": {"target": "teacher", "label_noise": 0.0, "n_population": 0},
     "train": {"loss": "mse"}},  # regression
])
def test_absent_unless_trained_with_cross_entropy(sections):
    exp = ddlab.load_experiment(_spec(**sections))
    assert not records_class_variance(exp)
    ds = ddlab.run(exp, device="cpu", progress=False)
    assert not set(CLASS_BIAS_VARIANCE) & set(ds.data_vars)


def test_swept_loss_records_them_at_the_cross_entropy_points():
    exp = ddlab.load_experiment(_spec(train={"loss": ["mse", "cross_entropy"], "epochs": 2}))
    ds = ddlab.run(exp, device="cpu", progress=False)
    for name in CLASS_BIAS_VARIANCE:
        assert ds[name].dims == ("loss", *GROUP_DIMS)
        assert bool(ds[name].sel(loss="mse").isnull().all())
        assert bool(ds[name].sel(loss="cross_entropy").notnull().all())
    ce = ds.sel(loss="cross_entropy")
    assert_close64(ce.test_ce_bias + ce.test_ce_variance, ce.test_loss.mean("init_seed"))
