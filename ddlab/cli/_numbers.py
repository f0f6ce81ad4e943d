"""The paper's numbers: LaTeX macros computed from the stores by ``ddlab reproduce``.

Every number the paper quotes is a macro of ``numbers.tex``; nothing is typed
by hand. Macro names are the experiment name in CamelCase (digits spelled
out) followed by the quantity, e.g. ``\\SeedHighNoisePeakWidth``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import numpy as np
import xarray as xr

from .. import analysis
from .._version import __version__
from ..config import Experiment
from ._figures import gd_theory, theory_curve

__all__ = ["experiment_numbers", "macro", "parse", "render", "speed_numbers"]

_DIGITS = "Zero One Two Three Four Five Six Seven Eight Nine".split()


def macro(*parts: str) -> str:
    """A LaTeX macro name (letters only) from name parts, e.g. ("seed_high", "Peak")."""
    words = []
    for part in parts:
        for word in re.split(r"[^A-Za-z0-9]+", part):
            word = "".join(_DIGITS[int(c)] if c.isdigit() else c for c in word)
            words.append(word[:1].upper() + word[1:])
    return "".join(words)


def _fmt(value: float, digits: int = 3) -> str:
    """A number as the paper prints it: 0.97, 1.05, 400; 5.9e-14 as 5.9 × 10⁻¹⁴ in LaTeX."""
    if value is None or not np.isfinite(value):
        return "n/a"
    if float(value).is_integer() and abs(value) < 1e6:
        return f"{int(value)}"
    text = f"{value:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return rf"\ensuremath{{{mantissa}\times10^{{{int(exponent)}}}}}"
    return text


#: what the paper prints for a peak that :func:`ddlab.analysis.summarize` does not report
_NO_PEAK = "no significant peak"


def _variance_split(key: str, ds: xr.Dataset) -> dict[str, str]:
    """The largest variance over widths and its share over inits, or n/a from one data set.

    One data set does not identify the split (the unbiased estimator leaves the data
    variance NaN), so the macros are still defined, as ``n/a``, and the paper builds
    from ``reproduce --quick`` too.
    """
    names = ("VarianceMaxWidth", "VarianceMax", "VarianceInitShare", "BiasAtVarianceMax")
    if ds.sizes["data_seed"] < 2:
        return {key + name: _fmt(float("nan")) for name in names}
    bv = analysis.bias_variance(ds).isel(epoch=-1).compute()
    top = bv.isel(width=int(np.nanargmax(bv.variance.values)))
    values = (float(top.width), float(top.variance),
              100 * float(top.variance_init / top.variance), float(top.bias2))
    return {key + name: _fmt(v, 2 if name == "VarianceInitShare" else 3)
            for name, v in zip(names, values, strict=True)}


def _peak_fmt(value: float) -> str:
    """A peak's number, or :data:`_NO_PEAK` where the peak is NaN (not significant)."""
    return _fmt(value) if np.isfinite(value) else _NO_PEAK


def _value(value) -> str:
    return value if isinstance(value, str) else _fmt(float(value))


def _mean_se(da: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray]:
    """Mean over the seed cells (data_seed x init_seed) and its standard error,
    std(ddof=1) / sqrt(cells)."""
    cells = da.stack(cell=("data_seed", "init_seed")).compute()
    return cells.mean("cell"), cells.std("cell", ddof=1) / np.sqrt(cells.sizes["cell"])


def _final(ds: xr.Dataset, var: str) -> xr.DataArray:
    return ds[var].isel(epoch=-1).mean(("data_seed", "init_seed")).compute()


def experiment_numbers(name: str, ds: xr.Dataset, exp: Experiment,
                       theories: Iterable[str] = (), kinds: Iterable[str] = ()) -> dict[str, str]:
    """Macros of one experiment: its double-descent summary and theory gaps.

    Unswept experiments get the summary of the final-epoch mean test loss
    (peak, best and widest width, interpolation threshold); swept ones get
    the best swept point. Experiments with a theory figure get the median and
    largest relative gap of the mean ``f_error`` to the exact curve, away from
    the pole (|N - n| > n / 10). A learning-rate range test (an ``lr_range``
    figure among ``kinds``) gets its chosen learning rates.
    """
    out: dict[str, str] = {}
    key = macro(name)
    out[key + "Cells"] = _fmt(int(ds["completed"].size))
    out[key + "Seconds"] = _fmt(float(ds.attrs.get("wall_time_s", np.nan)), 2)
    out |= _settings(key, ds)
    if "n_train" not in ds.dims:
        out[key + "NTrain"] = _fmt(exp.first_point.data.n_train)
    test = _final(ds, "test_loss")
    if not exp.sweep:
        s = analysis.summarize(ds).compute()
        last = s.isel(epoch=-1) if "epoch" in s.dims else s
        widths = ds["width"].values
        out |= {
            key + "PeakWidth": _peak_fmt(float(last.peak_width)),
            key + "PeakHeight": _peak_fmt(float(last.peak_height)),
            key + "PeakHeightSe": _peak_fmt(float(last.peak_height_se)),
            key + "PeakHeightMedian": _peak_fmt(float(last.peak_height_median)),
            key + "BestWidth": _fmt(float(last.best_width)),
            key + "BestHeight": _fmt(float(last.best_height)),
            key + "WidestWidth": _fmt(float(widths[-1])),
            key + "WidestHeight": _fmt(float(test.isel(width=-1))),
            key + "InterpolationWidth": _fmt(float(s.interpolation_width)),
            key + "InterpolationRatio": _fmt(float(s.interpolation_ratio)),
        }
        out[key + "PeakRatio"] = _NO_PEAK
        if ds.sizes["epoch"] > 2:  # widths whose test loss rises and falls again significantly
            out[key + "EpochPeaks"] = _fmt(int(np.isfinite(s["epoch_peak"].values).sum()))
        if np.isfinite(float(last.peak_width)):
            n_params = float(ds["n_params"].sel(width=float(last.peak_width)).max())
            out[key + "PeakRatio"] = _fmt(n_params / exp.data.n_train)
        if "pred_mean" in ds:
            out |= _variance_split(key, ds)
        out |= _under_and_budget(key, ds, exp, s)
    else:
        flat = test.stack(point=[d for d in test.dims])
        best = flat.isel(point=int(np.nanargmin(flat.values)))
        where = ", ".join(f"{d} = {_value(best[d].item())}" for d in test.dims)
        out[key + "BestHeight"] = _fmt(float(best))
        out[key + "BestPoint"] = where.replace("_", r"\_")
        out[key + "BestTies"] = _fmt(_ties(ds["test_loss"].isel(epoch=-1), best))
    if exp.sweep_dims == ("n_train",) and len(exp.model.width) == 1:
        out |= _samplewise_numbers(key, ds)
    if exp.model.family == "linear" and exp.model.fit == "gd":
        from ._figures import gd_path

        sim = ds["f_error"].isel(init_seed=0).transpose("width", "epoch", "data_seed")
        exact = gd_path(exp, ds)
        out[key + "PathMaxGap"] = _fmt(float(abs(sim - exact).max() / exact.max()), 2)
    if "test_error" in ds:
        out |= classification_numbers(key, ds, exp)
    if "lr_range" in kinds:
        from ._figures import chosen_lr

        best = chosen_lr(ds)
        for index, lr in np.ndenumerate(best.values):
            label = "".join(str(best[d].values[i]) for d, i in zip(best.dims, index, strict=True))
            out[macro(name, "ChosenLr", label)] = _fmt(float(lr))
    for theory_name in theories:
        if theory_name == "gd":
            out |= _epochwise_numbers(key, ds, exp)
            continue
        gaps = _theory_gaps(ds, exp, theory_name)
        out[key + "TheoryMedianGap"] = _fmt(100 * float(np.median(gaps)), 2)
        out[key + "TheoryMaxGap"] = _fmt(100 * float(np.max(gaps)), 2)
        if not exp.sweep:
            out |= _pole_and_tail(key, ds, exp, theory_name)
    return out


def _under_and_budget(key: str, ds: xr.Dataset, exp: Experiment,
                      summary: xr.Dataset) -> dict[str, str]:
    """The best underparameterized width against the widest, and the peak at half the budget.

    At the last epoch, mean test loss over seed cells with its standard error:
    ``BestUnder{Width,Height,Se}`` among the widths with fewer parameters than
    training points (``n/a`` where none has), ``WidestSe``; and
    ``HalfEpoch``, the recorded epoch nearest half the last, with the peak
    there (``PeakWidthHalf``, ``PeakHeightHalf``, ``PeakHeightSeHalf``), to
    show whether the peak has settled.
    """
    mean, se = _mean_se(ds["test_loss"].isel(epoch=-1))
    under = mean.where(ds["n_params"] < exp.data.n_train)
    best = float(under.idxmin("width")) if bool(under.notnull().any()) else np.nan
    found = np.isfinite(best)
    epochs = ds["epoch"].values
    half = summary.sel(epoch=epochs[np.argmin(np.abs(epochs - epochs[-1] / 2))])
    return {key + "BestUnderWidth": _fmt(best),
            key + "BestUnderHeight": _fmt(float(mean.sel(width=best)) if found else np.nan),
            key + "BestUnderSe": _fmt(float(se.sel(width=best)) if found else np.nan, 2),
            key + "WidestSe": _fmt(float(se.isel(width=-1)), 2),
            key + "HalfEpoch": _fmt(float(half["epoch"])),
            key + "PeakWidthHalf": _peak_fmt(float(half.peak_width)),
            key + "PeakHeightHalf": _peak_fmt(float(half.peak_height)),
            key + "PeakHeightSeHalf": _peak_fmt(float(half.peak_height_se))}


def _settings(key: str, ds: xr.Dataset) -> dict[str, str]:
    """The grid as run (so quick and full builds describe their own), and the null models."""
    out = {key + "Epochs": _fmt(float(ds["epoch"].values[-1])),
           key + "DataSets": _fmt(ds.sizes["data_seed"]),
           key + "Inits": _fmt(ds.sizes["init_seed"]),
           key + "MaxWidth": _fmt(float(ds["width"].values[-1])),
           key + "Widths": _fmt(ds.sizes["width"])}
    if "f_population" in ds and "f_error" in ds:
        null = analysis.risks(ds)
        if null["constant_risk"].ndim == 0:
            out[key + "ConstantRisk"] = _fmt(float(null["constant_risk"]))
            out[key + "Snr"] = _fmt(float(null["snr"]), 2)
    return out


def _ties(final: xr.DataArray, best: xr.DataArray) -> int:
    """How many other points' final means lie within one standard error of the best one.

    The standard error is that of the difference of the two means over the seed
    cells, paired (every point of a swept study sees the same data and inits).
    """
    seeds = ("data_seed", "init_seed")
    at_best = final.sel({d: best[d].item() for d in best.coords if d in final.dims
                         and d not in seeds})
    with np.errstate(invalid="ignore"):  # diverged (infinite) cells: no tie, and no warning
        mean, se = _mean_se(final - at_best)
    return int(((mean <= se) & (mean > 0)).sum())


def classification_numbers(key: str, ds: xr.Dataset, exp: Experiment) -> dict[str, str]:
    """The final-epoch mean 0-1 test error along the widths, per value of each other swept dim.

    Macros ``{key}[{sweep values}]Error...`` in percent: ``First`` at the
    narrowest width, ``Peak`` the largest among the widths whose parameter
    count is within a factor 2 of ``n_train`` (its width: ``PeakWidth``),
    ``Widest`` at the widest and ``BestUnder`` the smallest among the widths
    with fewer parameters than training points (``n/a`` where none is); each
    with its standard error over the seed cells (``...Se``). Runs trained over
    epochs also get :func:`_memorization_numbers`.
    """
    error, se = _mean_se(ds["test_error"].isel(epoch=-1))
    n = exp.data.n_train
    out: dict[str, str] = {}
    rest = [d for d in error.dims if d != "width"]
    for index in np.ndindex(*(error.sizes[d] for d in rest)):
        sel = dict(zip(rest, index, strict=True))
        curve = error.isel(sel)
        n_params = ds["n_params"].isel({d: i for d, i in sel.items() if d in ds["n_params"].dims})
        near = curve.where((n_params >= n / 2) & (n_params <= 2 * n))
        label = key + "".join(macro(d, str(error[d].values[i])) for d, i in sel.items())
        peak = near.idxmax("width") if bool(near.notnull().any()) else None
        under = curve.where(n_params < n)
        best = under.idxmin("width") if bool(under.notnull().any()) else None
        points = {"First": curve["width"][0], "Peak": peak, "Widest": curve["width"][-1],
                  "BestUnder": best}
        spread = se.isel(sel)
        for name, width in points.items():
            value, error_se = ((np.nan, np.nan) if width is None else
                               (float(curve.sel(width=width)), float(spread.sel(width=width))))
            out |= {label + "Error" + name: _fmt(100 * value),
                    label + "Error" + name + "Se": _fmt(100 * error_se, 2)}
        out[label + "ErrorPeakWidth"] = _fmt(np.nan if peak is None else float(peak))
    if ds.sizes["epoch"] > 2 and not rest:
        out |= _memorization_numbers(key, ds)
    if "test_ce_variance" in ds and not rest:
        out |= _ce_split_numbers(key, ds)
    return out


def _ce_split_numbers(key: str, ds: xr.Dataset) -> dict[str, str]:
    """The cross-entropy bias-variance split over inits at the last epoch, mean over data sets.

    ``CeVarianceMax`` and its width ``CeVarianceMaxWidth`` (where the variance
    over inits is largest), the bias there (``CeBiasAtVarianceMax``), both at
    the widest width (``CeBiasWidest``, ``CeVarianceWidest``), and the largest
    0-1 variance of the main prediction (``ErrorVarianceMax``, in percent, at
    ``ErrorVarianceMaxWidth``).
    """
    last = ds[["test_ce_bias", "test_ce_variance", "test_error_variance"]].isel(epoch=-1)
    last = last.mean("data_seed").compute()
    var, err = last["test_ce_variance"], last["test_error_variance"]
    top = float(var.idxmax("width"))
    return {key + "CeVarianceMax": _fmt(float(var.max())),
            key + "CeVarianceMaxWidth": _fmt(top),
            key + "CeBiasAtVarianceMax": _fmt(float(last["test_ce_bias"].sel(width=top))),
            key + "CeBiasWidest": _fmt(float(last["test_ce_bias"].isel(width=-1))),
            key + "CeVarianceWidest": _fmt(float(var.isel(width=-1))),
            key + "ErrorVarianceMax": _fmt(100 * float(err.max())),
            key + "ErrorVarianceMaxWidth": _fmt(float(err.idxmax("width")))}


def _memorization_numbers(key: str, ds: xr.Dataset) -> dict[str, str]:
    """When the widest network memorizes the flipped labels, against its test error over epochs.

    ``InterpolationWidth``/``InterpolationRatio``: the smallest width fitting
    every training label (:func:`ddlab.summarize`); for the widest width,
    ``WidestMemorizedEpoch`` (first recorded epoch at which the mean fraction of
    flipped points predicted as their flipped label reaches 1/2), ``WidestMinError``
    and ``WidestMinEpoch`` (the lowest mean test error over epochs: early
    stopping), and ``EpochPeakWidths``, the widths with a significant epoch-wise
    peak of the test error and ``EpochPeakRise`` the largest such peak's height
    above the lower of its two valleys, in percentage points.
    """
    s = analysis.summarize(ds, metric="test_error")
    mean = ds["test_error"].mean(("data_seed", "init_seed")).compute()
    widest = mean.isel(width=-1)
    memo = ds["memorized_fraction"].isel(width=-1).mean(("data_seed", "init_seed")).compute()
    reached = memo["epoch"].where(memo >= 0.5).min()
    peaks = s["epoch_peak"].dropna("width")
    rise = [float(mean.sel(width=w, epoch=e)) - max(
        float(mean.sel(width=w).sel(epoch=slice(None, e)).min()),
        float(mean.sel(width=w).sel(epoch=slice(e, None)).min()))
        for w, e in zip(peaks["width"].values, peaks.values, strict=True)]
    return {key + "InterpolationWidth": _fmt(float(s["interpolation_width"])),
            key + "InterpolationRatio": _fmt(float(s["interpolation_ratio"]), 2),
            key + "WidestMemorizedEpoch": _fmt(float(reached)),
            key + "WidestMinError": _fmt(100 * float(widest.min())),
            key + "WidestMinEpoch": _fmt(float(widest.idxmin("epoch"))),
            key + "EpochPeakWidths": ", ".join(str(int(w)) for w in peaks["width"].values)
            or "none",
            key + "EpochPeakRise": _fmt(100 * max(rise, default=np.nan), 2)}


def _samplewise_numbers(key: str, ds: xr.Dataset) -> dict[str, str]:
    """Sample-wise double descent of the final mean f_error over a swept ``n_train``.

    The best n below the peak, the peak (largest mean) and the largest n, each
    with the standard error of the mean over seed cells.
    """
    mean, se = (v.values for v in _mean_se(ds["f_error"].isel(epoch=-1, width=0)))
    n = ds["n_train"].values
    peak = int(np.argmax(mean))
    low = int(np.argmin(mean[:peak + 1]))
    out = {}
    for name, i in (("Low", low), ("Peak", peak), ("Largest", len(n) - 1)):
        out |= {key + name + "N": _fmt(float(n[i])), key + name + "Risk": _fmt(float(mean[i])),
                key + name + "RiskSe": _fmt(float(se[i]))}
    return out


def _epochwise_numbers(key: str, ds: xr.Dataset, exp: Experiment) -> dict[str, str]:
    """Epoch-wise curves of the mean f_error against the GD theory, width by width.

    ``TheoryMaxZ``: the largest |z| = |mean - theory| / SE over the recorded
    epochs and the widths (the theory's own Monte Carlo error is neglected).
    With one width, its epoch-wise double descent too: the start (epoch 0), the
    peak (largest mean) and the dip (smallest mean after the peak), each with
    its epoch and standard error over data sets; the final value; the theory at
    the peak and the dip.
    """
    epochs = ds["epoch"].values
    mean, se = (v.transpose("width", "epoch").values for v in _mean_se(ds["f_error"]))
    th = np.stack([gd_theory(exp, epochs, int(w)).risk for w in ds["width"].values])
    out = {key + "TheoryMaxZ": np.max(np.abs(mean - th) / se)}
    if ds.sizes["width"] == 1:
        mean, se, th = mean[0], se[0], th[0]
        peak = int(np.argmax(mean))
        dip = peak + int(np.argmin(mean[peak:]))
        out |= {key + "EpochStart": mean[0], key + "EpochFinal": mean[-1]}
        for name, i in (("EpochPeak", peak), ("EpochDip", dip)):
            out |= {key + name: mean[i], key + name + "Se": se[i],
                    key + name + "Epoch": epochs[i], key + name + "Theory": th[i]}
    return {k: _fmt(float(v), 2 if k.endswith("Z") else 3) for k, v in out.items()}


def _theory_gaps(ds: xr.Dataset, exp: Experiment, name: str) -> np.ndarray:
    """Relative gaps |simulation - theory| / theory of the mean f_error, away from the pole.

    Along ``width`` (the pole at p = n_train), or along a swept ``n_train`` (at n = p).
    """
    over = "n_train" if "n_train" in exp.sweep_dims else "width"
    sim = ds["f_error"].isel(epoch=-1).mean(("data_seed", "init_seed")).compute()
    others = [d for d in exp.sweep_dims if d != over]
    points = [{}] if not others else [{d: v.item()} for d in others for v in ds[d].values]
    pole = float(exp.model.width[0]) if over == "n_train" else exp.first_point.data.n_train
    grid = ds[over].values.astype(float)
    far = np.abs(grid - pole) > pole / 10
    gaps = []
    for sel in points:
        curve = (sim.sel(sel) if sel else sim).squeeze()
        x, risk, _ = theory_curve(exp, name, ds, sel, over)
        exact = np.interp(grid, x, np.asarray(risk.risk, dtype=float))
        ok = far & np.isfinite(exact) & (exact > 0)
        gaps.append(np.abs(curve.values[ok] - exact[ok]) / exact[ok])
    return np.concatenate(gaps)


def _pole_and_tail(key: str, ds: xr.Dataset, exp: Experiment, name: str) -> dict[str, str]:
    """What the median and largest gaps leave out: the width nearest the pole N = n, and
    the relative gap at the first width past 2n and at the widest (its trend with N)."""
    sim = ds["f_error"].isel(epoch=-1).mean(("data_seed", "init_seed")).compute().values
    x, risk, _ = theory_curve(exp, name, ds, {})
    widths = ds["width"].values.astype(float)
    exact = np.interp(widths, x, np.asarray(risk.risk, dtype=float))
    n = exp.data.n_train
    pole, past = int(np.argmin(np.abs(widths - n))), int(np.argmax(widths >= 2 * n))
    with np.errstate(invalid="ignore", divide="ignore"):  # the exact risk is inf at a pole
        gap = np.abs(sim - exact) / exact
    out = {key + "PoleWidth": _fmt(widths[pole]), key + "PoleSim": _fmt(sim[pole]),
           key + "PoleExact": _fmt(exact[pole])}
    if widths[-1] >= 2 * n:
        out |= {key + "TailWidth": _fmt(widths[past]),
                key + "TailGap": _fmt(100 * gap[past], 2),
                key + "WidestGap": _fmt(100 * gap[-1], 2)}
    return out


def speed_numbers(timings: Mapping[str, float], sims: int) -> dict[str, str]:
    """Macros of the speed table: seconds of each method and ddlab's speed-ups."""
    out = {macro("speed", k): _fmt(v, 3) for k, v in timings.items()}
    out["SpeedSims"] = _fmt(sims)
    for other in ("loop", "vmap"):
        out[macro("speedup", other)] = _fmt(round(timings[other] / timings["ddlab"]), 3)
    return out


def render(numbers: Mapping[str, str], quick: bool) -> str:
    """numbers.tex: one ``\\newcommand`` per number, sorted, with a header."""
    lines = ["% Generated by `ddlab reproduce" + (" --quick" if quick else "") +
             f"` (ddlab {__version__}); do not edit.",
             f"\\newcommand{{\\DdlabVersion}}{{{__version__}}}",
             f"\\newcommand{{\\ReproduceQuick}}{{{'quick' if quick else 'full'}}}"]
    for name in sorted(numbers):
        value = numbers[name]
        assert re.fullmatch(r"[A-Za-z]+", name), name
        lines.append(f"\\newcommand{{\\{name}}}{{{value}}}")
    return "\n".join(lines) + "\n"



def parse(text: str) -> dict[str, str]:
    """The experiment and speed numbers of a numbers.tex written by :func:`render`."""
    found = dict(re.findall(r"^\\newcommand\{\\([A-Za-z]+)\}\{(.*)\}$", text, flags=re.M))
    for fixed in ("DdlabVersion", "ReproduceQuick"):
        found.pop(fixed, None)
    return found
