"""Storage faults: a disk that fills up mid-run, and two runs on one store at once."""

from __future__ import annotations

import errno
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zarr
import zarr.storage._local as zarr_local
from conftest import SLOW

import ddlab
from ddlab.cli import main
from ddlab.cli._run import EXIT_DISK_FULL
from ddlab.results import StoreLock

UNITS = ["--chunk-units", "6", "--device", "cpu"]
#: 12 chunks of about half a second each, so that a second run starts while the first runs


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def assert_same(a, b) -> None:
    for name in sorted(set(a.data_vars) - {"wall_time"}):
        assert np.array_equal(a[name].values, b[name].values, equal_nan=True), name


def _computed(ds) -> list[int]:
    """Chunks each call computed, from the store's history lines."""
    return [int(line.split("(computed ")[1].split()[0])
            for line in ds.attrs["history"].splitlines() if "(computed " in line]


def _fill_disk_after(monkeypatch, variable: str, writes: int) -> None:
    """Make zarr's file writer fail with ENOSPC once ``writes`` chunks of ``variable`` exist."""
    put, count = zarr_local._put, [0]

    def full(path: Path, value, exclusive: bool = False):
        if path.parent.name == variable and not path.name.startswith("."):
            count[0] += 1
            if count[0] > writes:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return put(path, value, exclusive=exclusive)

    monkeypatch.setattr(zarr_local, "_put", full)


def test_a_full_disk_is_one_line_exit_75_and_the_store_resumes_bit_identical(
        capsys, monkeypatch, tmp_path, config):
    out = tmp_path / "full.zarr"
    with monkeypatch.context() as patch:
        _fill_disk_after(patch, "test_loss", 2)
        assert main(["run", str(config), "--out", str(out), "--quiet", *UNITS]) == EXIT_DISK_FULL
    err = one_line(capsys)
    assert f"out = '{out}': no space left on the disk" in err and "needs about" in err, err
    assert "run the same command to resume" in err
    assert not (tmp_path / ".full.zarr.lock").exists()  # the lock went with the run
    done = zarr.open_array(out / "completed", mode="r")[...]
    assert 0 < done.sum() < done.size
    assert main(["run", str(config), "--out", str(out), "--quiet", *UNITS]) == 0
    resumed = ddlab.open_results(out)
    assert _computed(resumed)[-1] < resumed.attrs["n_chunks"]
    assert_same(resumed, ddlab.run(config, device="cpu", progress=False, chunk_units=6))


def test_a_disk_full_before_the_store_exists_leaves_nothing(capsys, monkeypatch, tmp_path,
                                                            config):
    out = tmp_path / "never.zarr"
    _fill_disk_after(monkeypatch, "width", 0)  # the first coordinate written
    assert main(["run", str(config), "--out", str(out), "--quiet", *UNITS]) == EXIT_DISK_FULL
    assert "no space left on the disk" in one_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.toml"]


def _start(config: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ddlab", "run", str(config), "--out",
                             str(out), "--quiet", *UNITS, *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _until_a_chunk_is_stored(out: Path, proc: subprocess.Popen) -> None:
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        try:
            if zarr.open_array(out / "completed", mode="r")[...].any():
                return
        except (FileNotFoundError, ValueError, KeyError):
            pass
        time.sleep(0.02)
    pytest.fail("the first run stored nothing before it ended")


@pytest.fixture
def slow(tmp_path: Path) -> Path:
    path = tmp_path / "slow.toml"
    path.write_text(SLOW)
    return path


def test_a_second_run_on_a_locked_store_refuses_in_one_line(capsys, tmp_path, slow):
    out = tmp_path / "busy.zarr"
    first = _start(slow, out)
    _until_a_chunk_is_stored(out, first)
    assert first.poll() is None, "the first run ended too soon"
    for extra in ([], ["--fresh"]):  # not even --fresh replaces a store being written
        assert main(["run", str(slow), "--out", str(out), "--quiet", *UNITS, *extra]) == 2
        err = one_line(capsys)
        assert f"out = '{out}': another ddlab run (pid {first.pid}) is writing it" in err, err
        assert "--wait" in err
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    ds = ddlab.open_results(out)
    assert _computed(ds) == [ds.attrs["n_chunks"]] == [12]
    assert not (tmp_path / ".busy.zarr.lock").exists()


@pytest.mark.slow
def test_with_wait_the_second_run_waits_and_computes_nothing_twice(tmp_path, slow):
    out = tmp_path / "shared.zarr"
    first = _start(slow, out)
    _until_a_chunk_is_stored(out, first)
    second = _start(slow, out, "--wait")
    for proc in (second, first):
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    ds = ddlab.open_results(out)
    assert _computed(ds) == [12, 0] and ds.attrs["chunks_computed"] == 12
    assert_same(ds, ddlab.run(slow, device="cpu", progress=False, chunk_units=6))


def test_a_killed_holder_never_leaves_a_stale_lock(tmp_path):
    store = tmp_path / "s.zarr"
    with subprocess.Popen([sys.executable, "-c",
                           "import time; from ddlab.results import StoreLock; "
                           f"lock = StoreLock({str(store)!r}); print('held', flush=True); "
                           "time.sleep(60)"], stdout=subprocess.PIPE, text=True) as holder:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ValueError, match=rf"another ddlab run \(pid {holder.pid}\)"):
            StoreLock(store)
        holder.send_signal(signal.SIGKILL)
    lock = StoreLock(store)  # the kernel dropped the dead holder's lock
    lock.release()
    assert not (tmp_path / ".s.zarr.lock").exists()
