"""``ddlab table STORE ...``: printed as Markdown, written as CSV or Markdown, never clobbering."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ddlab
from ddlab.cli import main

SPEC = {
    "data": {"dim": 2, "n_train": 8, "n_test": 10, "n_population": 30, "noise": 0.5},
    "model": {"width": [2, 4]},
    "train": {"epochs": 3, "lr": 0.05},
    "seeds": {"root": 7, "data": 1, "init": 2},
}


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """Three stores: noise 0.5, noise 0.1, and n_train swept over 6 and 12."""
    root = tmp_path_factory.mktemp("table")
    specs = {"a": {}, "b": {"noise": 0.1}, "swept": {"n_train": [6, 12]}}
    paths = []
    for name, data in specs.items():
        paths.append(root / f"{name}.zarr")
        ddlab.run({**SPEC, "data": {**SPEC["data"], **data}}, out=paths[-1], progress=False)
    return [str(p) for p in paths]


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def test_three_stores_print_a_row_per_sweep_point(stores, capsys):
    assert main(["table", *stores]) == 0
    header, rule, *rows = capsys.readouterr().out.splitlines()
    columns = _cells(header)
    assert columns[:4] == ["store", "name", "data.n_train", "data.noise"]
    assert columns[-3:] == ["wall_time_s", "cells_done", "cells_total"]
    assert rule.startswith("|---") and rule.endswith("-:|")  # numbers right-aligned
    table = [dict(zip(columns, _cells(row), strict=True)) for row in rows]
    assert [(r["store"], r["data.n_train"], r["data.noise"]) for r in table] == [
        (stores[0], "8", "0.5"), (stores[1], "8", "0.1"), (stores[2], "6", "0.5"),
        (stores[2], "12", "0.5")]
    assert all((r["cells_done"], r["cells_total"]) == ("4", "4") for r in table)
    best = ddlab.table(stores)["best_height"]
    assert [r["best_height"] for r in table] == [f"{v:.4g}" for v in best]


def test_out_writes_csv_and_markdown_and_replaces_only_its_own(stores, tmp_path, capsys):
    csv = tmp_path / "runs.csv"
    assert main(["table", *stores, "--out", str(csv)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {csv} (4 rows)"
    read = pd.read_csv(csv)
    expected = ddlab.table(stores)
    assert list(read.columns) == list(expected.columns)
    np.testing.assert_allclose(read["best_height"], expected["best_height"])  # full precision
    assert main(["table", stores[0], "--out", str(csv)]) == 0  # its own file: replaced
    assert len(pd.read_csv(csv)) == 1
    md = tmp_path / "runs.md"
    assert main(["table", stores[2], "--out", str(md)]) == 0
    lines = md.read_text().splitlines()
    assert lines[0] == "<!-- written by ddlab table -->" and len(lines) == 5
    assert main(["table", stores[2], "--out", str(md)]) == 0
    notes = tmp_path / "notes.md"
    notes.write_text("mine")
    assert main(["table", stores[0], "--out", str(notes)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"ddlab: error: out = '{notes}': exists and was not written by ddlab; "
                   f"use --force to replace it")
    assert notes.read_text() == "mine"
    assert main(["table", stores[0], "--out", str(notes), "--force"]) == 0
    assert notes.read_text().startswith("<!-- written by ddlab table -->")


@pytest.mark.parametrize(("argv", "message"), [
    (["--out", "runs.xlsx"], "out = 'runs.xlsx': expected a .csv or .md file name"),
    (["--metric", "loss"], "metric = 'loss'"),
])
def test_bad_input_is_one_line(stores, capsys, argv, message):
    assert main(["table", stores[0], *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"ddlab: error: {message}") and "\n" not in err
