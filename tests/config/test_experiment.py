"""Experiment specification: parsing, resolution and clear errors on bad input."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

import ddlab
from ddlab.config import FIELDS, Sweep, distinct_log_ints


def test_defaults_are_the_seed_demo():
    exp = ddlab.load_experiment({})
    assert exp.model.width == tuple(range(1, 11))
    assert (exp.data.n_train, exp.data.dim, exp.train.epochs, exp.seeds.init) == (20, 5, 50, 100)
    assert exp.epochs == tuple(range(51))
    assert exp.n_params(3) == 6 * 3 + 4


def test_seed_experiment_files_load():
    high = ddlab.load_experiment(ROOT / "experiments/seed_high_noise.toml")
    low = ddlab.load_experiment(ROOT / "experiments/seed_low_noise.toml")
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
    ({"train": {"shuffle": "init"}}, "train.shuffle", "'init'"),
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


def test_experiments_built_by_hand_are_validated_again():
    exp = ddlab.load_experiment({})
    bad = dataclasses.replace(exp, train=dataclasses.replace(exp.train, lr=-0.5))
    with pytest.raises(ValueError, match=r"^train\.lr = -0\.5: must be > 0"):
        ddlab.load_experiment(bad)
    with pytest.raises(ValueError, match=r"^model\.width\[0\] = 0"):
        ddlab.load_experiment(ddlab.Experiment(model=ddlab.ModelSpec(width=(0, 2))))


def test_a_swept_key_never_reads_as_one_of_its_values():
    exp = ddlab.load_experiment({"data": {"noise": [0.01, 1.5]}, "train": {"lr": [0.1, 0.2]}})
    assert isinstance(exp.data.noise, Sweep) and tuple(exp.data.noise) == (0.01, 1.5)
    assert exp.data.noise != 0.01
    with pytest.raises(TypeError):
        exp.data.noise * 2.0
    assert exp.point((1, 0)).data.noise == 1.5 and exp.point((1, 0)).train.lr == 0.1
    assert [str(k) for k, _ in exp.sweep] == ["data.noise", "train.lr"]


def test_derived_values_follow_replace():
    exp = ddlab.load_experiment({"train": {"epochs": 50}})  # record = "all"
    assert exp.replace(train={"epochs": 80}).epochs == tuple(range(81))
    assert exp.replace(train={"epochs": 20}).epochs == tuple(range(21))
    logged = ddlab.load_experiment({"train": {"epochs": 100, "record": {"log": 10}}})
    assert logged.replace(train={"epochs": 1000}).epochs[-1] == 1000
    dense = ddlab.load_experiment({"train": {"epochs": 1000,
                                             "record": {"dense": 10, "log": 10}}})
    assert dense.epochs[:11] == tuple(range(11)) and dense.epochs[-1] == 1000
    assert dense.to_dict()["train"]["record"] == {"dense": 10, "log": 10}


def _same(token: str, default) -> bool:
    token = token.strip().strip("`").strip('"')
    if isinstance(default, bool):
        return token == str(default).lower()
    if isinstance(default, (int, float)):
        return float(token) == default
    if isinstance(default, list):
        return json.loads(token) == default
    return token == default


def test_readme_key_table_agrees_with_the_field_table():
    text = (ROOT / "README.md").read_text()
    table = text[text.index("| key | type | default | meaning |"):]
    table = table[:table.index("\n\n")]
    rows = {}
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        keys = re.findall(r"`(\w+\.\w+)`", cells[0])
        defaults = re.split(r",\s*(?![^\[]*\])", cells[2])
        for k, key in enumerate(keys):
            rows[key] = defaults[k] if len(defaults) == len(keys) else cells[2]
    assert set(rows) == {str(f.key) for f in FIELDS}
    for f in FIELDS:
        if not callable(f.default) and f.kind != "widths":
            assert _same(rows[str(f.key)], f.default), (str(f.key), rows[str(f.key)])


_values = {
    "data.noise": st.floats(0, 5), "data.n_train": st.integers(1, 50),
    "train.lr": st.floats(1e-4, 1.0), "train.optimizer": st.sampled_from(["sgd", "adam"]),
    "train.epochs": st.integers(0, 30), "model.depth": st.integers(1, 3),
    "train.batch_size": st.one_of(st.just("full"), st.integers(1, 8)),
}


@settings(max_examples=60, deadline=None)
@given(choice=st.fixed_dictionaries({}, optional={k: v for k, v in _values.items()}),
       swept=st.sampled_from([None, "data.noise", "train.lr", "model.depth"]),
       width=st.lists(st.integers(1, 40), min_size=1, max_size=5, unique=True))
def test_experiments_round_trip_through_to_dict(choice, swept, width):
    raw: dict = {"model": {"width": width}}
    for key, value in choice.items():
        section, name = key.split(".")
        raw.setdefault(section, {})[name] = value
    if swept:
        section, name = swept.split(".")
        raw.setdefault(section, {})[name] = {"data.noise": [0.1, 0.7], "train.lr": [0.01, 0.2],
                                             "model.depth": [1, 2]}[swept]
    exp = ddlab.load_experiment(raw)
    again = ddlab.load_experiment(exp.to_dict())
    assert again == exp and again.to_json() == exp.to_json()
    assert ddlab.load_experiment(exp) == exp
