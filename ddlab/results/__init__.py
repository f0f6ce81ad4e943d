"""Result schema, stores, export and provenance (numpy, xarray, zarr; no torch)."""

from ._export import export_netcdf
from ._files import private_dir
from ._integrity import LOG as LOG_NAME
from ._integrity import VerifyReport
from ._lock import StoreLock
from ._provenance import CONVENTIONS, calling, experiment_of, now, provenance
from ._schema import (
    CELL_DIMS,
    CLASS_BIAS_VARIANCE,
    DIMS,
    FLAGS,
    METRICS,
    VARIABLES,
    build_dataset,
    cell_dims,
    coordinate_attrs,
    metric_dims,
    metric_names,
    optimizer_slots,
    records_class_variance,
    records_predictions,
    state_size,
    storage_bytes,
    variable_dims,
)
from ._store import (
    MemoryStore,
    StorageFullError,
    StoreDamageWarning,
    ZarrStore,
    check_writable,
    estimate_store_bytes,
    open_results,
    skeleton_bytes,
    store_attrs,
    variable_bytes,
)
from ._verify import verify

__all__ = [
    "CELL_DIMS",
    "CLASS_BIAS_VARIANCE",
    "CONVENTIONS",
    "DIMS",
    "FLAGS",
    "LOG_NAME",
    "METRICS",
    "VARIABLES",
    "MemoryStore",
    "StorageFullError",
    "StoreDamageWarning",
    "StoreLock",
    "VerifyReport",
    "ZarrStore",
    "build_dataset",
    "calling",
    "cell_dims",
    "check_writable",
    "coordinate_attrs",
    "estimate_store_bytes",
    "experiment_of",
    "export_netcdf",
    "metric_dims",
    "metric_names",
    "now",
    "open_results",
    "optimizer_slots",
    "private_dir",
    "provenance",
    "records_class_variance",
    "records_predictions",
    "skeleton_bytes",
    "state_size",
    "storage_bytes",
    "store_attrs",
    "variable_bytes",
    "variable_dims",
    "verify",
]
