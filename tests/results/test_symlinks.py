"""Issue 29: no file ddlab makes beside or inside a store or an output follows a planted
symlink, the lock is the store's real path's, stores never nest."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import TINY

import ddlab
from ddlab.cli import main
from ddlab.results import StoreLock, export_netcdf

SECRET = "the victim's own data\n"


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file of the user's that a planted link points at."""
    path = tmp_path / "victim.txt"
    path.write_text(SECRET)
    return path


def _plant(link: Path, target: Path) -> None:
    link.symlink_to(target)


def _one_line_exit_2(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("name", [".a.zarr.lock", ".a.zarr.probe"])
def test_a_run_never_writes_through_a_planted_lock_or_probe(tmp_path, config, victim, name):
    _plant(tmp_path / name, victim)
    ddlab.run(config, out=tmp_path / "a.zarr", device="cpu", progress=False)
    assert victim.read_text() == SECRET
    assert ddlab.open_results(tmp_path / "a.zarr")["completed"].all()


def test_a_hard_link_at_the_lock_file_is_not_written(tmp_path, victim):
    os.link(victim, tmp_path / ".a.zarr.lock")
    lock = StoreLock(tmp_path / "a.zarr")
    assert victim.read_text() == SECRET
    assert (tmp_path / ".a.zarr.lock").read_text() == str(os.getpid())
    lock.release()


def test_the_lock_is_the_real_stores(tmp_path):
    (tmp_path / "L.zarr").mkdir()
    (tmp_path / "Llink.zarr").symlink_to(tmp_path / "L.zarr")
    lock = StoreLock(tmp_path / "L.zarr")
    with pytest.raises(ValueError, match=r"Llink\.zarr'.*another ddlab run"):
        StoreLock(tmp_path / "Llink.zarr")
    lock.release()
    StoreLock(tmp_path / "Llink.zarr").release()


@pytest.mark.parametrize("name", [".c.nc.partial", "c.nc"])
def test_export_never_writes_through_a_planted_link(tmp_path, stored, victim, name):
    _plant(tmp_path / name, victim)
    export_netcdf(stored, tmp_path / "c.nc", force=True)
    assert victim.read_text() == SECRET
    assert not (tmp_path / "c.nc").is_symlink()
    assert ddlab.open_results(stored)["test_loss"].size > 0


@pytest.mark.parametrize("name", [".t.csv.partial", "t.csv"])
def test_table_never_writes_through_a_planted_link(tmp_path, stored, victim, name, capsys):
    _plant(tmp_path / name, victim)
    assert main(["table", str(stored), "--out", str(tmp_path / "t.csv"), "--force"]) == 0
    assert victim.read_text() == SECRET and not (tmp_path / "t.csv").is_symlink()
    assert (tmp_path / "t.csv").read_text().startswith("store,name")


@pytest.mark.parametrize("name", [".f.png.probe", "f.png"])
def test_plot_never_writes_through_a_planted_link(tmp_path, stored, victim, name):
    _plant(tmp_path / name, victim)
    args = ["plot", str(stored), "--out", str(tmp_path / "f.png")]
    if name == "f.png":  # a link to a file ddlab did not write: refused, as export refuses it
        assert main(args) == 2 and victim.read_text() == SECRET
        args.append("--force")  # then the link is replaced, never followed
    assert main(args) == 0
    assert victim.read_text() == SECRET and not (tmp_path / "f.png").is_symlink()
    assert (tmp_path / "f.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("suffix", ["grow", "grown-from"])
def test_growing_never_follows_a_planted_temp_dir(tmp_path, config, suffix):
    store = tmp_path / "g.zarr"
    ddlab.run(config, out=store, device="cpu", progress=False)
    victim = tmp_path / "victim_dir"
    victim.mkdir()
    (victim / "keep.txt").write_text(SECRET)
    _plant(tmp_path / f".g.zarr.{suffix}", victim)
    config.write_text(TINY.replace("init = 3", "init = 4"))
    grown = ddlab.run(config, out=store, device="cpu", progress=False)
    assert grown.sizes["init_seed"] == 4 and bool(grown["completed"].all())
    assert [p.name for p in victim.iterdir()] == ["keep.txt"]
    assert (victim / "keep.txt").read_text() == SECRET
    assert not os.path.lexists(tmp_path / f".g.zarr.{suffix}")


def test_fresh_refuses_a_symlinked_store(tmp_path, stored, config, capsys):
    link = tmp_path / "link.zarr"
    link.symlink_to(stored)
    err = _one_line_exit_2(["run", str(config), "--out", str(link), "--fresh"], capsys)
    assert "symbolic link" in err and str(link) in err
    assert ddlab.open_results(stored)["completed"].all()


def test_a_store_inside_a_store_is_refused(tmp_path, stored, config, capsys):
    inner = stored / "inner.zarr"
    err = _one_line_exit_2(["run", str(config), "--out", str(inner)], capsys)
    assert f"inside the ddlab store '{stored.resolve()}'" in err
    assert not inner.exists()


def test_fresh_never_deletes_a_store_holding_another(tmp_path, stored, config, capsys):
    shutil.copytree(stored, stored / "kept.zarr")  # as by hand, or by an older ddlab
    err = _one_line_exit_2(["run", str(config), "--out", str(stored), "--fresh"], capsys)
    assert "holds another ddlab store" in err and "kept.zarr" in err
    assert ddlab.open_results(stored / "kept.zarr")["completed"].all()
