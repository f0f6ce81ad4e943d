"""Damage to a store is noticed, named and repaired: the corruption suite of issue 29.

Each case damages a finished (or partial) store as a disk, a crash or a
hand could, and checks that ``ddlab verify`` names it, that ``--repair`` (or
the next ``ddlab run``) clears the damaged cells, and that the run after it
leaves every chunk file byte-identical to the undamaged store's (but
``wall_time``, which times the recompute), or that the store is refused in one
line where no repair can be right.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import zarr
import zarr.storage._local as zarr_local
from conftest import disk_full_after

import ddlab
from ddlab.cli import main
from ddlab.results import LOG_NAME

UNITS = ["--chunk-units", "6", "--device", "cpu"]  # 6 run chunks: one per width and data seed


def one_line(capsys) -> tuple[str, str]:
    got = capsys.readouterr()
    err = got.err.strip()
    assert len(err.splitlines()) <= 1 and "Traceback" not in err, err
    return got.out.strip(), err


def chunk_files(path: Path) -> dict[str, bytes]:
    """Every zarr chunk file of the store but wall_time's, and the metadata."""
    return {str(f.relative_to(path)): f.read_bytes() for f in sorted(path.rglob("*"))
            if f.is_file() and f.parent.name != "wall_time" and f != path / LOG_NAME
            and not f.name.startswith(".z")}


@pytest.fixture
def pair(tmp_path, config):
    """A finished store and a copy of it, to damage."""
    ref = tmp_path / "ref.zarr"
    assert main(["run", str(config), "--out", str(ref), "--quiet", *UNITS]) == 0
    out = tmp_path / "a.zarr"
    shutil.copytree(ref, out)
    return ref, out


def _run(config: Path, out: Path) -> int:
    return main(["run", str(config), "--out", str(out), "--quiet", *UNITS])


def _computed(path: Path) -> int:
    return int(ddlab.open_results(path).attrs["history"].splitlines()[-1]
               .split("(computed ")[1].split()[0])


def _swap(a: Path, b: Path) -> None:
    data = a.read_bytes()
    a.write_bytes(b.read_bytes())
    b.write_bytes(data)


DAMAGE = {
    "delete": lambda p: (p / "test_loss" / "1.0.0.0").unlink(),
    "truncate": lambda p: (p / "train_loss" / "2.0.0.0").write_bytes(
        (p / "train_loss" / "2.0.0.0").read_bytes()[:10]),
    "swap": lambda p: _swap(p / "f_error" / "0.0.0.0", p / "f_error" / "2.0.0.0"),
    "edit a byte": lambda p: (p / "pred_var_init" / "1.0.0").write_bytes(
        bytes([(p / "pred_var_init" / "1.0.0").read_bytes()[0] ^ 1])
        + (p / "pred_var_init" / "1.0.0").read_bytes()[1:]),
}
#: the file each damage hits, by the zarr chunk's leading (width) index
HIT = {"delete": "test_loss/1.0.0.0", "truncate": "train_loss/2.0.0.0",
       "swap": "f_error/0.0.0.0", "edit a byte": "pred_var_init/1.0.0"}


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_chunk_files_are_named_repaired_and_recomputed_identical(
        capsys, config, pair, damage):
    ref, out = pair
    DAMAGE[damage](out)
    assert main(["verify", str(out)]) == 1
    said, _ = one_line(capsys)
    assert HIT[damage] in said and "completed cells are damaged" in said, said
    assert "width=" in said and "data_seed=" in said
    report = ddlab.verify(out)
    assert not report.ok and HIT[damage] in report.bad_files and report.damaged in (6, 12)
    assert main(["verify", str(out), "--repair"]) == 0
    assert "their flags are cleared" in one_line(capsys)[0]
    done = zarr.open_array(out / "completed", mode="r")[...]
    assert done.sum() == done.size - report.damaged
    assert ddlab.verify(out).ok
    assert _run(config, out) == 0
    assert _computed(out) == report.damaged // 3  # only the damaged run chunks (3 cells each)
    assert chunk_files(out) == chunk_files(ref)
    assert ddlab.verify(out).ok and ddlab.verify(out).files > 20


def test_a_run_repairs_what_it_finds_and_says_so_in_one_line(capsys, config, pair):
    ref, out = pair
    DAMAGE["truncate"](out)
    assert _run(config, out) == 0
    _, err = one_line(capsys)
    assert err.startswith(f"ddlab: warning: {out}: 6 completed cells are damaged"), err
    assert "train_loss/2.0.0.0" in err
    assert chunk_files(out) == chunk_files(ref)


def test_info_counts_damaged_cells(capsys, pair):
    _, out = pair
    DAMAGE["delete"](out)
    assert main(["info", str(out), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["completed"] == {"cells": 18, "total": 18, "damaged": 6}
    assert "test_loss/1.0.0.0" in got["integrity"]


def test_completed_flipped_on_a_partial_store_is_found_and_recomputed(
        capsys, monkeypatch, tmp_path, config, pair):
    ref, _ = pair
    out = tmp_path / "partial.zarr"
    full = disk_full_after(2)

    with monkeypatch.context() as patch:
        patch.setattr(zarr_local, "_put", full)
        assert _run(config, out) == 75
    capsys.readouterr()
    flags = zarr.open_array(out / "completed", mode="r+")
    assert 0 < flags[...].sum() < flags.size
    flags[...] = True  # as a hand, or a torn write, could
    report = ddlab.verify(out)
    assert report.damaged == 18 - 6 and "completed cells are damaged" in str(report)
    assert _run(config, out) == 0
    assert "12 completed cells are damaged" in one_line(capsys)[1]
    assert chunk_files(out) == chunk_files(ref)


def _edit_experiment(path: Path) -> None:
    for name, where in ((".zattrs", lambda d: d),
                        (".zmetadata", lambda d: d["metadata"][".zattrs"])):
        doc = json.loads((path / name).read_text())
        exp = json.loads(where(doc)["experiment"])
        exp["seeds"]["init"] = 4
        where(doc)["experiment"] = json.dumps(exp)
        (path / name).write_text(json.dumps(doc))


@pytest.mark.parametrize("command", ["run", "verify", "verify --repair"])
def test_an_edited_experiment_attr_is_refused_in_one_line(capsys, config, pair, command):
    _, out = pair
    _edit_experiment(out)
    before = chunk_files(out)
    args = ["run", str(config), "--out", str(out), "--quiet", *UNITS] if command == "run" \
        else [*command.split(), str(out)]
    assert main(args) == 2
    _, err = one_line(capsys)
    assert f"'{out}': its experiment attr disagrees with its arrays (init_seed: 4 in the " \
           f"experiment, 3 in the arrays)" in err, err
    assert "--fresh" in err
    assert chunk_files(out) == before


def test_a_truncated_zmetadata_is_named_and_rebuilt_identical(capsys, pair):
    ref, out = pair
    meta = (out / ".zmetadata").read_bytes()
    (out / ".zmetadata").write_bytes(meta[:200])
    assert main(["verify", str(out)]) == 2
    _, err = one_line(capsys)
    assert "its .zmetadata is not whole" in err and "ddlab verify --repair" in err, err
    assert main(["info", str(out)]) == 2
    one_line(capsys)
    assert main(["verify", str(out), "--repair"]) == 0
    assert json.loads((out / ".zmetadata").read_bytes()) == json.loads(meta)
    assert chunk_files(out) == chunk_files(ref)
    a, b = ddlab.open_results(out), ddlab.open_results(ref)
    assert a.attrs == b.attrs
    for name in a.data_vars:
        assert np.array_equal(a[name].values, b[name].values, equal_nan=True), name


def test_a_store_of_an_older_ddlab_is_adopted_unchecked(capsys, config, pair):
    _, out = pair
    (out / LOG_NAME).unlink()
    report = ddlab.verify(out)
    assert report.unrecorded and report.ok and "no checksums recorded" in str(report)
    assert _run(config, out) == 0  # resumes (nothing to do) and records what it holds
    assert not ddlab.verify(out).unrecorded
    DAMAGE["delete"](out)
    assert ddlab.verify(out).damaged == 18  # the adopted record covers the whole store


def test_fsync_reaches_every_file_written_before_the_flag(monkeypatch, tmp_path, config):
    import os

    synced: list[str] = []
    fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(os.readlink(
        f"/proc/self/fd/{fd}")) or fsync(fd))
    out = tmp_path / "s.zarr"
    ddlab.run(config, out=out, device="cpu", progress=False, chunk_units=6)
    assert str(out / "test_loss" / "0.0.0.0") in synced
    assert str(out / "test_loss") in synced and str(out / LOG_NAME) in synced


def test_a_rewrite_cut_short_is_not_damage(tmp_path, config, capsys, monkeypatch):
    """Killed after its files are rewritten, before their line: the run chunks that share
    those files are intact (zarr replaces a chunk file whole), so only the cut one reruns."""
    import ddlab.results._store as store_module

    ref = tmp_path / "ref.zarr"
    assert _run(config, ref) == 0
    out, calls = tmp_path / "cut.zarr", []
    record = store_module.append_record

    def cut(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:  # the creation, two run chunks, then the third: files written
            raise KeyboardInterrupt
        return record(*args, **kwargs)

    monkeypatch.setattr(store_module, "append_record", cut)
    assert _run(config, out) == 130
    monkeypatch.setattr(store_module, "append_record", record)
    capsys.readouterr()
    report = ddlab.verify(out)
    assert report.ok and report.damaged == 0 and report.bad_files == [], str(report)
    assert _run(config, out) == 0
    assert _computed(out) == 3  # the cut chunk and the two never begun
    assert chunk_files(out) == chunk_files(ref)


def test_provenance_is_right_after_a_kill_and_adds_up_on_resume(tmp_path, config, capsys,
                                                                monkeypatch):
    import ddlab.results._store as store_module

    out, calls = tmp_path / "killed.zarr", []
    write = store_module.ZarrStore.write

    def killed(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # two run chunks written and counted, the third cut
            raise KeyboardInterrupt
        return write(self, *args, **kwargs)

    monkeypatch.setattr(store_module.ZarrStore, "write", killed)
    assert _run(config, out) == 130
    monkeypatch.setattr(store_module.ZarrStore, "write", write)
    capsys.readouterr()
    cut = zarr.open_group(out, mode="r").attrs.asdict()
    assert cut["chunks_computed"] == 2 and cut["wall_time_s"] > 0 and "finished" not in cut
    assert _run(config, out) == 0
    done = ddlab.open_results(out).attrs
    assert done["chunks_computed"] == done["n_chunks"] == 6 and "finished" in done
    assert done["wall_time_s"] > cut["wall_time_s"]


@pytest.mark.parametrize("command", ["verify", "run"])
def test_a_symlink_planted_at_the_checksum_log_is_refused_in_one_line(
        capsys, config, pair, tmp_path, command):
    _, out = pair
    secret = tmp_path / "elsewhere.jsonl"
    secret.write_text("not ddlab's\n")
    (out / LOG_NAME).unlink()
    (out / LOG_NAME).symlink_to(secret)
    argv = ["verify", str(out)] if command == "verify" else [
        "run", str(config), "--out", str(out), "--quiet", *UNITS]
    assert main(argv) == 2
    _, err = one_line(capsys)
    assert "is a symbolic link" in err and LOG_NAME in err, err
    assert secret.read_text() == "not ddlab's\n"  # neither read into a report nor written
