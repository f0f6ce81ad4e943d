"""Declarative experiment specification: frozen dataclasses built from TOML.

An :class:`Experiment` is pure data (no torch). It is built and validated by
:func:`load_experiment` from a TOML file or a nested mapping with the sections
``[data]``, ``[model]``, ``[train]`` and ``[seeds]``. Every bad value raises a
:class:`ValueError` whose message starts with the offending ``section.key`` and
its value.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ACTIVATIONS",
    "BATCHABLE",
    "OPTIMIZERS",
    "SWEEPABLE",
    "TARGETS",
    "DataSpec",
    "Experiment",
    "ModelSpec",
    "SeedSpec",
    "TrainSpec",
    "load_experiment",
    "read_toml",
    "set_key",
]

TARGETS = ("exp_diff", "sin_bump", "quadratic", "linear", "teacher", "digits", "diabetes")
#: Real data sets (scikit-learn, ``ddlab[real]``): name -> (dim, samples, outputs)
REAL_TARGETS = {"digits": (64, 1797, 10), "diabetes": (10, 442, 1)}
ONE_D_TARGETS = ("sin_bump", "quadratic")
INPUTS = ("uniform", "normal")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "softplus", "elu", "softsign", "identity", "cos")
RF_ACTIVATIONS = ("relu", "tanh", "cos")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
LOSSES = ("mse", "l1")
DTYPES = ("float32", "float64")
FAMILIES = ("mlp", "linear", "random_features")
FITS = ("gd", "min_norm", "ridge")

#: Scalar keys that may be given as a list to sweep them (one dataset dim each).
SWEEPABLE = (
    "data.target", "data.input", "data.dim", "data.n_train", "data.n_test", "data.noise",
    "data.signal", "data.teacher_width", "model.depth", "model.activation",
    "train.optimizer", "train.lr", "train.momentum", "train.nesterov", "train.eps",
    "train.alpha", "train.weight_decay", "train.batch_size", "train.loss", "model.ridge",
)
#: Keys whose values differ only per cell, not in shape: sweeps over them share a batch.
BATCHABLE = ("data.noise", "train.lr", "train.weight_decay")
#: Keys that take a list natively (never a sweep).
_LIST_KEYS = ("model.width", "train.betas", "train.record")


@dataclass(frozen=True)
class DataSpec:
    """Data-generating process: target function, inputs, sample sizes and noise.

    Attributes
    ----------
    target : str
        ``exp_diff`` (f = exp(x0 - x1)), ``sin_bump`` (f = sin x + exp(-x^2)/(1+|x|),
        1-D), ``quadratic`` (f = 1 + 2x - 3x^2, 1-D), ``linear`` (f = x . beta with
        ||beta||^2 = ``signal``, beta drawn isotropic per data seed) or ``teacher``
        (a fixed random one-hidden-layer tanh network of ``teacher_width`` units,
        drawn once from the root seed), or a real data set from scikit-learn
        (``ddlab[real]``): ``digits`` (8x8 images scaled to [0, 1], one-hot
        labels as 10 outputs) or ``diabetes`` (10 standardised features).
        Real data get a fixed train/test split per data seed, and ``f_error``
        is missing (NaN).
    input : str
        ``uniform`` on [0, 1]^dim or ``normal`` (standard Gaussian).
    dim : int
        Input dimension.
    n_train, n_test : int
        Sizes of the noisy training and test samples.
    n_population : int
        Size of the fresh noise-free sample used for ``f_error`` (0 turns it off).
    noise : float
        Standard deviation sigma of the additive Gaussian noise on y.
    signal : float
        ||beta||^2 for ``target = "linear"``.
    teacher_width : int
        Hidden width of the ``teacher`` target.
    """

    target: str = "exp_diff"
    input: str = "uniform"
    dim: int = 5
    n_train: int = 20
    n_test: int = 20
    n_population: int = 10_000
    noise: float = 1.5
    signal: float = 1.0
    teacher_width: int = 8


@dataclass(frozen=True)
class ModelSpec:
    """Model family and architecture.

    Attributes
    ----------
    family : str
        ``mlp``: a fully connected network with ``depth`` hidden layers;
        ``linear``: the "weak features" model, linear in the first ``width``
        of the ``dim`` inputs (no intercept); ``random_features``: a fixed
        random first layer of ``width`` units with ``activation`` relu, tanh or
        cos (cos: random Fourier features), only the output layer fitted.
    width : tuple of int
        Hidden widths to sweep (resolved from a list, an int or a range table).
    depth : int
        Number of hidden layers.
    activation : str
        Hidden-layer activation.
    fit : str
        ``gd`` (trained by the batched engine; the only fit for ``mlp``),
        ``min_norm`` (closed form, the minimum-norm least-squares solution) or
        ``ridge`` (closed form, penalty ``ridge``). Closed-form fits record one
        epoch entry, 0, holding the fitted solution.
    ridge : float
        lam of the ridge objective (1/n) ||y - Phi theta||^2 + lam ||theta||^2.
    """

    family: str = "mlp"
    width: tuple[int, ...] = tuple(range(1, 11))
    depth: int = 1
    activation: str = "relu"
    fit: str = "gd"
    ridge: float = 0.0


@dataclass(frozen=True)
class TrainSpec:
    """Optimiser, schedule and numerics.

    Attributes
    ----------
    optimizer : str
        ``sgd``, ``adam``, ``adamw`` or ``rmsprop``, with ``torch.optim`` semantics.
    lr : float
        Learning rate.
    momentum : float
        Momentum of ``sgd`` and ``rmsprop``.
    nesterov : bool
        Nesterov momentum for ``sgd``.
    betas : tuple of float
        Adam/AdamW moment decay rates.
    eps : float
        Denominator guard of Adam, AdamW and RMSprop.
    alpha : float
        RMSprop smoothing constant.
    weight_decay : float
        L2 penalty (decoupled for ``adamw``).
    epochs : int
        Number of passes over the training set.
    batch_size : int or None
        Minibatch size; None means full batch (TOML ``"full"``).
    loss : str
        Training loss, ``mse`` or ``l1``.
    dtype : str
        ``float32`` or ``float64``.
    record : tuple of int
        Epochs at which metrics are recorded (0 = at initialisation).
    record_bias_variance : bool
        Keep, at every recorded epoch, the mean over init seeds of each
        width's predictions at every population point (for
        :func:`ddlab.analysis.bias_variance`). Costs widths x recorded epochs
        x data seeds x n_population x 8 bytes.
    """

    optimizer: str = "adam"
    lr: float = 0.01
    momentum: float = 0.0
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    alpha: float = 0.99
    weight_decay: float = 0.0
    epochs: int = 50
    batch_size: int | None = None
    loss: str = "mse"
    dtype: str = "float32"
    record: tuple[int, ...] = field(default=())
    record_bias_variance: bool = True


@dataclass(frozen=True)
class SeedSpec:
    """Seeds: every cell's randomness derives from ``root`` and its coordinates.

    Attributes
    ----------
    root : int
        Root seed of the whole experiment.
    data : int
        Number of data sets (data seeds 0..data-1).
    init : int
        Number of initialisations per data set (init seeds 0..init-1).
    """

    root: int = 0
    data: int = 1
    init: int = 100


@dataclass(frozen=True)
class Experiment:
    """A complete, validated experiment: the grid width x epoch x data seed x init seed.

    Build it with :func:`load_experiment`; construct sections directly only in
    code that has validated them.
    """

    name: str = "experiment"
    description: str = ""
    data: DataSpec = DataSpec()
    model: ModelSpec = ModelSpec()
    train: TrainSpec = TrainSpec()
    seeds: SeedSpec = SeedSpec()
    #: swept keys in declaration order: (("data.noise", (0.1, 1.5)), ...); the
    #: sections hold the first value of each.
    sweep: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    @property
    def sweep_dims(self) -> tuple[str, ...]:
        """Dataset dim names of the swept keys (the key without its section)."""
        return tuple(key.split(".")[1] for key, _ in self.sweep)

    @property
    def sweep_shape(self) -> tuple[int, ...]:
        """Number of values of each swept key."""
        return tuple(len(values) for _, values in self.sweep)

    def point(self, index: Sequence[int]) -> Experiment:
        """The concrete (unswept) experiment at one index of the sweep grid."""
        values: dict[str, dict[str, Any]] = {}
        for (key, options), i in zip(self.sweep, index, strict=True):
            section, name = key.split(".")
            values.setdefault(section, {})[name] = options[i]
        sections = {s: dataclasses.replace(getattr(self, s), **v) for s, v in values.items()}
        return dataclasses.replace(self, sweep=(), **sections)

    def points(self) -> list[tuple[tuple[int, ...], Experiment]]:
        """Every sweep point, in C order: (index, concrete experiment)."""
        return [(idx, self.point(idx)) for idx in np.ndindex(*self.sweep_shape)]

    @property
    def closed_form(self) -> bool:
        """Whether cells are fitted in closed form (``min_norm`` or ``ridge``)."""
        return self.model.fit != "gd"

    @property
    def epochs(self) -> tuple[int, ...]:
        """Recorded epochs (sorted, within 0..train.epochs; (0,) for closed-form fits)."""
        if self.closed_form:
            return (0,)
        return self.train.record or tuple(range(self.train.epochs + 1))

    def n_params(self, width: int) -> int:
        """Number of fitted parameters of the model of width ``width``."""
        if self.model.family != "mlp":
            return width
        d, depth = self.data.dim, self.model.depth
        return (d + 1) * width + (depth - 1) * (width + 1) * width + width + 1

    def to_dict(self) -> dict[str, Any]:
        """Resolved experiment as a JSON- and TOML-friendly nested dict."""
        out = dataclasses.asdict(self)
        del out["sweep"]
        out["model"]["width"] = list(self.model.width)
        out["train"]["betas"] = list(self.train.betas)
        out["train"]["record"] = list(self.epochs)
        out["train"]["batch_size"] = self.train.batch_size or "full"
        for key, values in self.sweep:
            section, name = key.split(".")
            out[section][name] = ["full" if name == "batch_size" and v is None else v
                                  for v in values]
        return out

    def to_json(self) -> str:
        """Resolved experiment as JSON (stored in dataset attrs)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    def replace(self, **sections: Any) -> Experiment:
        """Return a re-validated copy with some keys changed.

        Parameters
        ----------
        **sections
            Per section, a mapping of keys to new values, e.g.
            ``replace(train={"lr": 0.1}, model={"width": [4]})``.
        """
        spec = self.to_dict()
        for section, values in sections.items():
            if section not in spec or not isinstance(spec[section], dict):
                raise ValueError(f"{section} = {values!r}: not an experiment section")
            spec[section].update(values)
        return load_experiment(spec)


_SECTIONS: dict[str, type] = {
    "data": DataSpec,
    "model": ModelSpec,
    "train": TrainSpec,
    "seeds": SeedSpec,
}


def _fail(key: str, value: Any, why: str) -> ValueError:
    return ValueError(f"{key} = {value!r}: {why}")


def _closest(word: str, options: list[str]) -> str:
    near = difflib.get_close_matches(word, options, n=1)
    return f" (did you mean {near[0]!r}?)" if near else ""


def _int(key: str, value: Any, low: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise _fail(key, value, "expected an integer")
    if low is not None and value < low:
        raise _fail(key, value, f"must be >= {low}")
    return int(value)


def _float(key: str, value: Any, low: float | None = None, strict: bool = False,
           high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise _fail(key, value, "expected a number")
    value = float(value)
    if not math.isfinite(value):
        raise _fail(key, value, "must be finite")
    if low is not None and (value <= low if strict else value < low):
        raise _fail(key, value, f"must be {'>' if strict else '>='} {low}")
    if high is not None and value >= high:
        raise _fail(key, value, f"must be < {high}")
    return value


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(key, value, "expected true or false")
    return value


def _choice(key: str, value: Any, options: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in options:
        hint = _closest(value, list(options)) if isinstance(value, str) else ""
        raise _fail(key, value, f"expected one of {', '.join(options)}{hint}")
    return value


def distinct_log_ints(start: int, stop: int, num: int) -> list[int]:
    """``num`` distinct integers from ``start`` to ``stop``, roughly log-spaced.

    Parameters
    ----------
    start, stop : int
        Inclusive bounds, ``1 <= start <= stop``.
    num : int
        How many values; at most ``stop - start + 1``.

    Returns
    -------
    list of int
        Strictly increasing, first ``start`` and last ``stop``.
    """
    num = min(num, stop - start + 1)
    raw = np.rint(np.geomspace(start, stop, num)).astype(int)
    out = [int(raw[0])]
    for v in raw[1:]:
        out.append(max(int(v), out[-1] + 1))
    for i in range(num - 1, -1, -1):
        out[i] = min(out[i], stop - (num - 1 - i))
    return out


def _range_table(key: str, value: Mapping[str, Any], low: int) -> list[int]:
    allowed = {"start", "stop", "step", "num", "log"}
    for k in value:
        if k not in allowed:
            raise _fail(f"{key}.{k}", value[k], f"unknown key{_closest(k, sorted(allowed))}")
    if "stop" not in value:
        raise _fail(key, dict(value), "a range table needs 'stop'")
    start = _int(f"{key}.start", value.get("start", low), low)
    stop = _int(f"{key}.stop", value["stop"], start)
    if value.get("log", False):
        num = _int(f"{key}.num", value.get("num", 10), 1)
        start = max(start, 1)
        return ([0] if low == 0 and value.get("start", 0) == 0 else []) + distinct_log_ints(
            start, stop, num)
    if "num" in value:
        num = _int(f"{key}.num", value["num"], 1)
        return sorted({int(v) for v in np.rint(np.linspace(start, stop, num))})
    step = _int(f"{key}.step", value.get("step", 1), 1)
    return list(range(start, stop + 1, step))


def _widths(value: Any) -> tuple[int, ...]:
    key = "model.width"
    if isinstance(value, Mapping):
        widths = _range_table(key, value, 1)
    elif isinstance(value, (list, tuple)):
        widths = [_int(f"{key}[{i}]", v, 1) for i, v in enumerate(value)]
    else:
        widths = [_int(key, value, 1)]
    if not widths:
        raise _fail(key, value, "empty width grid")
    if len(set(widths)) != len(widths):
        raise _fail(key, value, "widths must be distinct")
    return tuple(sorted(widths))


def _record(value: Any, epochs: int) -> tuple[int, ...]:
    key = "train.record"
    if value == "all":
        return tuple(range(epochs + 1))
    if isinstance(value, Mapping):
        if set(value) == {"every"}:
            every = _int(f"{key}.every", value["every"], 1)
            rec = set(range(0, epochs + 1, every)) | {epochs}
        elif set(value) == {"log"}:
            num = _int(f"{key}.log", value["log"], 2)
            rec = {0} | (set(distinct_log_ints(1, epochs, num - 1)) if epochs else set())
        else:
            raise _fail(key, dict(value), "expected {every = k} or {log = num}")
    elif isinstance(value, (list, tuple)):
        rec = {_int(f"{key}[{i}]", v, 0) for i, v in enumerate(value)}
        if not rec:
            raise _fail(key, value, "no epochs to record")
        if max(rec) > epochs:
            raise _fail(key, value, f"epochs beyond train.epochs = {epochs}")
    else:
        raise _fail(key, value, "expected 'all', a list of epochs, {every = k} or {log = num}")
    return tuple(sorted(rec))


def _section(name: str, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise _fail(name, raw, "expected a table")
    names = [f.name for f in dataclasses.fields(_SECTIONS[name])]
    for k in raw:
        if k not in names:
            raise _fail(f"{name}.{k}", raw[k], f"unknown key{_closest(k, names)}")
    return dict(raw)


def _data(raw: dict[str, Any]) -> DataSpec:
    d = DataSpec()
    target = _choice("data.target", raw.get("target", d.target), TARGETS)
    real = REAL_TARGETS.get(target)
    dim = _int("data.dim", raw.get("dim", real[0] if real else d.dim), 1)
    spec = DataSpec(
        target=target,
        input=_choice("data.input", raw.get("input", d.input), INPUTS),
        dim=dim,
        n_train=_int("data.n_train", raw.get("n_train", d.n_train), 1),
        n_test=_int("data.n_test", raw.get("n_test", d.n_test), 1),
        n_population=_int("data.n_population",
                          raw.get("n_population", 0 if real else d.n_population), 0),
        noise=_float("data.noise", raw.get("noise", 0.0 if real else d.noise), 0.0),
        signal=_float("data.signal", raw.get("signal", d.signal), 0.0),
        teacher_width=_int("data.teacher_width", raw.get("teacher_width", d.teacher_width), 1),
    )
    if spec.target in ONE_D_TARGETS and spec.dim != 1:
        raise _fail("data.dim", spec.dim, f"target {spec.target!r} is 1-D: dim must be 1")
    if spec.target == "exp_diff" and spec.dim < 2:
        raise _fail("data.dim", spec.dim, "target 'exp_diff' needs dim >= 2")
    if real:
        if spec.dim != real[0]:
            raise _fail("data.dim", spec.dim, f"target {target!r} has {real[0]} features")
        if spec.n_train + spec.n_test > real[1]:
            raise _fail("data.n_train", spec.n_train,
                        f"n_train + n_test must be <= {real[1]}, the size of {target!r}")
        if spec.n_population or spec.noise:
            key, value = (("data.n_population", spec.n_population) if spec.n_population
                          else ("data.noise", spec.noise))
            raise _fail(key, value, f"must be 0 for the real data set {target!r}")
    return spec


def _model(raw: dict[str, Any]) -> ModelSpec:
    d = ModelSpec()
    family = _choice("model.family", raw.get("family", d.family), FAMILIES)
    spec = ModelSpec(
        family=family,
        width=_widths(raw.get("width", list(d.width))),
        depth=_int("model.depth", raw.get("depth", d.depth), 1),
        activation=_choice("model.activation", raw.get(
            "activation", "identity" if family == "linear" else d.activation), ACTIVATIONS),
        fit=_choice("model.fit", raw.get("fit", "gd" if family == "mlp" else "min_norm"), FITS),
        ridge=_float("model.ridge", raw.get("ridge", d.ridge), 0.0),
    )
    if family == "mlp" and spec.fit != "gd":
        raise _fail("model.fit", spec.fit, "the mlp family is trained by gradient descent: "
                    "use fit = 'gd'")
    if family != "mlp" and spec.depth != 1:
        raise _fail("model.depth", spec.depth, f"family {family!r} has depth 1")
    if family == "random_features" and spec.activation not in RF_ACTIVATIONS:
        raise _fail("model.activation", spec.activation,
                    f"random features use one of {', '.join(RF_ACTIVATIONS)}")
    if family == "linear" and spec.activation != "identity":
        raise _fail("model.activation", spec.activation, "the linear family has no activation")
    if spec.fit == "ridge" and spec.ridge <= 0:
        raise _fail("model.ridge", spec.ridge, "fit = 'ridge' needs ridge > 0")
    return spec


def _train(raw: dict[str, Any]) -> TrainSpec:
    d = TrainSpec()
    batch = raw.get("batch_size", "full")
    if batch != "full":
        batch = _int("train.batch_size", batch, 1)
    betas = raw.get("betas", list(d.betas))
    if not isinstance(betas, (list, tuple)) or len(betas) != 2:
        raise _fail("train.betas", betas, "expected two numbers [beta1, beta2]")
    nesterov = _bool("train.nesterov", raw.get("nesterov", d.nesterov))
    record_bv = _bool("train.record_bias_variance",
                      raw.get("record_bias_variance", d.record_bias_variance))
    epochs = _int("train.epochs", raw.get("epochs", d.epochs), 0)
    spec = TrainSpec(
        optimizer=_choice("train.optimizer", raw.get("optimizer", d.optimizer), OPTIMIZERS),
        lr=_float("train.lr", raw.get("lr", d.lr), 0.0, strict=True),
        momentum=_float("train.momentum", raw.get("momentum", d.momentum), 0.0, high=1.0),
        nesterov=nesterov,
        betas=(_float("train.betas[0]", betas[0], 0.0, high=1.0),
               _float("train.betas[1]", betas[1], 0.0, high=1.0)),
        eps=_float("train.eps", raw.get("eps", d.eps), 0.0, strict=True),
        alpha=_float("train.alpha", raw.get("alpha", d.alpha), 0.0, high=1.0),
        weight_decay=_float("train.weight_decay", raw.get("weight_decay", d.weight_decay), 0.0),
        epochs=epochs,
        batch_size=None if batch == "full" else batch,
        loss=_choice("train.loss", raw.get("loss", d.loss), LOSSES),
        dtype=_choice("train.dtype", raw.get("dtype", d.dtype), DTYPES),
        record=_record(raw.get("record", "all"), epochs),
        record_bias_variance=record_bv,
    )
    if spec.nesterov and (spec.optimizer != "sgd" or spec.momentum == 0.0):
        raise _fail("train.nesterov", True, "needs optimizer = 'sgd' and momentum > 0")
    return spec


def _seeds(raw: dict[str, Any]) -> SeedSpec:
    d = SeedSpec()
    return SeedSpec(
        root=_int("seeds.root", raw.get("root", d.root), 0),
        data=_int("seeds.data", raw.get("data", d.data), 1),
        init=_int("seeds.init", raw.get("init", d.init), 1),
    )


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file, with errors that name the file and the line.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    dict

    Raises
    ------
    ValueError
        If the file cannot be read or is not valid TOML.
    """
    path = Path(path)
    try:
        return tomllib.loads(path.read_text())
    except OSError as err:
        raise ValueError(f"{path}: cannot read ({err.strerror})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file") from None
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path}: invalid TOML: {err}") from None


def set_key(raw: dict[str, Any], assignment: str) -> dict[str, Any]:
    """Apply one ``section.key=value`` override to a raw experiment mapping.

    The value is read as a TOML value (``0.05``, ``[1, 2, 4]``, ``true``,
    ``"sgd"``); anything that is not valid TOML is taken as a bare string.

    Parameters
    ----------
    raw : dict
        The experiment mapping (changed in place and returned).
    assignment : str
        ``section.key=value``, e.g. ``train.lr=0.05`` or ``model.width=[1,2,4,8]``.

    Returns
    -------
    dict
        ``raw``.
    """
    key, sep, text = assignment.partition("=")
    parts = key.strip().split(".")
    if not sep or len(parts) != 2 or not all(parts):
        raise ValueError(f"--set {assignment!r}: expected section.key=value, "
                         f"e.g. train.lr=0.05")
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = text.strip()
    section = raw.setdefault(parts[0], {})
    if not isinstance(section, dict):
        raise _fail(parts[0], section, "expected a table")
    section[parts[1]] = value
    return raw


def load_experiment(source: str | Path | Mapping[str, Any] | Experiment) -> Experiment:
    """Build and validate an :class:`Experiment` from TOML or a mapping.

    Parameters
    ----------
    source : str, Path, mapping or Experiment
        Path to a TOML file, or a nested mapping with optional top-level keys
        ``name`` and ``description`` and the tables ``data``, ``model``,
        ``train`` and ``seeds``. Missing keys take the seed demo's defaults.
        An :class:`Experiment` is returned unchanged.

    Returns
    -------
    Experiment

    Raises
    ------
    ValueError
        On unreadable TOML, unknown keys, wrong types or out-of-range values;
        the message names the key and the value.

    Examples
    --------
    >>> exp = load_experiment({"model": {"width": [1, 2, 4]}, "train": {"epochs": 5}})
    >>> exp.model.width, exp.epochs[-1]
    ((1, 2, 4), 5)
    """
    if isinstance(source, Experiment):
        return source
    name = "experiment"
    if isinstance(source, (str, Path)):
        raw: Mapping[str, Any] = read_toml(source)
        name = Path(source).stem
    elif isinstance(source, Mapping):
        raw = source
    else:
        raise TypeError(f"expected a path, a mapping or an Experiment, got {type(source)!r}")
    top = {"name", "description", *_SECTIONS}
    for k in raw:
        if k not in top:
            raise _fail(k, raw[k], f"unknown section or key{_closest(k, sorted(top))}")
    name = raw.get("name", name)
    description = raw.get("description", "")
    for key, value in (("name", name), ("description", description)):
        if not isinstance(value, str):
            raise _fail(key, value, "expected a string")
    sections = {s: _section(s, raw.get(s, {})) for s in _SECTIONS}
    sweep = []
    for section, values in sections.items():
        for k, v in values.items():
            key = f"{section}.{k}"
            if not isinstance(v, (list, tuple)) or key in _LIST_KEYS:
                continue
            if key not in SWEEPABLE:
                raise _fail(key, v, "this key cannot be swept (give one value)")
            if not v:
                raise _fail(key, v, "empty sweep")
            if len({json.dumps(x) for x in v}) != len(v):
                raise _fail(key, v, "sweep values must be distinct")
            sweep.append((key, list(v)))
            values[k] = v[0]
    base = Experiment(
        name=name,
        description=description,
        data=_data(sections["data"]),
        model=_model(sections["model"]),
        train=_train(sections["train"]),
        seeds=_seeds(sections["seeds"]),
    )
    _check_combination(base)
    if not sweep:
        return base
    resolved = []
    for key, options in sweep:
        section, k = key.split(".")
        canon = []
        for i, option in enumerate(options):
            try:
                point = _build_section(section, {**sections[section], k: option})
            except ValueError as err:
                raise ValueError(f"{key}[{i}]{str(err)[len(key):]}") from None
            canon.append(getattr(point, k))
        resolved.append((key, tuple(canon)))
    exp = dataclasses.replace(base, sweep=tuple(resolved))
    for _, point in exp.points():  # cross-key checks (e.g. 1-D targets and dim) on every point
        load_experiment({**point.to_dict(), "name": name})
    return exp


def _check_combination(exp: Experiment) -> None:
    if exp.model.family == "linear" and max(exp.model.width) > exp.data.dim:
        raise _fail("model.width", list(exp.model.width),
                    f"the linear family uses the first p of data.dim = {exp.data.dim} "
                    f"features: widths must be <= {exp.data.dim}")
    outputs = REAL_TARGETS.get(exp.data.target, (0, 0, 1))[2]
    if outputs > 1 and not exp.closed_form:
        raise _fail("data.target", exp.data.target,
                    f"has {outputs} outputs: fit it in closed form (model.fit = 'min_norm' "
                    f"or 'ridge' with family 'linear' or 'random_features')")


def _build_section(section: str, values: dict[str, Any]):
    return {"data": _data, "model": _model, "train": _train, "seeds": _seeds}[section](values)
