"""Classification data (issue 26): teacher_classes, mnist1d, per-seed splits and label noise."""

from __future__ import annotations

import importlib.util
import random
import sys

import numpy as np
import pytest
import torch

import ddlab
from ddlab.cli import main
from ddlab.sim import _data

CLASSES = {"data": {"target": "teacher_classes", "classes": 4, "dim": 6, "n_train": 4000,
                    "n_test": 300},
           "model": {"family": "random_features", "width": [5, 50]},
           "train": {"dtype": "float64"}, "seeds": {"data": 3, "init": 2}}


_FIND = importlib.util.find_spec


def _exp(**data) -> ddlab.Experiment:
    return ddlab.load_experiment({**CLASSES, "data": CLASSES["data"] | data})


@pytest.mark.parametrize("p", [0.0, 0.15, 0.5, 1.0])
def test_flip_fraction_is_p_within_binomial_error(p):
    for seed in range(3):
        s = ddlab.make_data(_exp(label_noise=p), seed)
        n = len(s.flipped)
        assert abs(float(s.flipped.double().mean()) - p) <= 4 * (p * (1 - p) / n) ** 0.5
        noisy, clean = s.y_train.argmax(1), s.y_train_clean.argmax(1)
        assert torch.equal(noisy != clean, s.flipped)  # a flipped label is never the clean one
        assert torch.equal(s.y_train_clean, ddlab.make_data(_exp(), seed).y_train)


def test_flipped_labels_are_uniform_over_the_other_classes():
    s = ddlab.make_data(_exp(label_noise=1.0), 0)
    shift = (s.y_train.argmax(1) - s.y_train_clean.argmax(1)) % 4
    counts = torch.bincount(shift, minlength=4).double().numpy()
    assert counts[0] == 0
    expected = len(shift) / 3
    chi2 = float(((counts[1:] - expected) ** 2 / expected).sum())
    assert chi2 < 13.8  # 2 degrees of freedom, p = 0.001


def test_label_noise_is_nested_in_p_and_test_labels_stay_clean():
    low, high = (ddlab.make_data(_exp(label_noise=p), 1) for p in (0.1, 0.3))
    assert bool((low.flipped <= high.flipped).all())  # one stream: more noise flips a superset
    both = low.flipped & high.flipped
    assert torch.equal(low.y_train[both], high.y_train[both])
    assert torch.equal(low.y_test, high.y_test) and torch.equal(low.x_train, high.x_train)
    assert torch.equal(low.y_test.sum(1), torch.ones(300, dtype=torch.float64))


def test_teacher_classes_uses_every_class_and_data_seeds_differ():
    a, b = ddlab.make_data(_exp(), 0), ddlab.make_data(_exp(), 1)
    assert a.y_train.shape == (4000, 4) and bool((a.y_train.sum(0) > 100).all())
    assert not torch.equal(a.x_train, b.x_train)
    assert a.x_pop.shape == (0, 6) and bool(a.f_train.isnan().all())


def _global_numpy_state():
    return np.random.get_state()  # noqa: NPY002 - the global state mnist1d reseeds


def test_mnist1d_split_per_data_seed_and_global_state_untouched():
    np_state, py_state = _global_numpy_state(), random.getstate()
    exp = ddlab.load_experiment({"data": {"target": "mnist1d", "n_train": 4000,
                                          "n_test": 12000},
                                 "model": {"family": "random_features", "width": [10]}})
    s0, s1 = ddlab.make_data(exp, 0), ddlab.make_data(exp, 1)
    assert s0.x_train.shape == (4000, 40) and s0.y_test.shape == (12000, 10)
    assert "mnist1d" not in sys.modules and "requests" not in sys.modules
    np.testing.assert_array_equal(_global_numpy_state()[1], np_state[1])
    assert random.getstate() == py_state
    x, labels = _data.mnist1d_arrays()
    assert x.shape == (16000, 40) and np.bincount(labels).tolist() == [1600] * 10
    rows = {r.tobytes() for r in x}
    assert len(rows) == 16000
    train = {r.tobytes() for r in s0.x_train.double().numpy()}
    assert not train & {r.tobytes() for r in s0.x_test.double().numpy()}
    assert train != {r.tobytes() for r in s1.x_train.double().numpy()}


def test_mnist1d_cache_is_keyed_and_checked(monkeypatch):
    _data.mnist1d_arrays.cache_clear()
    x, labels = _data.mnist1d_arrays()
    [path] = (ddlab.sim.cache_dir() / "mnist1d").glob("*.npz")
    _data.mnist1d_arrays.cache_clear()
    calls = []
    real_run = _data.subprocess.run
    monkeypatch.setattr(_data.subprocess, "run", lambda *a, **k: calls.append(1) or real_run(
        *a, **k))
    np.testing.assert_array_equal(_data.mnist1d_arrays()[0], x)  # from the cache
    assert not calls
    with np.load(path) as f:
        stored = dict(f)
    np.savez(path, **(stored | {"y": (labels + 1) % 10}))  # tampered: checksum fails
    _data.mnist1d_arrays.cache_clear()
    np.testing.assert_array_equal(_data.mnist1d_arrays()[1], labels)
    assert calls == [1]


@pytest.mark.parametrize("data, phrase", [
    ({"target": "teacher", "label_noise": 0.1}, "data.label_noise = 0.1: needs a classification"),
    ({"label_noise": 1.5}, "data.label_noise = 1.5: must be <= 1"),
    ({"target": "teacher_classes", "label_noise": -0.1}, "data.label_noise = -0.1: must be >= 0"),
    ({"target": "teacher_classes", "classes": 1}, "data.classes = 1: must be >= 2"),
    ({"target": "digits", "classes": 3, "n_train": 100, "n_test": 100},
     "data.classes = 3: target 'digits' has 10"),
    ({"target": "teacher_classes", "noise": 0.5}, "data.noise = 0.5: must be 0"),
    ({"target": "teacher_classes", "n_population": 10}, "data.n_population = 10: must be 0"),
])
def test_bad_classification_input_names_key_and_value(data, phrase, tmp_path, capsys):
    raw = {"data": data, "model": {"family": "random_features", "width": [3]}}
    with pytest.raises(ValueError, match="^" + phrase.replace(".", r"\.")):
        ddlab.load_experiment(raw)
    config = tmp_path / "bad.toml"
    body = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in data.items())
    config.write_text(f"[data]\n{body}[model]\nfamily = \"random_features\"\nwidth = [3]\n")
    assert main(["run", str(config), "--out", str(tmp_path / "o.zarr")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and phrase in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


def test_mnist1d_without_the_extra_exits_1_with_the_install_line(tmp_path, capsys, monkeypatch):
    from ddlab.config import _load

    monkeypatch.setattr(_load.importlib.util, "find_spec",
                        lambda name, *a: None if name == "mnist1d" else _FIND(name, *a))
    config = tmp_path / "m.toml"
    config.write_text('[data]\ntarget = "mnist1d"\nn_train = 50\nn_test = 50\n'
                      '[model]\nfamily = "random_features"\nwidth = [3]\n')
    assert main(["run", str(config), "--out", str(tmp_path / "o.zarr")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'ddlab[real]'" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.toml"]




def test_closed_form_fit_runs_on_a_noisy_classification_target(tmp_path):
    exp = _exp(n_train=60, n_test=40, label_noise=[0.0, 0.2])
    ds = ddlab.run(exp, out=tmp_path / "c.zarr", device="cpu", progress=False)
    assert ds["train_loss"].dims[0] == "label_noise" and ds.sizes["label_noise"] == 2
    assert bool(ds["train_loss"].notnull().all()) and bool(ds["test_loss"].notnull().all())
    clean, noisy = ds["train_loss"].sel(width=50).mean(("data_seed", "init_seed")).values[:, -1]
    assert noisy > clean  # flipped labels are harder to fit


def _reference_linear(exp: ddlab.Experiment, width: int, data_seed: int) -> dict[str, float]:
    """min-norm least squares on the first ``width`` inputs, metrics in plain numpy."""
    s = ddlab.make_data(exp, data_seed)
    x, y, xt, yt = (t.numpy() for t in (s.x_train, s.y_train, s.x_test, s.y_test))
    theta = np.linalg.pinv(x[:, :width]) @ y
    pred, pred_t = x[:, :width] @ theta, xt[:, :width] @ theta
    hit = pred.argmax(1) == y.argmax(1)
    flip = s.flipped.numpy()
    return {"train_loss": ((pred - y) ** 2).mean(), "test_loss": ((pred_t - yt) ** 2).mean(),
            "train_error": 1 - hit.mean(), "test_error": (pred_t.argmax(1) != yt.argmax(1)).mean(),
            "train_error_clean": (~hit[~flip]).mean(), "memorized_fraction": hit[flip].mean()}


def test_closed_form_classification_metrics_equal_a_numpy_fit(tmp_path):
    exp = ddlab.load_experiment({
        "data": {"target": "teacher_classes", "classes": 3, "dim": 12, "n_train": 40,
                 "n_test": 30, "label_noise": 0.3},
        "model": {"family": "linear", "width": [3, 12]},
        "train": {"dtype": "float64"}, "seeds": {"data": 2, "init": 1}})
    ds = ddlab.run(exp, out=tmp_path / "l.zarr", device="cpu", progress=False)
    assert not {"f_error", "f_error_se", "f_error_train"} & set(ds.data_vars)
    for width in (3, 12):
        for seed in (0, 1):
            ref = _reference_linear(exp, width, seed)
            cell = ds.sel(width=width, data_seed=seed, init_seed=0).isel(epoch=-1)
            for name, value in ref.items():
                np.testing.assert_allclose(float(cell[name]), value, rtol=1e-10, err_msg=name)
                assert ds[name].attrs["units"] == "1" and ds[name].attrs["long_name"]


def test_interpolating_random_features_memorize_every_flipped_label(tmp_path):
    exp = _exp(n_train=30, n_test=50, label_noise=[0.0, 0.4])
    exp = ddlab.load_experiment(exp.to_dict() | {"model": {"family": "random_features",
                                                          "width": [10, 200]}})
    ds = ddlab.run(exp, out=tmp_path / "m.zarr", device="cpu", progress=False)
    wide = ds.sel(width=200).isel(epoch=-1)
    assert float(abs(wide["train_error"]).max()) == 0.0
    assert float(abs(wide["train_error_clean"]).max()) == 0.0
    assert bool((wide["memorized_fraction"].sel(label_noise=0.4) == 1.0).all())
    assert bool(wide["memorized_fraction"].sel(label_noise=0.0).isnull().all())
    narrow = ds.sel(width=10, label_noise=0.4).isel(epoch=-1)
    assert float(narrow["memorized_fraction"].max()) < 1.0
    np.testing.assert_array_equal(  # without flips the clean split is the whole training set
        ds["train_error_clean"].sel(label_noise=0.0), ds["train_error"].sel(label_noise=0.0))


@pytest.mark.parametrize("extra, phrase", [
    ([], "train.loss = 'cross_entropy': needs a classification target"),
    (["--set", "data.target=teacher_classes", "--set", "model.family=random_features",
      "--set", "model.fit=min_norm"], "train.loss = 'cross_entropy': a closed-form fit"),
])
def test_cross_entropy_where_it_cannot_apply_exits_2(extra, phrase, tmp_path, capsys):
    config = tmp_path / "reg.toml"
    config.write_text('[data]\ntarget = "teacher"\n[model]\nwidth = [3]\n')
    argv = ["run", str(config), "--set", "train.loss=cross_entropy", *extra,
            "--out", str(tmp_path / "o.zarr")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and phrase in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reg.toml"]
