"""ddlab.table: a row per store and sweep point, the keys that differ, summaries and cost."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import zarr

import ddlab
from ddlab.analysis import differing_keys, summarize

SPEC = {
    "data": {"dim": 2, "n_train": 8, "n_test": 10, "n_population": 30, "noise": 0.5},
    "model": {"width": [2, 4, 6]},
    "train": {"epochs": 4, "lr": 0.05},
    "seeds": {"root": 7, "data": 1, "init": 3},
}


def _with(**data) -> dict:
    return {**SPEC, "data": {**SPEC["data"], **data}}


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """Three stores: noise 0.5, noise 0.1, and n_train swept over two values at noise 0.5."""
    root = tmp_path_factory.mktemp("table")
    paths = [root / "a.zarr", root / "b.zarr", root / "swept.zarr"]
    for path, spec in zip(paths, (_with(), _with(noise=0.1), _with(n_train=[6, 12])),
                          strict=True):
        ddlab.run(spec, out=path, progress=False)
    return paths


def test_a_row_per_store_and_sweep_point(stores):
    df = ddlab.table(stores)
    summary = list(summarize(ddlab.open_results(stores[0])).data_vars)
    assert list(df.columns) == ["store", "name", "data.n_train", "data.noise", *summary,
                                "wall_time_s", "cells_done", "cells_total"]
    assert df["store"].tolist() == [str(stores[0]), str(stores[1]), str(stores[2]),
                                    str(stores[2])]
    assert df["data.n_train"].tolist() == [8, 8, 6, 12]
    assert df["data.noise"].tolist() == [0.5, 0.1, 0.5, 0.5]
    assert df["cells_done"].tolist() == df["cells_total"].tolist() == [9, 9, 9, 9]
    swept = ddlab.open_results(stores[2])
    expected = summarize(swept).isel(epoch=-1, width=-1).sel(n_train=12)
    row = df.iloc[3]
    for name in summary:
        np.testing.assert_allclose(row[name], float(expected[name]), equal_nan=True)


def test_wall_time_shares_each_chunk_among_its_cells(stores):
    ds = ddlab.open_results(stores[2])
    chunks = np.unique(ds["wall_time"].values)  # the cells of a chunk carry its time
    rows = ddlab.table(stores[2])
    np.testing.assert_allclose(rows["wall_time_s"].sum(), chunks.sum())
    assert (rows["wall_time_s"] > 0).all()


def test_one_store_names_no_keys_and_a_partial_store_counts_its_cells(stores, tmp_path):
    path = tmp_path / "partial.zarr"
    ddlab.run(_with(), out=path, progress=False)
    zarr.open_group(path, mode="r+")["completed"][2] = False  # width 6 still running
    df = ddlab.table(path)
    assert list(df.columns[:3]) == ["store", "name", "peak_width"]
    assert (df["cells_done"].item(), df["cells_total"].item()) == (6, 9)
    in_memory = ddlab.table([ddlab.open_results(stores[0])])
    assert in_memory["store"].item() == str(stores[0].resolve())
    assert isinstance(in_memory, pd.DataFrame)


def test_differing_keys_compare_resolved_experiments():
    exps = [ddlab.load_experiment(spec) for spec in (_with(), _with(noise=0.1),
                                                     _with(n_train=[6, 12]))]
    assert differing_keys(exps) == [{"data.n_train": 8, "data.noise": 0.5},
                                    {"data.n_train": 8, "data.noise": 0.1},
                                    {"data.n_train": [6, 12], "data.noise": 0.5}]
    assert differing_keys(exps[:1]) == [{}]


@pytest.mark.parametrize(("results", "match"), [
    ([], r"results = \[\]: give at least one result store"),
    ("nowhere.zarr", "path = 'nowhere.zarr': no such result store"),
])
def test_bad_input_names_the_key(results, match):
    with pytest.raises(ValueError, match=match):
        ddlab.table(results)
