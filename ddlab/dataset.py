"""The labelled result schema: dims, coordinates, variable attrs and provenance (no torch)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from .experiment import Experiment

__all__ = ["DIMS", "VARIABLES", "build_dataset"]

#: Dimension order of the metric variables.
DIMS = ("width", "epoch", "data_seed", "init_seed")

#: name -> (long_name, units) of every data variable ddlab writes.
VARIABLES: dict[str, tuple[str, str]] = {
    "train_loss": ("empirical risk: mean squared error on the noisy training set", "y^2"),
    "test_loss": ("mean squared error on the noisy test set", "y^2"),
    "f_error_train": ("mean squared error against the true f on the training inputs", "y^2"),
    "f_error": ("squared L2(P) distance to the true f, on the population sample", "y^2"),
    "diverged": ("cell produced a non-finite metric", "1"),
}


def build_dataset(experiment: Experiment, metrics: Mapping[str, np.ndarray],
                  attrs: Mapping[str, object]) -> xr.Dataset:
    """Wrap metric arrays of shape (width, epoch, data_seed, init_seed) in a Dataset.

    Parameters
    ----------
    experiment : Experiment
    metrics : mapping of str to ndarray
        Arrays named as in :data:`VARIABLES`, dims :data:`DIMS`.
    attrs : mapping
        Dataset-level provenance attrs.

    Returns
    -------
    xarray.Dataset
        With coordinates ``width``, ``epoch``, ``data_seed``, ``init_seed`` and
        ``n_params`` (along width); a ``diverged`` flag per cell.
    """
    widths = np.asarray(experiment.model.width, dtype=np.int64)
    coords = {
        "width": ("width", widths, {"long_name": "hidden width", "units": "units"}),
        "epoch": ("epoch", np.asarray(experiment.epochs, dtype=np.int64),
                  {"long_name": "epochs of training completed", "units": "epochs"}),
        "data_seed": ("data_seed", np.arange(experiment.seeds.data, dtype=np.int64),
                      {"long_name": "data set index", "units": "1"}),
        "init_seed": ("init_seed", np.arange(experiment.seeds.init, dtype=np.int64),
                      {"long_name": "initialisation index", "units": "1"}),
        "n_params": ("width", np.array([experiment.n_params(int(w)) for w in widths]),
                     {"long_name": "number of trainable parameters", "units": "parameters"}),
    }
    data = {}
    bad = np.zeros((len(widths), experiment.seeds.data, experiment.seeds.init), dtype=bool)
    for name, values in metrics.items():
        long_name, units = VARIABLES[name]
        data[name] = (DIMS, values, {"long_name": long_name, "units": units})
        bad |= ~np.isfinite(values).all(axis=1)
    long_name, units = VARIABLES["diverged"]
    data["diverged"] = (("width", "data_seed", "init_seed"), bad,
                        {"long_name": long_name, "units": units})
    return xr.Dataset(data, coords=coords, attrs=dict(attrs))
