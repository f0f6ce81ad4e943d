"""Result stores: in memory, or a zarr store on disk written chunk by chunk (no torch).

A store is written by one process. Each chunk of cells is a rectangular
region of the result grid; its metrics are written first and its cells are
flagged in ``completed`` only once they are on disk. zarr replaces chunk files
atomically, so a run killed at any point leaves every region either complete
or to be recomputed, and re-running the same command computes only what is
missing. Stores are zarr format 2 with consolidated metadata, readable by
plain ``xarray.open_zarr``, compressed with Blosc (zstd, level 5, bit
shuffle): metrics computed in float32 take about 3.2 bytes per value though
stored as float64 (about as small as float32 storage), float64 ones about
6.9. The writer holds the store's lock (:class:`StoreLock`) from before it
reads the store until the run ends; a full disk raises
:class:`StorageFullError` and leaves the store resumable.
"""

from __future__ import annotations

import errno
import glob
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from ..config import Experiment
from ._files import private_dir, remove_tree
from ._grow import grown_keys, place_values
from ._integrity import (
    LOG,
    append_intent,
    append_record,
    coordinate_keys,
    file_sums,
    touched_keys,
)
from ._lock import StoreLock
from ._provenance import SCHEMA, STORE_MARK, experiment_of, history_line
from ._schema import CLASS_BIAS_VARIANCE, FLAGS, METRICS, build_dataset, dim_sizes, variable_dims
from ._verify import check_shapes, half_built, is_store, open_verified

__all__ = ["MemoryStore", "StorageFullError", "StoreDamageWarning", "ZarrStore", "check_writable",
           "estimate_store_bytes", "open_results", "skeleton_bytes", "store_attrs",
           "variable_bytes"]

Region = Mapping[str, slice]

#: elements per zarr chunk (8 MB of float64)
CHUNK_ELEMENTS = 1 << 20
#: elements a zarr chunk reaches before it is split by data seed (512 kB of float64)
MIN_CHUNK_ELEMENTS = 1 << 16
#: Blosc codec of every stored variable: (cname, clevel, shuffle); 2 = bit shuffle
CODEC = ("zstd", 5, 2)
#: compressed bytes per stored value (measured with :data:`CODEC` on ddlab runs)
_BYTES_PER_VALUE = {"float32": 3.2, "float64": 6.9, "wall_time": 0.4, "flag": 0.15}
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
#: fixed working set of writing a store's skeleton (xarray and zarr bookkeeping)
_SKELETON_FIXED = 12 << 20
#: suffix of the private directory a new store is built in, then renamed out of
_CREATING = ".creating"


class StorageFullError(OSError):
    """The disk filled up while a store was written; the store stays resumable.

    Its message is one line naming the store and the space the rest of the
    run needs.
    """


class StoreDamageWarning(UserWarning):
    """A resumed store had damaged cells; their flags were cleared for the run to recompute."""


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

    def read(self, name: str, region: Region) -> np.ndarray:
        """The values of variable ``name`` in ``region``."""
        return np.asarray(self.ds[name].values[self._index(name, region)])

    def write(self, region: Region, arrays: Mapping[str, np.ndarray]) -> None:
        """Store the arrays of one region, then flag its cells completed."""
        for name, values in arrays.items():
            self.ds[name].values[self._index(name, region)] = values
        self.ds["completed"].values[self._index("completed", region)] = True

    def progress(self, chunks: int, seconds: float) -> None:
        """Nothing to record: a result in memory does not outlive its call."""

    def finish(self, attrs: Mapping[str, object], command: str, note: str) -> xr.Dataset:
        """Record what this call did (attrs, a ``history`` line) and return the results."""
        self.ds.attrs.update(attrs)
        self.ds.attrs["history"] += "\n" + history_line(command, note)
        return self.ds

    def close(self) -> None:
        """Release what the store holds (nothing for a store in memory)."""


def _chunk_shape(dims: tuple[str, ...], size: Mapping[str, int], per_seed: bool) -> tuple[int, ...]:
    """zarr chunk of a variable: one per (sweep point, width), spanning epochs, seeds and
    population points, with the largest of those halved until a chunk holds <=
    :data:`CHUNK_ELEMENTS`.

    With ``per_seed`` (gradient descent, whose run chunks hold one data seed),
    a zarr chunk spans only as many data seeds as it takes to reach
    :data:`MIN_CHUNK_ELEMENTS`, so that writing a run chunk rewrites whole zarr
    chunks instead of reading, merging and recompressing its neighbours'.
    """
    chunks = {d: size[d] if d in ("epoch", "data_seed", "init_seed", "pop") else 1 for d in dims}
    if per_seed and "data_seed" in chunks:
        seed = int(np.prod(list(chunks.values()))) // chunks["data_seed"]
        chunks["data_seed"] = min(chunks["data_seed"], -(-MIN_CHUNK_ELEMENTS // seed))
    while np.prod(list(chunks.values())) > CHUNK_ELEMENTS:
        big = max(chunks, key=chunks.get)
        chunks[big] = -(-chunks[big] // 2)
    return tuple(chunks[d] for d in dims)


def _encoding(ds: xr.Dataset, per_seed: bool) -> dict[str, dict]:
    """zarr encoding of every variable: :func:`_chunk_shape` chunks, :data:`CODEC`."""
    from numcodecs import Blosc

    codec = Blosc(*CODEC)
    return {name: {"chunks": _chunk_shape(var.dims, ds.sizes, per_seed), "compressors": (codec,)}
            for name, var in ds.data_vars.items()}


class ZarrStore(MemoryStore):
    """Results in a zarr store at ``path``, created or resumed, locked until :meth:`close`.

    Parameters
    ----------
    path : str or Path
        The store (a directory).
    experiment : Experiment
    attrs : mapping
        Provenance attrs for a new store.
    fresh : bool
        Replace an existing ddlab store, even one of another experiment.
    wait : bool
        Wait for another run writing the store to finish, instead of refusing.

    Raises
    ------
    ValueError
        If ``path`` is not writable, exists and is not a ddlab store, holds a
        different experiment and ``fresh`` is false, or another run holds its
        lock and ``wait`` is false. Nothing on disk is changed in these cases.
    StorageFullError
        If the disk fills up while the store is created.
    """

    def __init__(self, path: str | Path, experiment: Experiment,
                 attrs: Mapping[str, object], fresh: bool = False, wait: bool = False):
        self.path = Path(path)
        self.experiment = experiment
        _check_not_nested(self.path)
        if fresh and self.path.is_symlink():
            raise ValueError(f"out = '{self.path}': is a symbolic link (to "
                             f"'{self.path.resolve()}'); --fresh (fresh=True) replaces only a "
                             f"store given by its own path")
        if self.path.is_symlink() and not self.path.exists():
            raise ValueError(f"out = '{self.path}': a symbolic link to "
                             f"'{os.readlink(self.path)}', which does not exist; a new store is "
                             f"never made through a link: give its own path")
        if not self.path.exists():
            check_writable(self.path)
        self._lock = StoreLock(self.path, wait)
        try:  # under the lock: another run may have changed the store while we waited
            self._open(attrs, fresh)
        except BaseException:
            self._lock.release()
            raise

    def _open(self, attrs: Mapping[str, object], fresh: bool) -> None:
        import zarr

        _recover_grow(self.path)
        experiment = self.experiment
        _remove_stale(self.path)
        exists = self.path.exists()
        if exists and not is_store(self.path):
            why = half_built(self.path)
            if why is None:
                raise ValueError(f"out = '{self.path}': exists and is not a ddlab result "
                                 f"store; choose another output")
            if not fresh:
                raise ValueError(f"out = '{self.path}': a ddlab store cut short while it was "
                                 f"created ({why}); use --fresh (fresh=True) to replace it")
        if exists and not fresh:
            old = zarr.open_group(self.path, mode="r").attrs.asdict()
            if old[STORE_MARK] < SCHEMA:  # its cells' draws differ from this version's
                raise ValueError(
                    f"out = '{self.path}': written with the old 32-bit seeds by ddlab "
                    f"{old.get('ddlab_version', '< 0.4')}, so it cannot be resumed; use --fresh "
                    f"(fresh=True) to recompute it")
            try:
                stored = experiment_of(old)
            except ValueError as err:
                raise ValueError(f"out = '{self.path}': holds an experiment this version "
                                 f"cannot read ({err}); use --fresh (fresh=True) to "
                                 f"replace it") from None
            with xr.open_zarr(self.path, chunks=None) as raw:
                check_shapes(self.path, raw)
            if stored.to_dict() != experiment.to_dict():
                self._grow(stored, attrs)
            self.ds, report = open_verified(self.path, repair=True)
            if report.unrecorded:  # an older ddlab's store: what it holds now is the record
                _record_all(self.path, self.ds)
            elif report.repaired:
                warnings.warn(str(report), StoreDamageWarning, stacklevel=2)
            self.resumed = True
        else:
            if exists:
                _check_replaceable(self.path)
            with private_dir(self.path, _CREATING) as tmp:  # whole, or not there at all
                self.ds = self._create(tmp / "store", attrs)
                (tmp / "store" / LOG).touch()
                if exists:
                    shutil.rmtree(self.path)
                (tmp / "store").rename(self.path)
        self.group = zarr.open_group(self.path, mode="r+")
        self._coords = file_sums(self.path, coordinate_keys(self.path, self.ds))
        # the totals of the calls before this one, a call cut short included (see progress)
        before = self.group.attrs.asdict() if self.resumed else {}
        self._before = {"chunks_computed": int(before.get("chunks_computed", 0)),
                        "wall_time_s": float(before.get("wall_time_s", 0.0))}

    def _create(self, path: Path, attrs: Mapping[str, object]) -> xr.Dataset:
        """Write the skeleton of a new store at ``path``; return it."""
        # every variable but ``completed`` starts as a broadcast view (no memory);
        # chunks equal to the fill value are never written
        experiment = self.experiment
        size = dim_sizes(experiment)
        shapes = {name: tuple(size[d] for d in dims)
                  for name, dims in variable_dims(experiment).items()}
        values = {name: np.broadcast_to(False if name in FLAGS else np.nan, shape)
                  for name, shape in shapes.items() if name != "completed"}
        skeleton = build_dataset(experiment, attrs, values)
        try:
            with self._space():
                enc = _encoding(skeleton, per_seed=not experiment.closed_form)
                skeleton.to_zarr(path, mode="w", encoding=enc, consolidated=True,
                                 zarr_format=2)
        except StorageFullError:  # a partial skeleton is no store: leave nothing
            shutil.rmtree(path, ignore_errors=True)
            raise
        return skeleton

    def _grow(self, stored: Experiment, attrs: Mapping[str, object]) -> None:
        """Rebuild the store for the larger experiment, the stored cells in place.

        The new store is built beside the old one and swapped in by two renames
        (:func:`_recover_grow` undoes a swap cut short), so a kill at any point
        leaves the old store or the grown one.
        """
        import zarr

        grown, other = grown_keys(stored, self.experiment)
        longer = self.experiment.train.epochs != stored.train.epochs
        if longer and not other:
            _check_longer(self.path, stored, self.experiment, grown)
        if other:
            raise ValueError(
                f"out = '{self.path}': holds a different experiment "
                f"({'; '.join(other[:3])}{' ...' if len(other) > 3 else ''}); a store grows "
                f"only by more init or data seeds, widths, swept values or recorded epochs; "
                f"choose another output or use --fresh (fresh=True) to overwrite it")
        tmp, old = _grow_paths(self.path)
        remove_tree(tmp)
        tmp.mkdir()  # ours alone: fails rather than follow a link planted since
        stored_ds = xr.open_zarr(self.path, chunks=None)
        self._create(tmp, attrs)
        group = zarr.open_group(tmp, mode="r+")
        with self._space():
            place_values(stored_ds, stored, self.experiment, group, dim_sizes(self.experiment),
                         keep_completed=stored.epochs == self.experiment.epochs)
            before = stored_ds.attrs
            group.attrs.update({k: before[k] for k in ("wall_time_s", "chunks_computed")
                                if k in before})
            if longer:  # every cell continues from its kept state
                group.attrs["continue_from_epoch"] = stored.train.epochs
            group.attrs["history"] = before.get("history", "") + "\n" + history_line(
                group.attrs.get("command", ""), "grew the store: " + "; ".join(grown))
            zarr.consolidate_metadata(tmp, zarr_format=2)
            with xr.open_zarr(tmp, chunks=None) as grown_ds:
                _record_all(tmp, grown_ds)
        stored_ds.close()
        self.path.rename(old)
        tmp.rename(self.path)
        shutil.rmtree(old)

    @contextmanager
    def _space(self) -> Iterator[None]:
        """Turn a full disk into a one-line :class:`StorageFullError`."""
        try:
            yield
        except OSError as err:
            if err.errno not in _NO_SPACE:
                raise
            done = float(np.mean(self.ds["completed"].values)) if hasattr(self, "ds") else 0.0
            # the cells still to do, at the estimate or at what the done ones really took
            real = _disk_bytes(self.path) / done if done else 0.0
            need = max(estimate_store_bytes(self.experiment), real) * (1 - done) + 2**20
            free = shutil.disk_usage(self.path.parent).free
            raise StorageFullError(
                err.errno, f"out = '{self.path}': no space left on the disk (the rest of the "
                f"run needs about {need / 2**20:.3g} MiB, {free / 2**20:.3g} MiB free); free "
                f"space or move the store, then run the same command to resume") from None

    def read(self, name: str, region: Region) -> np.ndarray:
        return np.asarray(self.group[name][self._index(name, region)])

    def write(self, region: Region, arrays: Mapping[str, np.ndarray]) -> None:
        index = self._index("completed", region)
        sizes = {str(d): int(n) for d, n in self.ds.sizes.items()}
        bounds = {d: s.indices(sizes[d])[:2] for d, s in region.items()}
        keys = [k for name in arrays
                for k in touched_keys(self.path, name, self.ds[name].dims, bounds)]
        with self._space():
            append_intent(self.path, sizes, keys)  # a rewrite cut short is not damage
            for name, values in arrays.items():
                self.group[name][self._index(name, region)] = values
            # durable, and recorded, before the cells are flagged completed
            append_record(self.path, bounds, sizes, file_sums(self.path, keys, sync=True),
                          self._coords)
            self.group["completed"][index] = True
        self.ds["completed"].values[index] = True

    def progress(self, chunks: int, seconds: float) -> None:
        """Record, after each written chunk, what this call has computed so far.

        The totals ``chunks_computed`` and ``wall_time_s`` are then right after
        a kill too, and a resumed call adds its own to them.
        """
        import zarr

        with self._space(), _sigint_deferred():
            self.group.attrs.update(
                {"chunks_computed": self._before["chunks_computed"] + chunks,
                 "wall_time_s": self._before["wall_time_s"] + seconds})
            zarr.consolidate_metadata(self.path, zarr_format=2)

    def finish(self, attrs: Mapping[str, object], command: str, note: str) -> xr.Dataset:
        import zarr

        old = self.group.attrs.asdict()
        new: dict[str, Any] = dict(attrs)
        if self.resumed:  # the run's totals accumulate; its first provenance stays
            new["wall_time_s"] = self._before["wall_time_s"] + float(
                attrs.get("wall_time_s", 0.0))
            new["chunks_computed"] = self._before["chunks_computed"] + int(
                attrs.get("chunks_computed", 0))
        new["history"] = old.get("history", "") + "\n" + history_line(command, note)
        if self.completed.all():  # trained longer: every cell has caught up
            new["continue_from_epoch"] = 0
        with self._space():
            self.group.attrs.update(new)
            zarr.consolidate_metadata(self.path, zarr_format=2)
        return open_results(self.path)

    def close(self) -> None:
        """Release the store's lock (idempotent)."""
        self._lock.release()


@contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold Ctrl-C while zarr's event loop writes metadata, then deliver it.

    Interrupted inside zarr's asyncio calls, the run would print a traceback
    of an orphaned task at interpreter shutdown instead of its one line.
    """
    import signal
    import threading

    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not \
            threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _check_longer(path: Path, stored: Experiment, new: Experiment, grown: list[str]) -> None:
    """Refuse to train longer unless the store is complete and nothing else grows."""
    if len(grown) > 1 + any(g.startswith("train.record") for g in grown):
        raise ValueError(f"out = '{path}': train.epochs and more grow at once "
                         f"({'; '.join(grown)}); train longer on its own, then grow the grid")
    if stored.epochs != tuple(e for e in new.epochs if e <= stored.train.epochs):
        raise ValueError(f"out = '{path}': training longer keeps the recorded epochs up to "
                         f"{stored.train.epochs}; record the same ones (train.record)")
    import zarr

    group = zarr.open_group(path, mode="r")
    if group.attrs.get("continue_from_epoch") or not np.asarray(group["completed"]).all():
        raise ValueError(f"out = '{path}': not every cell is trained to train.epochs = "
                         f"{stored.train.epochs} yet; run the stored experiment to the end "
                         f"first, then train longer")


def _check_not_nested(path: Path) -> None:
    """Refuse a store inside another ddlab store (``--fresh`` on that one would delete it)."""
    for parent in path.resolve().parents:
        if (parent / ".zgroup").is_file() and is_store(parent):
            raise ValueError(f"out = '{path}': inside the ddlab store '{parent}'; choose an "
                             f"output outside it")


def _check_replaceable(path: Path) -> None:
    """Refuse to delete a store that holds other ddlab stores (made by hand or by old ddlab)."""
    for where, _, files in os.walk(path):
        if where != str(path) and ".zgroup" in files and is_store(Path(where)):
            raise ValueError(f"out = '{path}': holds another ddlab store, '{where}'; move it "
                             f"out before replacing the store")


def _record_all(path: Path, ds: xr.Dataset) -> None:
    """Record the checksums of every chunk file of the store as they are now."""
    keys = [f"{name}/{f.name}" for name in sorted(map(str, ds.data_vars)) if name != "completed"
            for f in sorted((path / name).iterdir()) if not f.name.startswith(".")]
    append_record(path, {}, {str(d): int(n) for d, n in ds.sizes.items()},
                  file_sums(path, keys, sync=True),
                  file_sums(path, coordinate_keys(path, ds)))


def _remove_stale(path: Path) -> None:
    """Remove what a run killed while it created the store at ``path`` left beside it.

    Called under the store's lock, which every creator of these holds.
    """
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*{_CREATING}"):
        remove_tree(stale)


def _grow_paths(path: Path) -> tuple[Path, Path]:
    """The grown store under construction, and the old store while they swap."""
    return path.with_name(f".{path.name}.grow"), path.with_name(f".{path.name}.grown-from")


def _recover_grow(path: Path) -> None:
    """Finish or undo a grow that was cut short (called under the store's lock)."""
    tmp, old = _grow_paths(path)
    if old.is_symlink():  # planted, not ours: never followed, never put in place
        old.unlink()
    if old.exists():
        if path.exists():  # the grown store is in place: the old one is garbage
            shutil.rmtree(old)
        else:  # killed between the renames: the old store, untouched, comes back
            old.rename(path)
    remove_tree(tmp)


def _itemsize(name: str) -> int:
    """Bytes per stored value of variable ``name``: flags are bool, the rest float64."""
    return 1 if name in FLAGS else 8


def variable_bytes(experiment: Experiment) -> dict[str, int]:
    """Uncompressed bytes of each variable a run of ``experiment`` writes."""
    size = dim_sizes(experiment)
    return {name: _itemsize(name) * int(np.prod([size[d] for d in dims]))
            for name, dims in variable_dims(experiment).items()}


def skeleton_bytes(experiment: Experiment) -> int:
    """Peak memory, beyond the process's own, of creating a new store of ``experiment``.

    The skeleton is written from broadcast views (no memory of its own), one
    zarr chunk at a time per concurrent zarr task: its peak is
    ``async.concurrency`` buffers of the largest chunk plus a fixed
    :data:`_SKELETON_FIXED` (measured: 55 MiB for 4.3 MB chunks, 17 MiB for
    0.7 MB ones, whatever the grid's total size).
    """
    import zarr

    size = dim_sizes(experiment)
    per_seed = not experiment.closed_form
    largest = max(_itemsize(name) * int(np.prod(_chunk_shape(dims, size, per_seed)))
                  for name, dims in variable_dims(experiment).items())
    return _SKELETON_FIXED + int(zarr.config.get("async.concurrency")) * largest


def _disk_bytes(path: Path) -> int:
    """Bytes of the files under ``path``."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def estimate_store_bytes(experiment: Experiment) -> int:
    """Estimated size on disk of the finished store of ``experiment``.

    Parameters
    ----------
    experiment : Experiment

    Returns
    -------
    int
        Bytes: values times their measured compressed size under
        :data:`CODEC` (3.2 bytes for a metric computed in float32, 6.9 in
        float64, 0.4 for wall times, 0.15 for flags), plus metadata.
    """
    exp = experiment
    precision = "float64" if exp.closed_form else exp.train.dtype
    total = 0.0
    for name, nbytes in variable_bytes(exp).items():
        if name in FLAGS:
            total += _BYTES_PER_VALUE["flag"] * nbytes
        else:
            total += _BYTES_PER_VALUE["wall_time" if name == "wall_time" else precision] * (
                nbytes / 8)
    return int(total) + 2**15

def store_attrs(path: str | Path) -> dict[str, Any] | None:
    """The attrs of a ddlab store at ``path`` (experiment, provenance); None if there is none."""
    import zarr

    path = Path(path)
    if not path.exists() or not is_store(path):
        return None
    return zarr.open_group(path, mode="r").attrs.asdict()


def check_writable(path: Path) -> None:
    """Raise a one-line ValueError unless a file or directory can be created at ``path``."""
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"out = '{path}': cannot write there ('{parent}' is a file)")
            break
    try:  # a probe of a new name: never a file that someone planted
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=path.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise ValueError(f"out = '{path}': cannot write there ({err.strerror})") from None


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
    if not is_store(path):
        why = half_built(path)
        raise ValueError(f"path = '{path}': not a ddlab result store" if why is None else
                         f"path = '{path}': a ddlab store cut short while it was created "
                         f"({why}); run it again with --fresh (fresh=True) to replace it")
    if chunks is not None:
        try:
            import dask  # noqa: F401
        except ImportError:
            raise ValueError(f"chunks = {chunks!r}: dask arrays need dask; "
                             f"pip install 'ddlab[dask]'") from None
    ds = xr.open_zarr(path, chunks=chunks)
    experiment_of(ds)  # a store this version can read
    done = ds["completed"].load() if chunks is None else ds["completed"]
    for name in [*METRICS, "wall_time", "pred_mean", "pred_var_init", "f_population",
                 *CLASS_BIAS_VARIANCE]:
        if name in ds:  # a value is written with any chunk whose region covers it
            var = ds[name].variable
            mask = done.any([d for d in done.dims if d not in var.dims])
            if chunks is None:  # read lazily, part by part, as the caller indexes
                full = mask.variable.set_dims(dict(zip(var.dims, var.shape, strict=True)))
                lazy = indexing.LazilyIndexedArray(_Completed(var, full))
                ds[name] = xr.Variable(var.dims, lazy, var.attrs, var.encoding)
            else:
                ds[name] = ds[name].where(mask).assign_attrs(var.attrs)
    ds["diverged"] = (ds["diverged"] & done).assign_attrs(ds["diverged"].attrs)
    return ds


class _Completed(BackendArray):
    """A stored variable seen through its completion mask, NaN where not completed.

    Indexing reads only the part asked for, so a store opened without dask
    never holds more than what its caller takes from it.
    """

    def __init__(self, values: xr.Variable, mask: xr.Variable):
        self.values, self.mask = values, mask
        self.shape, self.dtype = values.shape, values.dtype

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.OUTER,
                                                  self._get)

    def _get(self, key: tuple) -> np.ndarray:
        return np.where(self.mask[key].values, self.values[key].values, np.nan)
