"""Experiment schema, validation, sweeps and TOML (pure Python and numpy).

The bottom tier of ddlab: it imports nothing else of the package.
"""

from ._fields import (
    ACTIVATIONS,
    CLASSIFICATION_TARGETS,
    DTYPES,
    FAMILIES,
    FIELDS,
    FITS,
    INPUTS,
    LOSSES,
    OPTIMIZERS,
    REAL_TARGETS,
    RF_ACTIVATIONS,
    TARGETS,
    Field,
    Key,
    distinct_log_ints,
    field,
)
from ._load import load_experiment
from ._spec import (
    DataSpec,
    Experiment,
    ModelSpec,
    SeedSpec,
    Sweep,
    TrainSpec,
    layer_shapes,
    mlp_n_params,
    record_epochs,
)
from ._toml import read_toml, set_key

__all__ = [
    "ACTIVATIONS",
    "CLASSIFICATION_TARGETS",
    "DTYPES",
    "FAMILIES",
    "FIELDS",
    "FITS",
    "INPUTS",
    "LOSSES",
    "OPTIMIZERS",
    "REAL_TARGETS",
    "RF_ACTIVATIONS",
    "TARGETS",
    "DataSpec",
    "Experiment",
    "Field",
    "Key",
    "ModelSpec",
    "SeedSpec",
    "Sweep",
    "TrainSpec",
    "distinct_log_ints",
    "field",
    "layer_shapes",
    "load_experiment",
    "mlp_n_params",
    "read_toml",
    "record_epochs",
    "set_key",
]
