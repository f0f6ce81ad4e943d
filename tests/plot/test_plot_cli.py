"""``ddlab plot STORE``: stable files, partial stores, one-line errors naming the key."""

from __future__ import annotations

import argparse
import functools
import re

import pytest
import zarr

import ddlab
import ddlab.sim
from ddlab.cli import _plot

SPEC = {
    "data": {"dim": 3, "n_train": 12, "n_test": 10, "n_population": 100, "noise": 1.0},
    "model": {"width": [1, 2, 4]},
    "train": {"epochs": 6, "lr": 0.02},
    "seeds": {"root": 5, "data": 1, "init": 4},
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ddlab")
    _plot.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser


def plot_cli(*argv: str) -> int:
    args = _parser().parse_args(["plot", *map(str, argv)])
    return args.handler(args)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "run.zarr"
    ddlab.run(SPEC, out=path, progress=False)
    return path


def test_the_same_store_gives_byte_identical_figures(store, tmp_path, capsys):
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    assert plot_cli(store, "--out", first) == 0
    assert plot_cli(store, "--out", second) == 0
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert capsys.readouterr().out.splitlines() == [f"wrote {first}", f"wrote {second}"]


def test_default_out_lies_next_to_the_store(store, capsys):
    assert plot_cli(store, "--kind", "curves", "--var", "f_error", "--over", "epoch") == 0
    out = store.with_name("run_curves_f_error.png")
    assert out.exists() and capsys.readouterr().out.strip() == f"wrote {out}"
    assert _plot.default_out(store, "bias-variance", "test_loss").name == "run_bias_variance.png"


@pytest.fixture(scope="module")
def partial(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "partial.zarr"
    ddlab.run(SPEC, out=path, progress=False)
    zarr.open_group(path, mode="r+")["completed"][2] = False  # width 4 still running
    return path


@pytest.mark.parametrize(("kind", "suffix"), [("heatmap", "pdf"), ("seed", "png"),
                                              ("bias-variance", "png")])
def test_every_kind_draws_a_partial_store(partial, tmp_path, kind, suffix, capsys):
    out = tmp_path / f"{kind}.{suffix}"
    assert plot_cli(partial, "--kind", kind, "--out", out) == 0
    assert out.read_bytes()[:4] in (b"%PDF", b"\x89PNG")
    assert "(8 of 12 cells computed, 66%)" in capsys.readouterr().out


def test_decomposition_trains_best_in_class_lazily(store, tmp_path, monkeypatch):
    fast = functools.partial(ddlab.sim.best_in_class, epochs=50, restarts=1, n_samples=100,
                             cache=False)
    monkeypatch.setattr(ddlab.sim, "best_in_class", fast)
    out = tmp_path / "dec.svg"
    assert plot_cli(store, "--kind", "decomposition", "--out", out) == 0
    assert out.read_text().startswith("<?xml")


def test_a_swept_store_gives_small_multiples_or_needs_a_selection(tmp_path):
    spec = {**SPEC, "data": {**SPEC["data"], "noise": [0.5, 1.5]},
            "model": {"width": [1, 2]}, "train": {"epochs": 3, "lr": 0.02}}
    swept = tmp_path / "swept.zarr"
    ddlab.run(spec, out=swept, progress=False)
    fig = _plot.draw(ddlab.open_results(swept), "heatmap")
    assert [ax.get_title(loc="left") for ax in fig.axes[:2]] == ["noise = 0.5", "noise = 1.5"]
    fig = _plot.draw(ddlab.open_results(swept), "seed", at={"noise": 1.5})
    assert len(fig.axes) == 6
    with pytest.raises(ValueError, match=r"kind = 'seed': the store is swept over noise \(2\)"):
        plot_cli(swept, "--kind", "seed", "--out", tmp_path / "t.png")
    with pytest.raises(ValueError, match=r"sel = 'noise=0\.7': no noise = 0\.7"):
        plot_cli(swept, "--sel", "noise=0.7")


def test_bias_variance_needs_pred_mean(tmp_path):
    spec = {**SPEC, "train": {**SPEC["train"], "record_bias_variance": False}}
    path = tmp_path / "nobv.zarr"
    ddlab.run(spec, out=path, progress=False)
    with pytest.raises(ValueError, match="kind = 'bias-variance': the store has no pred_mean"):
        plot_cli(path, "--kind", "bias-variance")


@pytest.mark.parametrize(("argv", "match"), [
    (["--kind", "violin"], "kind = 'violin': expected one of heatmap, curves"),
    (["--var", "loss"], "var = 'loss': not a variable of the store"),
    (["--var", "completed"], "var = 'completed'"),
    (["--kind", "seed", "--var", "f_error"], "var = 'f_error': kind 'seed'"),
    (["--kind", "curves", "--over", "lr"], "over = 'lr'"),
    (["--over", "epoch"], "over = 'epoch': kind 'heatmap'"),
    (["--sel", "lr"], "sel = 'lr': expected DIM=VALUE"),
    (["--sel", "lr=0.1"], "sel = 'lr=0.1': 'lr' is not a dim"),
    (["--out", "fig.jpg"], "out = 'fig.jpg'"),
])
def test_bad_input_is_one_line_naming_the_key(store, argv, match):
    with pytest.raises(ValueError, match=re.escape(match)) as err:
        plot_cli(store, *argv)
    assert "\n" not in str(err.value)


def test_not_a_store(tmp_path):
    with pytest.raises(ValueError, match=r"path = .*: not a ddlab result store"):
        plot_cli(tmp_path)
    with pytest.raises(ValueError, match=r"path = .*: no such result store"):
        plot_cli(tmp_path / "missing.zarr")
