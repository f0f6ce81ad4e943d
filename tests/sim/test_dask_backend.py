"""The Dask backend on a loopback LocalCluster: identical results, killed workers, resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import zarr
from conftest import SLOW

import ddlab
from ddlab.cli import main
from ddlab.sim import _backends

distributed = pytest.importorskip("distributed")

#: 4 widths x 3 data seeds, one chunk each with chunk_units = 6 (12 chunks); slow enough
#: (300 epochs) that a worker or the parent can be killed while chunks remain
UNITS = 6


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=":0") as c:
        yield c


@pytest.fixture
def slow(tmp_path: Path) -> Path:
    path = tmp_path / "slow.toml"
    path.write_text(SLOW)
    return path


def assert_same(a, b) -> None:
    """Every variable but the wall times equal bit for bit (NaN where NaN)."""
    names = sorted(set(a.data_vars) - {"wall_time"})
    assert names == sorted(set(b.data_vars) - {"wall_time"})
    for name in names:
        assert np.array_equal(a[name].values, b[name].values, equal_nan=True), name


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def _stored(out: Path) -> int:
    try:
        return int(zarr.open_array(out / "completed", mode="r")[...].sum())
    except (FileNotFoundError, ValueError, KeyError):
        return 0


def _when_stored(out: Path, action, timeout: float = 120) -> threading.Thread:
    """Run ``action`` in a thread as soon as the store at ``out`` holds a chunk."""
    def watch():
        deadline = time.time() + timeout
        while _stored(out) == 0 and time.time() < deadline:
            time.sleep(0.02)
        action()
    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_dask_results_equal_the_local_backend_bit_for_bit(tmp_path, config, cluster):
    local = ddlab.run(config, device="cpu", progress=False, chunk_units=UNITS,
                      out=tmp_path / "local.zarr")
    on_dask = ddlab.run(config, progress=False, chunk_units=UNITS, out=tmp_path / "dask.zarr",
                        backend="dask", scheduler=cluster.scheduler_address)
    assert_same(local, on_dask)
    assert on_dask.attrs["backend"].startswith("dask (dask tcp://127.0.0.1:")
    assert "backend='dask'" in on_dask.attrs["command"]
    in_memory = ddlab.run(config, progress=False, chunk_units=UNITS, backend="dask",
                          scheduler=cluster.scheduler_address)
    assert_same(local, in_memory)


@pytest.mark.slow
def test_a_killed_worker_costs_only_its_chunks(tmp_path, slow, cluster):
    client = distributed.Client(cluster)
    pids = client.run(os.getpid)
    client.close()
    victim = next(iter(pids.values()))
    out = tmp_path / "killed_worker.zarr"
    at_kill = []

    def kill():
        at_kill.append(_stored(out))
        os.kill(victim, signal.SIGKILL)

    killer = _when_stored(out, kill)
    ds = ddlab.run(slow, progress=False, chunk_units=UNITS, out=out, backend="dask",
                   scheduler=cluster.scheduler_address)
    killer.join()
    assert 0 < at_kill[0] < 72, "the worker was not killed during the run"
    with pytest.raises(ProcessLookupError):
        os.kill(victim, 0)
    assert bool(ds.completed.all()) and ds.attrs["chunks_computed"] == ds.attrs["n_chunks"] == 12
    assert_same(ds, ddlab.run(slow, device="cpu", progress=False, chunk_units=UNITS))


@pytest.mark.parametrize("sig", [signal.SIGINT,
                                 pytest.param(signal.SIGKILL, marks=pytest.mark.slow)])
def test_an_interrupted_parent_resumes_to_the_uninterrupted_result(tmp_path, slow, cluster,
                                                                   sig):
    out = tmp_path / "interrupted.zarr"
    command = [sys.executable, "-m", "ddlab", "run", str(slow), "--out", str(out), "--quiet",
               "--chunk-units", str(UNITS), "--backend", "dask", "--scheduler",
               cluster.scheduler_address]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    _when_stored(out, lambda: proc.send_signal(sig)).join()
    _, err = proc.communicate(timeout=120)
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "run the same command again" in err, err
    assert 0 < _stored(out) < 12 * 6, "the run was not interrupted partway"
    again = subprocess.run(command, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    resumed = ddlab.open_results(out)
    computed = int(resumed.attrs["history"].splitlines()[-1].split("(computed ")[1].split()[0])
    assert 0 < computed < 12
    assert_same(resumed, ddlab.run(slow, device="cpu", progress=False, chunk_units=UNITS))


def test_the_cli_runs_on_a_local_cluster_it_starts(capsys, tmp_path, config):
    out = tmp_path / "cli.zarr"
    assert main(["run", str(config), "--out", str(out), "--quiet", "--backend", "dask",
                 "--scheduler", "local", "--n-jobs", "2", "--chunk-units", str(UNITS)]) == 0
    ds = ddlab.open_results(out)
    assert "2 workers, 2 threads" in ds.attrs["backend"]
    assert_same(ds, ddlab.run(config, device="cpu", progress=False, chunk_units=UNITS))


BAD = [
    (["--backend", "spark"], "backend = 'spark': expected one of local, dask"),
    (["--scheduler", "tcp://127.0.0.1:1"], "only the dask backend takes a scheduler"),
    (["--backend", "dask", "--scheduler", "tcp://127.0.0.1:1"],
     "scheduler = 'tcp://127.0.0.1:1': cannot reach a Dask scheduler there within 1 s"),
    (["--backend", "dask", "--scheduler", "nonsense://x"], "scheduler = 'nonsense://x'"),
    (["--backend", "dask", "--device", "cuda"], "device = 'cuda': the dask backend trains on CPU"),
]


@pytest.mark.parametrize("args,message", BAD)
def test_bad_backend_input_is_one_line_and_touches_nothing(capsys, tmp_path, config,
                                                           monkeypatch, args, message):
    monkeypatch.setattr(_backends, "CONNECT_TIMEOUT_S", 1)
    out = tmp_path / "never.zarr"
    t0 = time.perf_counter()
    assert main(["run", str(config), "--out", str(out), "--quiet", *args]) == 2
    assert message in one_line(capsys)
    assert time.perf_counter() - t0 < 30
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.toml"]
