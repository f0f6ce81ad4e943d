"""ddlab: batched simulations of double descent and generalization in small networks.

The public API is re-exported here; see the README for a tour.
"""

from importlib.metadata import PackageNotFoundError, version

from .data import Samples, make_data
from .dataset import VARIABLES
from .experiment import (
    DataSpec,
    Experiment,
    ModelSpec,
    SeedSpec,
    TrainSpec,
    load_experiment,
)
from .grid import plan_chunks, run
from .models import make_model, minibatch_order

try:
    __version__ = version("ddlab")
except PackageNotFoundError:  # pragma: no cover - source tree without install
    __version__ = "0.0.0+unknown"

__all__ = [
    "VARIABLES",
    "DataSpec",
    "Experiment",
    "ModelSpec",
    "Samples",
    "SeedSpec",
    "TrainSpec",
    "__version__",
    "load_experiment",
    "make_data",
    "make_model",
    "minibatch_order",
    "plan_chunks",
    "run",
]
