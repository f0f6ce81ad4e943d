"""Huge grids are refused before anything is built: one line, exit 2, in ``run`` and ``show``."""

from __future__ import annotations

import time

import pytest
from conftest import TINY

import ddlab
from ddlab.cli import main
from ddlab.sim import plan_run
from ddlab.sim._budget import CHUNK_PLAN_BYTES, plan_bytes

#: (id, --set overrides, a phrase the line names)
HUGE = [
    ("epochs-1e12-record-all", ["train.epochs=1000000000000"],
     "train.record = 'all': 1000000000001 entries along one axis"),
    ("epochs-1e12-record-every-2", ["train.epochs=1000000000000", "train.record={every=2}"],
     "train.record = (('every', 2),): 500000000001 entries"),
    ("record-log-1e9", ["train.record={log=1000000000}"], "train.record = {'log': 1000000000}"),
    ("width-range-1e9", ["model.width={start=1,stop=1000000000}"],
     "model.width = {'start': 1, 'stop': 1000000000}: 1000000000 entries"),
    ("width-num-1e9", ["model.width={start=1,stop=10,num=1000000000}"], "1000000000 entries"),
    ("data-seeds-1e9", ["seeds.data=1000000000"],
     "memory_budget = 2 GiB: too small to plan this grid (9000000000 cells in at least "
     "1000000000 chunks"),
    ("init-seeds-1e9", ["seeds.init=1000000000"], "(6000000000 cells in at least 2 chunks"),
    ("root-2**64", [f"seeds.root={2**64}"], "seeds.root = 18446744073709551616: must be <"),
]


@pytest.mark.parametrize("command", ["show", "run"])
@pytest.mark.parametrize("sets, phrase", [c[1:] for c in HUGE], ids=[c[0] for c in HUGE])
def test_a_huge_grid_is_one_line_and_exit_2_before_anything_is_built(
        capsys, tmp_path, config, command, sets, phrase):
    argv = [command, str(config), *(a for s in sets for a in ("--set", s))]
    if command == "run":
        argv += ["--out", str(tmp_path / "n.zarr"), "--device", "cpu"]
    t0 = time.perf_counter()
    assert main(argv) == 2
    assert time.perf_counter() - t0 < 10
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert phrase in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.toml"]


def test_the_plan_is_counted_exactly_and_in_the_peak(tmp_path):
    exp = ddlab.load_experiment({**_tiny(), "seeds": {"data": 1000, "init": 3}})
    held, cells, chunks = plan_bytes(exp)
    assert (cells, chunks) == (9000, 1000)
    assert held == 2 * 9000 + CHUNK_PLAN_BYTES * 1000
    plan = plan_run(exp)  # its one chunk's work outweighs the store's skeleton
    assert plan.local_bytes - plan.worker_bytes == held


def _tiny() -> dict:
    import tomllib

    return tomllib.loads(TINY)


def test_show_of_a_million_data_seeds_is_fast(capsys, config):
    t0 = time.perf_counter()
    assert main(["show", str(config), "--set", "seeds.data=1000000", "--json"]) == 0
    assert time.perf_counter() - t0 < 30  # 67 s before chunks were sized by their shapes
