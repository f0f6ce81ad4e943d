"""One row per result and sweep point: the keys that tell the rows apart, summaries, cost."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..config import Experiment
from ..results import experiment_of, open_results
from ._summary import summarize

__all__ = ["differing_keys", "table"]

#: Dims of the summaries reduced to one value per row: the final epoch, the widest width.
_LAST = ("epoch", "width")


def _flat(exp: Experiment) -> dict[str, Any]:
    """The resolved keys of ``exp`` as ``"section.key"`` -> value (TOML form)."""
    return {f"{section}.{key}": value for section, values in exp.to_dict().items()
            if isinstance(values, dict) for key, value in values.items()}


def differing_keys(experiments: Sequence[Experiment]) -> list[dict[str, Any]]:
    """Per experiment, the resolved keys whose values are not the same in all of them.

    Parameters
    ----------
    experiments : sequence of Experiment
        Resolved experiments (a swept key counts with its list of values).

    Returns
    -------
    list of dict
        One dict per experiment, in order: ``"section.key"`` -> its value in
        TOML form (``"data.noise": 0.5``, ``"model.width": [1, 2, 4]``), for
        the keys that differ, in schema order; ``name`` and ``description``
        are left out. Empty dicts when nothing differs.
    """
    flat = [_flat(exp) for exp in experiments]
    keys = [k for k in (flat[0] if flat else {})
            if len({json.dumps(f[k], sort_keys=True) for f in flat}) > 1]
    return [{k: f[k] for k in keys} for f in flat]


def _chunk_shares(ds: xr.Dataset) -> xr.DataArray:
    """Each computed cell's share of its chunk's wall time, spread evenly over the chunk's cells.

    The cells of one chunk carry the chunk's wall time; a value shared by
    several cells is taken for one chunk.
    """
    wall = ds["wall_time"].where(ds["completed"]).load()
    values = np.asarray(wall.values, dtype=float)
    computed = np.isfinite(values)
    _, inverse, counts = np.unique(values[computed], return_inverse=True, return_counts=True)
    shares = np.full(values.shape, np.nan)
    shares[computed] = values[computed] / counts[inverse]
    return wall.copy(data=shares)


def _rows(ds: xr.Dataset, metric: str) -> list[tuple[Experiment, dict[str, Any]]]:
    """The sweep points of one result with their numbers."""
    exp = experiment_of(ds)
    summary = summarize(ds, metric)
    summary = summary.isel({d: -1 for d in _LAST if d in summary.dims})
    shares = _chunk_shares(ds)
    rows = []
    for index, point in exp.points():
        at = dict(zip(exp.sweep_dims, index, strict=True))
        done = ds["completed"].isel(at).values
        numbers = {name: float(summary[name].isel(at, missing_dims="ignore"))
                   for name in summary.data_vars}
        numbers |= {"wall_time_s": float(np.nansum(shares.isel(at).values)),
                    "cells_done": int(done.sum()), "cells_total": int(done.size)}
        rows.append((point, numbers))
    return rows


def table(results: str | Path | xr.Dataset | Sequence[str | Path | xr.Dataset],
          metric: str = "test_loss") -> pd.DataFrame:
    """One row per result and sweep point: what sets it apart, its summary, its cost.

    Parameters
    ----------
    results : path, Dataset, or a sequence of them
        Result stores (paths, opened with :func:`ddlab.open_results`) or
        results of :func:`ddlab.run`, finished or not.
    metric : str
        The variable :func:`ddlab.analysis.summarize` describes.

    Returns
    -------
    pandas.DataFrame
        Columns, in order: ``store`` (the path as given, or the path an
        opened result came from, else ""), ``name`` (the experiment's), the
        resolved keys that differ between the rows (``"data.noise"``, ...;
        a swept key's value at the row's point), the variables of
        :func:`ddlab.analysis.summarize` (those along epoch at the final
        epoch, those along width at the widest width), ``wall_time_s`` (the
        compute time of the point's cells: each chunk's wall time shared
        evenly among the cells it computed, so a store's rows add up to the
        time its chunks took), ``cells_done`` and ``cells_total`` (cells of
        the point computed, and in all).

    Raises
    ------
    ValueError
        If a path is not a result store, a result has no ``metric``, or
        ``results`` is empty.
    """
    items = [results] if isinstance(results, (str, Path, xr.Dataset)) else list(results)
    if not items:
        raise ValueError("results = []: give at least one result store")
    stores, points, numbers = [], [], []
    for item in items:
        ds = item if isinstance(item, xr.Dataset) else open_results(item)
        for point, values in _rows(ds, metric):
            stores.append(str(item) if not isinstance(item, xr.Dataset)
                          else str(ds.encoding.get("source", "")))
            points.append(point)
            numbers.append(values)
    keys = differing_keys(points)
    return pd.DataFrame([{"store": store, "name": point.name, **differ, **values}
                         for store, point, differ, values in zip(stores, points, keys, numbers,
                                                                 strict=True)])
