"""The analysis API on the results users actually hold: stores opened from disk.

Every function must give the in-memory answer on a store opened lazily
(numpy-backed) and on one opened with dask chunks, including a partial store.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st

import ddlab
from ddlab import analysis as A
from ddlab.cli import main

SPEC = {"data": {"dim": 3, "n_train": 12, "n_population": 64, "noise": [0.3, 1.0]},
        "model": {"width": [1, 2, 4, 8]},
        "train": {"epochs": 12, "dtype": "float64", "lr": 0.05},
        "seeds": {"data": 2, "init": 3}}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same experiment in memory, stored by ``run(out=...)`` and stored by the CLI."""
    tmp = tmp_path_factory.mktemp("stores")
    exp = ddlab.load_experiment(SPEC)
    memory = ddlab.run(exp, device="cpu", progress=False)
    ddlab.run(exp, out=tmp / "api.zarr", device="cpu", progress=False)
    cfg = tmp / "exp.toml"
    cfg.write_text("[data]\ndim = 3\nn_train = 12\nn_population = 64\nnoise = [0.3, 1.0]\n"
                   "[model]\nwidth = [1, 2, 4, 8]\n[train]\nepochs = 12\ndtype = 'float64'\n"
                   "lr = 0.05\n[seeds]\ndata = 2\ninit = 3\n")
    assert main(["run", str(cfg), "--out", str(tmp / "cli.zarr"), "--quiet"]) == 0
    return memory, tmp / "api.zarr", tmp / "cli.zarr"


def _analyses(ds: xr.Dataset) -> dict[str, xr.Dataset]:
    best = xr.Dataset({"approx_error": ("width", np.array([0.4, 0.3, 0.2, 0.1]))},
                      coords={"width": [1, 2, 4, 8]})
    return {"risks": A.risks(ds), "gap": A.generalization_gap(ds),
            "bias_variance": A.bias_variance(ds), "summarize": A.summarize(ds),
            "summarize_f": A.summarize(ds, "f_error", tol=0.05),
            "decompose": A.decompose(ds, best)}


@pytest.mark.parametrize("which", ["api", "cli"])
@pytest.mark.parametrize("chunks", [None, {}])
def test_every_analysis_function_works_on_stores(runs, which, chunks):
    memory, api, cli = runs
    stored = ddlab.open_results(api if which == "api" else cli, chunks=chunks)
    expected = _analyses(memory)
    for name, got in _analyses(stored).items():
        xr.testing.assert_allclose(got.compute().drop_attrs(), expected[name].drop_attrs(),
                                   rtol=1e-12), name


def test_analysis_of_a_partial_store_uses_the_finished_cells(runs, tmp_path):
    memory, api, _ = runs
    import shutil

    part = tmp_path / "part.zarr"
    shutil.copytree(api, part)
    flags = zarr.open_group(part, mode="r+")["completed"]
    flags[:, 2:, :, :] = False  # widths 4 and 8 not computed yet
    ds = ddlab.open_results(part, chunks={})
    s = A.summarize(ds).compute()
    assert np.isfinite(s.best_height).all()
    assert set(s.best_width.values.ravel()) <= {1.0, 2.0}
    bv = A.bias_variance(ds).compute()
    assert bv.bias2.sel(width=[4, 8]).isnull().all()
    xr.testing.assert_allclose(bv.bias2.sel(width=[1, 2]),
                               A.bias_variance(memory).bias2.sel(width=[1, 2]))


@settings(max_examples=40, deadline=None)
@given(shape=st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 4),
                       st.integers(1, 5), st.integers(1, 6)),
       seed=st.integers(0, 2**31), shared_f=st.booleans())
def test_bias_variance_identities_on_random_grids(shape, seed, shared_f):
    """bias² + variance = mean error and variance = over inits + over data, exactly."""
    widths, epochs, data, inits, points = shape
    rng = np.random.default_rng(seed)
    preds = rng.normal(size=(widths, epochs, data, inits, points)) * rng.uniform(0.1, 3)
    f = rng.normal(size=(1 if shared_f else data, points))
    err = ((preds - f[None, None, :, None]) ** 2).mean(-1)
    bias2, v_init, v_data = A.bias_variance_terms(preds.mean(3), f, preds.var(3).mean(-1))
    np.testing.assert_allclose(bias2 + v_init + v_data, err.mean((2, 3)), rtol=1e-10,
                               atol=1e-12)
    fbar = preds.mean((2, 3))
    np.testing.assert_allclose(v_init + v_data, ((preds - fbar[:, :, None, None]) ** 2).mean(
        (2, 3, 4)) if shared_f else v_init + v_data, rtol=1e-10, atol=1e-12)
    assert (bias2 >= 0).all() and (v_init >= 0).all() and (v_data >= -1e-15).all()
