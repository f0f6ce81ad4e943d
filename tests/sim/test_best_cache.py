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


def _forge(path, edit, resign: bool) -> None:
    """Edit a cached file as someone who can write it but not read the HMAC key would:
    keeping its HMAC (what it covers must be all that matters) or signing with a guess."""
    ds = edit(xr.load_dataset(path, engine="scipy"))
    if resign:
        ds.attrs["ddlab_hmac"] = _best._mac(ds, ds.attrs["ddlab_cache_key"], b"x" * 32)
    ds.to_netcdf(path, engine="scipy")


@pytest.mark.parametrize("edit", [
    lambda ds: ds.assign(approx_error=ds.approx_error * 0 + 1e-9),  # forged values
    lambda ds: ds.assign_coords(width=ds.width.values[::-1]),  # a reversed coordinate
    lambda ds: ds.assign_attrs(fit_experiment="{}"),  # an edited attr
], ids=["values", "reversed-width", "attr"])
@pytest.mark.parametrize("resign", [False, True], ids=["same-hmac", "guessed-key"])
def test_a_forged_file_is_recomputed(tmp_path, edit, resign):
    first = ddlab.best_in_class(SPEC, n_samples=400, cache=tmp_path)
    (path,) = _files(tmp_path)
    _forge(path, edit, resign)
    again = ddlab.best_in_class(SPEC, n_samples=400, cache=tmp_path)
    xr.testing.assert_identical(again, first)
    assert list(again.width.values) == [3, 12]


def test_the_key_is_private_and_never_read_through_a_link(tmp_path, monkeypatch):
    ddlab.best_in_class(SPEC, n_samples=400, cache=tmp_path / "c")
    key = _best.cache_dir() / "hmac.key"
    assert oct(key.stat().st_mode & 0o777) == "0o600" and len(key.read_bytes()) == 32
    assert oct(key.parent.stat().st_mode & 0o777) == "0o700"
    key.chmod(0o644)  # others could read it, so forge with it: nothing is cached
    assert _best._secret() is None
    ddlab.best_in_class(SPEC, n_samples=500, cache=tmp_path / "d")
    assert not (tmp_path / "d").exists()
    key.unlink()
    victim = tmp_path / "victim"
    victim.write_bytes(b"v" * 32)
    victim.chmod(0o600)
    key.symlink_to(victim)
    assert _best._secret() is None and victim.read_bytes() == b"v" * 32
