"""Experiment specification: parsing, resolution and clear errors on bad input."""

from __future__ import annotations

import pytest

import ddlab
from ddlab.experiment import distinct_log_ints


def test_defaults_are_the_seed_demo():
    exp = ddlab.load_experiment({})
    assert exp.model.width == tuple(range(1, 11))
    assert (exp.data.n_train, exp.data.dim, exp.train.epochs, exp.seeds.init) == (20, 5, 50, 100)
    assert exp.epochs == tuple(range(51))
    assert exp.n_params(3) == 6 * 3 + 4


def test_seed_experiment_files_load():
    high = ddlab.load_experiment("experiments/seed_high_noise.toml")
    low = ddlab.load_experiment("experiments/seed_low_noise.toml")
    assert (high.data.noise, high.train.lr) == (1.5, 0.01)
    assert (low.data.noise, low.train.lr) == (0.01, 0.05)
    assert high.name == "seed_high_noise"


def test_width_and_record_specs():
    exp = ddlab.load_experiment({"model": {"width": {"start": 1, "stop": 64, "num": 20,
                                                     "log": True}},
                                 "train": {"epochs": 1000, "record": {"log": 30}}})
    assert len(exp.model.width) == 20 and exp.model.width[0] == 1 and exp.model.width[-1] == 64
    assert len(exp.epochs) == 30 and exp.epochs[0] == 0 and exp.epochs[-1] == 1000
    exp = ddlab.load_experiment({"model": {"width": {"start": 2, "stop": 10, "step": 4}},
                                 "train": {"epochs": 10, "record": {"every": 4}}})
    assert exp.model.width == (2, 6, 10)
    assert exp.epochs == (0, 4, 8, 10)
    assert distinct_log_ints(1, 5, 9) == [1, 2, 3, 4, 5]


def test_roundtrip_through_dict():
    exp = ddlab.load_experiment({"train": {"batch_size": 4, "record": [0, 5, 50]}})
    assert ddlab.load_experiment(exp.to_dict()) == exp


@pytest.mark.parametrize("spec,key,value", [
    ({"data": {"target": "cubic"}}, "data.target", "'cubic'"),
    ({"model": {"activation": "gelu"}}, "model.activation", "'gelu'"),
    ({"train": {"optimizer": "adagrad"}}, "train.optimizer", "'adagrad'"),
    ({"model": {"width": [3, 0]}}, "model.width[1]", "0"),
    ({"model": {"width": []}}, "model.width", "[]"),
    ({"train": {"lr": 0}}, "train.lr", "0.0"),
    ({"train": {"lr": -0.1}}, "train.lr", "-0.1"),
    ({"train": {"lr": "fast"}}, "train.lr", "'fast'"),
    ({"data": {"n_train": 0}}, "data.n_train", "0"),
    ({"data": {"noise": -1}}, "data.noise", "-1.0"),
    ({"data": {"target": "sin_bump", "dim": 3}}, "data.dim", "3"),
    ({"train": {"batch_size": 0}}, "train.batch_size", "0"),
    ({"train": {"epochs": 2.5}}, "train.epochs", "2.5"),
    ({"train": {"record": [0, 99]}}, "train.record", "[0, 99]"),
    ({"train": {"dtype": "float16"}}, "train.dtype", "'float16'"),
    ({"seeds": {"init": 0}}, "seeds.init", "0"),
    ({"model": {"depth": 0}}, "model.depth", "0"),
    ({"train": {"nesterov": True}}, "train.nesterov", "True"),
])
def test_bad_values_name_key_and_value(spec, key, value):
    with pytest.raises(ValueError) as err:
        ddlab.load_experiment(spec)
    assert str(err.value).startswith(f"{key} = {value}:"), str(err.value)


def test_unknown_key_suggests_closest():
    with pytest.raises(ValueError, match=r"train\.lrr = 0\.1: unknown key \(did you mean 'lr'\?\)"):
        ddlab.load_experiment({"train": {"lrr": 0.1}})
    with pytest.raises(ValueError, match="did you mean 'model'"):
        ddlab.load_experiment({"modle": {}})


def test_invalid_toml_names_the_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[train]\nlr = 0.1\nepochs = = 3\n")
    with pytest.raises(ValueError, match="line 3"):
        ddlab.load_experiment(path)


def test_run_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_jobs = 0"):
        ddlab.run({}, n_jobs=0, progress=False)
    with pytest.raises(ValueError, match="device = 'tpu'"):
        ddlab.run({}, device="tpu", progress=False)
