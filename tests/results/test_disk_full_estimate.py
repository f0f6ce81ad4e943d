"""The disk-full line asks for what the rest of the run really takes, not the estimate alone."""

from __future__ import annotations

import re
from pathlib import Path

import zarr.storage._local as zarr_local
from conftest import disk_full_after

from ddlab.cli import main
from ddlab.results import _store


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def test_the_space_asked_covers_the_chunks_still_to_write(capsys, monkeypatch, tmp_path,
                                                          config):
    out = tmp_path / "full.zarr"
    args = ["run", str(config), "--out", str(out), "--quiet", "--chunk-units", "6",
            "--device", "cpu"]
    full = disk_full_after(2)

    with monkeypatch.context() as patch:
        patch.setattr(zarr_local, "_put", full)
        patch.setattr(_store, "estimate_store_bytes", lambda exp: 1)  # a gross underestimate
        assert main(args) == 75
    asked = float(re.search(r"needs about ([\d.e+]+) MiB", capsys.readouterr().err)[1])
    before = _size(out)
    assert main(args) == 0
    rest = _size(out) - before
    assert rest > 2**14
    assert (asked - 1) * 2**20 >= 0.9 * rest  # beyond the 1 MiB margin (3 digits printed)
