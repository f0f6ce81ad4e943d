"""The command line as a user types it: in-process through ``main``, plus one real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TINY, digest

import ddlab
from ddlab.cli import main


def error_line(capsys) -> str:
    """stderr of the last call, which must be exactly one line."""
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_run_show_and_info(capsys, tmp_path, config, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(config), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    store = Path("results") / "tiny.zarr"
    assert "test_loss" in printed and f"results: {store}" in printed
    assert main(["info", str(store)]) == 0
    info = capsys.readouterr().out
    assert "completed: 18 of 18 cells (100.0%)" in info
    assert "width=3" in info and "\n  lr = 0.01\n" in info
    assert f"ddlab run {config} --device cpu" in info  # what was called, recorded
    assert main(["show", str(config), "--set", "data.noise=[0.1,0.2]"]) == 0
    show = capsys.readouterr().out
    assert "noise (2) x width (3) x data_seed (2) x init_seed (3) = 36 cells" in show
    assert "cost: about" in show and '\n  record = "all"\n' in show
    assert "  noise = [0.1, 0.2]                  # swept; default 1.5\n" in show


def test_show_prints_record_compactly(capsys, config):
    assert main(["show", str(config), "--set", "train.epochs=1000",
                 "--set", "train.record={log=30}"]) == 0
    out = capsys.readouterr().out
    assert "record = {log = 30}" in out and "30 recorded epochs of 1000" in out


def test_info_shows_the_resolved_experiment_with_its_non_defaults_marked(capsys, tmp_path):
    config = tmp_path / "described.toml"
    config.write_text('description = """\nA tiny\nrandom-features fit."""\n'
                      + TINY.replace("[model]\n", '[model]\nfamily = "random_features"\n'))
    out = tmp_path / "described.zarr"
    assert main(["run", str(config), "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "description: A tiny random-features fit."
    start = lines.index("resolved experiment (keys not at their default marked # default ...):")
    listing = [line.strip() for line in lines[start + 1:]]
    assert listing[:2] == ['name = "tiny"', "[data]"]
    marked = {line.split(" = ")[0]: line.split("  # ")[1] for line in listing if "#" in line}
    assert marked == {"dim": "default 5", "n_train": "default 20", "n_test": "default 20",
                      "n_population": "default 10000", "noise": "default 1.5",
                      "family": 'default "mlp"',
                      "width": "default [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]",
                      "epochs": "default 50", "dtype": 'default "float32"',
                      "data": "default 1", "init": "default 100"}
    # defaults that follow from other keys are defaults: random features fit in closed form
    assert 'fit = "min_norm"' in listing and 'activation = "relu"' in listing
    assert "lr = 0.01" in listing  # every key, also those at their default
    assert len([line for line in listing if " = " in line]) == len(ddlab.config.FIELDS) + 1
    assert not any(line.startswith(("title:", "  title:")) for line in lines)


def test_json_outputs_parse_and_match_the_text(capsys, stored, config):
    assert main(["info", str(stored), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    ds = ddlab.open_results(stored)
    assert info["dims"] == {str(d): n for d, n in ds.sizes.items()}
    assert info["completed"] == {"cells": 18, "total": 18, "damaged": 0}
    assert info["integrity"].endswith("chunk files match their checksums")
    assert info["experiment"] == ddlab.results.experiment_of(ds).to_dict()
    assert info["non_default"]["data.noise"] == 1.5 and "train.lr" not in info["non_default"]
    assert info["variables"]["wall_time"] == "s"
    assert info["history"] == ds.attrs["history"].splitlines()
    assert main(["show", str(config), "--json", "--set", "data.noise=[0.1,0.2]"]) == 0
    show = json.loads(capsys.readouterr().out)
    assert show["grid"]["dims"] == {"noise": 2, "width": 3, "data_seed": 2, "init_seed": 3}
    assert show["grid"]["cells"] == 36 and show["grid"]["recorded_epochs"] == 9
    assert show["experiment"]["data"]["noise"] == [0.1, 0.2]
    assert show["memory"]["chunks"] >= 1 and show["store_bytes"] > 0


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"ddlab {ddlab.__version__}"


def test_set_overrides_reach_run_and_stored_config(capsys, tmp_path, config):
    out = tmp_path / "over.zarr"
    assert main(["run", str(config), "--out", str(out), "--quiet", "--set", "train.lr=0.05",
                 "--set", "model.width=[2,4]", "--set", "data.noise=[0.1,1.5]",
                 "--set", "train.optimizer=sgd"]) == 0
    ds = ddlab.open_results(out)
    exp = ddlab.results.experiment_of(ds)
    assert exp.train.lr == 0.05 and exp.train.optimizer == "sgd"
    assert list(ds.width.values) == [2, 4] and list(ds.noise.values) == [0.1, 1.5]
    assert "--set train.lr=0.05" in ds.attrs["command"]


BAD = [
    ("[train]\nlr = = 0.1\n", [], "invalid TOML", "line 2"),
    ("[train]\nlrr = 0.1\n", [], "train.lrr = 0.1: unknown key", "did you mean 'lr'"),
    ("", ["train.optimiser=sgd"], "train.optimiser = 'sgd': unknown key", "'optimizer'"),
    ("[train]\nepochs = 'many'\n", [], "train.epochs = 'many'", "expected an integer"),
    ("[model]\nwidth = []\n", [], "model.width = []", "empty width grid"),
    ("[data]\nn_train = 0\n", [], "data.n_train = 0", "must be >= 1"),
    ("[seeds]\ninit = -3\n", [], "seeds.init = -3", "must be >= 1"),
    ("", ["train.momentum=1.5"], "train.momentum = 1.5", "must be < 1.0"),
    ("", ["model.activation=gelu"], "model.activation = 'gelu'", "expected one of"),
    ("", ["data.noise=[0.1,-1]"], "data.noise[1] = -1.0", "must be >= 0"),
    ("", ["train.lr=-0.5"], "train.lr = -0.5", "must be > 0"),
    ("", ["trainlr=1"], "--set 'trainlr=1'", "expected section.key=value"),
]


@pytest.mark.parametrize("text,sets,message,detail", BAD)
def test_bad_input_exits_2_and_leaves_the_store_untouched(capsys, tmp_path, stored, text, sets,
                                                          message, detail):
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY + text if "[" not in text else text)
    before = digest(stored)
    args = [f"--set={s}" for s in sets]
    assert main(["run", str(bad), "--out", str(stored), "--quiet", *args]) == 2
    err = error_line(capsys)
    assert message in err and detail in err, err
    assert digest(stored) == before


def test_outputs_that_must_not_be_touched(capsys, tmp_path, stored, config):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(["run", str(config), "--out", str(blocker / "x.zarr"), "--quiet"]) == 2
    assert "cannot write there" in error_line(capsys)
    before = digest(stored)
    assert main(["run", str(config), "--out", str(stored), "--quiet",
                 "--set", "train.lr=0.5"]) == 2
    err = error_line(capsys)
    assert "holds a different experiment" in err and "--fresh" in err
    assert digest(stored) == before
    # a directory that is not a ddlab store is never overwritten, even with --fresh
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    assert main(["run", str(config), "--out", str(other), "--quiet", "--fresh"]) == 2
    assert "not a ddlab result store" in error_line(capsys)
    assert (other / "notes.txt").read_text() == "keep me"


def test_info_and_export_on_something_that_is_not_a_store(capsys, tmp_path):
    (tmp_path / "plain").mkdir()
    assert main(["info", str(tmp_path / "plain")]) == 2
    err = error_line(capsys)
    assert "not a ddlab result store" in err and "choose another output" not in err
    assert main(["info", str(tmp_path / "nowhere")]) == 2
    assert "no such result store" in error_line(capsys)


def test_export_positional_and_flag_forms_refuse_to_clobber(capsys, tmp_path, stored):
    assert main(["export", str(stored), str(tmp_path / "a.nc")]) == 0
    assert main(["export", str(stored), "--netcdf", str(tmp_path / "b.nc")]) == 0
    assert capsys.readouterr().out.count("wrote") == 2
    assert main(["export", str(stored), str(tmp_path / "a.nc")]) == 0  # ddlab's own: replaced
    readme = tmp_path / "README.md"
    readme.write_text("precious")
    assert main(["export", str(stored), str(readme)]) == 2
    assert "not written by ddlab" in error_line(capsys) and readme.read_text() == "precious"
    before = digest(stored)
    assert main(["export", str(stored), str(stored)]) == 2
    assert "inside the store" in error_line(capsys)
    assert main(["export", str(stored), str(stored / "x.nc")]) == 2
    assert "inside the store" in error_line(capsys)
    assert digest(stored) == before
    assert main(["export", str(stored), str(readme), "--force"]) == 0
    assert readme.stat().st_size > 1000


def test_a_real_process_exits_2_with_one_line(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[train]\nlr = -1\n")
    proc = subprocess.run([sys.executable, "-m", "ddlab", "run", str(cfg), "--quiet"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "ddlab: error: train.lr = -1.0: must be > 0.0"
    assert not (tmp_path / "results").exists()


def test_the_command_line_loads_no_heavy_library_until_a_command_needs_it():
    code = ("import sys; from ddlab.cli import _main; _main._parser(); "
            "print(sorted(m for m in ('matplotlib', 'torch', 'joblib', 'tqdm', 'dask') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
