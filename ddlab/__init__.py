"""ddlab: batched simulations of double descent and generalization in small networks.

The public API is re-exported here. Names from the simulation layer (the only
layer that imports torch) load on first use, so ``import ddlab`` and the
numpy/xarray layers stay free of torch.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from . import analysis, theory
from .analysis import (
    best_in_class,
    bias_variance,
    decompose,
    generalization_gap,
    risks,
    summarize,
)
from .dataset import VARIABLES
from .experiment import (
    DataSpec,
    Experiment,
    ModelSpec,
    SeedSpec,
    TrainSpec,
    load_experiment,
)
from .store import export_netcdf, open_results

if TYPE_CHECKING:
    from .data import Samples, make_data
    from .grid import plan_chunks, run
    from .models import make_model, minibatch_order

try:
    __version__ = version("ddlab")
except PackageNotFoundError:  # pragma: no cover - source tree without install
    __version__ = "0.0.0+unknown"

_LAZY = {
    "Samples": "data",
    "make_data": "data",
    "make_model": "models",
    "minibatch_order": "models",
    "plan_chunks": "grid",
    "run": "grid",
}

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
    "decompose",
    "export_netcdf",
    "generalization_gap",
    "load_experiment",
    "make_data",
    "make_model",
    "minibatch_order",
    "open_results",
    "plan_chunks",
    "risks",
    "run",
    "summarize",
    "theory",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ddlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
