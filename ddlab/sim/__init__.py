"""Simulation: seeding, samples, models, the batched engine, closed-form fits, running.

The only tier of ddlab that imports torch and joblib.
"""

try:
    import torch as _torch  # noqa: F401
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError("ddlab's simulations need PyTorch: pip install torch "
                      "(or pip install ddlab, which brings it)") from err

from ._baselines import per_model_loop, vmap_ensemble
from ._best import best_in_class, cache_dir
from ._data import Samples, make_data
from ._models import make_model, minibatch_order
from ._plan import Chunk, estimate_seconds, plan_chunks
from ._run import run
from ._seeding import cell_seed

__all__ = [
    "Chunk",
    "Samples",
    "best_in_class",
    "cache_dir",
    "cell_seed",
    "estimate_seconds",
    "make_data",
    "make_model",
    "minibatch_order",
    "per_model_loop",
    "plan_chunks",
    "run",
    "vmap_ensemble",
]
