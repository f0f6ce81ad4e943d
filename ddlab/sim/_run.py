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
from tqdm.auto import tqdm

from ..config import Experiment, load_experiment
from ..results import (
    CLASS_BIAS_VARIANCE,
    MemoryStore,
    ZarrStore,
    estimate_store_bytes,
    metric_names,
    now,
    provenance,
    records_class_variance,
    records_predictions,
    skeleton_bytes,
    state_size,
    storage_bytes,
)
from ._backends import check_backend, claimed_device, open_pool
from ._budget import (
    DEFAULT_MEMORY_BUDGET,
    PROCESS_BYTES,
    SMALL_PLAN_BYTES,
    RunPlan,
    chunk_bytes,
    device_bytes,
    distinct_shapes,
    fit_chunks,
    format_bytes,
    parse_bytes,
    plan_bytes,
    result_bytes,
)
from ._closed_form import fit_chunk
from ._engine import train_chunk
from ._plan import Chunk

__all__ = ["plan_run", "run"]

#: Default number of first-layer hidden units per chunk (keeps a chunk in cache on CPU).
CPU_CHUNK_UNITS = 8192
CUDA_CHUNK_UNITS = 1 << 22
#: Share of a CUDA device's free memory one chunk may take (the rest: the caching
#: allocator's slack and fragmentation)
CUDA_MEMORY_SHARE = 0.8
#: Default features per closed-form chunk, summed over cells (bounds its memory).
CLOSED_FORM_UNITS = 1 << 20


def _worker(exp: Experiment, chunk: Chunk, device: str, state: np.ndarray | None = None,
            start: int = 0) -> tuple[Chunk, dict[str, np.ndarray]]:
    """Train one chunk of a validated experiment; return its arrays shaped as its region.

    In a device pool, the chunk trains on the device this process claimed. With
    ``state`` (the chunk's region of the store's ``state``), training continues
    from it after ``start`` epochs, and the arrays cover the epochs from ``start``.
    """
    torch.set_num_threads(1)
    device = claimed_device(device)
    t0 = time.perf_counter()
    points = chunk.points(exp)
    widths = exp.model.width[slice(*chunk.widths)]
    seeds, inits = range(*chunk.data_seeds), chunk.init_range(exp)
    cells = [(p, w, d, i) for p in range(len(points)) for w in widths for d in seeds
             for i in inits]
    sweep = chunk.shape(exp)
    shape = (*sweep, len(widths), len(seeds), len(inits))
    if exp.closed_form:
        results = fit_chunk(points, cells, device)
    else:
        rows = None if state is None else state.reshape(len(cells), -1)
        results = train_chunk(points, cells, device, rows, start)
    arrays = {}
    bad = np.zeros(shape, dtype=bool)
    for name in metric_names(exp):  # (epoch, cells) -> (*sweep, width, epoch, data, init)
        values = results[name]
        v = np.moveaxis(values.reshape(len(values), *shape), 0, -3)
        arrays[name] = v
        if name in ("train_loss", "test_loss"):  # always defined, so non-finite = overflow
            bad |= ~np.isfinite(v).all(axis=-3)
    arrays["diverged"] = bad
    for name in ("pred_mean", "pred_var_init", *CLASS_BIAS_VARIANCE):
        if name in results:  # (epoch, groups (width, point, data)[, pop]) -> region
            values = results[name]
            v = values.reshape(len(values), len(widths), *sweep, len(seeds), *values.shape[2:])
            order = (*range(2, 2 + len(sweep)), 1, 0, *range(2 + len(sweep), v.ndim))
            arrays[name] = v.transpose(order)
    if "pred_mean" in results:
        f_pop = np.asarray(results["f_population"])  # (data, pop)
        arrays["f_population"] = np.broadcast_to(f_pop, (*sweep, *f_pop.shape)).copy()
    if "state" in results:  # (cells, k) -> (*sweep, width, data, init, state), NaN-padded
        values = np.full((len(cells), state_size(exp)), np.nan)
        values[:, :results["state"].shape[1]] = results["state"]
        arrays["state"] = values.reshape(*shape, -1)
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


def _devices(device: str) -> list[str]:
    """The devices a run trains on: every visible GPU for ``cuda``, else the one named."""
    if device == "cuda" and torch.cuda.device_count() > 1:
        return [f"cuda:{k}" for k in range(torch.cuda.device_count())]
    return [device]


def _device_budget(devices: list[str]) -> int | None:
    """Bytes of device memory one chunk may take on every device of a run.

    None on CPU, and when no GPU is visible (a plan made for CUDA on a CPU machine).
    """
    if not devices[0].startswith("cuda") or not torch.cuda.is_available():
        return None
    return int(CUDA_MEMORY_SHARE * min(torch.cuda.mem_get_info(d)[0] for d in devices))


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


def run(experiment, *, device: str = "auto", n_jobs: int = 1, progress: bool | None = None,
        out: str | Path | None = None, fresh: bool = False,
        chunk_units: int | None = None, backend: str = "local", scheduler: Any = None,
        memory_budget: str | int | None = None, wait: bool = False) -> xr.Dataset:
    """Train every cell of the experiment's grid and return the labelled metrics.

    Parameters
    ----------
    experiment : Experiment or mapping or path
        Anything :func:`ddlab.load_experiment` accepts.
    device : {"auto", "cpu", "cuda", "cuda:N"}
        ``auto`` picks CUDA when available (CPU with the dask backend). On
        ``cuda:N`` chunks run in this process, one after another; on ``cuda``
        with several GPUs visible, in one spawned process per GPU. On CUDA,
        chunks are sized to the devices' free memory (a resumed run keeps the
        chunks its store was begun with).
    n_jobs : int
        CPU worker processes (joblib), or the workers of the LocalCluster that
        ``scheduler = "local"`` starts; each uses one torch thread. ``-1``
        uses every core.
    progress : bool, optional
        Show a progress bar over cells; ``None`` (default): only when stderr
        is a terminal (or in Jupyter), so that batch-job logs get none.
    out : str or Path, optional
        A zarr store to write chunk by chunk. If it exists and holds the same
        experiment, only missing chunks are computed (resume). The run holds
        the store's lock until it ends.
    fresh : bool
        Overwrite an existing store at ``out``, even of another experiment.
    chunk_units : int, optional
        Most hidden units per chunk; the default suits the device, and the
        memory budget (and on CUDA the free device memory) may make chunks
        smaller. Results do not depend on it beyond float round-off.
    backend : {"local", "dask"}
        ``local``: this process, or ``n_jobs`` joblib processes. ``dask``: the
        workers of a Dask cluster (``ddlab[dask]``); results are bit-identical.
    scheduler : str or distributed.Client or cluster, optional
        Dask only: ``"local"`` (a LocalCluster of ``n_jobs`` workers on
        127.0.0.1), a scheduler address ``"tcp://host:port"``, a ``Client``,
        or a cluster object such as ``dask_jobqueue.SLURMCluster``. Default:
        dask's ``scheduler-address`` setting, else ``"local"``.
    memory_budget : str or int, optional
        Peak resident memory allowed per process, e.g. ``"2GB"`` or
        ``"1.5GiB"`` (default 2 GiB); chunks are sized to fit it.
    wait : bool
        If another run holds the lock of ``out``, wait for it instead of
        refusing; the chunks it computed are then not computed again.

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
        On a bad experiment, device, ``n_jobs``, ``chunk_units``, backend or
        memory budget, a budget too small for one chunk or (without ``out``)
        for the results, an unreachable scheduler, an unwritable ``out``, an
        ``out`` holding another experiment (unless ``fresh``) or locked by
        another run (unless ``wait``). Nothing on disk is touched then.
    ddlab.results.StorageFullError
        If the disk fills up; the store stays resumable.

    Examples
    --------
    >>> ds = run({"model": {"width": [1, 4]}, "train": {"epochs": 3},
    ...           "seeds": {"init": 2}}, progress=False)
    >>> ds.test_loss.dims
    ('width', 'epoch', 'data_seed', 'init_seed')
    """
    exp = load_experiment(experiment)
    check_backend(backend, scheduler, "cpu" if device == "auto" else device)
    dev = "cpu" if backend == "dask" else _resolve_device(device)
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs = {n_jobs!r}: expected a positive integer or -1")
    devices = _devices(dev)
    plan = plan_run(exp, device=dev, memory_budget=memory_budget, chunk_units=chunk_units)
    if out is None and plan.local_bytes + storage_bytes(exp) > plan.budget:
        raise ValueError(f"out = None: the results take {format_bytes(storage_bytes(exp))} "
                         f"in memory, more than memory_budget = {format_bytes(plan.budget)} "
                         f"allows; give out (--out) to stream them to a store")
    on_cuda = dev.startswith("cuda")
    t0 = time.perf_counter()
    options = {"backend": backend, "scheduler": scheduler, "memory_budget": memory_budget}
    call = _call(exp, device=device, n_jobs=n_jobs, out=None if out is None else str(out),
                 fresh=fresh, **{k: v for k, v in options.items() if v not in (None, "local")})
    where = ", ".join(torch.cuda.get_device_name(d) for d in devices) if on_cuda else "cpu"
    attrs = provenance(exp, call, where, {"torch_version": torch.__version__})
    attrs["chunk_units"] = plan.chunk_units
    with contextlib.ExitStack() as stack:  # the pool first: a bad scheduler touches nothing
        pool = stack.enter_context(open_pool(backend, scheduler, 1 if on_cuda else n_jobs,
                                             devices))
        store = MemoryStore(exp, attrs) if out is None else ZarrStore(out, exp, attrs, fresh,
                                                                      wait)
        stack.callback(store.close)
        begun = store.ds.attrs.get("chunk_units") if store.resumed else None
        if chunk_units is None and begun not in (None, plan.chunk_units):
            # sized from free device memory when the store was begun: the same chunks again
            plan = plan_run(exp, device=dev, memory_budget=memory_budget, chunk_units=begun)
        chunks = plan.chunks
        # pred_mean, pred_var_init and the classification bias-variance terms need every init
        whole = records_predictions(exp) or records_class_variance(exp)
        todo = sorted((p for c in chunks for p in c.pending(exp, store.completed, whole)),
                      key=lambda c: -_cost(exp, c))  # largest first: no long chunk last
        total = sum(c.n_cells(exp) for c in chunks)
        left = sum(c.n_cells(exp) for c in todo)
        start = int(store.ds.attrs.get("continue_from_epoch", 0))  # training longer
        epochs = {"epoch": slice(sum(e < start for e in exp.epochs), None)}
        with tqdm(total=total, initial=total - left, unit="cell", desc=exp.name,
                  disable=None if progress is None else not progress) as bar, _one_thread():
            tasks = ((exp, c, dev, store.read("state", c.region(exp)) if start else None,
                      start) for c in todo)
            for done, (chunk, arrays) in enumerate(pool.map(_worker, tasks), 1):
                store.write(chunk.region(exp) | epochs, arrays)
                store.progress(done, time.perf_counter() - t0)
                del arrays  # not held while the next chunk trains
                bar.update(chunk.n_cells(exp))
        note = (f"computed {len(todo)} of {len(chunks)} chunks" if set(todo) <= set(chunks)
                else f"computed {left} of {total} cells, in {len(todo)} chunks")
        if store.resumed and not todo:  # nothing new: the stored provenance stays as it was
            return store.finish({}, attrs["command"], note)
        return store.finish({"finished": now(),
                             "wall_time_s": time.perf_counter() - t0, "n_jobs": n_jobs,
                             "backend": f"{pool.name} ({pool.where})",
                             "memory_budget_bytes": plan.budget,
                             "chunk_units": plan.chunk_units,
                             "n_chunks": len(chunks), "chunks_computed": len(todo)},
                            attrs["command"], note)


def _cost(exp: Experiment, chunk: Chunk) -> int:
    """Hidden units of a chunk, summed over its cells: its relative training time."""
    per_width = chunk.n_cells(exp) // (chunk.widths[1] - chunk.widths[0])
    return per_width * sum(exp.model.width[slice(*chunk.widths)])


def plan_run(experiment, *, device: str = "cpu", memory_budget: str | int | None = None,
             chunk_units: int | None = None) -> RunPlan:
    """How :func:`run` splits an experiment's grid, and the memory and disk it needs.

    Parameters
    ----------
    experiment : Experiment or mapping or path
    device : str
        A resolved device (``cpu``, ``cuda[:N]``); it sets the default chunk size,
        and on CUDA chunks are also sized to fit :data:`CUDA_MEMORY_SHARE` of the
        free memory of every device the run trains on (:func:`device_bytes`
        models a chunk's).
    memory_budget : str or int, optional
        As :func:`run` takes it (default 2 GiB).
    chunk_units : int, optional
        Most hidden units per chunk (default: the device's).

    Returns
    -------
    RunPlan

    Raises
    ------
    ValueError
        On a bad budget or ``chunk_units``, or a budget or free device memory too
        small for one chunk.
    """
    exp = load_experiment(experiment)
    default = CUDA_CHUNK_UNITS if device.startswith("cuda") else CPU_CHUNK_UNITS
    units = (CLOSED_FORM_UNITS if exp.closed_form else default) if chunk_units is None \
        else chunk_units
    if isinstance(units, bool) or not isinstance(units, int) or units < 1:
        raise ValueError(f"chunk_units = {chunk_units!r}: expected a positive integer")
    budget = DEFAULT_MEMORY_BUDGET if memory_budget is None else parse_bytes(memory_budget)
    held, cells, least = plan_bytes(exp)  # before the plan is built (a small one is built,
    if held > SMALL_PLAN_BYTES and PROCESS_BYTES + held > budget:  # then sized by fit_chunks)
        raise ValueError(f"memory_budget = {format_bytes(budget)}: too small to plan this grid "
                         f"({cells} cells in at least {least} chunks take about "
                         f"{format_bytes(held)} to track); raise the budget or shrink the grid")
    device_budget = _device_budget(_devices(device))
    units, chunks = fit_chunks(exp, budget, units, memory_budget, device_budget, device)
    # a new store's skeleton is written before any chunk trains: a transient peak of its own
    skeleton = skeleton_bytes(exp)
    if PROCESS_BYTES + skeleton > budget:
        raise ValueError(f"memory_budget = {memory_budget!r}: too small for this grid's store, "
                         f"whose skeleton takes {format_bytes(skeleton)} while the store is "
                         f"created; raise the budget or shrink the grid")
    shapes = distinct_shapes(chunks)
    work = max(chunk_bytes(exp, c) for c in shapes)
    return RunPlan(
        chunk_units=units, chunks=chunks, budget=budget,
        local_bytes=PROCESS_BYTES + held + max(work, skeleton),
        worker_bytes=PROCESS_BYTES + work,
        parent_bytes=PROCESS_BYTES + held + max(skeleton, 2 * max(result_bytes(exp, c)
                                                                  for c in shapes)),
        store_bytes=estimate_store_bytes(exp),
        device_bytes=None if device_budget is None else max(device_bytes(exp, c)
                                                            for c in shapes))
