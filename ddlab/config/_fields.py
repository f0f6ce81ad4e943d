"""The field table: every TOML key with its type, default, bounds and sweep rules.

One :class:`Field` per key drives validation (:mod:`ddlab.config._load`), the
dataclass defaults (:mod:`ddlab.config._spec`), which keys may be swept, which
sweeps share a batch, and the README's key table (a test checks they agree).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "ACTIVATIONS",
    "CLASSIFICATION_TARGETS",
    "DTYPES",
    "FAMILIES",
    "FIELDS",
    "FITS",
    "INPUTS",
    "LOSSES",
    "MAX_AXIS",
    "OPTIMIZERS",
    "REAL_TARGETS",
    "RF_ACTIVATIONS",
    "TARGETS",
    "Field",
    "Key",
    "check_axis",
    "closest",
    "distinct_log_ints",
    "fail",
    "field",
]

TARGETS = ("exp_diff", "sin_bump", "quadratic", "linear", "teacher", "teacher_classes",
           "digits", "diabetes", "mnist1d")
#: Real data sets (``ddlab[real]``): name -> (dim, samples, outputs)
REAL_TARGETS = {"digits": (64, 1797, 10), "diabetes": (10, 442, 1), "mnist1d": (40, 16_000, 10)}
#: Classification targets: one-hot (n, classes) float targets, labels may be flipped
CLASSIFICATION_TARGETS = ("teacher_classes", "digits", "mnist1d")
ONE_D_TARGETS = ("sin_bump", "quadratic")
INPUTS = ("uniform", "normal")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "softplus", "elu", "softsign", "identity", "cos")
RF_ACTIVATIONS = ("relu", "tanh", "cos")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
LOSSES = ("mse", "l1", "cross_entropy")
DTYPES = ("float32", "float64")
FAMILIES = ("mlp", "linear", "random_features")
FITS = ("gd", "min_norm", "ridge")


class Key(NamedTuple):
    """A key of the experiment schema: its section and its name."""

    section: str
    name: str

    def __str__(self) -> str:
        return f"{self.section}.{self.name}"

    @property
    def dim(self) -> str:
        """The dataset dim of the key when swept: its name without the section."""
        return self.name


def fail(key: object, value: Any, why: str) -> ValueError:
    """The ``key = value: why`` error every bad input raises."""
    return ValueError(f"{key} = {value!r}: {why}")


#: Most entries along one axis of a grid (widths, recorded epochs): a config holds them as
#: tuples, so larger ones are refused before they are built
MAX_AXIS = 10**7


def check_axis(key: str, value: Any, n: int) -> None:
    """Refuse ``n`` entries along one axis of the grid if there are more than :data:`MAX_AXIS`."""
    if n > MAX_AXIS:
        raise fail(key, value, f"{n} entries along one axis of the grid, more than ddlab "
                               f"holds (at most {MAX_AXIS})")


def closest(word: str, options: list[str]) -> str:
    """A " (did you mean ...?)" hint, or an empty string."""
    near = difflib.get_close_matches(word, options, n=1)
    return f" (did you mean {near[0]!r}?)" if near else ""


def _int(key: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise fail(key, value, "expected an integer")
    if low is not None and value < low:
        raise fail(key, value, f"must be >= {low}")
    if high is not None and value >= high:
        raise fail(key, value, f"must be < {high}")
    return int(value)


def _float(key: str, value: Any, low: float | None = None, strict: bool = False,
           high: float | None = None) -> float:
    if (isinstance(value, (bool, np.complexfloating))
            or not isinstance(value, (int, float, np.number))):
        raise fail(key, value, "expected a real number")
    value = float(value)
    if not math.isfinite(value):
        raise fail(key, value, "must be finite")
    if low is not None and (value <= low if strict else value < low):
        raise fail(key, value, f"must be {'>' if strict else '>='} {low}")
    if high is not None and value >= high:
        raise fail(key, value, f"must be < {high}")
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
            raise fail(f"{key}.{k}", value[k], f"unknown key{closest(k, sorted(allowed))}")
    if "stop" not in value:
        raise fail(key, dict(value), "a range table needs 'stop'")
    start = _int(f"{key}.start", value.get("start", low), low)
    stop = _int(f"{key}.stop", value["stop"], start)
    if value.get("log", False) or "num" in value:
        num = _int(f"{key}.num", value.get("num", 10), 1)
        check_axis(key, dict(value), num)
        if value.get("log", False):
            return distinct_log_ints(max(start, 1), stop, num)
        return sorted({int(v) for v in np.rint(np.linspace(start, stop, num))})
    step = _int(f"{key}.step", value.get("step", 1), 1)
    check_axis(key, dict(value), len(range(start, stop + 1, step)))
    return list(range(start, stop + 1, step))


def _widths(key: str, value: Any) -> tuple[int, ...]:
    if isinstance(value, Mapping):
        widths = _range_table(key, value, 1)
    elif isinstance(value, (list, tuple)):
        widths = [_int(f"{key}[{i}]", v, 1) for i, v in enumerate(value)]
    else:
        widths = [_int(key, value, 1)]
    if not widths:
        raise fail(key, value, "empty width grid")
    if len(set(widths)) != len(widths):
        raise fail(key, value, "widths must be distinct")
    return tuple(sorted(widths))


def _record(key: str, value: Any) -> str | tuple[int, ...] | tuple[tuple[str, int], ...]:
    """The record spec, kept as given (resolved against ``train.epochs`` when used)."""
    if value == "all":
        return "all"
    if isinstance(value, Mapping):
        kinds = {"every": 1, "log": 2, "dense": 0}
        unknown = [k for k in value if k not in kinds]
        if unknown or not value or set(value) == {"dense"} or {"every", "log"} <= set(value):
            raise fail(key, dict(value), "expected {every = k}, {log = num} or "
                       "{dense = epochs, log = num}")
        spec = tuple(sorted((k, _int(f"{key}.{k}", v, kinds[k])) for k, v in value.items()))
        check_axis(key, dict(value), dict(spec).get("log", 0) + dict(spec).get("dense", 0))
        return spec
    if isinstance(value, (list, tuple)):
        rec = {_int(f"{key}[{i}]", v, 0) for i, v in enumerate(value)}
        if not rec:
            raise fail(key, value, "no epochs to record")
        return tuple(sorted(rec))
    raise fail(key, value, "expected 'all', a list of epochs, {every = k} or {log = num}")


def _betas(key: str, value: Any) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise fail(key, value, "expected two numbers [beta1, beta2]")
    return (_float(f"{key}[0]", value[0], 0.0, high=1.0),
            _float(f"{key}[1]", value[1], 0.0, high=1.0))


#: keys of one ``data.blocks`` table, with their bounds (low, strict)
_BLOCK_KEYS = {"dim": None, "scale": (0.0, True), "signal": (0.0, False)}


def _blocks(key: str, value: Any) -> tuple[tuple[tuple[str, Any], ...], ...]:
    """Feature blocks ``[{dim, scale, signal}, ...]`` as tuples of (name, value) pairs."""
    if not isinstance(value, (list, tuple)):
        raise fail(key, value, "expected a list of tables {dim, scale, signal}")
    out = []
    for i, block in enumerate(value):
        label = f"{key}[{i}]"
        if not isinstance(block, Mapping) or set(block) != set(_BLOCK_KEYS):
            raise fail(label, block, "expected a table with keys dim, scale, signal")
        out.append((("dim", _int(f"{label}.dim", block["dim"], 1)),
                    *((k, _float(f"{label}.{k}", block[k], *bounds))
                      for k, bounds in _BLOCK_KEYS.items() if bounds)))
    return tuple(out)


def _blocks_total(raw: Mapping[str, Any], name: str) -> float:
    """The sum of ``name`` over the (validated) ``blocks`` of a data section."""
    return sum(dict(b)[name] for b in _blocks("data.blocks", raw["blocks"]))


def _batch(key: str, value: Any) -> int | None:
    return None if value in ("full", None) else _int(key, value, 1)


@dataclass(frozen=True)
class Field:
    """One key of the experiment schema.

    Attributes
    ----------
    key : Key
    kind : str
        ``int``, ``float``, ``bool``, ``choice``, ``widths``, ``record``,
        ``betas``, ``batch`` or ``blocks``.
    default : object
        The default (TOML form), or a callable of the section's raw mapping
        for defaults that depend on other keys.
    low, high : float, optional
        Bounds: ``low`` inclusive (exclusive when ``strict``), ``high`` exclusive.
    choices : tuple of str
        Allowed values of a ``choice`` key.
    sweep : str
        ``""`` (cannot be swept), ``"shape"`` (a sweep gets batches of its
        own) or ``"batch"`` (values differ per cell only: points share a batch).
    doc : str
        One-line meaning.
    """

    key: Key
    kind: str
    default: Any
    low: float | None = None
    high: float | None = None
    strict: bool = False
    choices: tuple[str, ...] = ()
    sweep: str = "shape"
    doc: str = ""

    @property
    def native_list(self) -> bool:
        """Whether the key takes a list natively (so a list is never a sweep)."""
        return self.kind in ("widths", "betas", "record", "blocks")

    def default_for(self, raw: Mapping[str, Any]) -> Any:
        """The default, given the rest of the section."""
        return self.default(raw) if callable(self.default) else self.default

    def parse(self, value: Any, label: str | None = None) -> Any:
        """Validate one value; errors name ``label`` (default: the key)."""
        k = label or str(self.key)
        if self.kind == "int":
            return _int(k, value, None if self.low is None else int(self.low),
                        None if self.high is None else int(self.high))
        if self.kind == "float":
            return _float(k, value, self.low, self.strict, self.high)
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise fail(k, value, "expected true or false")
            return value
        if self.kind == "choice":
            if not isinstance(value, str) or value not in self.choices:
                hint = closest(value, list(self.choices)) if isinstance(value, str) else ""
                raise fail(k, value, f"expected one of {', '.join(self.choices)}{hint}")
            return value
        parser: Callable[[str, Any], Any] = {"widths": _widths, "record": _record,
                                             "betas": _betas, "batch": _batch,
                                             "blocks": _blocks}[self.kind]
        return parser(k, value)


def _real(raw: Mapping[str, Any]) -> bool:
    return raw.get("target") in REAL_TARGETS


def _noiseless(raw: Mapping[str, Any]) -> bool:
    """Real data and classification targets: no Gaussian noise, no population sample."""
    return _real(raw) or raw.get("target") in CLASSIFICATION_TARGETS


def _f(section: str, name: str, kind: str, default: Any, **kw: Any) -> Field:
    return Field(Key(section, name), kind, default, **kw)


#: Every key of the schema, section by section, in TOML order.
FIELDS: tuple[Field, ...] = (
    _f("data", "target", "choice", "exp_diff", choices=TARGETS, doc="true regression function f"),
    _f("data", "input", "choice", "uniform", choices=INPUTS, doc="input distribution"),
    _f("data", "dim", "int",
       lambda raw: REAL_TARGETS[raw["target"]][0] if _real(raw)
       else int(_blocks_total(raw, "dim")) if raw.get("blocks") else 5, low=1,
       doc="input dimension (with blocks: their total)"),
    _f("data", "n_train", "int", 20, low=1, doc="training sample size"),
    _f("data", "n_test", "int", 20, low=1, doc="test sample size"),
    _f("data", "n_population", "int", lambda raw: 0 if _noiseless(raw) else 10_000, low=0,
       sweep="", doc="noise-free points for f_error (0 = off)"),
    _f("data", "population", "choice", "sobol", choices=("sobol", "iid"), sweep="",
       doc="design of the population sample: scrambled Sobol replicates or iid"),
    _f("data", "noise", "float", lambda raw: 0.0 if _noiseless(raw) else 1.5, low=0.0,
       sweep="batch", doc="standard deviation of the Gaussian noise on y"),
    _f("data", "label_noise", "float", 0.0, low=0.0,
       doc="probability that a training label is replaced by another class, drawn uniformly"),
    _f("data", "classes", "int", 10, low=2, doc="classes of the teacher_classes target"),
    _f("data", "signal", "float",
       lambda raw: _blocks_total(raw, "signal") if raw.get("blocks") else 1.0, low=0.0,
       doc="||beta||^2 of the linear target (with blocks: their total)"),
    _f("data", "blocks", "blocks", [], sweep="",
       doc="linear target with Gaussian inputs: feature blocks [{dim, scale, signal}, ...], "
           "x ~ N(0, scale^2), ||beta_block||^2 = signal"),
    _f("data", "teacher_width", "int", 8, low=1, doc="width of the teacher target"),
    _f("model", "family", "choice", "mlp", choices=FAMILIES, sweep="", doc="model family"),
    _f("model", "width", "widths", list(range(1, 11)), sweep="", doc="hidden widths"),
    _f("model", "depth", "int", 1, low=1, doc="hidden layers"),
    _f("model", "activation", "choice",
       lambda raw: "identity" if raw.get("family") == "linear" else "relu",
       choices=ACTIVATIONS, doc="hidden-layer activation"),
    _f("model", "fit", "choice", lambda raw: "gd" if raw.get("family", "mlp") == "mlp"
       else "min_norm", choices=FITS, sweep="", doc="gd, min_norm or ridge"),
    _f("model", "ridge", "float", 0.0, low=0.0, doc="ridge penalty lambda"),
    _f("train", "optimizer", "choice", "adam", choices=OPTIMIZERS, doc="optimiser"),
    _f("train", "lr", "float", 0.01, low=0.0, strict=True, sweep="batch", doc="learning rate"),
    _f("train", "momentum", "float", 0.0, low=0.0, high=1.0, doc="SGD/RMSprop momentum"),
    _f("train", "nesterov", "bool", False, doc="Nesterov momentum for SGD"),
    _f("train", "betas", "betas", [0.9, 0.999], sweep="", doc="Adam(W) moment decay rates"),
    _f("train", "eps", "float", 1e-8, low=0.0, strict=True, doc="Adam/RMSprop denominator guard"),
    _f("train", "alpha", "float", 0.99, low=0.0, high=1.0, doc="RMSprop smoothing constant"),
    _f("train", "weight_decay", "float", 0.0, low=0.0, sweep="batch", doc="L2 penalty"),
    _f("train", "epochs", "int", 50, low=0, sweep="", doc="passes over the training set"),
    _f("train", "batch_size", "batch", "full", doc="minibatch size or \"full\""),
    _f("train", "shuffle", "choice", "cell", choices=("cell", "data"),
       doc="minibatch order: each cell its own, or one per data set shared by its cells"),
    _f("train", "loss", "choice", "mse", choices=LOSSES, doc="training loss"),
    _f("train", "dtype", "choice", "float32", choices=DTYPES, sweep="", doc="float precision"),
    _f("train", "record", "record", "all", sweep="", doc="epochs at which metrics are kept"),
    _f("train", "record_bias_variance", "bool", True, sweep="",
       doc="keep pred_mean, pred_var_init, f_population (cross-entropy classification: "
           "test_ce_bias, test_ce_variance, test_error_variance)"),
    _f("train", "keep_state", "bool", False, sweep="",
       doc="keep each cell's final parameters and optimiser state (to train longer later)"),
    _f("seeds", "root", "int", 0, low=0, high=2**64, sweep="", doc="root seed"),
    _f("seeds", "data", "int", 1, low=1, sweep="", doc="number of data sets"),
    _f("seeds", "init", "int", 100, low=1, sweep="", doc="initialisations per data set"),
)

_BY_KEY = {f.key: f for f in FIELDS}


def field(key: Key | str) -> Field:
    """The :class:`Field` of ``key`` (a :class:`Key` or ``"section.name"``)."""
    if isinstance(key, str):
        key = Key(*key.split(".", 1))
    return _BY_KEY[key]
