"""Worker processes die with their parent: a SIGKILLed run leaves no workers training."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SLOW = """
[data]
n_train = 50
n_test = 50
n_population = 0
[model]
width = [1, 2, 3, 4, 5, 6, 7, 8]
[train]
epochs = 200000
record = [200000]
record_bias_variance = false
[seeds]
init = 20
"""


def _children(pid: int) -> set[int]:
    """The live processes whose parent is ``pid`` (Linux /proc)."""
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.add(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait(condition, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_joblib_workers_die_with_a_killed_run(tmp_path):
    config = tmp_path / "slow.toml"
    config.write_text(SLOW)
    proc = subprocess.Popen([sys.executable, "-m", "ddlab", "run", str(config), "--out",
                             str(tmp_path / "slow.zarr"), "--n-jobs", "2", "--chunk-units", "1",
                             "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # loky starts its workers as children of the run (plus a resource tracker)
        assert _wait(lambda: len(_children(proc.pid)) >= 2, 60), "no workers started"
        time.sleep(1.0)  # the workers have taken their first chunks
        workers = _children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert _wait(lambda: not any(_alive(w) for w in workers), 15), \
            [w for w in workers if _alive(w)]
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_task_run_in_the_parent_itself_is_not_watched():
    from ddlab._orphans import _WATCHED, guarded

    assert guarded(os.getpid(), sum, [1, 2]) == 3  # joblib's n_jobs=1 runs tasks here
    assert not _WATCHED
