"""Where chunks train: in this process, in joblib processes, on several GPUs, or on Dask.

Every backend maps a worker function over chunks and yields the results in
the order they finish, so the parent, the single writer, stores each chunk
as it arrives. The Dask backend uses ``distributed`` futures directly (not
joblib's Dask backend): it keeps at most two chunks per worker thread in
flight, so results never pile up on workers or in the parent; each chunk is
one task, so a worker that dies loses only the chunks it held, which the
scheduler runs again elsewhere; and a task first checks that its worker runs
the torch, numpy and ddlab versions of the parent, which bit-identical
results need. A *device pool* (a run on several CUDA devices) starts one
spawned process per device; each claims its device when it starts
(:func:`claimed_device`), so every device trains one chunk at a time.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import itertools
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import torch
from joblib import Parallel, delayed

from .._orphans import die_with_parent, guarded
from .._version import __version__

__all__ = ["BACKENDS", "CONNECT_TIMEOUT_S", "Pool", "check_backend", "claimed_device",
           "local_cluster", "open_pool"]

#: Backends :func:`ddlab.run` accepts.
BACKENDS = ("local", "dask")
#: Seconds to wait for a Dask scheduler before giving up.
CONNECT_TIMEOUT_S = 10
#: Chunks in flight per Dask worker thread.
_IN_FLIGHT = 2
#: dask starts workers with MALLOC_TRIM_THRESHOLD_=65536, which pins glibc's mmap threshold
#: at 128 KiB: every torch buffer is then a fresh mmap, and chunks train 2x slower (measured)
_WORKER_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
#: the device this process claimed as a worker of a device pool (empty elsewhere)
_CLAIMED: list[str] = []


def claimed_device(default: str) -> str:
    """The device this process trains on: the one it claimed in a device pool, else ``default``.

    Parameters
    ----------
    default : str
        The run's device, used outside device pools.

    Returns
    -------
    str
    """
    return _CLAIMED[0] if _CLAIMED else default


def _claim(devices: Any, parent: int) -> None:
    """Device pool initializer: take one device off the queue, for this process's lifetime."""
    die_with_parent(parent)
    _CLAIMED.append(devices.get())


def _versions() -> dict[str, str]:
    return {"ddlab": __version__, "torch": torch.__version__, "numpy": np.__version__}


def _checked(fn: Callable[..., Any], versions: dict[str, str], *args: Any) -> Any:
    """Run ``fn(*args)`` on a Dask worker whose versions match the parent's."""
    mine = _versions()
    if mine != versions:
        diff = ", ".join(f"{k} {mine[k]} (parent {versions[k]})" for k in mine
                         if mine[k] != versions[k])
        raise ValueError(f"scheduler: a worker runs {diff}; install the parent's versions "
                         f"on the workers, or results would differ from a local run")
    return fn(*args)


class Pool:
    """Trains chunks somewhere and yields their results as they finish.

    Attributes
    ----------
    name : str
        ``local`` or ``dask``.
    where : str
        Where the chunks run, for provenance (``1 process``, ``2 processes
        (joblib)``, ``dask tcp://...: 2 workers, 2 threads``).
    """

    def __init__(self, name: str, where: str, n_jobs: int = 1, client: Any = None,
                 executor: cf.Executor | None = None):
        self.name, self.where, self._n_jobs, self._client = name, where, n_jobs, client
        self._executor = executor

    def map(self, fn: Callable[..., Any], tasks: Iterable[tuple[Any, ...]]) -> Iterator[Any]:
        """``fn(*task)`` for every task, in the order they finish."""
        tasks = list(tasks)
        if self._client is not None:
            return self._futures(fn, tasks)
        if self._executor is not None:
            return self._executed(fn, tasks)
        if self._n_jobs == 1 or len(tasks) <= 1:
            return (fn(*task) for task in tasks)
        return Parallel(n_jobs=self._n_jobs, return_as="generator_unordered")(
            delayed(guarded)(os.getpid(), fn, *task) for task in tasks)

    def _executed(self, fn: Callable[..., Any], tasks: list[tuple[Any, ...]]) -> Iterator[Any]:
        """A device pool's results as they finish, at most two chunks in flight per device."""
        todo = iter(tasks)
        running: set[cf.Future] = set()
        try:
            while True:
                for task in itertools.islice(todo, _IN_FLIGHT * self._n_jobs - len(running)):
                    running.add(self._executor.submit(fn, *task))
                if not running:
                    return
                done, running = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        finally:  # interrupted or failed: run nothing more
            for future in running:
                future.cancel()

    def _threads(self) -> int:
        return max(1, sum(self._client.nthreads().values()))

    def _futures(self, fn: Callable[..., Any], tasks: list[tuple[Any, ...]]) -> Iterator[Any]:
        from distributed import as_completed

        client, versions = self._client, _versions()
        todo = iter(tasks)
        running = as_completed()

        def top_up() -> None:
            room = _IN_FLIGHT * self._threads() - running.count()
            for task in itertools.islice(todo, max(0, room)):
                running.add(client.submit(_checked, fn, versions, *task, pure=False))

        top_up()
        try:
            for future in running:
                result = future.result()
                future.release()
                top_up()
                yield result
        finally:  # interrupted or failed: leave nothing running on the cluster
            client.cancel(list(running.futures))


def check_backend(backend: str, scheduler: Any, device: str) -> None:
    """Raise a one-line ValueError for a backend, scheduler or device that cannot work."""
    if backend not in BACKENDS:
        raise ValueError(f"backend = {backend!r}: expected one of {', '.join(BACKENDS)}")
    if backend == "local" and scheduler is not None:
        raise ValueError(f"scheduler = {scheduler!r}: only the dask backend takes a scheduler "
                         f"(backend = 'dask')")
    if backend == "dask" and device != "cpu":
        raise ValueError(f"device = {device!r}: the dask backend trains on CPU workers; "
                         f"use device = 'cpu'")


@contextlib.contextmanager
def open_pool(backend: str, scheduler: Any, n_jobs: int,
              devices: list[str] | None = None) -> Iterator[Pool]:
    """The pool of a backend, open for the duration of the block.

    Parameters
    ----------
    backend : {"local", "dask"}
    scheduler : str or distributed.Client or Cluster, optional
        Dask only: ``"local"`` starts a ``distributed.LocalCluster`` of
        ``n_jobs`` single-threaded worker processes on 127.0.0.1 for the
        block; an address (``tcp://host:port``) connects to a running
        scheduler; a ``Client`` is used as it is, a cluster object (such as
        ``dask_jobqueue.SLURMCluster``) through a new client. ``None`` uses
        dask's ``scheduler-address`` setting if it has one, else ``"local"``.
    n_jobs : int
        Local processes (joblib), or the LocalCluster's workers; -1: one per core.
    devices : list of str, optional
        Local only: with more than one device, a device pool of one spawned
        process per device instead (``n_jobs`` is then not used).

    Raises
    ------
    ValueError
        If the scheduler cannot be reached within :data:`CONNECT_TIMEOUT_S`.
    ImportError
        If the dask backend is asked for without ``distributed`` installed.
    """
    n = (os.cpu_count() or 1) if n_jobs == -1 else n_jobs
    if backend == "local" and devices is not None and len(devices) > 1:
        context = multiprocessing.get_context("spawn")  # CUDA does not survive a fork
        queue = context.Queue()
        for device in devices:
            queue.put(device)
        with cf.ProcessPoolExecutor(len(devices), mp_context=context, initializer=_claim,
                                    initargs=(queue, os.getpid())) as executor:
            yield Pool("local", f"{len(devices)} processes, one per device "
                                f"({', '.join(devices)})", n_jobs=len(devices), executor=executor)
        return
    if backend == "local":
        yield Pool("local", f"{n} process{'es (joblib)' if n > 1 else ''}", n_jobs=n)
        return
    try:
        import dask
        from distributed import Client
    except ImportError:
        raise ImportError("the dask backend needs distributed: pip install 'ddlab[dask]'") from None
    with contextlib.ExitStack() as stack:
        if scheduler is None:
            scheduler = dask.config.get("scheduler-address", None) or "local"
        if isinstance(scheduler, Client):
            client = scheduler
        elif scheduler == "local":
            client = stack.enter_context(Client(stack.enter_context(local_cluster(n))))
        else:
            address = getattr(scheduler, "scheduler_address", scheduler)
            try:
                client = stack.enter_context(Client(address, timeout=CONNECT_TIMEOUT_S))
            except (OSError, ValueError, TypeError) as err:
                first = str(err).splitlines()[0] if str(err) else type(err).__name__
                raise ValueError(f"scheduler = {address!r}: cannot reach a Dask scheduler "
                                 f"there within {CONNECT_TIMEOUT_S} s ({first})") from None
        workers = client.nthreads()
        yield Pool("dask", f"dask {client.scheduler.address}: {len(workers)} workers, "
                           f"{sum(workers.values())} threads", client=client)


def local_cluster(n_workers: int) -> Any:
    """The ``distributed.LocalCluster`` that ``scheduler = "local"`` starts.

    ``n_workers`` single-threaded worker processes on 127.0.0.1 (dashboard
    on a free port), with no dask memory limit (the memory budget sizes the
    chunks) and glibc's default allocator tuning (see :data:`_WORKER_CONFIG`).

    Parameters
    ----------
    n_workers : int

    Returns
    -------
    distributed.LocalCluster
        Started; close it (or use it as a context manager) when done.
    """
    import dask
    from distributed import LocalCluster

    with dask.config.set(_WORKER_CONFIG):
        return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                            host="127.0.0.1", dashboard_address=":0", memory_limit=0)
