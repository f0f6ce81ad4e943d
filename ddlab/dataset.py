"""The labelled result schema: dims, coordinates, variable attrs (no torch).

Metric variables have dims ``(*sweep dims, width, epoch, data_seed, init_seed)``;
per-cell variables drop ``epoch``. Swept keys become dims named by the key
without its section (``noise``, ``lr``, ...), in declaration order.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from .experiment import REAL_TARGETS, Experiment

__all__ = ["CELL_DIMS", "DIMS", "METRICS", "VARIABLES", "build_dataset", "cell_dims",
           "metric_dims", "metric_names", "records_predictions", "variable_dims"]

#: Dimension order of the metric variables of an unswept experiment.
DIMS = ("width", "epoch", "data_seed", "init_seed")
#: Dimension order of the per-cell variables of an unswept experiment.
CELL_DIMS = ("width", "data_seed", "init_seed")
#: Metric names, in output order.
METRICS = ("train_loss", "test_loss", "f_error_train", "f_error")

#: name -> (long_name, units) of every data variable ddlab writes.
VARIABLES: dict[str, tuple[str, str]] = {
    "train_loss": ("empirical risk: mean squared error on the noisy training set", "y^2"),
    "test_loss": ("mean squared error on the noisy test set", "y^2"),
    "f_error_train": ("mean squared error against the true f on the training inputs", "y^2"),
    "f_error": ("squared L2(P) distance to the true f, on the population sample", "y^2"),
    "diverged": ("cell produced a non-finite metric", "1"),
    "completed": ("cell computed and stored", "1"),
    "wall_time": ("wall time of the chunk that computed the cell", "s"),
    "pred_mean": ("mean over init seeds of the prediction at a population point", "y"),
    "pred_var_init": ("mean over population points of the variance over init seeds "
                      "of the prediction", "y^2"),
    "f_population": ("true regression function f at a population point", "y"),
}

_SWEEP_UNITS = {"data.noise": "y", "data.signal": "y^2", "data.dim": "features",
                "data.n_train": "samples", "data.n_test": "samples", "model.depth": "layers",
                "data.teacher_width": "units", "train.batch_size": "samples"}


def metric_dims(experiment: Experiment) -> tuple[str, ...]:
    """Dims of the metric variables of ``experiment``."""
    return experiment.sweep_dims + DIMS


def cell_dims(experiment: Experiment) -> tuple[str, ...]:
    """Dims of the per-cell variables of ``experiment``."""
    return experiment.sweep_dims + CELL_DIMS


def records_predictions(experiment: Experiment) -> bool:
    """Whether runs of ``experiment`` keep init-averaged population predictions."""
    return experiment.data.n_population > 0 and experiment.train.record_bias_variance


def variable_dims(experiment: Experiment) -> dict[str, tuple[str, ...]]:
    """Dims of every data variable a run of ``experiment`` writes."""
    sweep = experiment.sweep_dims
    out = dict.fromkeys(metric_names(experiment), metric_dims(experiment))
    out |= dict.fromkeys(("diverged", "completed", "wall_time"), cell_dims(experiment))
    if records_predictions(experiment):
        out["pred_mean"] = (*sweep, "width", "epoch", "data_seed", "pop")
        out["pred_var_init"] = (*sweep, "width", "epoch", "data_seed")
        out["f_population"] = (*sweep, "data_seed", "pop")
    return out


def metric_names(experiment: Experiment) -> list[str]:
    """The metrics an experiment records.

    ``f_error`` needs a population sample, except for real data, where it is
    recorded as missing (NaN) like ``f_error_train``.
    """
    real = experiment.data.target in REAL_TARGETS
    return [m for m in METRICS if m != "f_error" or experiment.data.n_population > 0 or real]


def _coords(experiment: Experiment) -> dict[str, tuple]:
    exp = experiment
    widths = np.asarray(exp.model.width, dtype=np.int64)
    coords: dict[str, tuple] = {}
    for key, values in exp.sweep:
        dim = key.split(".")[1]
        if dim == "batch_size":
            values = tuple(0 if v is None else v for v in values)
        note = " (0 = full batch)" if dim == "batch_size" else ""
        coords[dim] = (dim, np.asarray(values),
                       {"long_name": f"swept {key}{note}", "units": _SWEEP_UNITS.get(key, "1")})
    coords |= {
        "width": ("width", widths, {"long_name": "hidden width", "units": "units"}),
        "epoch": ("epoch", np.asarray(exp.epochs, dtype=np.int64),
                  {"long_name": "epochs of training completed", "units": "epochs"}),
        "data_seed": ("data_seed", np.arange(exp.seeds.data, dtype=np.int64),
                      {"long_name": "data set index", "units": "1"}),
        "init_seed": ("init_seed", np.arange(exp.seeds.init, dtype=np.int64),
                      {"long_name": "initialisation index", "units": "1"}),
    }
    # n_params depends on width, and on dim and depth where those are swept
    shape_keys = [(k, v) for k, v in exp.sweep if k in ("data.dim", "model.depth")]
    grid = np.ndindex(*(len(v) for _, v in shape_keys))
    n_params = np.empty((*(len(v) for _, v in shape_keys), len(widths)), dtype=np.int64)
    for idx in grid:
        point = exp
        for (key, values), i in zip(shape_keys, idx, strict=True):
            point = point.replace(**{key.split(".")[0]: {key.split(".")[1]: values[i]}})
        n_params[idx] = [point.n_params(int(w)) for w in widths]
    coords["n_params"] = ((*(k.split(".")[1] for k, _ in shape_keys), "width"), n_params,
                          {"long_name": "number of trainable parameters", "units": "parameters"})
    return coords


def build_dataset(experiment: Experiment, attrs: Mapping[str, object],
                  values: Mapping[str, np.ndarray] | None = None) -> xr.Dataset:
    """The result dataset of an experiment, filled with ``values`` or left empty.

    Parameters
    ----------
    experiment : Experiment
    attrs : mapping
        Dataset-level provenance attrs.
    values : mapping of str to ndarray, optional
        Arrays for some of :data:`VARIABLES`; the rest start empty: NaN metrics
        and wall times, ``False`` flags.

    Returns
    -------
    xarray.Dataset
    """
    values = values or {}
    coords = _coords(experiment)
    size = {d: len(coords[d][1]) for d in metric_dims(experiment)}
    size["pop"] = experiment.data.n_population
    data = {}
    for name, dims in variable_dims(experiment).items():
        shape = tuple(size[d] for d in dims)
        empty = np.zeros(shape, dtype=bool) if name in ("diverged", "completed") else np.full(
            shape, np.nan)
        long_name, units = VARIABLES[name]
        data[name] = (dims, values.get(name, empty), {"long_name": long_name, "units": units})
    return xr.Dataset(data, coords=coords, attrs=dict(attrs))
