"""Simulation: seeding, samples, models, the batched engine, closed-form fits, running.

The only tier of ddlab that imports torch and joblib.
"""

try:
    import torch as _torch  # noqa: F401
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError("ddlab's simulations need PyTorch: pip install torch "
                      "(or pip install ddlab, which brings it)") from err

from ._backends import BACKENDS, local_cluster
from ._baselines import per_model_loop, vmap_ensemble
from ._best import best_in_class, cache_dir
from ._budget import DEFAULT_MEMORY_BUDGET, RunPlan, format_bytes, parse_bytes
from ._data import Samples, make_data
from ._models import make_model, minibatch_order
from ._plan import Chunk, estimate_seconds, plan_chunks
from ._run import plan_run, run
from ._seeding import cell_seed
from ._trained import trained_model

__all__ = [
    "BACKENDS",
    "DEFAULT_MEMORY_BUDGET",
    "Chunk",
    "RunPlan",
    "Samples",
    "best_in_class",
    "cache_dir",
    "cell_seed",
    "estimate_seconds",
    "format_bytes",
    "local_cluster",
    "make_data",
    "make_model",
    "minibatch_order",
    "parse_bytes",
    "per_model_loop",
    "plan_chunks",
    "plan_run",
    "run",
    "trained_model",
    "vmap_ensemble",
]
