"""Zarr result stores, resume after interruption, the CLI, and clear errors that touch nothing."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr
from conftest import HWM, ROOT, TINY, digest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ddlab
from ddlab.results import MemoryStore, ZarrStore, open_results, provenance

VARS = ["train_loss", "test_loss", "f_error_train", "f_error", "diverged", "completed"]


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ddlab", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_store_equals_in_memory_run(stored, config):
    mem = ddlab.run(config, device="cpu", progress=False)
    lazy = open_results(stored)
    assert lazy.train_loss.chunks is None
    xr.testing.assert_equal(lazy[VARS].load(), mem[VARS])
    chunked = open_results(stored, chunks={})
    assert chunked.train_loss.chunks is not None  # dask
    xr.testing.assert_equal(chunked[VARS].load(), mem[VARS])
    assert lazy.attrs["experiment"] == mem.attrs["experiment"]
    for key in ("command", "ddlab_version", "git_commit", "git_dirty", "torch_version",
                "numpy_version", "xarray_version", "device", "dtype", "started", "finished",
                "wall_time_s", "history"):
        assert key in lazy.attrs, key
    assert float(lazy.wall_time.min()) > 0


def test_results_are_cf_valid_and_open_without_warnings(stored):
    from cf_units import Unit

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plain = xr.open_zarr(stored)
    assert plain.attrs["Conventions"] == "CF-1.11"
    for key in ("title", "source", "history"):
        assert plain.attrs[key], key
    for name in plain.variables:
        attrs = plain[name].attrs
        assert attrs.get("long_name"), name
        unit = Unit(attrs["units"])  # raises on anything UDUNITS rejects
        assert not unit.is_unknown() and not unit.is_no_unit(), (name, attrs["units"])
    for name in ("width", "epoch", "n_params", "train_loss", "f_error"):
        assert plain[name].attrs["units"] == "1", name
    assert plain.wall_time.attrs["units"] == "s"
    for name, meanings in (("completed", "pending completed"), ("diverged", "finite diverged")):
        assert list(plain[name].attrs["flag_values"]) == [0, 1]
        assert plain[name].attrs["flag_meanings"] == meanings
    assert "computed in float64" in plain.train_loss.attrs["comment"]


def test_open_results_shows_only_completed_cells(tmp_path, config):
    exp = ddlab.load_experiment(config)
    store = ZarrStore(tmp_path / "part.zarr", exp, provenance(exp, "test", "cpu", {}))
    region = {"width": slice(1, 2), "data_seed": slice(0, 1), "init_seed": slice(0, 3)}
    values = np.arange(1 * 9 * 1 * 3, dtype=float).reshape(1, 9, 1, 3)
    store.write(region, {"train_loss": values})
    # a region whose data reached the disk but was never marked complete stays hidden
    zarr.open_group(tmp_path / "part.zarr", mode="r+")["train_loss"][2:3, :, 1:2, :] = 7.0
    for chunks in (None, {}):
        ds = open_results(tmp_path / "part.zarr", chunks=chunks).load()
        np.testing.assert_array_equal(ds.train_loss.isel(width=1, data_seed=0), values[0, :, 0])
        assert int(ds.completed.sum()) == 3
        assert bool(ds.train_loss.isel(width=2).isnull().all())


def test_rerun_computes_nothing_and_keeps_the_provenance(stored, config):
    first = dict(open_results(stored).attrs)
    before = digest(stored / "train_loss")
    ds = ddlab.run(config, out=stored, device="cpu", progress=False)
    assert digest(stored / "train_loss") == before
    for key in ("wall_time_s", "started", "finished", "chunks_computed", "command"):
        assert ds.attrs[key] == first[key], key
    assert ds.attrs["history"].startswith(first["history"])
    assert ds.attrs["history"].splitlines()[-1].endswith("(computed 0 of 2 chunks)")
    other = ddlab.load_experiment(config).replace(train={"lr": 0.02})
    with pytest.raises(ValueError, match=r"train\.lr: 0\.01 stored, 0\.02 now.*--fresh"):
        ddlab.run(other, out=stored, device="cpu", progress=False)
    ds = ddlab.run(other, out=stored, device="cpu", progress=False, fresh=True)
    assert ddlab.results.experiment_of(ds).train.lr == 0.02


def test_an_invalid_experiment_touches_nothing_and_half_made_stores_are_replaceable(
        tmp_path, config):
    exp = ddlab.load_experiment(config)
    bad = dataclasses.replace(exp, train=dataclasses.replace(exp.train, lr=-0.5))
    out = tmp_path / "bad.zarr"
    with pytest.raises(ValueError, match=r"train\.lr = -0\.5"):
        ddlab.run(bad, out=out, progress=False)
    assert not out.exists()
    # a store ddlab began whose experiment this version cannot read: refused, then replaced
    attrs = provenance(exp, "test", "cpu", {})
    attrs["experiment"] = attrs["experiment"].replace('"lr": 0.01', '"lr": -0.5')
    ZarrStore(out, exp, attrs)
    with pytest.raises(ValueError, match=r"cannot read.*--fresh"):
        ddlab.run(exp, out=out, progress=False)
    ds = ddlab.run(exp, out=out, progress=False, fresh=True)
    assert bool(ds.completed.all())


def test_provenance_records_what_was_called(tmp_path, config):
    ds = ddlab.run(config, device="cpu", progress=False)
    assert ds.attrs["command"] == ("ddlab.run('tiny', device='cpu', n_jobs=1, out=None, "
                                   "fresh=False)")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True)
    if head.returncode == 0 and ddlab.__file__.startswith(str(ROOT)):
        assert ds.attrs["git_commit"] == head.stdout.strip()
        assert ds.attrs["git_dirty"] in ("true", "false")
    code = ("import ddlab; ds = ddlab.run({'model': {'width': [1]}, 'train': {'epochs': 1}, "
            "'seeds': {'init': 1}}, progress=False); print(ds.attrs['command'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip().startswith("ddlab.run('experiment'")


def test_stores_outside_the_checkout_record_no_commit(tmp_path, monkeypatch):
    from ddlab.results import _provenance

    _provenance.git_state.cache_clear()
    fake = tmp_path / "site" / "ddlab" / "results" / "_provenance.py"
    fake.parent.mkdir(parents=True)
    monkeypatch.setattr(_provenance, "__file__", str(fake))
    try:
        assert _provenance.git_state() == ("", None)
    finally:
        _provenance.git_state.cache_clear()


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), units=st.integers(1, 12),
       noise=st.sampled_from([None, [0.1, 0.5]]))
def test_store_write_then_read_is_identical(tmp_path, seed, units, noise):
    spec = {"model": {"width": [1, 2, 4]}, "train": {"epochs": 3},
            "data": {"n_population": 5}, "seeds": {"data": 2, "init": 2}}
    if noise:
        spec["data"]["noise"] = noise
    exp = ddlab.load_experiment(spec)
    attrs = provenance(exp, "test", "cpu", {})
    path = tmp_path / f"h{seed}-{units}.zarr"
    mem, disk = MemoryStore(exp, attrs), ZarrStore(path, exp, attrs, fresh=True)
    rng = np.random.default_rng(seed)
    for chunk in ddlab.plan_chunks(exp, units):
        region = chunk.region(exp)
        arrays = {}
        for name in ddlab.results.variable_dims(exp):
            if name == "completed":
                continue
            var = mem.ds[name]
            shape = var[{d: region.get(d, slice(None)) for d in var.dims}].shape
            arrays[name] = rng.random(shape) < 0.5 if var.dtype == bool else rng.normal(
                size=shape)
        mem.write(region, arrays)
        disk.write(region, arrays)
    xr.testing.assert_identical(open_results(path).drop_attrs(), mem.ds.drop_attrs())


def _partial_run(tmp_path: Path, config: Path, sig: int) -> tuple[Path, subprocess.Popen]:
    """Start `ddlab run` on a slow grid and send ``sig`` once some chunks are stored.

    24 chunks (one per width and data seed): the first stored chunk leaves ample
    time to interrupt the run partway. SIGINT is reset to its default in the
    child, since a shell without job control starts background jobs with SIGINT
    ignored, and Python then never raises KeyboardInterrupt.
    """
    config.write_text(TINY.replace("epochs = 8", "epochs = 200\nrecord = {log = 20}")
                      .replace("width = [1, 3, 5]", f"width = {list(range(1, 13))}")
                      .replace("init = 3", "init = 6"))
    out = tmp_path / "killed.zarr"
    proc = subprocess.Popen([sys.executable, "-m", "ddlab", "run", str(config), "--out",
                             str(out), "--quiet", "--chunk-units", "6", "--device", "cpu"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            done = zarr.open_array(out / "completed", mode="r")[...]
        except (FileNotFoundError, ValueError, KeyError):
            done = np.zeros(1, bool)
        if done.sum() >= 1:
            break
        time.sleep(0.02)
    os.kill(proc.pid, sig)
    proc.wait(timeout=60)
    done = zarr.open_array(out / "completed", mode="r")[...]
    assert 0 < done.sum() < done.size, "the run was not interrupted partway"
    return out, proc


@pytest.mark.parametrize("sig", [pytest.param(signal.SIGKILL, marks=pytest.mark.slow),
                                 signal.SIGINT])
def test_interrupted_run_resumes_to_identical_dataset(tmp_path, config, sig):
    out, proc = _partial_run(tmp_path, config, sig)
    _, err = proc.communicate()
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "run the same command again" in err
        assert "Traceback" not in err
    again = _cli("run", str(config), "--out", str(out), "--quiet", "--chunk-units", "6",
                 "--device", "cpu")
    assert again.returncode == 0, again.stderr
    resumed = open_results(out)
    last = resumed.attrs["history"].splitlines()[-1]
    computed = int(last.split("(computed ")[1].split(" of ")[0])
    assert 0 < computed < resumed.attrs["n_chunks"] == 24
    whole = ddlab.run(config, device="cpu", progress=False, chunk_units=6)
    xr.testing.assert_equal(resumed[VARS].load(), whole[VARS])


#: a grid with 1.4 GB of results, created as a store in a fresh process that prints the
#: growth of its memory high-water mark (VmHWM) while it does
BIG = {"name": "big", "data": {"dim": 2, "n_train": 8, "n_test": 8}, "model": {"width": [1, 2]},
       "train": {"epochs": 3000}, "seeds": {"data": 4, "init": 1500}}
SKELETON = HWM + """
import json, sys
import ddlab
from ddlab.results import ZarrStore

exp = ddlab.load_experiment(json.loads(sys.argv[2]))
before = hwm()
ZarrStore(sys.argv[1], exp, {}, fresh=False).close()
print("grew", hwm() - before)
"""


def test_a_new_store_skeleton_takes_what_skeleton_bytes_says_not_its_results(tmp_path):
    from ddlab.results import skeleton_bytes, storage_bytes

    done = subprocess.run([sys.executable, "-c", SKELETON, str(tmp_path / "big.zarr"),
                           json.dumps(BIG)], capture_output=True, text=True, check=True)
    grew = int(done.stdout.split("grew")[-1])
    exp = ddlab.load_experiment(BIG)
    assert storage_bytes(exp) > 1e9 and grew < storage_bytes(exp) / 10
    assert abs(skeleton_bytes(exp) / grew - 1) < 0.3, (skeleton_bytes(exp), grew)
