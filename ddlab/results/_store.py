"""Result stores: in memory, or a zarr store on disk written chunk by chunk (no torch).

A store is written by one process. Each chunk of cells is a rectangular
region of the result grid; its metrics are written first and its cells are
flagged in ``completed`` only once they are on disk. zarr replaces chunk files
atomically, so a run killed at any point leaves every region either complete
or to be recomputed, and re-running the same command computes only what is
missing. Stores are zarr format 2 with consolidated metadata, readable by
plain ``xarray.open_zarr``.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..config import Experiment
from ._provenance import STORE_MARK, experiment_of, history_line
from ._schema import METRICS, build_dataset

__all__ = ["MemoryStore", "ZarrStore", "check_writable", "open_results", "stored_experiment"]

Region = Mapping[str, slice]

#: elements per zarr chunk (8 MB of float64)
CHUNK_ELEMENTS = 1 << 20


class MemoryStore:
    """Results held in an in-memory :class:`xarray.Dataset`."""

    resumed = False

    def __init__(self, experiment: Experiment, attrs: Mapping[str, object]):
        self.ds = build_dataset(experiment, attrs)

    @property
    def completed(self) -> np.ndarray:
        return self.ds["completed"].values

    def is_complete(self, region: Region) -> bool:
        """Whether every cell of ``region`` is already computed."""
        return bool(self.completed[self._index("completed", region)].all())

    def _index(self, name: str, region: Region) -> tuple[slice, ...]:
        return tuple(region.get(d, slice(None)) for d in self.ds[name].dims)

    def write(self, region: Region, arrays: Mapping[str, np.ndarray]) -> None:
        """Store the arrays of one region, then flag its cells completed."""
        for name, values in arrays.items():
            self.ds[name].values[self._index(name, region)] = values
        self.ds["completed"].values[self._index("completed", region)] = True

    def finish(self, attrs: Mapping[str, object], command: str, note: str) -> xr.Dataset:
        """Record what this call did (attrs, a ``history`` line) and return the results."""
        self.ds.attrs.update(attrs)
        self.ds.attrs["history"] += "\n" + history_line(command, note)
        return self.ds


def _encoding(ds: xr.Dataset) -> dict[str, dict]:
    """zarr chunks: one per (sweep point, width), spanning epochs, seeds and population
    points, with the largest of those halved until a chunk holds <= CHUNK_ELEMENTS.
    """
    enc = {}
    for name, var in ds.data_vars.items():
        chunks = {d: ds.sizes[d] if d in ("epoch", "data_seed", "init_seed", "pop") else 1
                  for d in var.dims}
        while np.prod(list(chunks.values())) > CHUNK_ELEMENTS:
            big = max(chunks, key=chunks.get)
            chunks[big] = -(-chunks[big] // 2)
        enc[name] = {"chunks": tuple(chunks[d] for d in var.dims)}
    return enc


def _is_store(path: Path) -> bool:
    """Whether ``path`` is a zarr group that ddlab began (even if never finished)."""
    import zarr

    try:
        return STORE_MARK in zarr.open_group(path, mode="r").attrs
    except Exception:  # not a zarr group at all
        return False


class ZarrStore(MemoryStore):
    """Results in a zarr store at ``path``, created or resumed.

    Parameters
    ----------
    path : str or Path
        The store (a directory).
    experiment : Experiment
    attrs : mapping
        Provenance attrs for a new store.
    fresh : bool
        Replace an existing ddlab store, even one of another experiment.

    Raises
    ------
    ValueError
        If ``path`` is not writable, exists and is not a ddlab store, or holds
        a different experiment and ``fresh`` is false. Nothing on disk is
        changed in these cases.
    """

    def __init__(self, path: str | Path, experiment: Experiment,
                 attrs: Mapping[str, object], fresh: bool = False):
        import zarr

        self.path = Path(path)
        exists = self.path.exists()
        if exists and not _is_store(self.path):
            raise ValueError(f"out = '{self.path}': exists and is not a ddlab result store; "
                             f"choose another output")
        if exists and not fresh:
            try:
                stored = experiment_of(zarr.open_group(self.path, mode="r").attrs.asdict())
            except ValueError as err:
                raise ValueError(f"out = '{self.path}': holds an experiment this version "
                                 f"cannot read ({err}); use --fresh (fresh=True) to "
                                 f"replace it") from None
            if stored.to_dict() != experiment.to_dict():
                raise ValueError(
                    f"out = '{self.path}': holds a different experiment "
                    f"({_differences(stored, experiment)}); choose another output or "
                    f"use --fresh (fresh=True) to overwrite it")
        if not exists:
            check_writable(self.path)
        if exists and not fresh:
            self.ds = xr.open_zarr(self.path, chunks=None)
            self.ds["completed"] = self.ds["completed"].load()
            self.resumed = True
        else:
            if exists:
                shutil.rmtree(self.path)
            skeleton = build_dataset(experiment, attrs)
            skeleton.to_zarr(self.path, mode="w", encoding=_encoding(skeleton),
                             consolidated=True, zarr_format=2)
            self.ds = skeleton
        self.group = zarr.open_group(self.path, mode="r+")

    def write(self, region: Region, arrays: Mapping[str, np.ndarray]) -> None:
        for name, values in arrays.items():
            self.group[name][self._index(name, region)] = values
        index = self._index("completed", region)
        self.group["completed"][index] = True
        self.ds["completed"].values[index] = True

    def finish(self, attrs: Mapping[str, object], command: str, note: str) -> xr.Dataset:
        import zarr

        old = self.group.attrs.asdict()
        new: dict[str, Any] = dict(attrs)
        if self.resumed:  # the run's totals accumulate; its first provenance stays
            new["wall_time_s"] = float(old.get("wall_time_s", 0.0)) + float(
                attrs.get("wall_time_s", 0.0))
            new["chunks_computed"] = int(old.get("chunks_computed", 0)) + int(
                attrs.get("chunks_computed", 0))
        new["history"] = old.get("history", "") + "\n" + history_line(command, note)
        self.group.attrs.update(new)
        zarr.consolidate_metadata(self.path, zarr_format=2)
        return open_results(self.path)


def stored_experiment(path: str | Path) -> Experiment | None:
    """The experiment a ddlab store at ``path`` holds; None if there is none it can read."""
    import zarr

    path = Path(path)
    if not path.exists() or not _is_store(path):
        return None
    try:
        return experiment_of(zarr.open_group(path, mode="r").attrs.asdict())
    except ValueError:
        return None


def check_writable(path: Path) -> None:
    """Raise a one-line ValueError unless a file or directory can be created at ``path``."""
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"out = '{path}': cannot write there ('{parent}' is a file)")
            break
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = path.parent / f".{path.name}.probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ValueError(f"out = '{path}': cannot write there ({err.strerror})") from None


def _differences(a: Experiment, b: Experiment) -> str:
    da, db = a.to_dict(), b.to_dict()
    diffs = []
    for section in da:
        if isinstance(da[section], dict):
            diffs += [f"{section}.{k}: {da[section][k]!r} stored, {db[section].get(k)!r} now"
                      for k in da[section] if da[section][k] != db[section].get(k)]
        elif da[section] != db[section]:
            diffs.append(f"{section}: {da[section]!r} stored, {db[section]!r} now")
    return "; ".join(diffs[:3]) + (" ..." if len(diffs) > 3 else "")


def open_results(path: str | Path, chunks: Any = None) -> xr.Dataset:
    """Open a stored result lazily, showing only completed cells.

    Parameters
    ----------
    path : str or Path
        A zarr store written by :func:`ddlab.run` or ``ddlab run``, finished
        or not.
    chunks : optional
        ``None`` (default): lazily loaded numpy arrays, no dask needed.
        ``{}`` or a mapping of dim sizes: dask arrays (``ddlab[dask]``), for
        stores larger than memory. Every :mod:`ddlab.analysis` function
        accepts either.

    Returns
    -------
    xarray.Dataset
        Metrics of cells not yet completed are NaN and their ``diverged``
        flag is false.

    Raises
    ------
    ValueError
        If ``path`` is not a ddlab result store.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"path = '{path}': no such result store")
    if not _is_store(path):
        raise ValueError(f"path = '{path}': not a ddlab result store")
    if chunks is not None:
        try:
            import dask  # noqa: F401
        except ImportError:
            raise ValueError(f"chunks = {chunks!r}: dask arrays need dask; "
                             f"pip install 'ddlab[dask]'") from None
    ds = xr.open_zarr(path, chunks=chunks)
    experiment_of(ds)  # a store this version can read
    done = ds["completed"].load() if chunks is None else ds["completed"]
    for name in [*METRICS, "wall_time", "pred_mean", "pred_var_init", "f_population"]:
        if name in ds:  # a value is written with any chunk whose region covers it
            mask = done.any([d for d in done.dims if d not in ds[name].dims])
            ds[name] = ds[name].where(mask).assign_attrs(ds[name].attrs)
    ds["diverged"] = (ds["diverged"] & done).assign_attrs(ds["diverged"].attrs)
    return ds
