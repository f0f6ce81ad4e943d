"""More of issue 29's bad input: one line and exit 2 from the CLI, a ValueError from the API."""

from __future__ import annotations

import pytest

import ddlab
from ddlab.cli import main


@pytest.mark.parametrize("units", [0, -1, 1.5, True])
def test_run_refuses_a_chunk_units_that_is_not_a_positive_integer(config, units):
    with pytest.raises(ValueError, match=f"^chunk_units = {units!r}: expected a positive"):
        ddlab.run(config, chunk_units=units, device="cpu", progress=False)


@pytest.mark.parametrize("target", ["nowhere.zarr", "missing/dir/x.zarr"])
def test_a_dangling_symlink_out_is_refused_and_left_alone(capsys, tmp_path, config, target):
    link = tmp_path / "link.zarr"
    link.symlink_to(tmp_path / target)
    assert main(["run", str(config), "--out", str(link), "--quiet", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert f"out = '{link}': a symbolic link to '{tmp_path / target}', which does not exist" \
        in err, err
    assert link.is_symlink() and not (tmp_path / target).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.zarr", "tiny.toml"]


@pytest.mark.parametrize("fmt", ["png", "pdf", "svg"])
def test_plot_out_never_replaces_a_file_ddlab_did_not_write(capsys, tmp_path, stored, fmt):
    mine = tmp_path / f"mine.{fmt}"
    assert main(["plot", str(stored), "--out", str(mine)]) == 0
    assert main(["plot", str(stored), "--out", str(mine)]) == 0  # its own figure: replaced
    theirs = tmp_path / f"theirs.{fmt}"
    theirs.write_bytes(b"someone's figure")
    capsys.readouterr()
    assert main(["plot", str(stored), "--out", str(theirs)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"ddlab: error: out = '{theirs}': exists and was not written by ddlab; "
                   f"use --force to replace it")
    assert theirs.read_bytes() == b"someone's figure"
    assert main(["plot", str(stored), "--out", str(theirs), "--force"]) == 0
    assert theirs.read_bytes() == mine.read_bytes()
