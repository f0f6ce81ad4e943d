"""Zarr result stores, resume after interruption, the CLI, and clear errors that touch nothing."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr

import ddlab
from ddlab.store import ZarrStore, export_netcdf, open_results

TINY = """
name = "tiny"
[data]
dim = 3
n_train = 10
n_test = 6
n_population = 40
noise = 0.5
[model]
width = [1, 3, 5]
[train]
epochs = 8
dtype = "float64"
[seeds]
data = 2
init = 3
"""
VARS = ["train_loss", "test_loss", "f_error_train", "f_error", "diverged", "completed"]


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ddlab", *args], capture_output=True,
                          text=True, cwd=cwd)


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(path)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


@pytest.fixture
def stored(tmp_path: Path, config: Path) -> Path:
    out = tmp_path / "tiny.zarr"
    ddlab.run(config, out=out, device="cpu", progress=False)
    return out


def test_store_equals_in_memory_run(stored, config):
    mem = ddlab.run(config, device="cpu", progress=False)
    disk = open_results(stored)
    assert disk.train_loss.chunks is not None  # lazy
    xr.testing.assert_equal(disk[VARS].load(), mem[VARS])
    assert disk.attrs["experiment"] == mem.attrs["experiment"]
    for v in disk.data_vars:
        assert {"long_name", "units"} <= set(disk[v].attrs), v
    for key in ("command", "ddlab_version", "git_commit", "torch_version", "numpy_version",
                "xarray_version", "device", "dtype", "started", "finished", "wall_time_s"):
        assert key in disk.attrs, key
    assert float(disk.wall_time.min()) > 0


def test_open_results_shows_only_completed_cells(tmp_path, config):
    exp = ddlab.load_experiment(config)
    store = ZarrStore(tmp_path / "part.zarr", exp, {"experiment": exp.to_json(), "name": "t"})
    region = {"width": slice(1, 2), "data_seed": slice(0, 1), "init_seed": slice(0, 3)}
    values = np.arange(1 * 9 * 1 * 3, dtype=float).reshape(1, 9, 1, 3)
    store.write(region, {"train_loss": values})
    # a region whose data reached the disk but was never marked complete stays hidden
    zarr.open_group(tmp_path / "part.zarr", mode="r+")["train_loss"][2:3, :, 1:2, :] = 7.0
    ds = open_results(tmp_path / "part.zarr").load()
    np.testing.assert_array_equal(ds.train_loss.isel(width=1, data_seed=0), values[0, :, 0])
    assert int(ds.completed.sum()) == 3
    assert bool(ds.train_loss.isel(width=2).isnull().all())


def test_export_netcdf(tmp_path, stored):
    out = export_netcdf(stored, tmp_path / "copy.nc")
    back = xr.open_dataset(out, engine="netcdf4").load()
    xr.testing.assert_equal(back[VARS], open_results(stored)[VARS].load())
    proc = _cli("export", str(stored), "--netcdf", str(tmp_path / "cli.nc"))
    assert proc.returncode == 0 and (tmp_path / "cli.nc").exists()


def test_rerun_computes_nothing_and_other_experiment_is_refused(stored, config):
    before = _digest(stored)
    ds = ddlab.run(config, out=stored, device="cpu", progress=False)
    assert ds.attrs["chunks_computed"] == 0
    other = ddlab.load_experiment(config).replace(train={"lr": 0.02})
    with pytest.raises(ValueError, match=r"train\.lr: 0\.01 stored, 0\.02 now.*--fresh"):
        ddlab.run(other, out=stored, device="cpu", progress=False)
    ds = ddlab.run(other, out=stored, device="cpu", progress=False, fresh=True)
    assert json.loads(ds.attrs["experiment"])["train"]["lr"] == 0.02
    assert before != _digest(stored)


def _partial_run(tmp_path: Path, config: Path, sig: int) -> tuple[Path, subprocess.Popen]:
    """Start `ddlab run` on a slow grid and send ``sig`` once some chunks are stored.

    24 chunks (one per width and data seed): the first stored chunk leaves ample
    time to interrupt the run partway. SIGINT is reset to its default in the
    child, since a shell without job control starts background jobs with SIGINT
    ignored, and Python then never raises KeyboardInterrupt.
    """
    config.write_text(TINY.replace("epochs = 8", "epochs = 200")
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


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_run_resumes_to_identical_dataset(tmp_path, config, sig):
    out, proc = _partial_run(tmp_path, config, sig)
    if sig == signal.SIGINT:
        _, err = proc.communicate()
        assert proc.returncode == 130 and "run the same command again" in err
        assert "Traceback" not in err
    again = _cli("run", str(config), "--out", str(out), "--quiet", "--chunk-units", "6",
                 "--device", "cpu")
    assert again.returncode == 0, again.stderr
    resumed = open_results(out)
    assert 0 < resumed.attrs["chunks_computed"] < resumed.attrs["n_chunks"]
    whole = ddlab.run(config, device="cpu", progress=False, chunk_units=6)
    xr.testing.assert_equal(resumed[VARS].load(), whole[VARS])


def test_set_overrides_reach_run_and_stored_config(tmp_path, config):
    out = tmp_path / "over.zarr"
    proc = _cli("run", str(config), "--out", str(out), "--quiet", "--set", "train.lr=0.05",
                "--set", "model.width=[2,4]", "--set", "data.noise=[0.1,1.5]",
                "--set", "train.optimizer=sgd")
    assert proc.returncode == 0, proc.stderr
    ds = open_results(out)
    cfg = json.loads(ds.attrs["experiment"])
    assert cfg["train"]["lr"] == 0.05 and cfg["train"]["optimizer"] == "sgd"
    assert list(ds.width.values) == [2, 4] and list(ds.noise.values) == [0.1, 1.5]
    assert "--set train.lr=0.05" in ds.attrs["command"]
    direct = ddlab.run(ddlab.load_experiment(cfg), device="cpu", progress=False)
    xr.testing.assert_equal(ds[VARS].load(), direct[VARS])


def test_default_output_path_and_info(tmp_path, config):
    proc = _cli("run", str(config), "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    store = tmp_path / "results" / "tiny.zarr"
    assert store.is_dir()
    info = _cli("info", str(store))
    assert info.returncode == 0
    assert "completed: 18 of 18 cells (100.0%)" in info.stdout
    assert "width=3" in info.stdout and '"lr": 0.01' in info.stdout
    show = _cli("show", str(config), "--set", "data.noise=[0.1,0.2]")
    assert "noise (2) x width (3) x data_seed (2) x init_seed (3) = 36 cells" in show.stdout
    assert "cost: about" in show.stdout


BAD = [
    ("[train]\nlr = = 0.1\n", [], "invalid TOML", "line 2"),
    ("[train]\nlrr = 0.1\n", [], "train.lrr = 0.1: unknown key", "did you mean 'lr'"),
    ("", ["train.optimiser=sgd"], "train.optimiser = 'sgd': unknown key", "'optimizer'"),
    ("[train]\nepochs = 'many'\n", [], "train.epochs = 'many'", "expected an integer"),
    ("[model]\nwidth = []\n", [], "model.width = []", "empty width grid"),
    ("[data]\nn_train = 0\n", [], "data.n_train = 0", "must be >= 1"),
    ("[seeds]\ninit = -3\n", [], "seeds.init = -3", "must be >= 1"),
    ("", ["train.momentum=1.5"], "train.momentum = 1.5", "must be < 1.0"),
    ("", ["model.activation=gelu"], "model.activation = 'gelu'", "expected one of"),
    ("", ["data.noise=[0.1,-1]"], "data.noise[1] = -1.0", "must be >= 0"),
]


@pytest.mark.parametrize("text,sets,message,detail", BAD)
def test_bad_input_exits_2_and_leaves_store_untouched(tmp_path, stored, text, sets,
                                                      message, detail):
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY + text if "[" not in text else text)
    before = _digest(stored)
    args = [f"--set={s}" for s in sets]
    proc = _cli("run", str(bad), "--out", str(stored), "--quiet", *args)
    assert proc.returncode == 2
    assert message in proc.stderr and detail in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert _digest(stored) == before


def test_unwritable_output_and_other_experiment_exit_2(tmp_path, stored, config):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    proc = _cli("run", str(config), "--out", str(blocker / "x.zarr"), "--quiet")
    assert proc.returncode == 2 and "cannot write there" in proc.stderr
    before = _digest(stored)
    proc = _cli("run", str(config), "--out", str(stored), "--quiet", "--set", "train.lr=0.5")
    assert proc.returncode == 2 and "holds a different experiment" in proc.stderr
    assert "--fresh" in proc.stderr and "Traceback" not in proc.stderr
    assert _digest(stored) == before
    # a directory that is not a ddlab store is never overwritten, even with --fresh
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    proc = _cli("run", str(config), "--out", str(other), "--quiet", "--fresh")
    assert proc.returncode == 2 and "not a ddlab result store" in proc.stderr
    assert (other / "notes.txt").read_text() == "keep me"
