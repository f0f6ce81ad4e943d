"""ddlab: batched simulations of double descent and generalization in small networks.

The public API is re-exported here. Names from the simulation tier (the only
one that imports torch) and from the plotting tier (matplotlib) load on first
use, so ``import ddlab``, :mod:`ddlab.config`, :mod:`ddlab.results`,
:mod:`ddlab.analysis` and :mod:`ddlab.theory` need only numpy, scipy, xarray
and zarr.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import analysis, config, results, theory
from ._version import __version__
from .analysis import bias_variance, decompose, generalization_gap, risks, summarize, table
from .config import DataSpec, Experiment, ModelSpec, SeedSpec, TrainSpec, load_experiment
from .results import VARIABLES, export_netcdf, open_results, verify

if TYPE_CHECKING:
    from . import plot, sim
    from .sim import (
        Samples,
        best_in_class,
        make_data,
        make_model,
        minibatch_order,
        plan_chunks,
        run,
        trained_model,
    )

_LAZY = {name: "sim" for name in ("Samples", "best_in_class", "make_data", "make_model",
                                   "minibatch_order", "plan_chunks", "run",
                                   "trained_model")}
_MODULES = ("sim", "plot")

__all__ = [
    "VARIABLES",
    "DataSpec",
    "Experiment",
    "ModelSpec",
    "Samples",
    "SeedSpec",
    "TrainSpec",
    "__version__",
    "analysis",
    "best_in_class",
    "bias_variance",
    "config",
    "decompose",
    "export_netcdf",
    "generalization_gap",
    "load_experiment",
    "make_data",
    "make_model",
    "minibatch_order",
    "open_results",
    "plan_chunks",
    "plot",
    "results",
    "risks",
    "run",
    "sim",
    "summarize",
    "table",
    "theory",
    "trained_model",
    "verify",
]


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ddlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
