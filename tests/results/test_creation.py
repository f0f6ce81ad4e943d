"""Creating a store is atomic: a kill at any write leaves nothing, and half-built stores
of older ddlab are recognised and replaceable with ``--fresh``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import zarr.storage._local as zarr_local

import ddlab
from ddlab.cli import main

RUN = {"device": "cpu", "progress": False}


def assert_same(a, b) -> None:
    assert set(a.data_vars) == set(b.data_vars)
    for name in sorted(set(a.data_vars) - {"wall_time"}):
        assert np.array_equal(a[name].values, b[name].values, equal_nan=True), name


def _count_puts(monkeypatch, log: list[str]) -> None:
    put = zarr_local._put

    def counted(path: Path, value, exclusive: bool = False):
        log.append(str(path))
        return put(path, value, exclusive=exclusive)

    monkeypatch.setattr(zarr_local, "_put", counted)


def _killed_at(config: Path, out: Path, k: int) -> int:
    """Run in a forked child that dies (like SIGKILL: no cleanup) at its ``k``-th zarr write."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns into pytest
        count = [0]
        put = zarr_local._put

        def dying(path: Path, value, exclusive: bool = False):
            if count[0] == k:
                os._exit(9)
            count[0] += 1
            return put(path, value, exclusive=exclusive)

        zarr_local._put = dying
        try:
            ddlab.run(config, out=out, **RUN)
        finally:
            os._exit(0)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_a_kill_at_every_write_of_creation_leaves_nothing_and_the_rerun_finishes_identical(
        monkeypatch, tmp_path, config):
    ref_path = tmp_path / "ref.zarr"
    log: list[str] = []
    with monkeypatch.context() as patch:
        _count_puts(patch, log)
        reference = ddlab.run(config, out=ref_path, **RUN)
    creating = [p for p in log if ".creating" in p]
    assert len(creating) > 50 and log.index(creating[-1]) == len(creating) - 1
    out = tmp_path / "a.zarr"
    for k in range(len(creating)):
        assert _killed_at(config, out, k) == 9, k
        assert not out.exists(), k  # nothing under the store's name: a rerun starts afresh
        assert len(list(tmp_path.glob(".a.zarr.*.creating"))) == 1  # cleared by the next run
        ddlab.results.StoreLock(out, False).release()  # the killed child left no lock held
        if k in (0, len(creating) // 2):
            ds = ddlab.run(config, out=out, **RUN)
            assert_same(ds, reference)
            assert not list(tmp_path.glob(".a.zarr.*"))
            ds.close()
            os.system(f"rm -rf '{out}'")
    assert _killed_at(config, out, len(creating)) == 9  # the first chunk write: resumable
    ds = ddlab.run(config, out=out, **RUN)
    assert_same(ds, reference)
    assert ds.attrs["chunks_computed"] == reference.attrs["n_chunks"]


def _drop_mark(path: Path) -> None:
    for name in (".zattrs",):
        attrs = json.loads((path / name).read_text())
        del attrs["ddlab_schema"]
        (path / name).write_text(json.dumps(attrs))
    meta = json.loads((path / ".zmetadata").read_text())
    del meta["metadata"][".zattrs"]["ddlab_schema"]
    (path / ".zmetadata").write_text(json.dumps(meta))


HALF_BUILT = {
    "no .zmetadata": lambda p: (p / ".zmetadata").unlink(),
    ".zmetadata truncated": lambda p: (p / ".zmetadata").write_bytes(
        (p / ".zmetadata").read_bytes()[:100]),
    "no schema attr": _drop_mark,
    "only the group": lambda p: [os.system(f"rm -rf '{c}'") for c in p.iterdir()
                                 if c.name != ".zgroup"],
}


@pytest.mark.parametrize("damage", HALF_BUILT)
def test_a_half_built_store_is_named_and_replaced_with_fresh(capsys, tmp_path, config, stored,
                                                             damage):
    reference = ddlab.open_results(stored).load()
    HALF_BUILT[damage](stored)
    args = ["run", str(config), "--out", str(stored), "--quiet", "--device", "cpu"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert f"out = '{stored}': a ddlab store cut short while it was created" in err, err
    assert "--fresh" in err
    assert main([*args, "--fresh"]) == 0
    assert_same(ddlab.open_results(stored), reference)


def test_a_foreign_zarr_group_is_still_not_replaced(capsys, tmp_path, config):
    out = tmp_path / "other.zarr"
    out.mkdir()
    (out / ".zgroup").write_text('{"zarr_format": 2}')
    (out / "mine").mkdir()
    args = ["run", str(config), "--out", str(out), "--quiet", "--device", "cpu", "--fresh"]
    assert main(args) == 2
    assert "exists and is not a ddlab result store" in capsys.readouterr().err
    assert (out / "mine").is_dir()
