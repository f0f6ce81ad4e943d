"""The paper's numbers: ties with the best swept point, the grid as run, the null models."""

from __future__ import annotations

import numpy as np
import xarray as xr

import ddlab
from ddlab.cli._numbers import _settings, _ties


def test_ties_count_points_within_one_paired_standard_error_of_the_best():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(3, 4))  # shared by every lr: common random numbers
    shift = np.array([0.0, 0.005, 2.0])  # lr 0.1 ties with the best, lr 1 does not
    final = xr.DataArray(shift[:, None, None] + base + 0.05 * rng.normal(size=(3, 3, 4)),
                         dims=("lr", "data_seed", "init_seed"),
                         coords={"lr": [0.01, 0.1, 1.0]})
    mean = final.mean(("data_seed", "init_seed"))
    best = mean.isel(lr=int(mean.argmin("lr")))
    assert float(best.lr) == 0.01
    diff = (final - final.sel(lr=0.01)).stack(cell=("data_seed", "init_seed"))
    se = diff.std("cell", ddof=1) / np.sqrt(12)
    assert float(diff.mean("cell").sel(lr=0.1)) < float(se.sel(lr=0.1))  # a tie by hand
    assert _ties(final, best) == 1
    assert _ties(final.sel(lr=[0.01, 1.0]), best) == 0


def test_settings_describe_the_grid_as_run_and_its_null_models():
    spec = {"data": {"dim": 2, "n_train": 10, "n_test": 10, "n_population": 50, "noise": 0.5},
            "model": {"width": [1, 3]}, "train": {"epochs": 4},
            "seeds": {"data": 2, "init": 3}}
    ds = ddlab.run(spec, progress=False)
    out = _settings("X", ds)
    null = ddlab.analysis.risks(ds)
    assert (out["XEpochs"], out["XDataSets"], out["XInits"], out["XMaxWidth"],
            out["XWidths"]) == ("4", "2", "3", "3", "2")
    assert float(out["XConstantRisk"]) == round(float(null["constant_risk"]), 3 - int(
        np.floor(np.log10(float(null["constant_risk"])))) - 1)
    assert 0.25 < float(null["constant_risk"]) and float(null["snr"]) > 0


def test_ties_at_the_edge_of_one_standard_error():
    e = np.sqrt(11) * 0.1 * np.tile([1.0, -1.0], 6)  # mean 0, paired SE of the mean 0.1
    rows = [np.zeros(12)] + [m + e for m in (0.05, 0.095, 0.105, 0.15, 0.5)]
    final = xr.DataArray(np.array(rows).reshape(6, 3, 4), dims=("lr", "data_seed", "init_seed"),
                         coords={"lr": np.arange(6.0)})
    best = final.mean(("data_seed", "init_seed")).isel(lr=0)
    assert _ties(final, best) == 2  # 0.05 and 0.095 within 0.1; 0.105, 0.15, 0.5 not
