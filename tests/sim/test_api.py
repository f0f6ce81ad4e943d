"""Public API surface, seeds, data, single-cell models and the dataset schema."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import ddlab
from ddlab.sim import cell_seed


def test_import_does_not_load_torch():
    code = "import sys, ddlab; ddlab.load_experiment({}); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_public_api_is_pinned():
    assert sorted(ddlab.__all__) == [
        "DataSpec", "Experiment", "ModelSpec", "Samples", "SeedSpec", "TrainSpec", "VARIABLES",
        "__version__", "analysis", "best_in_class", "bias_variance", "config", "decompose",
        "export_netcdf", "generalization_gap", "load_experiment", "make_data", "make_model",
        "minibatch_order", "open_results", "plan_chunks", "plot", "results", "risks", "run",
        "sim", "summarize", "table", "theory", "trained_model", "verify"]
    for name in ddlab.__all__:
        assert getattr(ddlab, name) is not None
    for module in (ddlab.config, ddlab.results, ddlab.analysis, ddlab.theory, ddlab.sim):
        for name in module.__all__:
            assert getattr(module, name) is not None, (module.__name__, name)


#: x_train[0] of data seed 0 under the default experiment (root seed 0, float32), as of
#: ddlab 0.4 (Philox streams keyed by 64-bit seeds)
GOLDEN_X0 = [0.7377519011497498, 0.29842308163642883, 0.7191749811172485, 0.7099775075912476,
             0.032442837953567505]


def test_cell_seed_golden_values():
    # a change here silently alters every stored result: it must be deliberate
    assert cell_seed(0, "init", 1, 0, 0) == 7618043528063943318
    assert cell_seed(1234, "x_train", 0) == 2717602292974574279
    assert cell_seed(7, "shuffle", 64, 3, 99) == 12925668696973575359
    exp = ddlab.load_experiment({"model": {"width": [2]}, "seeds": {"init": 1}})
    np.testing.assert_array_equal(ddlab.make_data(exp, 0).x_train[0].numpy(),
                                  np.float32(GOLDEN_X0))


def test_returned_tensors_cannot_poison_later_calls():
    for dtype in ("float64", "float32"):
        exp = ddlab.load_experiment({"train": {"dtype": dtype}, "data": {"n_population": 50},
                                     "model": {"width": [2]}, "seeds": {"init": 1}})
        before = ddlab.make_data(exp, 0)
        for t in before:
            t.logical_not_() if t.dtype == torch.bool else t.mul_(1e30)
        after = ddlab.make_data(exp, 0)
        assert not bool(after.flipped.any())
        assert float(after.x_pop.abs().max()) <= 1.0
        assert float(after.f_pop.abs().max()) < 10
    f32 = ddlab.make_data(ddlab.load_experiment({"data": {"n_population": 50}}), 0)
    assert float(f32.x_pop.abs().max()) <= 1.0


def test_make_data_refuses_a_swept_experiment():
    exp = ddlab.load_experiment({"data": {"noise": [0.01, 1.5]}})
    with pytest.raises(ValueError, match=r"data\.noise swept; make_data needs one point"):
        ddlab.make_data(exp, 0)
    assert float(ddlab.make_data(exp.point((1,)), 0).y_train.std()) > 0.5


def test_run_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_jobs = 0"):
        ddlab.run({}, n_jobs=0, progress=False)
    with pytest.raises(ValueError, match="device = 'tpu'"):
        ddlab.run({}, device="tpu", progress=False)


def test_make_data_is_deterministic_and_streams_are_independent():
    exp = ddlab.load_experiment({"data": {"n_train": 7, "n_test": 5, "n_population": 30}})
    a, b = ddlab.make_data(exp, 3), ddlab.make_data(exp, 3)
    for u, v in zip(a, b, strict=True):
        assert torch.equal(u, v)
    assert not torch.equal(a.x_train, ddlab.make_data(exp, 4).x_train)
    more = ddlab.make_data(exp.replace(data={"n_test": 50, "n_population": 0}), 3)
    assert torch.equal(more.x_train, a.x_train) and torch.equal(more.y_train, a.y_train)
    assert more.x_pop.shape == (0, 5)
    # y = f(x) + noise, f = exp(x0 - x1), x in [0, 1]^5
    np.testing.assert_allclose(a.f_train, torch.exp(a.x_train[:, 0] - a.x_train[:, 1]), rtol=1e-6)
    assert a.x_train.min() >= 0 and a.x_train.max() <= 1
    assert a.x_train.dtype == torch.float32


@pytest.mark.parametrize("target,dim,check", [
    ("sin_bump", 1, lambda x: torch.sin(x[:, 0]) + torch.exp(-x[:, 0] ** 2) / (1 + x[:, 0].abs())),
    ("quadratic", 1, lambda x: 1 + 2 * x[:, 0] - 3 * x[:, 0] ** 2),
])
def test_closed_form_targets(target, dim, check):
    exp = ddlab.load_experiment({"data": {"target": target, "dim": dim, "input": "normal",
                                          "n_population": 10},
                                 "train": {"dtype": "float64"}})
    s = ddlab.make_data(exp, 0)
    np.testing.assert_allclose(s.f_pop, check(s.x_pop), rtol=1e-12)


def test_linear_and_teacher_targets():
    exp = ddlab.load_experiment({"data": {"target": "linear", "dim": 40, "signal": 2.5,
                                          "input": "normal", "n_population": 20000},
                                 "train": {"dtype": "float64"}})
    s = ddlab.make_data(exp, 0)
    beta = torch.linalg.lstsq(s.x_pop, s.f_pop[:, None]).solution[:, 0]
    assert float(beta @ beta) == pytest.approx(2.5, rel=1e-9)
    t = ddlab.load_experiment({"data": {"target": "teacher", "dim": 3, "n_population": 50},
                               "seeds": {"data": 2}})
    f0, f1 = ddlab.make_data(t, 0), ddlab.make_data(t, 1)
    # the teacher is one fixed function: refit on data seed 1's inputs gives the same values
    from ddlab.sim._data import target_function
    f = target_function(t.data, t.seeds.root, 1)
    np.testing.assert_allclose(f(f0.x_pop.double()), f0.f_pop.double(), rtol=1e-6)
    # population points are shared by all data seeds, and so is the teacher
    assert f0.f_pop.std() > 0 and torch.equal(f0.f_pop, f1.f_pop)
    assert not torch.equal(f0.x_train, f1.x_train)


def test_make_model_has_default_linear_init_and_layout():
    exp = ddlab.load_experiment({"data": {"dim": 3}, "model": {"depth": 2, "activation": "tanh"}})
    model = ddlab.make_model(exp, 6, 0, 1)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]
    assert sum(p.numel() for p in model.parameters()) == exp.n_params(6)
    first = model[0].weight
    assert first.abs().max() <= 3**-0.5 and model[2].weight.abs().max() <= 6**-0.5
    assert torch.equal(first, ddlab.make_model(exp, 6, 0, 1)[0].weight)
    assert not torch.equal(first, ddlab.make_model(exp, 6, 0, 2)[0].weight)


def test_minibatch_order_is_a_permutation_per_epoch():
    exp = ddlab.load_experiment({"train": {"epochs": 4}, "data": {"n_train": 9}})
    order = ddlab.minibatch_order(exp, 3, 0, 0)
    assert order.shape == (4, 9)
    assert all(sorted(row.tolist()) == list(range(9)) for row in order)


def test_dataset_schema():
    ds = ddlab.run({"model": {"width": [2, 3]}, "train": {"epochs": 2},
                    "seeds": {"init": 2, "data": 2}, "data": {"n_population": 10}},
                   progress=False)
    assert ds.train_loss.dims == ("width", "epoch", "data_seed", "init_seed")
    assert list(ds.n_params.values) == [15, 22] and ds.n_params.dims == ("width",)
    for name in ds.variables:
        assert {"long_name", "units"} <= set(ds[name].attrs), name
    exp = ddlab.load_experiment(json.loads(ds.attrs["experiment"]))
    assert exp.model.width == (2, 3)
    assert ds.attrs["torch_version"] == torch.__version__ and ds.attrs["dtype"] == "float32"


def test_overflow_is_flagged_and_run_carries_on():
    ds = ddlab.run({"model": {"width": [2, 8]}, "train": {"optimizer": "sgd", "lr": 1e6,
                                                          "epochs": 30},
                    "seeds": {"init": 3}, "data": {"n_population": 0}}, progress=False)
    assert bool(ds.diverged.all())
    assert not np.isfinite(ds.train_loss.isel(epoch=-1)).any()
    assert np.isfinite(ds.train_loss.isel(epoch=0)).all()
