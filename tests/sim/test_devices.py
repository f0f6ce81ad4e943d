"""CUDA runs: chunks sized to free device memory, one process per GPU, stable resumes.

A CPU machine has no GPU, so these tests stand in for one: ``torch.cuda``'s
memory query is replaced for the planning tests, and the device pool is run
over CPU "devices" (each worker process claims one, as it would a GPU). The
tests that need real GPUs skip without them.
"""

from __future__ import annotations

import multiprocessing as mp
import os

import numpy as np
import pytest
import torch
import xarray as xr
from conftest import requires_cuda

import ddlab
from ddlab.sim import _run, plan_run
from ddlab.sim._backends import claimed_device, open_pool
from ddlab.sim._budget import device_bytes

#: wide networks with a population sample, as on a GPU
WIDE = {"data": {"dim": 10, "n_train": 100, "n_test": 50, "n_population": 2000},
        "model": {"width": [16, 64, 256, 1024]}, "train": {"epochs": 2},
        "seeds": {"data": 1, "init": 20}}


def _gpus(monkeypatch, free: list[int]) -> None:
    """Pretend ``len(free)`` GPUs with these free bytes are visible."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: len(free))
    monkeypatch.setattr(torch.cuda, "mem_get_info",
                        lambda d: (free[int(str(d).partition(":")[2] or 0)], 80 << 30))


def test_cuda_chunks_are_sized_to_the_free_device_memory(monkeypatch):
    exp = ddlab.load_experiment(WIDE)
    widest = max(device_bytes(exp, c) for c in plan_run(exp, chunk_units=1).chunks)
    _gpus(monkeypatch, [80 << 30])
    roomy = plan_run(exp, device="cuda")
    assert len(roomy.chunks) == 1 and roomy.device_bytes > widest
    share = (widest + roomy.device_bytes) // 2  # room for the widest width, not for all
    _gpus(monkeypatch, [int(share / _run.CUDA_MEMORY_SHARE)])
    tight = plan_run(exp, device="cuda")
    assert tight.chunk_units < roomy.chunk_units and len(tight.chunks) > 1
    assert widest <= tight.device_bytes <= share
    assert max(device_bytes(exp, c) for c in tight.chunks) == tight.device_bytes
    # the least free device bounds every device's chunks
    _gpus(monkeypatch, [80 << 30, int(share / _run.CUDA_MEMORY_SHARE)])
    assert plan_run(exp, device="cuda").chunk_units == tight.chunk_units
    assert plan_run(exp, device="cpu").device_bytes is None
    monkeypatch.undo()  # no GPU: a plan for CUDA takes the default cap, as before
    if not torch.cuda.is_available():
        assert plan_run(exp, device="cuda").device_bytes is None


def test_too_little_free_device_memory_names_the_device(monkeypatch):
    _gpus(monkeypatch, [1 << 20])
    with pytest.raises(ValueError, match=r"^device = 'cuda:0': too little free memory for "
                                         r"one chunk .*width 1024 with its 20 cells"):
        plan_run(WIDE, device="cuda:0")


def test_the_device_model_counts_what_a_chunk_holds_on_the_device():
    exp = ddlab.load_experiment(WIDE)
    chunk = plan_run(exp).chunks[-1]  # the widest width alone
    params = 20 * exp.n_params(1024)
    floor = 4 * params * 4 + 20 * 1024 * 100 * 4  # parameters, gradient, Adam moments, z1
    assert floor < device_bytes(exp, chunk) < 40 * floor
    no_pop = ddlab.load_experiment({**WIDE, "data": {**WIDE["data"], "n_population": 0}})
    assert device_bytes(no_pop, chunk) < device_bytes(exp, chunk)


def _whoami(rendezvous: object) -> tuple[int, str]:
    if rendezvous is not None:  # hold this process until the other one has started
        rendezvous.wait(timeout=120)
    return os.getpid(), claimed_device("none")


def test_a_device_pool_gives_each_process_its_own_device():
    # The executor starts its processes as tasks arrive: without the rendezvous a
    # slow second start lets the first process take every task.
    with mp.get_context("spawn").Manager() as manager:
        rendezvous = manager.Barrier(2)
        with open_pool("local", None, 1, ["dev-a", "dev-b"]) as pool:
            assert pool.where == "2 processes, one per device (dev-a, dev-b)"
            seen = list(pool.map(_whoami, [(rendezvous,)] * 2 + [(None,)] * 10))
    device_of: dict[int, set[str]] = {}
    for pid, device in seen:
        device_of.setdefault(pid, set()).add(device)
    assert len(seen) == 12 and pid != os.getpid()
    assert all(len(d) == 1 for d in device_of.values())  # a process keeps its device
    assert sorted(d for ds in device_of.values() for d in ds) == ["dev-a", "dev-b"]
    assert claimed_device("none") == "none"  # the parent claimed nothing


def test_a_run_over_a_device_pool_equals_the_one_process_run(monkeypatch, config):
    one = ddlab.run(config, device="cpu", progress=False, chunk_units=3)
    monkeypatch.setattr(_run, "_devices", lambda device: [device, device])
    pooled = ddlab.run(config, device="cpu", progress=False, chunk_units=3)
    assert pooled.attrs["backend"] == "local (2 processes, one per device (cpu, cpu))"
    xr.testing.assert_equal(pooled.drop_vars("wall_time"), one.drop_vars("wall_time"))


def test_a_resumed_store_keeps_the_chunks_it_was_begun_with(monkeypatch, tmp_path, config):
    exp = ddlab.load_experiment(config)
    one_width = max(device_bytes(exp, c) for c in plan_run(exp, chunk_units=1).chunks)
    monkeypatch.setattr(_run, "_device_budget", lambda devices: one_width)
    begun = plan_run(exp)  # as if free device memory fitted about one width per chunk
    n = len(begun.chunks)
    assert n > 2
    calls = []

    def interrupted(*args):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(args)
        return train_chunk(*args)

    train_chunk = _run.train_chunk
    monkeypatch.setattr(_run, "train_chunk", interrupted)
    out = tmp_path / "tiny.zarr"
    with pytest.raises(KeyboardInterrupt):
        ddlab.run(exp, out=out, device="cpu", progress=False)
    monkeypatch.undo()  # more free memory now: a fresh plan would take one chunk per seed
    assert len(plan_run(exp).chunks) == 2
    resumed = ddlab.run(exp, out=out, device="cpu", progress=False)
    assert resumed.attrs["history"].splitlines()[-1].endswith(f"(computed {n - 2} of {n} chunks)")
    assert resumed.attrs["chunk_units"] == begun.chunk_units
    whole = ddlab.run(exp, device="cpu", progress=False)
    names = [v for v in whole.data_vars if v != "wall_time"]
    xr.testing.assert_equal(resumed[names].load(), whole[names])


@requires_cuda
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA GPUs")
def test_several_gpus_train_one_process_each_and_match_the_cpu(config):
    exp = ddlab.load_experiment(config)
    ds = ddlab.run(exp, device="cuda", progress=False, chunk_units=3)
    assert "one per device (cuda:0, cuda:1" in ds.attrs["backend"]
    cpu = ddlab.run(exp, device="cpu", progress=False, chunk_units=3)
    np.testing.assert_allclose(ds.test_loss, cpu.test_loss, rtol=1e-6)
