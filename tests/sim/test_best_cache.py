"""The best-in-class cache: an explicit location, a key that follows the results, no trust."""

from __future__ import annotations

import os

import netCDF4
import numpy as np
import pytest
import xarray as xr

import ddlab
from ddlab.sim import _best

SPEC = {"data": {"target": "linear", "input": "normal", "dim": 12, "n_population": 500,
                 "noise": 0.5},
        "model": {"family": "linear", "width": [3, 12]}, "seeds": {"data": 2, "init": 1}}


def _files(folder):
    return sorted(folder.rglob("*.nc"))


def test_cache_lives_in_the_documented_place_never_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path / "..")
    cwd_before = set(os.listdir("."))
    ddlab.best_in_class(SPEC, n_samples=400)
    assert set(os.listdir(".")) == cwd_before
    folder = _best.cache_dir()
    assert folder == type(folder)(os.environ["DDLAB_CACHE_DIR"])  # set by conftest
    assert len(_files(folder / "best_in_class")) == 1
    monkeypatch.delenv("DDLAB_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _best.cache_dir() == tmp_path / "xdg" / "ddlab"


def test_a_tampered_file_is_recomputed_not_trusted(tmp_path, monkeypatch):
    first = ddlab.best_in_class(SPEC, n_samples=400, cache=tmp_path)
    (path,) = _files(tmp_path)
    with netCDF4.Dataset(path, "r+") as nc:  # a hand edit of one cached value
        nc["approx_error"][0, 0, 0] = 123.0
    again = ddlab.best_in_class(SPEC, n_samples=400, cache=tmp_path)
    xr.testing.assert_identical(again, first)
    assert float(again.approx_error[0, 0, 0]) != 123.0
    # and an intact file is used as it is: nothing is recomputed
    monkeypatch.setattr(_best, "run", lambda *a, **k: pytest.fail("recomputed"))
    xr.testing.assert_identical(ddlab.best_in_class(SPEC, n_samples=400, cache=tmp_path), first)


def test_the_key_follows_the_version_and_the_problem(tmp_path, monkeypatch):
    ddlab.best_in_class(SPEC, n_samples=400, cache=tmp_path)
    ddlab.best_in_class(SPEC, n_samples=500, cache=tmp_path)
    assert len(_files(tmp_path)) == 2
    monkeypatch.setattr(_best, "__version__", "99.0")
    ddlab.best_in_class(SPEC, n_samples=400, cache=tmp_path)
    assert len(_files(tmp_path)) == 3
    out = ddlab.best_in_class(SPEC, n_samples=400, cache=False)
    assert np.isfinite(out.approx_error).all() and len(_files(tmp_path)) == 3
