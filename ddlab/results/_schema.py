"""The labelled result schema: dims, coordinates, CF-1.11 variable attrs (no torch).

Metric variables have dims ``(*sweep dims, width, epoch, data_seed, init_seed)``;
per-cell variables drop ``epoch``. Swept keys become dims named by the key
without its section (``noise``, ``lr``, ...), in declaration order. Units are
UDUNITS strings: y is dimensionless, so errors in y² have units ``"1"`` and
the ``long_name`` says "(in units of y²)".
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from ..config import CLASSIFICATION_TARGETS, FIELDS, REAL_TARGETS, Experiment, Key, mlp_n_params

__all__ = ["CELL_DIMS", "CLASS_BIAS_VARIANCE", "CLASS_METRICS", "DIMS", "FLAGS", "METRICS",
           "VARIABLES", "build_dataset", "cell_dims", "coordinate_attrs", "dim_sizes",
           "metric_dims", "metric_names", "optimizer_slots", "records_class_variance",
           "records_predictions", "state_size", "storage_bytes", "variable_dims"]

#: Dimension order of the metric variables of an unswept experiment.
DIMS = ("width", "epoch", "data_seed", "init_seed")
#: Dimension order of the per-cell variables of an unswept experiment.
CELL_DIMS = ("width", "data_seed", "init_seed")
#: Metric names, in output order.
METRICS = ("train_loss", "test_loss", "f_error_train", "f_error", "f_error_se", "train_error",
           "test_error", "train_error_clean", "memorized_fraction")
#: Metrics of classification targets only (regression targets record the others but these).
CLASS_METRICS = ("train_error", "test_error", "train_error_clean", "memorized_fraction")
#: Bias-variance terms over init seeds of cross-entropy classification runs, on the test set,
#: one value per (sweep point, width, epoch, data seed)
CLASS_BIAS_VARIANCE = ("test_ce_bias", "test_ce_variance", "test_error_variance")
#: Boolean per-cell flags: name -> CF flag_meanings (for the values 0 and 1).
FLAGS = {"diverged": "finite diverged", "completed": "pending completed"}

#: name -> (long_name, units) of every data variable ddlab writes.
VARIABLES: dict[str, tuple[str, str]] = {
    "train_loss": ("empirical risk: mean squared error on the noisy training set "
                   "(in units of y²)", "1"),
    "test_loss": ("mean squared error on the noisy test set (in units of y²)", "1"),
    "f_error_train": ("mean squared error against the true f on the training inputs "
                      "(in units of y²)", "1"),
    "f_error": ("squared L2(P) distance to the true f, on the population sample "
                "(in units of y²)", "1"),
    "f_error_se": ("standard error of f_error as an estimate of the L2(P) integral, from the "
                   "spread of its randomized population replicates (in units of y²)", "1"),
    "train_error": ("0-1 error on the training set, against its labels as trained on "
                    "(flipped ones included)", "1"),
    "test_error": ("0-1 error on the test set (clean labels)", "1"),
    "train_error_clean": ("0-1 error on the training points whose labels were not flipped",
                          "1"),
    "memorized_fraction": ("fraction of the flipped training points predicted as their "
                           "flipped label (NaN without flipped labels)", "1"),
    "diverged": ("cell produced a non-finite metric", "1"),
    "completed": ("cell computed and stored", "1"),
    "wall_time": ("wall time of the chunk that computed the cell", "s"),
    "pred_mean": ("mean over init seeds of the prediction at a population point "
                  "(in units of y)", "1"),
    "pred_var_init": ("mean over population points of the variance over init seeds "
                      "of the prediction (in units of y²)", "1"),
    "test_ce_bias": ("bias of the test cross-entropy over init seeds: CE(y, p̄), p̄ the "
                     "normalized geometric mean of the seeds' softmax outputs", "1"),
    "test_ce_variance": ("variance of the test cross-entropy over init seeds: "
                         "mean KL(p̄ ‖ p̂) (bias + variance = mean test_loss)", "1"),
    "test_error_variance": ("0-1 variance over init seeds: fraction of test points "
                            "predicted other than the main prediction argmax p̄", "1"),
    "f_population": ("true regression function f at a population point (in units of y)", "1"),
    "state": ("final parameters of the cell, then its optimiser buffers, flattened as "
              "make_model's layers (weight row-major, then bias) and padded with NaN", "1"),
}

_COORDS = {
    "width": "hidden width (units per hidden layer)",
    "epoch": "epochs of training completed",
    "data_seed": "data set index",
    "init_seed": "initialisation index",
    "n_params": "number of trainable parameters",
}


_WIDTH = {"linear": "number of features p (the first p inputs)",
          "random_features": "number of random features N"}


def coordinate_attrs(name: str, family: str = "mlp") -> dict[str, str]:
    """``long_name`` and ``units`` of a coordinate (a swept key's dim or a grid dim)."""
    if name == "width" and family in _WIDTH:
        return {"long_name": _WIDTH[family], "units": "1"}
    if name in _COORDS:
        return {"long_name": _COORDS[name], "units": "1"}
    f = next(f for f in FIELDS if f.key.dim == name)
    note = " (0 = full batch)" if name == "batch_size" else ""
    return {"long_name": f"{f.doc} (swept {f.key}){note}", "units": "1"}


def metric_dims(experiment: Experiment) -> tuple[str, ...]:
    """Dims of the metric variables of ``experiment``."""
    return experiment.sweep_dims + DIMS


def cell_dims(experiment: Experiment) -> tuple[str, ...]:
    """Dims of the per-cell variables of ``experiment``."""
    return experiment.sweep_dims + CELL_DIMS


def records_predictions(experiment: Experiment) -> bool:
    """Whether runs of ``experiment`` keep init-averaged population predictions."""
    return experiment.data.n_population > 0 and experiment.train.record_bias_variance


def records_class_variance(experiment: Experiment) -> bool:
    """Whether runs of ``experiment`` keep the bias-variance terms :data:`CLASS_BIAS_VARIANCE`.

    Classification targets trained with ``train.loss = "cross_entropy"`` (at some
    sweep point: the others record them as missing) and ``record_bias_variance``.
    """
    loss = experiment.train.loss
    losses = (loss,) if isinstance(loss, str) else tuple(loss)
    return (experiment.data.target in CLASSIFICATION_TARGETS and "cross_entropy" in losses
            and experiment.train.record_bias_variance)


def optimizer_slots(experiment: Experiment) -> int:
    """Buffers of the optimiser per parameter: Adam's two moments, a momentum buffer, ..."""
    tr = experiment.train
    return {"adam": 2, "adamw": 2, "sgd": int(tr.momentum > 0),
            "rmsprop": 1 + int(tr.momentum > 0)}[tr.optimizer]


def state_size(experiment: Experiment) -> int:
    """Length of the ``state_entry`` dim: the most parameters and buffers of any cell."""
    if not experiment.train.keep_state:
        return 0
    width = max(experiment.model.width)
    return max((1 + optimizer_slots(p)) * mlp_n_params(
        p.data.dim, width, p.model.depth if p.model.family == "mlp" else 1, p.outputs)
        for _, p in experiment.points())


def variable_dims(experiment: Experiment) -> dict[str, tuple[str, ...]]:
    """Dims of every data variable a run of ``experiment`` writes."""
    sweep = experiment.sweep_dims
    out = dict.fromkeys(metric_names(experiment), metric_dims(experiment))
    out |= dict.fromkeys(("diverged", "completed", "wall_time"), cell_dims(experiment))
    if records_predictions(experiment):
        out["pred_mean"] = (*sweep, "width", "epoch", "data_seed", "pop")
        out["pred_var_init"] = (*sweep, "width", "epoch", "data_seed")
        out["f_population"] = (*sweep, "data_seed", "pop")
    if records_class_variance(experiment):
        out |= dict.fromkeys(CLASS_BIAS_VARIANCE, (*sweep, "width", "epoch", "data_seed"))
    if experiment.train.keep_state:
        out["state"] = (*cell_dims(experiment), "state_entry")
    return out


def metric_names(experiment: Experiment) -> list[str]:
    """The metrics an experiment records.

    ``f_error`` and its standard error ``f_error_se`` need a population sample,
    except for real regression data, where they are recorded as missing (NaN)
    like ``f_error_train``. Classification targets record the losses and
    :data:`CLASS_METRICS`, and no ``f_error*``.
    """
    if experiment.data.target in CLASSIFICATION_TARGETS:
        return ["train_loss", "test_loss", *CLASS_METRICS]
    real = experiment.data.target in REAL_TARGETS
    population = experiment.data.n_population > 0 or real
    return [m for m in METRICS if m not in CLASS_METRICS
            and (population or m not in ("f_error", "f_error_se"))]


def dim_sizes(experiment: Experiment) -> dict[str, int]:
    """Length of every dim of an experiment's results."""
    exp = experiment
    size = {"width": len(exp.model.width), "epoch": len(exp.epochs), "data_seed": exp.seeds.data,
            "init_seed": exp.seeds.init, "pop": exp.data.n_population,
            "state_entry": state_size(exp)}
    return size | dict(zip(exp.sweep_dims, exp.sweep_shape, strict=True))


def storage_bytes(experiment: Experiment) -> int:
    """Uncompressed size in bytes of the result arrays a run of ``experiment`` writes."""
    size = dim_sizes(experiment)
    return sum((1 if name in FLAGS else 8) * int(np.prod([size[d] for d in dims]))
               for name, dims in variable_dims(experiment).items())


def _coords(experiment: Experiment) -> dict[str, tuple]:
    exp = experiment
    widths = np.asarray(exp.model.width, dtype=np.int64)
    coords: dict[str, tuple] = {}
    for key, values in exp.sweep:
        if key.name == "batch_size":
            values = tuple(0 if v is None else v for v in values)
        coords[key.dim] = (key.dim, np.asarray(values), coordinate_attrs(key.dim))
    coords |= {
        "width": ("width", widths, coordinate_attrs("width", exp.model.family)),
        "epoch": ("epoch", np.asarray(exp.epochs, dtype=np.int64), coordinate_attrs("epoch")),
        "data_seed": ("data_seed", np.arange(exp.seeds.data, dtype=np.int64),
                      coordinate_attrs("data_seed")),
        "init_seed": ("init_seed", np.arange(exp.seeds.init, dtype=np.int64),
                      coordinate_attrs("init_seed")),
    }
    # n_params depends on width, and on dim and depth where those are swept
    shape_keys = [(k, v) for k, v in exp.sweep if k in (Key("data", "dim"), Key("model", "depth"),
                                                   Key("data", "classes"))]
    n_params = np.empty((*(len(v) for _, v in shape_keys), len(widths)), dtype=np.int64)
    for idx in np.ndindex(*(len(v) for _, v in shape_keys)):
        point = exp.first_point
        for (key, values), i in zip(shape_keys, idx, strict=True):
            point = point.replace(**{key.section: {key.name: values[i]}})
        n_params[idx] = [point.n_params(int(w)) for w in widths]
    coords["n_params"] = ((*(k.dim for k, _ in shape_keys), "width"), n_params,
                          coordinate_attrs("n_params"))
    return coords


#: long names of the recorded losses of classification runs, by ``train.loss``
_CLASS_LOSSES = {
    "cross_entropy": ("empirical risk: mean softmax cross-entropy on the training set, "
                      "against its labels as trained on (flipped ones included)",
                      "mean softmax cross-entropy on the test set (clean labels)"),
    "squared": ("empirical risk: mean over points and classes of the squared error against "
                "the one-hot training labels as trained on (flipped ones included)",
                "mean over points and classes of the squared error against the one-hot "
                "test labels (clean)"),
    "swept": ("empirical risk on the training set: softmax cross-entropy where train.loss "
              "= 'cross_entropy', else the mean squared error against the one-hot labels",
              "test loss: softmax cross-entropy where train.loss = 'cross_entropy', else "
              "the mean squared error against the one-hot labels"),
}


def _loss_long_name(name: str, experiment: Experiment) -> str:
    """``long_name`` of ``train_loss`` or ``test_loss``, which depends on the target and loss."""
    if experiment.data.target not in CLASSIFICATION_TARGETS:
        return VARIABLES[name][0]
    loss = experiment.train.loss
    kind = ("swept" if not isinstance(loss, str) else
            "cross_entropy" if loss == "cross_entropy" else "squared")
    return _CLASS_LOSSES[kind][name == "test_loss"]


def _variable_attrs(name: str, experiment: Experiment) -> dict[str, object]:
    long_name, units = VARIABLES[name]
    if name in ("train_loss", "test_loss"):
        long_name = _loss_long_name(name, experiment)
    attrs: dict[str, object] = {"long_name": long_name, "units": units}
    if name in FLAGS:
        attrs |= {"flag_values": np.array([0, 1], dtype=np.int8), "flag_meanings": FLAGS[name]}
    elif name != "wall_time":
        computed = "float64 (closed-form fit)" if experiment.closed_form else (
            f"{experiment.train.dtype} (train.dtype)")
        attrs["comment"] = f"computed in {computed}, stored as float64"
    return attrs


def build_dataset(experiment: Experiment, attrs: Mapping[str, object],
                  values: Mapping[str, np.ndarray] | None = None) -> xr.Dataset:
    """The result dataset of an experiment, filled with ``values`` or left empty.

    Parameters
    ----------
    experiment : Experiment
    attrs : mapping
        Dataset-level attrs (provenance, CF global attributes).
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
    size["state_entry"] = state_size(experiment)
    data = {}
    for name, dims in variable_dims(experiment).items():
        shape = tuple(size[d] for d in dims)
        if name in values:
            value = values[name]
        else:
            value = np.zeros(shape, dtype=bool) if name in FLAGS else np.full(shape, np.nan)
        data[name] = (dims, value, _variable_attrs(name, experiment))
    return xr.Dataset(data, coords=coords, attrs=dict(attrs))
