"""Running an experiment: plan chunks, train them in workers, write them from one process.

The data path is a pipeline: the validated experiment (:mod:`ddlab.config`)
is planned into chunks (:mod:`._plan`); workers train them in-process, over
joblib processes or on a CUDA device and return plain arrays; the parent
alone writes each chunk into a store (:mod:`ddlab.results`) as it arrives.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from ..config import Experiment, load_experiment
from ..results import MemoryStore, ZarrStore, metric_names, now, provenance
from ._closed_form import fit_chunk
from ._engine import train_chunk
from ._plan import Chunk, plan_chunks

__all__ = ["run"]

#: Default number of first-layer hidden units per chunk (keeps a chunk in cache on CPU).
CPU_CHUNK_UNITS = 8192
CUDA_CHUNK_UNITS = 1 << 22
#: Default features per closed-form chunk, summed over cells (bounds its memory).
CLOSED_FORM_UNITS = 1 << 20


def _worker(exp: Experiment, chunk: Chunk, device: str) -> tuple[Chunk, dict[str, np.ndarray]]:
    """Train one chunk of a validated experiment; return its arrays shaped as its region."""
    torch.set_num_threads(1)
    t0 = time.perf_counter()
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


def _call(exp: Experiment, **kwargs: Any) -> str:
    """The Python call, as provenance records it when the CLI did not run."""
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    return f"ddlab.run({exp.name!r}, {args})"


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
    call = _call(exp, device=device, n_jobs=n_jobs, out=None if out is None else str(out),
                 fresh=fresh)
    where = torch.cuda.get_device_name(dev) if on_cuda else "cpu"
    attrs = provenance(exp, call, where, {"torch_version": torch.__version__})
    store = MemoryStore(exp, attrs) if out is None else ZarrStore(out, exp, attrs, fresh)
    chunks = plan_chunks(exp, units)
    todo = [c for c in chunks if not store.is_complete(c.region(exp))]
    total = sum(c.n_cells(exp) for c in chunks)
    left = sum(c.n_cells(exp) for c in todo)
    with tqdm(total=total, initial=total - left, unit="cell", disable=not progress,
              desc=exp.name) as bar, _one_thread():
        if on_cuda or n_jobs == 1 or len(todo) <= 1:
            results = (_worker(exp, c, dev) for c in todo)
        else:
            results = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
                delayed(_worker)(exp, c, dev) for c in todo)
        for chunk, arrays in results:
            store.write(chunk.region(exp), arrays)
            bar.update(chunk.n_cells(exp))
    note = f"computed {len(todo)} of {len(chunks)} chunks"
    if store.resumed and not todo:  # nothing new: the stored provenance stays as it was
        return store.finish({}, attrs["command"], note)
    return store.finish({"finished": now(),
                         "wall_time_s": time.perf_counter() - t0, "n_jobs": n_jobs,
                         "n_chunks": len(chunks), "chunks_computed": len(todo)},
                        attrs["command"], note)
