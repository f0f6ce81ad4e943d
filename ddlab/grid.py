"""Scheduling: split the result grid into chunks and run them in-process, over joblib, or on CUDA.

A chunk is a rectangle of the grid: one value of every swept key that changes
shapes, all values of the batchable ones (``noise``, ``lr``, ``weight_decay``),
a range of widths, one data seed (gradient descent) or all of them (closed-form
fits), and all init seeds. Its cells train together in one batch
(:func:`ddlab.engine.train_chunk`, :func:`ddlab.closed_form.fit_chunk`) and its
results are one region write into the store.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import itertools
import json
import math
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from .closed_form import fit_chunk
from .dataset import metric_names
from .engine import train_chunk
from .experiment import BATCHABLE, Experiment, load_experiment
from .store import MemoryStore, ZarrStore

__all__ = ["Chunk", "plan_chunks", "run"]

#: Default number of first-layer hidden units per chunk (keeps a chunk in cache on CPU).
CPU_CHUNK_UNITS = 8192
CUDA_CHUNK_UNITS = 1 << 22
#: Default features per closed-form chunk, summed over cells (bounds its memory).
CLOSED_FORM_UNITS = 1 << 20


@dataclass(frozen=True)
class Chunk:
    """A rectangle of the result grid, trained as one batch.

    Attributes
    ----------
    sweep : tuple of int or None
        Per swept key, its index, or None for a batchable key (all its values).
    widths, data_seeds : tuple of (int, int)
        Half-open index ranges into ``model.width`` and the data seeds (one for
        gradient descent, all for closed-form fits). A chunk holds every init seed.
    """

    sweep: tuple[int | None, ...]
    widths: tuple[int, int]
    data_seeds: tuple[int, int]

    def region(self, experiment: Experiment) -> dict[str, slice]:
        """The chunk's slices, by dim name."""
        out = {dim: slice(None) if i is None else slice(i, i + 1)
               for dim, i in zip(experiment.sweep_dims, self.sweep, strict=True)}
        return out | {"width": slice(*self.widths), "data_seed": slice(*self.data_seeds)}

    def shape(self, experiment: Experiment) -> tuple[int, ...]:
        """Region shape over the sweep dims (1 for fixed keys)."""
        return tuple(len(v) if i is None else 1
                     for (_, v), i in zip(experiment.sweep, self.sweep, strict=True))

    def points(self, experiment: Experiment) -> list[Experiment]:
        """The concrete experiments of the chunk, in C order."""
        ranges = [range(len(v)) if i is None else (i,)
                  for (_, v), i in zip(experiment.sweep, self.sweep, strict=True)]
        return [experiment.point(idx) for idx in itertools.product(*ranges)]

    def n_cells(self, experiment: Experiment) -> int:
        """Number of cells in the chunk."""
        return (math.prod(self.shape(experiment)) * (self.widths[1] - self.widths[0])
                * (self.data_seeds[1] - self.data_seeds[0]) * experiment.seeds.init)


def plan_chunks(experiment: Experiment, chunk_units: int) -> list[Chunk]:
    """Split the grid into rectangular chunks of about ``chunk_units`` hidden units.

    A chunk holds consecutive widths, each with all its init seeds (so means
    over initialisations are computed within one chunk), for one value of
    every shape-changing swept key, and one data seed (gradient descent: the
    cells share their inputs) or all of them (closed-form fits). A width that
    exceeds the budget alone gets a chunk of its own. The plan depends only on
    the experiment and ``chunk_units``, never on ``n_jobs``, so a resumed run
    recomputes exactly the chunks an uninterrupted run would.

    Parameters
    ----------
    experiment : Experiment
    chunk_units : int
        Budget of hidden units (features) per chunk, summed over its cells.

    Returns
    -------
    list of Chunk
    """
    exp = experiment
    batch = [key in BATCHABLE for key, _ in exp.sweep]
    fixed = [(None,) if b else range(len(v)) for (_, v), b in zip(exp.sweep, batch, strict=True)]
    group = math.prod(len(v) for (_, v), b in zip(exp.sweep, batch, strict=True) if b)
    n_data = exp.seeds.data
    seed_ranges = [(0, n_data)] if exp.closed_form else [(d, d + 1) for d in range(n_data)]
    chunks: list[Chunk] = []
    for idx in np.ndindex(*map(len, fixed)):
        sweep = tuple(f[i] for f, i in zip(fixed, idx, strict=True))
        for seeds in seed_ranges:
            per_width = group * exp.seeds.init * (seeds[1] - seeds[0])
            start, units = 0, 0
            for k, w in enumerate(exp.model.width):
                if units and units + w * per_width > chunk_units:
                    chunks.append(Chunk(sweep, (start, k), seeds))
                    start, units = k, 0
                units += w * per_width
            chunks.append(Chunk(sweep, (start, len(exp.model.width)), seeds))
    return chunks


@functools.lru_cache(maxsize=4)
def _experiment(exp_json: str) -> Experiment:
    return load_experiment(json.loads(exp_json))


def _worker(exp_json: str, chunk: Chunk, device: str) -> tuple[Chunk, dict[str, np.ndarray]]:
    """Train one chunk; return its arrays shaped as its region of the dataset."""
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    exp = _experiment(exp_json)
    points = chunk.points(exp)
    widths = exp.model.width[slice(*chunk.widths)]
    seeds, inits = range(*chunk.data_seeds), range(exp.seeds.init)
    cells = [(p, w, d, i) for p in range(len(points)) for w in widths for d in seeds
             for i in inits]
    fit = fit_chunk if exp.closed_form else train_chunk
    results = fit(points, cells, device)
    sweep = chunk.shape(exp)
    shape = (*sweep, len(widths), len(seeds), len(inits))
    arrays = {}
    bad = np.zeros(shape, dtype=bool)
    for name in metric_names(exp):  # (epoch, cells) -> (*sweep, width, epoch, data, init)
        values = results[name]
        v = np.moveaxis(values.reshape(len(values), *shape), 0, -3)
        arrays[name] = v
        if name in ("train_loss", "test_loss"):  # always defined, so non-finite = overflow
            bad |= ~np.isfinite(v).all(axis=-3)
    arrays["diverged"] = bad
    if "pred_mean" in results:  # (epoch, groups (width, point, data)[, pop]) -> region
        for name in ("pred_mean", "pred_var_init"):
            values = results[name]
            v = values.reshape(len(values), len(widths), *sweep, len(seeds), *values.shape[2:])
            order = (*range(2, 2 + len(sweep)), 1, 0, *range(2 + len(sweep), v.ndim))
            arrays[name] = v.transpose(order)
        f_pop = np.asarray(results["f_population"])  # (data, pop)
        arrays["f_population"] = np.broadcast_to(f_pop, (*sweep, *f_pop.shape)).copy()
    arrays["wall_time"] = np.full(arrays["diverged"].shape, time.perf_counter() - t0)
    return chunk, arrays


def _resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" or device.startswith("cuda"):
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device = {device!r}: CUDA is not available on this machine")
        return device
    raise ValueError(f"device = {device!r}: expected 'auto', 'cpu' or 'cuda[:N]'")


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@functools.lru_cache(maxsize=1)
def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent,
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return ""


def _provenance(exp: Experiment, dev: str) -> dict[str, object]:
    from . import __version__

    return {
        "experiment": exp.to_json(),
        "name": exp.name,
        "command": shlex.join(sys.argv),
        "ddlab_version": __version__,
        "git_commit": _git_commit(),
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "xarray_version": xr.__version__,
        "zarr_version": _version("zarr"),
        "device": torch.cuda.get_device_name(dev) if dev.startswith("cuda") else "cpu",
        "dtype": exp.train.dtype,
        "started": _now(),
    }


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def run(experiment, *, device: str = "auto", n_jobs: int = 1, progress: bool = True,
        out: str | Path | None = None, fresh: bool = False,
        chunk_units: int | None = None) -> xr.Dataset:
    """Train every cell of the experiment's grid and return the labelled metrics.

    Parameters
    ----------
    experiment : Experiment or mapping or path
        Anything :func:`ddlab.load_experiment` accepts.
    device : {"auto", "cpu", "cuda", "cuda:N"}
        ``auto`` picks CUDA when available. On CUDA all chunks run in this
        process, one after another.
    n_jobs : int
        CPU worker processes (joblib); each uses one torch thread. ``-1`` uses
        every core.
    progress : bool
        Show a progress bar over cells.
    out : str or Path, optional
        A zarr store to write chunk by chunk. If it exists and holds the same
        experiment, only missing chunks are computed (resume).
    fresh : bool
        Overwrite an existing store at ``out``, even of another experiment.
    chunk_units : int, optional
        Hidden units per chunk; the default suits the device. Results do not
        depend on it beyond float round-off.

    Returns
    -------
    xarray.Dataset
        Metrics ``train_loss``, ``test_loss``, ``f_error_train``, ``f_error``
        (absent when ``n_population = 0``) over dims ``(*swept keys, width,
        epoch, data_seed, init_seed)``; per cell ``diverged``, ``completed`` and
        ``wall_time``. Attrs hold the experiment as JSON and provenance. With
        ``out``, the dataset is opened lazily from the store.

    Raises
    ------
    ValueError
        On a bad experiment, device, ``n_jobs`` or ``chunk_units``, an
        unwritable ``out``, or an ``out`` holding another experiment (unless
        ``fresh``).

    Examples
    --------
    >>> ds = run({"model": {"width": [1, 4]}, "train": {"epochs": 3},
    ...           "seeds": {"init": 2}}, progress=False)
    >>> ds.test_loss.dims
    ('width', 'epoch', 'data_seed', 'init_seed')
    """
    exp = load_experiment(experiment)
    dev = _resolve_device(device)
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs = {n_jobs!r}: expected a positive integer or -1")
    on_cuda = dev.startswith("cuda")
    default = CUDA_CHUNK_UNITS if on_cuda else CPU_CHUNK_UNITS
    units = chunk_units or (CLOSED_FORM_UNITS if exp.closed_form else default)
    if isinstance(units, bool) or not isinstance(units, int) or units < 1:
        raise ValueError(f"chunk_units = {chunk_units!r}: expected a positive integer")
    t0 = time.perf_counter()
    attrs = _provenance(exp, dev)
    store = MemoryStore(exp, attrs) if out is None else ZarrStore(out, exp, attrs, fresh)
    chunks = plan_chunks(exp, units)
    todo = [c for c in chunks if not store.is_complete(c.region(exp))]
    total = sum(c.n_cells(exp) for c in chunks)
    left = sum(c.n_cells(exp) for c in todo)
    exp_json = exp.to_json()
    with tqdm(total=total, initial=total - left, unit="cell", disable=not progress,
              desc=exp.name) as bar, _one_thread():
        if on_cuda or n_jobs == 1 or len(todo) <= 1:
            results = (_worker(exp_json, c, dev) for c in todo)
        else:
            results = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
                delayed(_worker)(exp_json, c, dev) for c in todo)
        for chunk, arrays in results:
            store.write(chunk.region(exp), arrays)
            bar.update(chunk.n_cells(exp))
    return store.finish({"finished": _now(), "wall_time_s": time.perf_counter() - t0,
                         "n_jobs": n_jobs, "n_chunks": len(chunks),
                         "chunks_computed": len(todo)})
