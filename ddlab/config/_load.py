"""Building and validating experiments from TOML, mappings or other experiments.

Every bad value raises a :class:`ValueError` whose message starts with the
offending ``section.key`` and its value.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._fields import (
    CLASSIFICATION_TARGETS,
    FIELDS,
    ONE_D_TARGETS,
    REAL_TARGETS,
    RF_ACTIVATIONS,
    Key,
    check_axis,
    closest,
    fail,
)
from ._spec import _SECTIONS, DataSpec, Experiment, Sweep, record_epochs
from ._toml import read_toml

__all__ = ["load_experiment"]

_TOP = ("name", "description", *_SECTIONS)


def _section_raw(name: str, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise fail(name, raw, "expected a table")
    names = [f.key.name for f in FIELDS if f.key.section == name]
    for k in raw:
        if k not in names:
            raise fail(f"{name}.{k}", raw[k], f"unknown key{closest(k, names)}")
    return dict(raw)


def _build(section: str, raw: Mapping[str, Any]) -> Any:
    """A section dataclass from raw values, defaults filled in from the field table."""
    values = {}
    for f in FIELDS:
        if f.key.section == section:
            values[f.key.name] = f.parse(raw[f.key.name] if f.key.name in raw
                                         else f.default_for(raw))
    return _SECTIONS[section](**values)


def _check_blocks(d: DataSpec) -> None:
    """``data.blocks`` needs the linear target, normal inputs and matching totals."""
    if d.target != "linear" or d.input != "normal":
        key, value = (("data.target", d.target) if d.target != "linear"
                      else ("data.input", d.input))
        raise fail(key, value, "data.blocks needs target = 'linear' and input = 'normal'")
    for name in ("dim", "signal"):
        total = sum(dict(b)[name] for b in d.blocks)
        if not np.isclose(getattr(d, name), total, rtol=1e-12, atol=0.0):
            raise fail(f"data.{name}", getattr(d, name),
                       f"must equal the total over data.blocks ({total:g}) or be left out")


def _check(exp: Experiment) -> None:
    """Checks across keys, on one concrete (unswept) experiment."""
    d, m, t = exp.data, exp.model, exp.train
    real = REAL_TARGETS.get(d.target)
    if d.target in ONE_D_TARGETS and d.dim != 1:
        raise fail("data.dim", d.dim, f"target {d.target!r} is 1-D: dim must be 1")
    if d.target == "exp_diff" and d.dim < 2:
        raise fail("data.dim", d.dim, "target 'exp_diff' needs dim >= 2")
    if d.blocks:
        _check_blocks(d)
    if real:
        if d.dim != real[0]:
            raise fail("data.dim", d.dim, f"target {d.target!r} has {real[0]} features")
        if d.n_train + d.n_test > real[1]:
            raise fail("data.n_train", d.n_train,
                       f"n_train + n_test must be <= {real[1]}, the size of {d.target!r}")
        if d.n_population or d.noise:
            key, value = (("data.n_population", d.n_population) if d.n_population
                          else ("data.noise", d.noise))
            raise fail(key, value, f"must be 0 for the real data set {d.target!r}")
    _check_classes(exp)
    if m.family == "mlp" and m.fit != "gd":
        raise fail("model.fit", m.fit, "the mlp family is trained by gradient descent: "
                   "use fit = 'gd'")
    if m.family != "mlp" and m.depth != 1:
        raise fail("model.depth", m.depth, f"family {m.family!r} has depth 1")
    if m.family == "random_features" and m.activation not in RF_ACTIVATIONS:
        raise fail("model.activation", m.activation,
                   f"random features use one of {', '.join(RF_ACTIVATIONS)}")
    if m.family == "linear" and m.activation != "identity":
        raise fail("model.activation", m.activation, "the linear family has no activation")
    if m.family == "linear" and max(m.width) > d.dim:
        raise fail("model.width", list(m.width),
                   f"the linear family uses the first p of data.dim = {d.dim} features: "
                   f"widths must be <= {d.dim}")
    if m.fit == "ridge" and m.ridge <= 0:
        raise fail("model.ridge", m.ridge, "fit = 'ridge' needs ridge > 0")
    if t.nesterov and (t.optimizer != "sgd" or t.momentum == 0.0):
        raise fail("train.nesterov", True, "needs optimizer = 'sgd' and momentum > 0")
    if t.loss == "cross_entropy" and exp.closed_form:
        raise fail("train.loss", t.loss, f"a closed-form fit (model.fit = {m.fit!r}) "
                   "minimises the squared error on one-hot labels: cross_entropy needs "
                   "fit = 'gd'")
    if t.keep_state and exp.closed_form:
        raise fail("train.keep_state", True, f"model.fit = {m.fit!r} has no training state: "
                   "only gradient descent keeps one")
    if isinstance(t.record, tuple) and t.record and not isinstance(t.record[0], tuple):
        if max(t.record) > t.epochs:
            raise fail("train.record", list(t.record), f"epochs beyond train.epochs = {t.epochs}")
    spec = dict(t.record) if t.record and isinstance(t.record[0], tuple) else {}
    if t.record == "all" or "every" in spec:  # bounded by the epochs, not by the spec
        check_axis("train.record", t.record, t.epochs // spec.get("every", 1)
                   + spec.get("dense", 0) + 1)
    if not record_epochs(t.record, t.epochs):  # pragma: no cover - every spec records the end
        raise fail("train.record", t.record, "no epochs to record")


def _check_classes(exp: Experiment) -> None:
    """Label noise, class counts and the classification targets' missing extras."""
    d = exp.data
    if d.label_noise > 1:
        raise fail("data.label_noise", d.label_noise, "must be <= 1 (a probability)")
    if d.target not in CLASSIFICATION_TARGETS:
        if exp.train.loss == "cross_entropy":
            raise fail("train.loss", "cross_entropy",
                       f"needs a classification target ({', '.join(CLASSIFICATION_TARGETS)}), "
                       f"not {d.target!r}")
        if d.label_noise:
            raise fail("data.label_noise", d.label_noise,
                       f"needs a classification target ({', '.join(CLASSIFICATION_TARGETS)}), "
                       f"not {d.target!r}")
        return
    real = REAL_TARGETS.get(d.target)
    if real and d.classes != real[2]:
        raise fail("data.classes", d.classes, f"target {d.target!r} has {real[2]} classes")
    if d.n_population or d.noise:
        key, value = (("data.n_population", d.n_population) if d.n_population
                      else ("data.noise", d.noise))
        raise fail(key, value, f"must be 0 for the classification target {d.target!r} "
                   "(data.label_noise flips labels)")
    if d.target == "mnist1d" and importlib.util.find_spec("mnist1d") is None:
        raise ImportError("data.target = 'mnist1d' needs the mnist1d package: "
                          "pip install 'ddlab[real]'")


def _from_mapping(raw: Mapping[str, Any], name: str) -> Experiment:
    for k in raw:
        if k not in _TOP:
            raise fail(k, raw[k], f"unknown section or key{closest(k, sorted(_TOP))}")
    name = raw.get("name", name)
    description = raw.get("description", "")
    for key, value in (("name", name), ("description", description)):
        if not isinstance(value, str):
            raise fail(key, value, "expected a string")
    if not name or "/" in name or name.startswith("."):
        raise fail("name", name, "expected a non-empty name without '/' or a leading '.'")
    sections = {s: _section_raw(s, raw.get(s, {})) for s in _SECTIONS}
    swept: list[tuple[Key, list[Any]]] = []
    for f in FIELDS:
        section = sections[f.key.section]
        v = section.get(f.key.name)
        if not isinstance(v, (list, tuple)) or f.native_list:
            continue
        if not f.sweep:
            raise fail(f.key, list(v), "this key cannot be swept (give one value)")
        if not v:
            raise fail(f.key, list(v), "empty sweep")
        if len({json.dumps(x) for x in v}) != len(v):
            raise fail(f.key, list(v), "sweep values must be distinct")
        swept.append((f.key, list(v)))
    # sweeps in declaration order (section by section, as written)
    order = {(s, k): i for i, (s, k) in enumerate(
        (s, k) for s in _SECTIONS for k in sections[s])}
    swept.sort(key=lambda kv: order[(kv[0].section, kv[0].name)])
    first = {s: dict(v) for s, v in sections.items()}
    for key, values in swept:
        first[key.section][key.name] = values[0]
    base = {s: _build(s, first[s]) for s in _SECTIONS}
    resolved = []
    for key, values in swept:
        canon = []
        for i, option in enumerate(values):
            try:
                point = _build(key.section, {**first[key.section], key.name: option})
            except ValueError as err:
                raise ValueError(f"{key}[{i}]{str(err)[len(str(key)):]}") from None
            canon.append(getattr(point, key.name))
        resolved.append((key, tuple(canon)))
    for s in _SECTIONS:
        marks = {key.name: Sweep(values) for key, values in resolved if key.section == s}
        if marks:
            base[s] = dataclasses.replace(base[s], **marks)
    exp = Experiment(name=name, description=description, sweep=tuple(resolved), **base)
    for _, point in exp.points():  # cross-key checks on every point
        _check(point)
    return exp


def load_experiment(source: str | Path | Mapping[str, Any] | Experiment) -> Experiment:
    """Build and validate an :class:`Experiment` from TOML, a mapping or an experiment.

    Parameters
    ----------
    source : str, Path, mapping or Experiment
        Path to a TOML file, or a nested mapping with optional top-level keys
        ``name`` and ``description`` and the tables ``data``, ``model``,
        ``train`` and ``seeds``. Missing keys take the lecture demo's defaults
        (:data:`ddlab.config.FIELDS`). An :class:`Experiment`, however it was
        built (``dataclasses.replace`` included), is validated again.

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
        try:
            return _from_mapping(source.to_dict(), source.name)
        except TypeError as err:
            raise ValueError(f"experiment {source.name!r}: malformed ({err})") from None
    if isinstance(source, (str, Path)):
        return _from_mapping(read_toml(source), Path(source).stem)
    if isinstance(source, Mapping):
        return _from_mapping(source, "experiment")
    raise TypeError(f"expected a path, a mapping or an Experiment, got {type(source)!r}")
