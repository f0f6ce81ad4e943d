"""Scheduling: split the cell grid into chunks and run them in-process, over joblib, or on CUDA."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator

import numpy as np
import torch
import xarray as xr
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from .dataset import build_dataset
from .engine import METRICS, train_chunk
from .experiment import Experiment, load_experiment

__all__ = ["Chunk", "plan_chunks", "run"]

#: Default number of first-layer hidden units per chunk (keeps a chunk in cache on CPU).
CPU_CHUNK_UNITS = 8192
CUDA_CHUNK_UNITS = 1 << 22

Chunk = tuple[int, list[tuple[int, int]]]  # (data_seed, [(width, init_seed), ...])


def plan_chunks(experiment: Experiment, chunk_units: int) -> list[Chunk]:
    """Split the grid into chunks of one data seed and at most ``chunk_units`` hidden units.

    Cells are sorted by width, so a chunk holds few distinct widths. A cell wider
    than ``chunk_units`` gets a chunk of its own.

    Parameters
    ----------
    experiment : Experiment
    chunk_units : int
        Budget of first-layer hidden units per chunk.

    Returns
    -------
    list of (data_seed, list of (width, init_seed))
    """
    chunks: list[Chunk] = []
    for d in range(experiment.seeds.data):
        cur: list[tuple[int, int]] = []
        units = 0
        for w in experiment.model.width:
            for i in range(experiment.seeds.init):
                if cur and units + w > chunk_units:
                    chunks.append((d, cur))
                    cur, units = [], 0
                cur.append((w, i))
                units += w
        chunks.append((d, cur))
    return chunks


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _worker(exp_json: str, chunk: Chunk, device: str) -> tuple[Chunk, dict[str, np.ndarray], float]:
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    out = train_chunk(load_experiment(json.loads(exp_json)), chunk[0], chunk[1], device)
    return chunk, out, time.perf_counter() - t0


def _resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" or device.startswith("cuda"):
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device = {device!r}: CUDA is not available on this machine")
        return device
    raise ValueError(f"device = {device!r}: expected 'auto', 'cpu' or 'cuda[:N]'")


def run(experiment, *, device: str = "auto", n_jobs: int = 1, progress: bool = True,
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
    chunk_units : int, optional
        Hidden units per chunk; the default suits the device. Results do not
        depend on it beyond float round-off.

    Returns
    -------
    xarray.Dataset
        Variables ``train_loss``, ``test_loss``, ``f_error_train``, ``f_error``
        (absent when ``n_population = 0``) over dims ``width``, ``epoch``,
        ``data_seed``, ``init_seed``, plus ``diverged`` per cell. Attrs hold the
        experiment as JSON, versions, device, dtype and timing.

    Examples
    --------
    >>> ds = run({"model": {"width": [1, 4]}, "train": {"epochs": 3},
    ...           "seeds": {"init": 2}}, progress=False)
    >>> ds.test_loss.dims
    ('width', 'epoch', 'data_seed', 'init_seed')
    """
    from . import __version__

    exp = load_experiment(experiment)
    dev = _resolve_device(device)
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs = {n_jobs!r}: expected a positive integer or -1")
    on_cuda = dev.startswith("cuda")
    units = chunk_units or (CUDA_CHUNK_UNITS if on_cuda else CPU_CHUNK_UNITS)
    if isinstance(units, bool) or not isinstance(units, int) or units < 1:
        raise ValueError(f"chunk_units = {chunk_units!r}: expected a positive integer")
    chunks = plan_chunks(exp, units)
    shape = (len(exp.model.width), len(exp.epochs), exp.seeds.data, exp.seeds.init)
    names = [m for m in METRICS if m != "f_error" or exp.data.n_population > 0]
    metrics = {m: np.full(shape, np.nan) for m in names}
    w_index = {w: k for k, w in enumerate(exp.model.width)}
    exp_json = exp.to_json()
    started = time.time()
    t0 = time.perf_counter()
    bar = tqdm(total=int(np.prod(shape)) // shape[1], unit="cell", disable=not progress,
               desc=exp.name)
    if on_cuda or n_jobs == 1:
        with _one_thread():
            results = (_worker(exp_json, c, dev) for c in chunks)
            chunk_seconds = _collect(results, metrics, w_index, bar)
    else:
        parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
        results = parallel(delayed(_worker)(exp_json, c, dev) for c in chunks)
        chunk_seconds = _collect(results, metrics, w_index, bar)
    bar.close()
    attrs = {
        "experiment": exp_json,
        "name": exp.name,
        "ddlab_version": __version__,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "xarray_version": xr.__version__,
        "device": torch.cuda.get_device_name(dev) if on_cuda else "cpu",
        "dtype": exp.train.dtype,
        "n_jobs": n_jobs,
        "n_chunks": len(chunks),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "wall_time_s": time.perf_counter() - t0,
        "chunk_time_s": float(sum(chunk_seconds)),
    }
    return build_dataset(exp, metrics, attrs)


def _collect(results, metrics: dict[str, np.ndarray], w_index: dict[int, int], bar) -> list[float]:
    seconds = []
    for (data_seed, cells), out, sec in results:
        wi = np.array([w_index[w] for w, _ in cells])
        ii = np.array([i for _, i in cells])
        for name, values in out.items():
            # values: (epoch, cell) -> metrics[name][width, epoch, data_seed, init_seed]
            metrics[name][wi, :, data_seed, ii] = values.T
        seconds.append(sec)
        bar.update(len(cells))
    return seconds

