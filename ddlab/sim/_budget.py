"""Memory budget: parse it, model the peak memory of a chunk, size chunks to fit.

A run's peak resident memory per process is the memory of the process
itself (Python, torch, numpy, xarray, zarr: :data:`PROCESS_BYTES`) plus that
of the largest chunk it trains: parameters, optimizer state and activations
while it trains, and its recorded metrics and population predictions, which
exist twice while they are handed to the writer (pickled from a worker
process, or encoded into zarr chunks). :func:`chunk_bytes` models this from
the chunk's shape, with coefficients measured on CPU with one torch thread;
:func:`fit_chunks` halves the hidden units per chunk until the largest chunk
fits the budget. The plan depends only on the experiment, the budget and the
unit cap, never on the backend, so every backend trains the same chunks and
returns bit-identical results.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..config import REAL_TARGETS, Experiment, field
from ..results import (
    CLASS_BIAS_VARIANCE,
    metric_names,
    records_class_variance,
    records_predictions,
    state_size,
)
from ._engine import _EVAL_ELEMENTS
from ._plan import Chunk, plan_chunks

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "PROCESS_BYTES",
    "SMALL_PLAN_BYTES",
    "RunPlan",
    "chunk_bytes",
    "device_bytes",
    "distinct_shapes",
    "fit_chunks",
    "format_bytes",
    "parse_bytes",
    "plan_bytes",
    "result_bytes",
]

MiB = 1 << 20
#: Default memory budget per process: 2 GiB.
DEFAULT_MEMORY_BUDGET = 2 << 30
#: Resident memory of a ddlab process before its first chunk (measured: 330 MiB for
#: ``ddlab run`` in one process, 337 MiB for a joblib or Dask worker, torch 2.13).
PROCESS_BYTES = 360 * MiB

# Measured coefficients (CPU, one thread): bytes per hidden unit, row and dtype byte
# (forward caches on train and test rows, backward buffers on train rows); bytes per
# parameter beyond 4 copies in the dtype (float64 uniforms, gather indices, lr and
# weight decay per parameter); fixed working set; population slab (engine: 2**20
# elements per slab) and closed-form feature slab (2**23 elements) multiples.
_ACTIVATION = 6.0
_PER_PARAM = 40
_FIXED = 24 * MiB
_EVAL_SLAB = 5 << 20
_FEATURE_SLAB = 8 << 23
#: measured over modelled closed-form working set (linear_min_norm.toml, 50 and 200 data seeds)
_CLOSED_FORM = 1.65

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9,
          "gb": 10**9, "t": 10**12, "tb": 10**12, "kib": 1 << 10, "mib": 1 << 20,
          "gib": 1 << 30, "tib": 1 << 40}


def parse_bytes(value: str | int | float, name: str = "memory_budget") -> int:
    """A size in bytes from ``2GB``, ``1.5GiB``, ``800MB`` or a number of bytes.

    Parameters
    ----------
    value : str or int or float
        Decimal units (``kB``, ``MB``, ``GB``, ``TB``, also ``k``, ``M``,
        ``G``, ``T``) or binary ones (``KiB``, ``MiB``, ``GiB``, ``TiB``),
        case-insensitive.
    name : str
        The option's name, for the error message.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If ``value`` is not a positive size.
    """
    number, unit = value, ""
    if isinstance(value, str):
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*", value,
                             re.IGNORECASE)
        if match is None or match[2].lower() not in _UNITS:
            raise ValueError(f"{name} = {value!r}: expected a size such as '2GB', '1.5GiB' "
                             f"or '800MB'")
        number, unit = float(match[1]), match[2].lower()
    if (isinstance(number, bool) or not isinstance(number, int | float) or not number > 0
            or not number * _UNITS[unit] < 2**63):
        raise ValueError(f"{name} = {value!r}: expected a positive size below 8 EiB, "
                         f"such as '2GB'")
    return int(number * _UNITS[unit])


def _shape(exp: Experiment) -> tuple[int, int, int]:
    """Training rows, input dim and outputs of a concrete experiment."""
    d = exp.data
    if d.target in REAL_TARGETS:
        dim, _, outputs = REAL_TARGETS[d.target]
        return d.n_train + d.n_test, dim, outputs
    return d.n_train + d.n_test, d.dim, d.classes if d.target == "teacher_classes" else 1


def result_bytes(experiment: Experiment, chunk: Chunk) -> int:
    """Bytes of the arrays one chunk returns: metrics, flags, population predictions, state."""
    exp = experiment
    cells = chunk.n_cells(exp)
    epochs = len(exp.epochs)
    size = cells * (epochs * len(metric_names(exp)) + 2) * 8
    if records_predictions(exp):
        groups = cells // exp.seeds.init
        size += groups * epochs * (exp.data.n_population + 1) * 8
        size += math.prod(chunk.shape(exp)) * exp.data.n_population * 8
    if records_class_variance(exp):
        size += cells // exp.seeds.init * epochs * len(CLASS_BIAS_VARIANCE) * 8
    return size + cells * state_size(exp) * 8  # kept parameters and optimiser buffers


def _working_set(exp: Experiment, chunk: Chunk, device: str) -> int:
    """Modelled working set of a chunk on ``device`` (``cpu`` or ``cuda``).

    Its samples, parameters with their gradient and optimiser state,
    activations, and population slabs: on CPU the measured multiple
    :data:`_EVAL_SLAB`; on CUDA the engine's slab buffer, at most
    ``_EVAL_ELEMENTS["cuda"]`` elements and no larger than the whole sample.
    """
    points = chunk.points(exp)
    point = points[0]
    rows, dim, outputs = _shape(point)
    s = 8 if exp.train.dtype == "float64" else 4
    cells = chunk.n_cells(exp)
    per_width = cells // (chunk.widths[1] - chunk.widths[0])
    widths = exp.model.width[slice(*chunk.widths)]
    # the samples of every (data seed, point) the chunk holds, population included
    n_samples = (chunk.data_seeds[1] - chunk.data_seeds[0]) * len(points)
    work = n_samples * (rows + point.data.n_population) * (dim + 2 * outputs) * s
    if exp.closed_form:
        owners = (chunk.data_seeds[1] - chunk.data_seeds[0]) * exp.seeds.init
        widest, n = max(widths), point.data.n_train  # Gram matrices: p x p, or n x n if p > n
        columns = per_width * len(widths) // owners
        work += 8 * (owners * widest * (rows + dim + 1 + 2 * columns * outputs)
                     + 2 * owners * min(widest, n) ** 2 + 3 * cells * rows * outputs)
        work = int(_CLOSED_FORM * work)
        return work + (_FEATURE_SLAB * (2 + outputs) if point.data.n_population else 0)
    units = per_width * sum(widths) * point.model.depth
    params = per_width * sum(point.n_params(w) for w in widths)
    work += int(_ACTIVATION * units * rows * s) + params * (_PER_PARAM + 4 * s)
    if point.data.n_population and device == "cpu":
        work += _EVAL_SLAB * s
    elif point.data.n_population:
        work += min(_EVAL_ELEMENTS["cuda"], units * point.data.n_population) * s
    return work


def chunk_bytes(experiment: Experiment, chunk: Chunk) -> int:
    """Modelled peak memory, beyond :data:`PROCESS_BYTES`, of training one chunk on CPU.

    Parameters
    ----------
    experiment : Experiment
    chunk : Chunk

    Returns
    -------
    int
        Bytes: the training working set plus twice the chunk's results.
    """
    exp = experiment
    return _FIXED + _working_set(exp, chunk, "cpu") + 2 * result_bytes(exp, chunk)


def device_bytes(experiment: Experiment, chunk: Chunk) -> int:
    """Modelled peak memory of one chunk on a CUDA device.

    The device holds the working set of training and evaluation and the
    chunk's results until they are copied to the host; the host-side copies
    and the process itself are not on the device.

    Parameters
    ----------
    experiment : Experiment
    chunk : Chunk

    Returns
    -------
    int
        Bytes.
    """
    exp = experiment
    return _working_set(exp, chunk, "cuda") + result_bytes(exp, chunk)


#: bytes a planned chunk takes in the parent: its :class:`Chunk` (measured: 320 bytes), its
#: places in the plan and the list of chunks to do, and a second plan while chunks are fitted
CHUNK_PLAN_BYTES = 1024
#: a plan smaller than this is built before it is checked against the budget
SMALL_PLAN_BYTES = 64 * MiB


def plan_bytes(experiment: Experiment) -> tuple[int, int, int]:
    """Memory the parent holds for the plan of a grid, counted before any of it is built.

    Parameters
    ----------
    experiment : Experiment

    Returns
    -------
    bytes : int
        Its per-cell flags (``completed``, ``diverged``: a byte each) and at
        least as many chunks as :func:`plan_chunks` makes (one per data seed and
        value of a shape-changing swept key; closed-form fits: one per such value)
        at :data:`CHUNK_PLAN_BYTES` each.
    cells, chunks : int
        The cells of the grid, and that least number of chunks.
    """
    exp = experiment
    points = math.prod(exp.sweep_shape)
    cells = points * len(exp.model.width) * exp.seeds.data * exp.seeds.init
    fixed = math.prod(len(v) for key, v in exp.sweep if field(key).sweep != "batch")
    chunks = fixed * (1 if exp.closed_form else exp.seeds.data)
    return 2 * cells + CHUNK_PLAN_BYTES * chunks, cells, chunks


def distinct_shapes(chunks: list[Chunk]) -> list[Chunk]:
    """One chunk of each shape among ``chunks`` (sweep point, widths, number of data seeds,
    inits): what a chunk's memory depends on, so that sizing a plan of a million data seeds
    looks at a few chunks."""
    shapes = {(c.sweep, c.widths, c.data_seeds[1] - c.data_seeds[0], c.inits): c
              for c in chunks}
    return list(shapes.values())


def fit_chunks(experiment: Experiment, budget: int, units: int, given: object = None,
               device_budget: int | None = None,
               device: str = "cuda") -> tuple[int, list[Chunk]]:
    """The largest hidden units per chunk, at most ``units``, whose chunks fit the budgets.

    Parameters
    ----------
    experiment : Experiment
    budget : int
        Bytes per process, :data:`PROCESS_BYTES` included.
    units : int
        The cap (the device's default, or the caller's ``chunk_units``).
    given : object, optional
        The budget as the caller wrote it, for the error message.
    device_budget : int, optional
        Bytes of device memory a chunk may take (:func:`device_bytes`), for CUDA.
    device : str
        The device ``device_budget`` is of, for the error message.

    Returns
    -------
    chunk_units : int
    chunks : list of Chunk
        :func:`plan_chunks` of the experiment with ``chunk_units``.

    Raises
    ------
    ValueError
        If even the smallest chunk (one width, all its init seeds) does not fit.
    """
    exp = experiment
    while True:
        chunks = plan_chunks(exp, units)
        shapes = distinct_shapes(chunks)
        worst = max(shapes, key=lambda c: chunk_bytes(exp, c))
        need = PROCESS_BYTES + chunk_bytes(exp, worst)
        widest = max(shapes, key=lambda c: device_bytes(exp, c))
        on_device = device_bytes(exp, widest)
        if need <= budget and (device_budget is None or on_device <= device_budget):
            return units, chunks
        if units == 1 or all(c.widths[1] - c.widths[0] == 1 for c in shapes):
            if need > budget:
                w = exp.model.width[worst.widths[0]]
                raise ValueError(
                    f"memory_budget = {given or format_bytes(budget)!r}: too small for one "
                    f"chunk of this grid (width {w} with its {worst.n_cells(exp)} cells needs "
                    f"about {format_bytes(need)}, {format_bytes(PROCESS_BYTES)} of it the "
                    f"process itself); raise the budget or shrink the grid")
            w = exp.model.width[widest.widths[0]]
            raise ValueError(
                f"device = {device!r}: too little free memory for one chunk of this grid "
                f"(width {w} with its {widest.n_cells(exp)} cells needs about "
                f"{format_bytes(on_device)} on the device, {format_bytes(device_budget)} is "
                f"free for it); free device memory, shrink the grid or use device = 'cpu'")
        units //= 2


@dataclass(frozen=True)
class RunPlan:
    """How a run splits its grid, and the resources it needs.

    Attributes
    ----------
    chunk_units : int
        Hidden units per chunk.
    chunks : list of Chunk
    budget : int
        Memory budget per process, bytes.
    local_bytes : int
        Estimated peak resident memory of a run in one process, which trains
        and writes (``n_jobs = 1``).
    worker_bytes : int
        Estimated peak of each worker process (joblib or Dask).
    parent_bytes : int
        Estimated peak of the parent of worker processes, which writes the
        results as they arrive.
    store_bytes : int
        Estimated size of the finished zarr store on disk.
    device_bytes : int or None
        Estimated peak device memory of the largest chunk on a CUDA device
        (None on CPU).
    """

    chunk_units: int
    chunks: list[Chunk]
    budget: int
    local_bytes: int
    worker_bytes: int
    parent_bytes: int
    store_bytes: int
    device_bytes: int | None = None


def format_bytes(n: int) -> str:
    """Bytes as a short human-readable size."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", MiB)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n / 1024:.3g} KiB"
