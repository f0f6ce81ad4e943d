"""``ddlab plot STORE``: stable files, partial stores, one-line errors naming the key."""

from __future__ import annotations

import argparse
import functools
import re

import numpy as np
import pytest
import zarr

import ddlab
import ddlab.sim
from ddlab.cli import _plot, main

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
    (["--kind", "heatmap", "--over", "epoch"], "over = 'epoch': kind 'heatmap'"),
    (["--kind", "curves", "--over", "n_train"], "over = 'n_train': not a dim of test_loss"),
    (["--sel", "width=[1,3]"], "sel = 'width=[1,3]': no width = 3 in the store"),
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


#: a sample-wise sweep: one width, n_train swept, trained for a few epochs
SAMPLEWISE = {
    "data": {"dim": 2, "n_train": [4, 8, 12], "n_test": 10, "n_population": 50, "noise": 0.5},
    "model": {"width": [6]},
    "train": {"epochs": 4, "lr": 0.05},
    "seeds": {"root": 3, "data": 1, "init": 3},
}
#: random features fitted in closed form (one epoch entry), n_train swept
CLOSED_FORM = {
    "data": {"target": "teacher", "input": "normal", "dim": 4, "n_train": [6, 12],
             "n_test": 20, "n_population": 50, "noise": 0.3},
    "model": {"family": "random_features", "width": [2, 4, 8, 16, 24]},
    "seeds": {"root": 3, "data": 1, "init": 3},
}


@pytest.fixture(scope="module")
def samplewise(tmp_path_factory):
    """Two sample-wise sweeps, at noise 0.5 and 0.1."""
    root = tmp_path_factory.mktemp("samplewise")
    paths = []
    for noise in (0.5, 0.1):
        paths.append(root / f"noise{noise}.zarr")
        ddlab.run({**SAMPLEWISE, "data": {**SAMPLEWISE["data"], "noise": noise}},
                  out=paths[-1], progress=False)
    return paths


@pytest.fixture(scope="module")
def closed_form(tmp_path_factory):
    path = tmp_path_factory.mktemp("closed") / "rf.zarr"
    ddlab.run(CLOSED_FORM, out=path, progress=False)
    return path


@pytest.fixture
def drawn(monkeypatch):
    """The figures ``ddlab plot`` saves, in order."""
    figures, save = [], ddlab.plot.save

    def keep(fig, path, *args, **kwargs):
        figures.append(fig)
        return save(fig, path, *args, **kwargs)

    monkeypatch.setattr(ddlab.plot, "save", keep)
    return figures


def _final_mean(path, **at) -> np.ndarray:
    """Mean over seeds of the final test loss of a store, at ``at``, squeezed."""
    ds = ddlab.open_results(path).sel(at)
    return ds["test_loss"].isel(epoch=-1).mean(["data_seed", "init_seed"]).squeeze().values


def test_two_stores_over_a_swept_key_share_axes_labelled_by_what_differs(samplewise, tmp_path,
                                                                         drawn, capsys):
    a, b = samplewise
    out = tmp_path / "ab.png"
    assert main(["plot", str(a), str(b), "--over", "n_train", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    (ax,) = drawn[0].axes
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["noise = 0.5", "noise = 0.1", "band: ± standard error, 3 seed cells"]
    lines = {line.get_label(): line for line in ax.get_lines()}
    for label, store in zip(legend, samplewise, strict=False):
        np.testing.assert_array_equal(lines[label].get_xdata(), [4, 8, 12])
        np.testing.assert_allclose(lines[label].get_ydata(), _final_mean(store))
    assert ax.get_xlabel().startswith("training sample size")
    # without --over the x axis is the one dim that varies besides epoch; next to the first
    assert main(["plot", str(a), str(b)]) == 0
    assert drawn[1].axes[0].get_xlabel() == ax.get_xlabel()
    assert a.with_name("noise0.5_vs_noise0.1_curves_test_loss.png").exists()


def test_stores_with_the_same_experiment_go_by_name(samplewise, tmp_path, drawn):
    a, _ = samplewise
    copy = tmp_path / "again.zarr"
    ddlab.run({**SAMPLEWISE, "data": {**SAMPLEWISE["data"], "noise": 0.5}}, out=copy,
              progress=False)
    assert main(["plot", str(a), str(copy), "--out", str(tmp_path / "same.png")]) == 0
    legend = [t.get_text() for t in drawn[0].axes[0].get_legend().get_texts()]
    assert legend[:2] == ["noise0.5", "again"]


def test_sel_reads_toml_values(samplewise, tmp_path, drawn):
    a, _ = samplewise
    assert main(["plot", str(a), "--over", "epoch", "--sel", "n_train=[4, 12]",
                 "--out", str(tmp_path / "sel.png")]) == 0
    (ax,) = drawn[0].axes
    ds = ddlab.open_results(a)
    lines = {line.get_label(): line for line in ax.get_lines()}
    # the Bayes risk line of the one noise level; no constant predictor (f_population
    # varies with n_train, so the selection has no one Var f)
    assert list(lines) == ["n_train = 4, width = 6", "n_train = 12, width = 6", "Bayes risk σ²"]
    mean = ds["test_loss"].sel(n_train=12).mean(["data_seed", "init_seed"]).squeeze().values
    np.testing.assert_allclose(lines["n_train = 12, width = 6"].get_ydata(), mean)


def _data_lines(ax) -> list:
    """The lines of data: not the unlabelled ones nor the null models' grey references."""
    return [line for line in ax.get_lines()
            if not line.get_label().startswith(("_", "Bayes risk", "constant predictor"))]


def test_default_figure_of_a_sample_wise_sweep(samplewise, drawn):
    a, _ = samplewise
    assert main(["plot", str(a)]) == 0  # one width: epoch x n_train, not one-row panels
    ax, bar = drawn[0].axes
    assert ax.get_ylabel().startswith("training sample size")
    assert bar.get_ylabel().startswith("mean over seeds of")
    mean = ddlab.open_results(a)["test_loss"].mean(["data_seed", "init_seed"]).squeeze()
    np.testing.assert_allclose(ax.collections[0].get_array().reshape(3, 5),
                               mean.transpose("n_train", "epoch").values)
    assert a.with_name("noise0.5_heatmap_test_loss.png").exists()
    assert main(["plot", str(a), "--kind", "curves"]) == 0  # over n_train: one line
    (ax,) = drawn[1].axes
    (line,) = _data_lines(ax)
    assert line.get_label() == "width = 6"
    np.testing.assert_allclose(line.get_ydata(), _final_mean(a))


def test_default_figure_of_a_closed_form_store(closed_form, tmp_path, drawn):
    assert main(["plot", str(closed_form)]) == 0  # one epoch entry: curves, not a heatmap
    axes = drawn[0].axes
    assert [ax.get_title(loc="left") for ax in axes] == ["n_train = 6", "n_train = 12"]
    for ax, n in zip(axes, (6, 12), strict=True):
        (line,) = _data_lines(ax)
        np.testing.assert_array_equal(line.get_xdata(), [2, 4, 8, 16, 24])
        np.testing.assert_allclose(line.get_ydata(), _final_mean(closed_form, n_train=n))
    assert closed_form.with_name("rf_curves_test_loss.png").exists()
    # asked for, a heatmap takes the two dims that vary: n_train x width
    assert main(["plot", str(closed_form), "--kind", "heatmap",
                 "--out", str(tmp_path / "map.png")]) == 0
    ax = drawn[1].axes[0]
    assert ax.get_xlabel().startswith("training sample size")
    assert ax.collections[0].get_array().shape == (5, 2)


@pytest.mark.parametrize(("argv", "match"), [
    (["--sel", "n_train=6", "--kind", "heatmap"],
     "kind = 'heatmap': test_loss varies along width only here"),
    (["--kind", "seed", "--sel", "n_train=6"], "kind = 'seed': draws training over epochs"),
    (["--over", "epoch"], "over = 'epoch': the store has one epoch here"),
])
def test_closed_form_refusals_are_one_line(closed_form, capsys, argv, match):
    assert main(["plot", str(closed_form), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert match in err and "\n" not in err


def test_several_stores_are_curves_only(samplewise, closed_form, capsys):
    a, b = samplewise
    assert main(["plot", str(a), str(b), "--kind", "heatmap"]) == 2
    assert "kind = 'heatmap': several stores are drawn as curves" in capsys.readouterr().err
    assert main(["plot", str(a), str(closed_form), "--over", "n_train",
                 "--sel", "n_train=8"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"ddlab: error: sel = 'n_train=8': no n_train = 8 in '{closed_form}' (one of 6, 12)")
    assert main(["plot", str(closed_form), str(a), "--over", "width"]) == 2
    assert capsys.readouterr().err.strip() == (
        "ddlab: error: over = 'width': the store labelled 'noise0.5' has one width here; "
        "choose a dim with several values (n_train, epoch)")
