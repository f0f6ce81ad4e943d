"""The memory budget: chunks sized to fit it, measured peaks under it, show's estimates."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import HWM, assert_close64

import ddlab
from ddlab.cli import main
from ddlab.results import storage_bytes
from ddlab.sim import DEFAULT_MEMORY_BUDGET, format_bytes, parse_bytes, plan_run

#: 2 widths x 4 data seeds x 1500 inits x 3001 epochs: every metric alone is a quarter of
#: a GiB, all of them together more than the 1 GB budget, one data seed's chunk too (so
#: the budget splits it by width), and they train in seconds
LARGE = """
name = "large"
[data]
dim = 2
n_train = 8
n_test = 8
n_population = 10
[model]
width = [1, 2]
[train]
epochs = 3000
record_bias_variance = false
[seeds]
data = 4
init = 1500
"""
#: a grid shaped like benchmarks/scale.py: log-spaced widths and record, a batched sweep
LOG_SPACED = """
name = "log_spaced"
[data]
n_population = 1000
noise = [0.1, 0.5, 1.5]
[model]
width = {start = 1, stop = 256, num = 8, log = true}
[train]
epochs = 150
record = {log = 30}
[seeds]
data = 3
init = 20
"""
#: prints the peak resident memory of a ``ddlab run`` in this very process
MEASURE = HWM + """
import sys
from ddlab.cli import main
code = main(sys.argv[1:])
print("peak", hwm())
sys.exit(code)
"""

def _measured_run(config: Path, out: Path, *args: str) -> int:
    """Peak resident bytes of ``ddlab run`` in a fresh process."""
    done = subprocess.run([sys.executable, "-c", MEASURE, "run", str(config), "--out", str(out),
                           "--quiet", "--device", "cpu", *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split("peak")[-1])


def _shown(config: Path, *args: str) -> tuple[int, int]:
    """The peak memory (one process) and store size ``ddlab show`` estimates, in bytes."""
    text = subprocess.run([sys.executable, "-m", "ddlab", "show", str(config), *args],
                          capture_output=True, text=True, check=True).stdout
    scale = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
    mem = re.search(r"peak memory: about ([\d.e+]+) (\w+) in one process", text)
    size = re.search(r"store size: about ([\d.e+]+) (\w+) on disk", text)
    return (int(float(mem[1]) * scale[mem[2]]), int(float(size[1]) * scale[size[2]]))


def _disk(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


@pytest.mark.slow  # about 40 s on 2 idle cores: a GiB of results to train and compress
def test_a_grid_larger_than_the_budget_runs_under_it(tmp_path):
    config = tmp_path / "large.toml"
    config.write_text(LARGE)
    exp = ddlab.load_experiment(config)
    budget = parse_bytes("1GB")
    assert storage_bytes(exp) > budget  # the results alone would not fit
    plan = plan_run(exp, memory_budget="1GB")
    assert plan.chunk_units < plan_run(exp).chunk_units  # the budget made chunks smaller
    out = tmp_path / "large.zarr"
    peak = _measured_run(config, out, "--memory-budget", "1GB")
    assert peak < budget, f"peak {format_bytes(peak)} over the budget"
    ds = ddlab.open_results(out)
    assert bool(ds.completed.all()) and ds.attrs["memory_budget_bytes"] == budget
    estimated, _ = _shown(config, "--memory-budget", "1GB")
    assert abs(estimated / peak - 1) < 0.3, (format_bytes(estimated), format_bytes(peak))


@pytest.mark.slow  # a real run measured in a subprocess
def test_show_estimates_peak_memory_and_store_size_within_30_percent(tmp_path):
    config = tmp_path / "log_spaced.toml"
    config.write_text(LOG_SPACED)
    out = tmp_path / "log_spaced.zarr"
    peak = _measured_run(config, out)
    memory, size = _shown(config)
    assert abs(memory / peak - 1) < 0.3, (format_bytes(memory), format_bytes(peak))
    assert abs(size / _disk(out) - 1) < 0.3, (format_bytes(size), format_bytes(_disk(out)))


@pytest.mark.parametrize("budget,message", [
    ("100MB", "memory_budget = '100MB': too small for one chunk of this grid (width 5"),
    ("lots", "memory_budget = 'lots': expected a size such as '2GB'"),
    ("-1GB", "memory_budget = '-1GB': expected a size"),
    ("0", "memory_budget = '0': expected a positive size"),
])
def test_a_bad_or_too_small_budget_is_one_line_and_touches_nothing(capsys, tmp_path, config,
                                                                   budget, message):
    out = tmp_path / "never.zarr"
    assert main(["run", str(config), "--out", str(out), f"--memory-budget={budget}"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.toml"]


def test_results_in_memory_must_fit_the_budget_too(config):
    exp = ddlab.load_experiment(config).replace(data={"n_population": 200_000},
                                                train={"epochs": 40})
    plan_run(exp, memory_budget="1GB")  # each chunk fits: the whole result does not
    with pytest.raises(ValueError, match=r"out = None: the results take .* give out"):
        ddlab.run(exp, progress=False, memory_budget="1GB")


@pytest.mark.parametrize("text,expected", [
    ("2GB", 2 * 10**9), ("1.5GiB", 3 << 29), ("800 mb", 800 * 10**6), ("512MiB", 1 << 29),
    ("3e9", 3 * 10**9), (1 << 30, 1 << 30), ("2g", 2 * 10**9),
])
def test_sizes_parse_in_decimal_and_binary_units(text, expected):
    assert parse_bytes(text) == expected


def test_the_default_budget_is_2_gib_and_documented():
    assert DEFAULT_MEMORY_BUDGET == 2 << 30
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "--memory-budget" in readme and "2 GiB" in readme


def test_a_tight_budget_splits_a_closed_form_fit_by_data_seed_with_the_same_results():
    exp = ddlab.load_experiment({
        "data": {"target": "linear", "input": "normal", "dim": 40, "n_train": 30,
                 "n_population": 2000},
        "model": {"family": "random_features", "width": [10, 30, 60]},
        "seeds": {"data": 6, "init": 2}})
    whole, split = plan_run(exp), plan_run(exp, chunk_units=130)
    assert [c.data_seeds for c in whole.chunks] == [(0, 6)]
    assert {c.data_seeds for c in split.chunks} == {(0, 1), (1, 2), (2, 3), (3, 4), (4, 5),
                                                    (5, 6)}
    a = ddlab.run(exp, device="cpu", progress=False)
    b = ddlab.run(exp, device="cpu", progress=False, chunk_units=130)
    for name in ("train_loss", "test_loss", "f_error", "pred_mean", "pred_var_init"):
        # round-off only (interpolating cells' train loss is round-off itself, ~1e-30)
        assert_close64(b[name], a[name], name, atol=1e-20)
