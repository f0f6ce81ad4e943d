"""The experiment schema as plain frozen data: sections, sweeps, derived values.

An :class:`Experiment` holds values only; :func:`ddlab.config.load_experiment`
builds and validates it. Derived values (recorded epochs, parameter counts,
sweep points) are computed when used, never frozen at load time. A swept key
holds a :class:`Sweep` of its values in its section, so it can never be read
as one of them.
"""

from __future__ import annotations

import dataclasses
import json
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._fields import CLASSIFICATION_TARGETS, Key, distinct_log_ints, field

__all__ = [
    "DataSpec",
    "Experiment",
    "ModelSpec",
    "SeedSpec",
    "Sweep",
    "TrainSpec",
    "layer_shapes",
    "mlp_n_params",
    "record_epochs",
]


class Sweep(tuple):
    """The values of a swept key, as its section holds them.

    A tuple subclass, so code that expects one value fails loudly instead of
    silently using the first: take ``Experiment.point(index)`` for a concrete
    experiment.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Sweep{tuple(self)!r}"


def _d(key: str) -> Any:
    """The default of ``key`` in parsed form (context-free: as for a synthetic ``mlp``)."""
    f = field(key)
    return dataclasses.field(default=f.parse(f.default_for({})))


@dataclass(frozen=True)
class DataSpec:
    """Data-generating process: target function, inputs, sample sizes and noise.

    Types, defaults and bounds of every key: :data:`ddlab.config.FIELDS`.
    ``target`` is ``exp_diff`` (f = exp(x0 - x1)), ``sin_bump`` (f = sin x +
    exp(-x^2)/(1+|x|), 1-D), ``quadratic`` (f = 1 + 2x - 3x^2, 1-D), ``linear``
    (f = x . beta, ||beta||^2 = ``signal``, beta isotropic per data seed),
    ``teacher`` (a fixed random tanh network of ``teacher_width`` units, drawn
    from the root seed), ``teacher_classes`` (the argmax over ``classes``
    outputs of such a network) or a real data set (``digits``, ``diabetes``,
    ``mnist1d``; ``ddlab[real]``). ``noise`` is the standard deviation sigma of
    the Gaussian noise on y; ``label_noise`` the probability that a training
    label of a classification target is replaced by one of the other classes,
    drawn uniformly; ``n_population`` noise-free points measure ``f_error``, drawn as
    ``population`` (``sobol``: independently scrambled Sobol replicates, or ``iid``).
    ``blocks`` (``linear`` target, ``normal`` inputs) splits the inputs into
    feature blocks, each a tuple of ``(name, value)`` pairs ``dim``, ``scale``,
    ``signal``: block b has inputs ~ N(0, scale_b^2) and beta isotropic within
    it with ||beta_b||^2 = signal_b; ``dim`` and ``signal`` are then the totals.
    """

    target: str = _d("data.target")
    input: str = _d("data.input")
    dim: int = _d("data.dim")
    n_train: int = _d("data.n_train")
    n_test: int = _d("data.n_test")
    n_population: int = _d("data.n_population")
    population: str = _d("data.population")
    noise: float = _d("data.noise")
    label_noise: float = _d("data.label_noise")
    classes: int = _d("data.classes")
    signal: float = _d("data.signal")
    blocks: tuple[tuple[tuple[str, Any], ...], ...] = _d("data.blocks")
    teacher_width: int = _d("data.teacher_width")

    def block_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-feature input scale and block index (one unit-scale block without blocks)."""
        dims = [dict(b)["dim"] for b in self.blocks] or [self.dim]
        scales = [dict(b)["scale"] for b in self.blocks] or [1.0]
        return np.repeat(scales, dims), np.repeat(np.arange(len(dims)), dims)


@dataclass(frozen=True)
class ModelSpec:
    """Model family and architecture.

    ``family``: ``mlp`` (``depth`` hidden layers), ``linear`` (weak features:
    the first ``width`` of the ``dim`` inputs) or ``random_features`` (a fixed
    random first layer of ``width`` units, only the output layer fitted).
    ``fit``: ``gd``, ``min_norm`` or ``ridge`` (penalty ``ridge`` in
    (1/n) ||y - Phi theta||^2 + ridge ||theta||^2).
    """

    family: str = _d("model.family")
    width: tuple[int, ...] = _d("model.width")
    depth: int = _d("model.depth")
    activation: str = _d("model.activation")
    fit: str = _d("model.fit")
    ridge: float = _d("model.ridge")


@dataclass(frozen=True)
class TrainSpec:
    """Optimiser, schedule and numerics (``torch.optim`` semantics).

    ``batch_size`` None means full batch; ``shuffle`` says whose minibatch order
    it is: ``"cell"``, each cell its own, or ``"data"``, one per data set shared
    by all its cells (widths, inits and batched sweep points). ``record`` keeps the spec as given:
    ``"all"``, a tuple of epochs, or pairs such as ``(("every", k),)``,
    ``(("log", num),)`` or ``(("dense", k), ("log", num))``;
    :attr:`Experiment.epochs` resolves it against ``epochs`` when used.
    ``keep_state`` stores each cell's final parameters and optimiser state,
    from which a run with more ``epochs`` continues.
    """

    optimizer: str = _d("train.optimizer")
    lr: float = _d("train.lr")
    momentum: float = _d("train.momentum")
    nesterov: bool = _d("train.nesterov")
    betas: tuple[float, float] = _d("train.betas")
    eps: float = _d("train.eps")
    alpha: float = _d("train.alpha")
    weight_decay: float = _d("train.weight_decay")
    epochs: int = _d("train.epochs")
    batch_size: int | None = _d("train.batch_size")
    shuffle: str = _d("train.shuffle")
    loss: str = _d("train.loss")
    dtype: str = _d("train.dtype")
    record: Any = _d("train.record")
    record_bias_variance: bool = _d("train.record_bias_variance")
    keep_state: bool = _d("train.keep_state")


@dataclass(frozen=True)
class SeedSpec:
    """Seeds: every cell's randomness derives from ``root`` and its coordinates.

    ``data`` data sets (seeds 0..data-1), ``init`` initialisations per data set.
    """

    root: int = _d("seeds.root")
    data: int = _d("seeds.data")
    init: int = _d("seeds.init")


_SECTIONS: dict[str, type] = {"data": DataSpec, "model": ModelSpec, "train": TrainSpec,
                              "seeds": SeedSpec}


def record_epochs(record: Any, epochs: int) -> tuple[int, ...]:
    """The recorded epochs of a ``train.record`` spec, for ``epochs`` epochs of training.

    Parameters
    ----------
    record : str or tuple
        A parsed spec (see :class:`TrainSpec`).
    epochs : int
        ``train.epochs``.

    Returns
    -------
    tuple of int
        Sorted epochs in ``0..epochs``; the last epoch is always recorded.
    """
    if record == "all":
        return tuple(range(epochs + 1))
    if record and isinstance(record[0], tuple):
        spec = dict(record)
        dense = min(spec.get("dense", 0), epochs)
        rec = set(range(dense + 1))
        if "every" in spec:
            rec |= set(range(dense, epochs + 1, spec["every"]))
        if "log" in spec and epochs > dense:
            rec |= set(distinct_log_ints(max(dense, 1), epochs, spec["log"] - (dense == 0)))
        return tuple(sorted(rec | {epochs}))
    return tuple(record)


def layer_shapes(dim: int, width: int, depth: int, outputs: int = 1) -> list[tuple[int, int]]:
    """(out, in) shape of each ``Linear`` layer of an MLP of ``depth`` hidden layers."""
    return [(width, dim)] + [(width, width)] * (depth - 1) + [(outputs, width)]


def mlp_n_params(dim: int, width: int, depth: int, outputs: int = 1) -> int:
    """Weights and biases of an MLP with ``depth`` hidden layers of ``width`` units."""
    return sum(o * i + o for o, i in layer_shapes(dim, width, depth, outputs))


def _plain(value: Any) -> Any:
    """A JSON- and TOML-friendly copy of a section value."""
    if isinstance(value, tuple):
        if value and all(isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str)
                         for v in value):
            return dict(value)
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Experiment:
    """A complete experiment: the grid (swept keys) x width x epoch x data seed x init seed.

    Build it with :func:`ddlab.config.load_experiment`; everything that
    consumes an experiment re-validates it, so one built by hand or with
    :func:`dataclasses.replace` is checked before anything runs.
    """

    name: str = "experiment"
    description: str = ""
    data: DataSpec = DataSpec()
    model: ModelSpec = ModelSpec()
    train: TrainSpec = TrainSpec()
    seeds: SeedSpec = SeedSpec()
    #: swept keys in declaration order, with their values
    sweep: tuple[tuple[Key, tuple[Any, ...]], ...] = ()

    @property
    def sweep_dims(self) -> tuple[str, ...]:
        """Dataset dim names of the swept keys (the key without its section)."""
        return tuple(key.dim for key, _ in self.sweep)

    @property
    def sweep_shape(self) -> tuple[int, ...]:
        """Number of values of each swept key."""
        return tuple(len(values) for _, values in self.sweep)

    def point(self, index: Sequence[int]) -> Experiment:
        """The concrete (unswept) experiment at one index of the sweep grid.

        Parameters
        ----------
        index : sequence of int
            One index per swept key, in :attr:`sweep` order; ``()`` when
            nothing is swept.

        Raises
        ------
        ValueError
            If ``index`` is not one in-range integer per swept key.
        """
        values: dict[str, dict[str, Any]] = {}
        for (key, options), i in zip(self.sweep, self._point_index(index), strict=True):
            values.setdefault(key.section, {})[key.name] = options[i]
        sections = {s: dataclasses.replace(getattr(self, s), **v) for s, v in values.items()}
        return dataclasses.replace(self, sweep=(), **sections)

    def _point_index(self, index: Any) -> tuple[int, ...]:
        """``index`` as a tuple of ints, one in range per swept key (else ValueError)."""
        shape = self.sweep_shape
        try:
            found = tuple(operator.index(i) for i in index)
        except TypeError:
            found = None
        if found is not None and len(found) == len(shape) and all(
                -n <= i < n for i, n in zip(found, shape, strict=True)):
            return found
        if not shape:
            raise ValueError(f"index = {index!r}: experiment {self.name!r} sweeps no key; "
                             f"its one point is point(())")
        swept = ", ".join(f"{d} ({n} values)" for d, n in zip(self.sweep_dims, shape,
                                                              strict=True))
        raise ValueError(f"index = {index!r}: expected a sequence of {len(shape)} ints, an "
                         f"index into each swept key: {swept}")

    @property
    def first_point(self) -> Experiment:
        """The concrete experiment at the first sweep point (itself when nothing is swept)."""
        return self.point([0] * len(self.sweep)) if self.sweep else self

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
        return record_epochs(self.train.record, self.train.epochs)

    @property
    def outputs(self) -> int:
        """Outputs of the model: ``data.classes`` for a classification target, else 1."""
        return self.data.classes if self.data.target in CLASSIFICATION_TARGETS else 1

    def n_params(self, width: int) -> int:
        """Number of fitted parameters of the model of width ``width``.

        For ``linear`` and ``random_features``, the number of features (the
        fitted weights per output).

        Raises
        ------
        ValueError
            If ``data.dim`` or ``model.depth`` is swept (take a point first).
        """
        if self.model.family != "mlp":
            return width
        for value, key in ((self.data.dim, "data.dim"), (self.model.depth, "model.depth")):
            if isinstance(value, Sweep):
                raise ValueError(f"{key} = {list(value)!r}: swept; n_params needs a point")
        return mlp_n_params(self.data.dim, width, self.model.depth, self.outputs)

    def to_dict(self) -> dict[str, Any]:
        """The experiment as a JSON- and TOML-friendly nested dict (sweeps as lists).

        ``load_experiment(exp.to_dict())`` rebuilds the same experiment.
        """
        out: dict[str, Any] = {"name": self.name, "description": self.description}
        for section in _SECTIONS:
            values = dataclasses.asdict(getattr(self, section))
            out[section] = {k: _plain(v) for k, v in values.items()}
        batch = out["train"]["batch_size"]
        out["train"]["batch_size"] = ["full" if b is None else b for b in batch] if isinstance(
            batch, list) else batch or "full"
        return out

    def to_json(self) -> str:
        """The experiment as JSON (stored in dataset attrs)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    def replace(self, **sections: Any) -> Experiment:
        """Return a re-validated copy with some keys changed.

        Parameters
        ----------
        **sections
            Per section, a mapping of keys to new values, e.g.
            ``replace(train={"lr": 0.1}, model={"width": [4]})``; ``name`` and
            ``description`` take strings.
        """
        from ._load import load_experiment

        spec = self.to_dict()
        for section, values in sections.items():
            if section in ("name", "description"):
                spec[section] = values
                continue
            if section not in spec or not isinstance(values, dict):
                raise ValueError(f"{section} = {values!r}: not an experiment section")
            spec[section].update(values)
        return load_experiment(spec)
