"""ddlab.plot draws what it says: cell edges, bands, labels, missing cells, stable files."""

from __future__ import annotations

import re

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr
import zarr

import ddlab
from ddlab import plot
from ddlab.theory import Risk

SEEDS = ["data_seed", "init_seed"]
SPEC = {
    "data": {"dim": 3, "n_train": 12, "n_test": 10, "n_population": 200, "noise": 1.0},
    "model": {"width": [1, 2, 4, 8, 16]},
    "train": {"epochs": 10, "lr": 0.02},
    "seeds": {"root": 3, "data": 2, "init": 5},
}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def ds():
    return ddlab.run(SPEC, progress=False)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _grid(x, y, z, x_name="epoch", y_name="width", units="1") -> xr.Dataset:
    attrs = {"long_name": "a synthetic metric", "units": units}
    return xr.Dataset({"m": ((y_name, x_name), np.asarray(z, dtype=float), attrs)},
                      coords={x_name: x, y_name: y})


def test_log_spaced_widths_get_geometric_cell_edges(ds):
    h = plot.heatmap(ds)
    assert h.ax.get_yscale() == "log" and h.ax.get_xscale() == "linear"
    coords = h.mesh.get_coordinates()  # (len(y) + 1, len(x) + 1, 2)
    w = np.array([1, 2, 4, 8, 16], dtype=float)
    expected = np.concatenate([[w[0] / np.sqrt(2)], np.sqrt(w[1:] * w[:-1]), [w[-1] * np.sqrt(2)]])
    np.testing.assert_allclose(coords[:, 0, 1], expected)
    np.testing.assert_allclose(coords[0, :, 0], np.arange(12) - 0.5)
    # every cell holds the mean over seeds of its (width, epoch)
    mean = ds["test_loss"].mean(SEEDS).transpose("width", "epoch").values
    np.testing.assert_allclose(h.mesh.get_array().reshape(mean.shape), mean)


def test_irregular_linear_grid_and_epoch_zero_on_a_log_axis():
    epochs, widths = [0, 1, 2, 4, 8, 16, 32], [1, 2, 5, 9]
    g = _grid(epochs, widths, np.arange(28).reshape(4, 7) + 1.0)
    h = plot.heatmap(g, "m", log="x")
    assert h.ax.get_yscale() == "linear" and h.ax.get_xscale() == "symlog"
    coords = h.mesh.get_coordinates()
    np.testing.assert_allclose(coords[:, 0, 1], [0.5, 1.5, 3.5, 7, 11])
    # x edges are midpoints in the axis' own (symlog) coordinates, around epoch 0 too
    t = h.ax.xaxis.get_transform().transform(coords[0, :, 0])
    v = h.ax.xaxis.get_transform().transform(np.array(epochs, dtype=float))
    np.testing.assert_allclose(t[1:-1], (v[1:] + v[:-1]) / 2)
    assert coords[0, 0, 0] < 0 < coords[0, 1, 0]


def test_log_scale_is_chosen_only_for_log_spaced_coordinates():
    assert plot.is_log_spaced([1, 2, 3, 4, 5, 7, 10, 14, 20, 30, 44, 64])
    assert plot.is_log_spaced([0, 1, 2, 4, 8, 16, 32, 64])  # a leading 0 (epoch 0) aside
    assert not plot.is_log_spaced(range(1, 11))
    assert not plot.is_log_spaced(range(0, 51))
    np.testing.assert_allclose(plot.edges(np.array([1.0, 4.0]), "log"), [0.5, 2, 8])


def test_labels_carry_long_name_and_units(ds):
    h = plot.heatmap(ds, "f_error", reduce="median")
    bar = _flat(h.colorbar.ax.get_ylabel())
    assert ds["f_error"].attrs["long_name"] in bar and bar.startswith("median over seeds")
    assert "[1]" not in bar  # dimensionless units are not printed
    assert _flat(h.ax.get_xlabel()) == ds["epoch"].attrs["long_name"]
    assert _flat(h.ax.get_ylabel()) == ds["width"].attrs["long_name"]
    timed = _grid([0, 1], [1, 2], [[1, 2], [3, 4]], units="s")
    assert _flat(plot.heatmap(timed, "m").colorbar.ax.get_ylabel()).endswith(
        "a synthetic metric [s]")
    c = plot.curves(ds, "test_loss", over="n_params")
    assert _flat(c.ax.get_ylabel()) == ds["test_loss"].attrs["long_name"]
    assert _flat(c.ax.get_xlabel()) == ds["n_params"].attrs["long_name"]


def test_band_half_width_is_the_standard_error(ds):
    c = plot.curves(ds, "test_loss", over="width", band="se")
    (line,), (band,) = c.lines.values(), c.bands.values()
    final = ds["test_loss"].isel(epoch=-1).stack(cell=SEEDS)
    se = final.std("cell", ddof=1).values / np.sqrt(final.sizes["cell"])
    np.testing.assert_allclose(line.get_xdata(), ds["width"].values)
    np.testing.assert_allclose(line.get_ydata(), final.mean("cell").values)
    vertices = band.get_paths()[0].vertices
    for w, s in zip(ds["width"].values, se, strict=True):
        ys = vertices[np.isclose(vertices[:, 0], w), 1]
        np.testing.assert_allclose((ys.max() - ys.min()) / 2, s, rtol=1e-10)
    assert c.ax.get_title(loc="left") == "at epoch = 10"


def test_quantile_band_and_one_line_per_width(ds):
    c = plot.curves(ds, "f_error", over="epoch", band="quantile", at={"width": [2, 16]})
    assert list(c.lines) == ["width = 2", "width = 16"]
    vertices = c.bands["width = 16"].get_paths()[0].vertices
    cells = ds["f_error"].sel(width=16, epoch=5).values.ravel()
    ys = vertices[np.isclose(vertices[:, 0], 5), 1]
    np.testing.assert_allclose([ys.min(), ys.max()], np.quantile(cells, [0.1, 0.9]))
    assert len(plot.curves(ds, "f_error", over="epoch").lines) == 4  # default: 4 widths


def test_theory_adds_noise_variance_for_test_loss_only(ds):
    x = np.array([1.0, 4.0, 16.0])
    risk = Risk(np.array([0.5, 2.0, 0.7]), np.zeros(3), np.array([0.5, 2.0, 0.7]))
    on_test = plot.curves(ds, "test_loss", theory=(x, risk, "toy theory"))
    np.testing.assert_allclose(on_test.theory.get_ydata(), risk.risk + 1.0 ** 2)
    assert on_test.theory.get_label() == "toy theory + σ²"
    on_f = plot.curves(ds, "f_error", theory=xr.DataArray(risk.risk, coords={"width": x}))
    np.testing.assert_allclose(on_f.theory.get_xdata(), x)
    np.testing.assert_allclose(on_f.theory.get_ydata(), risk.risk)


def test_interpolation_threshold_line(ds):
    c = plot.curves(ds, "test_loss", over="n_params")
    np.testing.assert_allclose(c.threshold.get_xdata(), [12, 12])  # n_params = n_train
    assert "n_train = 12" in c.threshold.get_label()
    assert plot.curves(ds, over="width", threshold=3.0).threshold.get_xdata()[0] == 3.0
    assert plot.curves(ds, over="epoch").threshold is None
    assert plot.curves(ds, threshold=None).threshold is None


def test_bias_variance_and_decomposition_draw_their_terms(ds):
    bv = ddlab.analysis.bias_variance(ds)
    c = plot.bias_variance(bv)
    assert len(c.lines) == 5 and not c.bands
    total, bias2 = list(c.lines.values())[:2]
    np.testing.assert_allclose(total.get_ydata(), bv["mean_f_error"].isel(epoch=-1).values)
    np.testing.assert_allclose(bias2.get_ydata(), bv["bias2"].isel(epoch=-1).values)
    over_epoch = plot.bias_variance(bv, over="epoch")
    assert over_epoch.ax.get_title(loc="left") == "at width = 16"
    assert c.threshold is None and over_epoch.threshold is None  # no train loss in bv
    over_params = plot.bias_variance(bv, over="n_params")
    assert over_params.threshold.get_xdata()[0] == SPEC["data"]["n_train"]
    best = xr.Dataset({"approx_error": ("width", np.linspace(0.3, 0.01, 5))},
                      coords={"width": ds["width"].values})
    dec = ddlab.analysis.decompose(ds, best)
    d = plot.decomposition(dec)
    excess, approx, estimation = d.lines.values()
    np.testing.assert_allclose(excess.get_ydata(), ds["f_error"].isel(epoch=-1).mean(SEEDS))
    np.testing.assert_allclose(approx.get_ydata(), best["approx_error"].values)
    np.testing.assert_allclose(estimation.get_ydata(),
                               excess.get_ydata() - approx.get_ydata())
    assert len(d.bands) == 3
    assert len(plot.decomposition(dec, over="epoch", lecture=True).lines) == 4


def test_bias_variance_from_one_data_set_draws_no_variance_over_data():
    one = ddlab.run({**SPEC, "model": {"width": [1, 4]},
                     "seeds": {"root": 3, "data": 1, "init": 4}}, progress=False)
    bv = ddlab.analysis.bias_variance(one)
    assert bv["variance_data"].attrs["n_data_sets"] == 1
    assert "not identifiable" in bv["variance_data"].attrs["comment"]
    assert np.isnan(bv["variance_data"].values).all()
    c = plot.bias_variance(bv)
    labels = list(c.lines)
    assert len(labels) == 3 and sum("over data" in k for k in labels) == 1
    total, bias2, v_init = c.lines.values()
    np.testing.assert_allclose(total.get_ydata(), bias2.get_ydata() + v_init.get_ydata())
    assert "one data set" in labels[1]
    # two data sets: every term, and no comment
    bv2 = ddlab.analysis.bias_variance(ddlab.run({**SPEC, "model": {"width": [1, 4]}},
                                                 progress=False))
    assert bv2["bias2"].attrs["n_data_sets"] == 2
    assert "not estimable" not in bv2["variance_data"].attrs.get("comment", "")
    assert len(plot.bias_variance(bv2).lines) == 5


def test_missing_cells_of_a_partial_store_are_masked(tmp_path):
    spec = {**SPEC, "model": {"width": [1, 2, 4]}, "seeds": {"root": 3, "data": 1, "init": 3}}
    store = tmp_path / "s.zarr"
    ddlab.run(spec, out=store, progress=False)
    zarr.open_group(store, mode="r+")["completed"][0] = False  # width 1 not computed yet
    partial = ddlab.open_results(store)
    h = plot.heatmap(partial)
    mask = np.ma.getmaskarray(h.mesh.get_array()).reshape(3, 11)
    assert mask[0].all() and not mask[1:].any()
    assert [t.get_text() for t in h.ax.get_legend().get_texts()] == ["missing (not computed)"]
    s = plot.seed_figure(partial)
    assert all(np.ma.getmaskarray(m.mesh.get_array()).reshape(3, 11)[0].all()
               for m in s.heatmaps)
    assert "width = 1 (no data yet)" in s.curves[0].lines


def test_seed_figure_layout(ds):
    s = plot.seed_figure(ds)
    assert len(s.fig.axes) == 6  # four panels and two colour bars
    assert s.widths == [1, 2, 8, 16]  # spread evenly on the log-spaced grid
    assert list(s.curves[0].lines) == [f"width = {w}" for w in s.widths]
    assert ds["f_error"].attrs["long_name"] in _flat(s.heatmaps[1].colorbar.ax.get_ylabel())
    assert s.heatmaps[0].ax.get_yscale() == "log"


def test_sweep_grid_shares_one_colour_scale():
    spec = {**SPEC, "data": {**SPEC["data"], "noise": [0.5, 1.5], "n_population": 50},
            "model": {"width": [1, 4]}, "train": {"epochs": 4, "lr": [0.01, 0.05]},
            "seeds": {"root": 3, "data": 1, "init": 3}}
    swept = ddlab.run(spec, progress=False)
    g = plot.sweep_grid(swept, "test_loss")
    assert g.axes.shape == (2, 2)
    norms = {id(p.mesh.norm) for p in g.panels.ravel()}
    assert len(norms) == 1 and g.colorbar is not None
    values = swept["test_loss"].mean(SEEDS).values
    assert g.colorbar.mappable.norm.vmin == pytest.approx(values.min())
    assert g.colorbar.mappable.norm.vmax == pytest.approx(values.max())
    assert g.axes[1, 0].get_title(loc="left") == "noise = 1.5, lr = 0.01"
    lines = plot.sweep_grid(swept, "f_error", col="noise", row="lr", kind="curves")
    assert lines.axes.shape == (2, 2) and lines.colorbar is None
    over_lr = plot.sweep_grid(swept, "f_error", col="noise", kind="curves", over="lr")
    assert over_lr.axes.shape == (1, 2)  # the swept dim on the x axis is no facet
    np.testing.assert_allclose(over_lr.panels[0, 0].lines["width = 1"].get_xdata(), [0.01, 0.05])
    with pytest.raises(ValueError, match="at = None"):
        plot.heatmap(swept)


def test_labels_read_well():
    from ddlab.plot._common import coord_text, legend_columns, wrap

    text = "squared L2(P) distance to the true f, on the population sample (in units of y²)"
    lines = wrap(text, 38).split("\n")
    assert lines[-1].endswith("(in units of y²)") and "(in units of" not in lines[-2]
    assert " ".join(lines) == text and max(map(len, lines)) - min(map(len, lines)) < 12
    attrs = {"long_name": "number of random features N"}
    rf = xr.Dataset(coords={"width": ("width", [10], attrs)})
    assert coord_text(rf, "width", 10) == "N = 10"
    assert coord_text(rf, "batch_size", 0) == "full batch"
    assert coord_text(rf, "lr", 0.001) == "lr = 0.001"
    with plot.style():
        assert legend_columns(["a", "b", "c", "d", "e"], 20.0) == 5  # one row when it fits
        assert legend_columns(["width = 1"] * 5, 3.5) == 3  # two rows: 3 + 2, not 4 + 1


def test_threshold_label_and_legend_below(ds):
    c = plot.curves(ds, "f_error", threshold=(4.0, "p = n = 4"), legend="below")
    assert c.threshold.get_label() == "p = n = 4" and c.threshold.get_xdata()[0] == 4.0
    assert c.ax.get_legend() is None and len(c.ax.figure.legends) == 1
    with pytest.raises(ValueError, match="legend = 'left'"):
        plot.curves(ds, legend="left")


def test_fixed_feature_threshold_sits_at_n_train_not_at_a_low_train_loss():
    # one-hot-like targets nearly in the span: train loss < 1e-3 before N = n
    rf = ddlab.run({"data": {"dim": 3, "n_train": 12, "n_test": 20, "noise": 0.0},
                    "model": {"family": "random_features", "fit": "min_norm",
                              "width": [4, 8, 10, 12, 16, 32]},
                    "seeds": {"root": 5, "data": 2, "init": 2}}, progress=False)
    c = plot.curves(rf, "test_loss")
    assert c.threshold.get_xdata()[0] == 12.0
    assert c.threshold.get_label() == "interpolation threshold N = n = 12"


def test_decade_ticks_beyond_1000_do_not_run_together():
    g = _grid([0, 1, 10, 100, 1000, 10000], [1, 2], np.arange(12.0).reshape(2, 6))
    h = plot.heatmap(g, "m", log="x")
    h.ax.figure.draw_without_rendering()
    labels = [t.get_text() for t in h.ax.get_xticklabels()
              if 0 <= t.get_position()[0] <= 10000]
    assert labels == ["0", "1", "10", "100", "1000", "10⁴"]
    c = plot.curves(_seed_cells(np.array([1.0, 1e-2, 1e-5]), np.zeros(3)), "f_error",
                    log="y")
    c.ax.figure.draw_without_rendering()
    assert "10⁻⁵" in [t.get_text() for t in c.ax.get_yticklabels()]
    # a log colour scale is labelled the same way: 0.02, 0.05, 0.1, ... not 1e-01
    g = _grid([0, 1, 2], [1, 2], [[0.015, 0.1, 0.5], [0.03, 0.2, 1.7]])
    bar = plot.heatmap(g, "m", norm="log").colorbar
    bar.ax.figure.draw_without_rendering()
    labels = [t.get_text() for t in bar.ax.get_yticklabels() if t.get_text()]
    assert {"0.02", "0.1", "1"} <= set(labels) and not any("e" in t for t in labels)


def test_sweep_grid_orders_wraps_and_titles_panels():
    spec = {**SPEC, "data": {**SPEC["data"], "n_population": 0},
            "model": {"width": [2]}, "train": {"epochs": 2, "lr": 0.05,
                                               "batch_size": ["full", 4, 2]},
            "seeds": {"root": 3, "data": 1, "init": 2}}
    swept = ddlab.run(spec, progress=False)
    g = plot.sweep_grid(swept, "train_loss", kind="curves", over="epoch", wrap=2)
    assert g.axes.shape == (2, 2) and g.panels[1, 1] is None
    assert not g.axes[1, 1].get_visible()
    titles = [ax.get_title(loc="left") for ax in g.axes.ravel()[:3]]
    assert titles == ["batch_size = 2", "batch_size = 4", "full batch"]


def test_saved_files_are_byte_identical(ds, tmp_path):
    paths = []
    for name in ("a", "b"):
        fig = plot.heatmap(ds).ax.figure
        paths.append(plot.save(fig, tmp_path / name))
    assert [p.suffix for p in paths[0]] == [".png", ".pdf"]
    for first, second in zip(*paths, strict=True):
        assert first.read_bytes() == second.read_bytes()
    pdf = paths[0][1].read_bytes()
    assert b"/FontFile2" in pdf and b"CreationDate" not in pdf  # Type 42 fonts, no date
    with pytest.raises(ValueError, match="formats = "):
        plot.save(fig, tmp_path / "d", formats=("jpeg",))


def test_style_does_not_leak_into_global_rcparams(ds):
    before = dict(mpl.rcParams)
    plot.heatmap(ds)
    plot.curves(ds)
    assert dict(mpl.rcParams) == before


@pytest.mark.parametrize(("call", "match"), [
    (lambda d: plot.heatmap(d, "nope"), "var = 'nope'"),
    (lambda d: plot.heatmap(d, reduce="max"), "reduce = 'max'"),
    (lambda d: plot.heatmap(d, x="pop"), "x = 'pop'"),
    (lambda d: plot.heatmap(d, log="z"), "log = 'z'"),
    (lambda d: plot.heatmap(d, norm="log", var="m"), "norm = 'log'"),
    (lambda d: plot.curves(d, over="lr"), "over = 'lr'"),
    (lambda d: plot.curves(d, at={"epoch": 999}), "at = {'epoch': 999}"),
    (lambda d: plot.curves(d, at={"noise": 1}), "at = {'noise': 1}"),
    (lambda d: plot.curves(d, band="sd"), "band = 'sd'"),
    (lambda d: plot.curves(d, theory=[1, 2]), "theory = list"),
    (lambda d: plot.bias_variance(d), "bv: no"),
    (lambda d: plot.seed_figure(d.isel(epoch=[0])), "ds: one recorded epoch"),
    (lambda d: plot.sweep_grid(d, kind="violin"), "kind = 'violin'"),
    (lambda d: plot.curves(d, at="last"), "at = 'last': expected a mapping"),
    (lambda d: plot.curves(d, over="epoch", at=5), "at = 5: epoch is the x axis"),
    (lambda d: plot.curves({}), "ds = dict: expected a Dataset"),
])
def test_bad_input_names_the_key(ds, call, match):
    data = ds.assign(m=ds["test_loss"] - 10.0)
    with pytest.raises(ValueError, match=re.escape(match)):
        call(data)



def _seed_cells(mean_by_width: np.ndarray, spread: np.ndarray) -> xr.Dataset:
    """One epoch, 5 init seeds per width: ``mean + spread * (0, 0, 0, 0, 5) - spread``."""
    offsets = np.array([0.0, 0.0, 0.0, 0.0, 5.0]) - 1.0
    values = mean_by_width[:, None] + spread[:, None] * offsets
    widths = 2 ** np.arange(len(mean_by_width))
    return xr.Dataset({"f_error": (("width", "epoch", "data_seed", "init_seed"),
                                   values[:, None, None, :],
                                   {"long_name": "error in f", "units": "1"})},
                      coords={"width": widths, "epoch": [5]})


def test_log_axis_autoscales_to_the_lines_not_to_a_band_edge_at_zero():
    # at the widest width the band's lower edge (mean - SE) is just above 0: 1e-12
    mean = np.array([1.0, 1e-1, 1e-2, 1e-4])
    ds = _seed_cells(mean, np.array([0.0, 0.0, 0.0, 1e-4 - 1e-12]))
    c = plot.curves(ds, "f_error", log="y")
    (band,) = c.bands.values()
    assert band.get_paths()[0].vertices[:, 1].min() < 1e-11  # the band itself is kept
    bottom, top = c.ax.get_ylim()  # half a decade below the lowest line, plus the margin
    assert mean.min() / 20 <= bottom < mean.min() and top >= mean.max()
    # axes sharing y still autoscale to every panel's data
    _, (left, right) = plt.subplots(1, 2, sharey=True)
    plot.curves(ds, "f_error", log="y", ax=left, legend=False)
    plot.curves(_seed_cells(mean * 1e3, np.zeros(4)), "f_error", log="y", ax=right,
                legend=False)
    bottom, top = left.get_ylim()
    assert right.get_ylim() == (bottom, top)
    assert top >= 1e3 and mean.min() / 100 <= bottom < mean.min()


def test_a_number_for_at_is_an_epoch(ds):
    c = plot.curves(ds, at=5)
    mean = ds["test_loss"].sel(epoch=5).mean(SEEDS).values
    (line,) = c.lines.values()
    np.testing.assert_allclose(line.get_ydata(), mean)
    assert c.ax.get_title(loc="left") == "at epoch = 5"
    bv = ddlab.bias_variance(ds)
    c = plot.bias_variance(bv, at=5)
    assert c.ax.get_title(loc="left") == "at epoch = 5"
    total = next(iter(c.lines.values()))
    np.testing.assert_allclose(total.get_ydata(), bv["mean_f_error"].sel(epoch=5).values)


def test_several_results_share_the_axes_each_labelled():
    low = ddlab.run({**SPEC, "data": {**SPEC["data"], "noise": 0.1},
                     "model": {"width": [2, 8]}, "train": {"epochs": 3, "lr": 0.02}},
                    progress=False)
    high = ddlab.run({**SPEC, "model": {"width": [2, 8]}, "train": {"epochs": 3, "lr": 0.02}},
                     progress=False)
    c = plot.curves({"low": low, "high": high}, at={"width": 8}, over="epoch")
    assert list(c.lines) == ["low", "high"]
    for label, result in (("low", low), ("high", high)):
        np.testing.assert_allclose(c.lines[label].get_ydata(),
                                   result["test_loss"].sel(width=8).mean(SEEDS).values)
    assert [t.get_text() for t in c.ax.get_legend().get_texts()][:2] == ["low", "high"]
    # several lines each: a line style per result, the same colour for the same width
    c = plot.curves({"low": low, "high": high}, over="epoch")
    assert list(c.lines) == ["low, width = 2", "low, width = 8", "high, width = 2",
                             "high, width = 8"]
    styles = {k: (v.get_linestyle(), v.get_color()) for k, v in c.lines.items()}
    assert styles["low, width = 2"][1] == styles["high, width = 2"][1]
    assert styles["low, width = 8"][0] == "-" and styles["high, width = 8"][0] == "--"


def test_risk_curves_carry_the_null_models_at_their_levels(ds):
    null = ddlab.analysis.risks(ds)
    s2, constant = float(null["bayes_risk"]), float(null["constant_risk"])
    drawn = plot.curves(ds, "test_loss").null
    assert set(drawn) == {"Bayes risk σ²", "constant predictor σ² + Var f"}
    assert drawn["Bayes risk σ²"].get_ydata()[0] == s2 == 1.0
    np.testing.assert_allclose(drawn["constant predictor σ² + Var f"].get_ydata()[0], constant,
                               rtol=1e-12)
    assert constant > s2
    labels = [t.get_text() for t in plot.curves(ds, "test_loss").ax.get_legend().get_texts()]
    assert "Bayes risk σ²" in labels
    on_f = plot.curves(ds, "f_error").null
    assert list(on_f) == ["constant predictor Var f"]
    np.testing.assert_allclose(on_f["constant predictor Var f"].get_ydata()[0],
                               float(null["var_f"]), rtol=1e-12)
    assert plot.curves(ds, "test_loss", null=False).null == {}
    assert plot.curves(ds, "train_loss").null == {}
    with pytest.raises(ValueError, match="null = True: no null model for 'train_loss'"):
        plot.curves(ds, "train_loss", null=True)
