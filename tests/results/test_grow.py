"""A store grows by more of something: only the new cells are computed, and the grown
store is identical to a fresh run of the larger experiment."""

from __future__ import annotations

import pytest
import xarray as xr

import ddlab
from ddlab.results import open_results

BASE = {
    "data": {"n_train": 16, "n_test": 12, "n_population": 32, "noise": [0.0, 0.5]},
    "model": {"width": [1, 3, 8]},
    "train": {"epochs": 6, "dtype": "float64", "record": [0, 2, 4, 6]},
    "seeds": {"root": 5, "data": 2, "init": 3},
}


def _exp(**changes):
    spec = {k: dict(v) for k, v in BASE.items()}
    for key, value in changes.items():
        section, name = key.split("__")
        spec[section][name] = value
    return ddlab.load_experiment(spec)


def _assert_same_data(grown: xr.Dataset, fresh: xr.Dataset) -> None:
    data = [v for v in fresh.data_vars if v != "wall_time"]
    xr.testing.assert_identical(grown[data].drop_attrs(), fresh[data].drop_attrs())


GROWTHS = {
    "init seeds": {"seeds__init": 5},
    "data seeds": {"seeds__data": 4},
    "widths": {"model__width": [1, 2, 3, 5, 8]},
    "swept values": {"data__noise": [0.0, 0.25, 0.5, 1.0]},
    "recorded epochs": {"train__record": [0, 1, 2, 3, 4, 6]},
}


@pytest.mark.parametrize("bias_variance", [True, False])
@pytest.mark.parametrize("growth", GROWTHS)
def test_a_grown_store_equals_a_fresh_run_of_the_larger_grid(tmp_path, growth, bias_variance):
    small = _exp(train__record_bias_variance=bias_variance)
    big = _exp(train__record_bias_variance=bias_variance, **GROWTHS[growth])
    out = tmp_path / "g.zarr"
    ddlab.run(small, out=out, progress=False)
    before = open_results(out)
    ddlab.run(big, out=out, progress=False)
    grown = open_results(out)
    _assert_same_data(grown, ddlab.run(big, progress=False))
    assert "grew the store" in grown.attrs["history"]
    assert grown.attrs["chunks_computed"] > before.attrs["chunks_computed"]


def test_growing_computes_only_the_new_cells(tmp_path, monkeypatch):
    from ddlab.sim import _run

    seen = []
    worker = _run._worker

    def spy(exp, chunk, *args):
        seen.append(chunk.n_cells(exp))
        return worker(exp, chunk, *args)

    monkeypatch.setattr(_run, "_worker", spy)
    out = tmp_path / "g.zarr"
    small = _exp(train__record_bias_variance=False)
    ddlab.run(small, out=out, progress=False)
    seen.clear()
    big = _exp(train__record_bias_variance=False, seeds__init=5, model__width=[1, 3, 4, 8])
    ddlab.run(big, out=out, progress=False)
    # new: width 4 (2 noise x 2 data x 5 inits) and inits 3, 4 of the old widths
    assert sum(seen) == 2 * 2 * 5 + 2 * 2 * 3 * 2
    assert open_results(out).completed.all()


def test_a_new_swept_key_takes_the_stored_value_as_one_of_its_values(tmp_path):
    out = tmp_path / "g.zarr"
    ddlab.run(_exp(data__noise=0.5), out=out, progress=False)
    ddlab.run(_exp(data__noise=[0.0, 0.5]), out=out, progress=False)
    _assert_same_data(open_results(out), ddlab.run(_exp(data__noise=[0.0, 0.5]), progress=False))


@pytest.mark.parametrize("change,named", [
    ({"seeds__init": 2}, "seeds.init: 3 stored, 2 now"),
    ({"model__width": [1, 8]}, "model.width"),
    ({"train__lr": 0.02}, "train.lr: 0.01 stored, 0.02 now"),
    ({"data__noise": [0.0, 0.7]}, "data.noise"),
    ({"train__epochs": 8}, "train.epochs: 6 stored, 8 now"),
])
def test_anything_but_growth_is_refused_naming_the_keys(tmp_path, change, named):
    out = tmp_path / "g.zarr"
    ddlab.run(_exp(), out=out, progress=False)
    with pytest.raises(ValueError, match="different experiment") as err:
        ddlab.run(_exp(**change), out=out, progress=False)
    assert named in str(err.value) and "--fresh" in str(err.value)
    assert "\n" not in str(err.value)
    _assert_same_data(open_results(out), ddlab.run(_exp(), progress=False))


def test_an_interrupted_grow_resumes(tmp_path, monkeypatch):
    from ddlab.sim import _run

    out = tmp_path / "g.zarr"
    ddlab.run(_exp(), out=out, progress=False)
    worker, calls = _run._worker, []

    def dies(exp, chunk, *args):
        if calls:
            raise KeyboardInterrupt
        calls.append(chunk)
        return worker(exp, chunk, *args)

    big = _exp(seeds__data=4)
    monkeypatch.setattr(_run, "_worker", dies)
    with pytest.raises(KeyboardInterrupt):
        ddlab.run(big, out=out, progress=False)
    partial = open_results(out)
    assert 0 < partial.completed.mean() < 1
    monkeypatch.setattr(_run, "_worker", worker)
    ddlab.run(big, out=out, progress=False)
    _assert_same_data(open_results(out), ddlab.run(big, progress=False))


@pytest.mark.parametrize("stage", ["renamed the old store", "built the new one"])
def test_a_grow_cut_between_its_renames_recovers(tmp_path, stage):
    from ddlab.results._store import _grow_paths

    out = tmp_path / "g.zarr"
    ddlab.run(_exp(), out=out, progress=False)
    tmp, old = _grow_paths(out)
    if stage == "renamed the old store":  # killed after the first rename
        out.rename(old)
    else:  # killed while the grown store was being built
        ddlab.run(_exp(), out=tmp, progress=False)
    ddlab.run(_exp(seeds__data=3), out=out, progress=False)
    assert not tmp.exists() and not old.exists()
    _assert_same_data(open_results(out), ddlab.run(_exp(seeds__data=3), progress=False))


LONGER = [
    ("adam", {}, "full"),
    ("sgd", {"lr": 0.05, "momentum": 0.9}, 5),
    ("rmsprop", {"lr": 0.003, "momentum": 0.3}, 4),
    ("sgd", {"lr": 0.05, "shuffle": "data"}, 3),
]


@pytest.mark.parametrize("optimizer,extra,batch", LONGER)
def test_training_longer_continues_from_kept_state(tmp_path, optimizer, extra, batch):
    train = {"optimizer": optimizer, "batch_size": batch, "keep_state": True, "record": "all",
             **extra}
    short = _exp(**{f"train__{k}": v for k, v in train.items()})
    long = short.replace(train={"epochs": 11})
    out = tmp_path / "g.zarr"
    ddlab.run(short, out=out, progress=False)
    ddlab.run(long, out=out, progress=False)
    grown = open_results(out)
    fresh = ddlab.run(long, progress=False)
    _assert_same_data(grown, fresh)
    assert grown.attrs["continue_from_epoch"] == 0
    assert "state" in grown and int(grown.sizes["state_entry"]) > 0


def test_training_longer_needs_kept_state_and_a_finished_store(tmp_path, monkeypatch):
    from ddlab.sim import _run

    out = tmp_path / "g.zarr"
    short = _exp(train__keep_state=True, train__record="all")
    ddlab.run(short.replace(seeds={"data": 1}), out=out, progress=False)
    with pytest.raises(ValueError, match="train longer on its own"):
        ddlab.run(short.replace(train={"epochs": 9}), out=out, progress=False)
    plain = tmp_path / "plain.zarr"
    ddlab.run(_exp(train__record="all"), out=plain, progress=False)
    with pytest.raises(ValueError, match="keep_state = true in both"):
        ddlab.run(_exp(train__record="all", train__epochs=9), out=plain, progress=False)
    partial = tmp_path / "partial.zarr"
    monkeypatch.setattr(_run, "_worker", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        ddlab.run(short, out=partial, progress=False)
    with pytest.raises(ValueError, match="run the stored experiment to the end"):
        ddlab.run(short.replace(train={"epochs": 9}), out=partial, progress=False)
