"""Shared fixtures and helpers: a plain one-model-at-a-time PyTorch reference loop.

Every test runs with ddlab's cache in a temporary directory, so the suite
writes nothing outside its temp dirs, and from any working directory.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import torch

import ddlab

torch.set_num_threads(1)

#: The metrics of classification runs (besides the losses).
CLASS_METRICS = ("train_error", "test_error", "train_error_clean", "memorized_fraction")
#: The repository root (the suite never relies on the working directory).
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("DDLAB_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


def torch_optimizer(exp: ddlab.Experiment, params):
    """The torch.optim optimiser an experiment's [train] section describes."""
    t = exp.train
    if t.optimizer == "sgd":
        return torch.optim.SGD(params, lr=t.lr, momentum=t.momentum, nesterov=t.nesterov,
                               weight_decay=t.weight_decay)
    if t.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=t.lr, alpha=t.alpha, eps=t.eps,
                                   momentum=t.momentum, weight_decay=t.weight_decay)
    cls = torch.optim.Adam if t.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=t.lr, betas=t.betas, eps=t.eps, weight_decay=t.weight_decay)


def plain_curves(exp: ddlab.Experiment, width: int, data_seed: int,
                 init_seed: int) -> dict[str, np.ndarray]:
    """Metric curves of one cell trained alone with nn.Sequential and torch.optim.

    Classification targets train on class labels (``nn.CrossEntropyLoss``) or
    one-hot labels (``nn.MSELoss``), regression targets on y.
    """
    s = ddlab.make_data(exp, data_seed)
    model = ddlab.make_model(exp, width, data_seed, init_seed)
    opt = torch_optimizer(exp, model.parameters())
    classify = s.y_train.dim() == 2
    loss_fn = {"mse": torch.nn.MSELoss(), "l1": torch.nn.L1Loss(),
               "cross_entropy": torch.nn.CrossEntropyLoss()}[exp.train.loss]
    y_fit = s.y_train.argmax(dim=1) if exp.train.loss == "cross_entropy" else s.y_train
    order = ddlab.minibatch_order(exp, width, data_seed, init_seed)
    n, bs = exp.data.n_train, exp.train.batch_size or exp.data.n_train
    curves: dict[str, list[float]] = defaultdict(list)

    def out(x):
        return model(x) if classify else model(x).squeeze(-1)

    def loss(x, t):
        with torch.no_grad():
            if exp.train.loss == "cross_entropy":
                return float(loss_fn(out(x), t.argmax(dim=1)))
            return float(((out(x) - t) ** 2).mean())

    def record():
        curves["train_loss"].append(loss(s.x_train, s.y_train))
        curves["test_loss"].append(loss(s.x_test, s.y_test))
        if not classify:
            curves["f_error_train"].append(loss(s.x_train, s.f_train))
            curves["f_error"].append(loss(s.x_pop, s.f_pop))
            return
        with torch.no_grad():
            hit = out(s.x_train).argmax(dim=1) == s.y_train.argmax(dim=1)
            test_hit = out(s.x_test).argmax(dim=1) == s.y_test.argmax(dim=1)
        flipped = s.flipped
        curves["train_error"].append(1 - float(hit.double().mean()))
        curves["test_error"].append(1 - float(test_hit.double().mean()))
        curves["train_error_clean"].append(1 - float(hit[~flipped].double().mean()))
        curves["memorized_fraction"].append(float(hit[flipped].double().mean())
                                            if flipped.any() else np.nan)

    for epoch in range(exp.train.epochs):
        if epoch in exp.epochs:
            record()
        batches = [torch.arange(n)] if bs >= n else order[epoch].split(bs)
        for idx in batches:
            opt.zero_grad()
            loss_fn(out(s.x_train[idx]), y_fit[idx]).backward()
            opt.step()
    record()
    return {k: np.array(v) for k, v in curves.items()}


#: rtol of float64 oracles (the batched engine against a plain loop or by-hand numbers, a cell
#: against itself in another layout): the errors measured are below 1e-14 relative, so an
#: update rule off by ~1e-7 (Adam's eps before the bias correction) fails
RTOL64 = 1e-12


def assert_close64(actual, desired, err_msg: str = "", atol: float = 0.0) -> None:
    """Float64 values equal to round-off: relative error at most :data:`RTOL64`."""
    np.testing.assert_allclose(actual, desired, rtol=RTOL64, atol=atol, err_msg=err_msg)


def cell_curves(ds, width: int, data_seed: int, init_seed: int) -> dict[str, np.ndarray]:
    """The metric curves of one cell of a run's dataset (those :func:`plain_curves` gives)."""
    cell = ds.sel(width=width, data_seed=data_seed, init_seed=init_seed)
    return {k: cell[k].values for k in ("train_loss", "test_loss", "f_error_train", "f_error",
                                        *CLASS_METRICS) if k in ds}


requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


#: a tiny grid on disk: 3 widths x 9 epochs x 2 data seeds x 3 inits, float64
TINY = """
name = "tiny"
[data]
dim = 3
n_train = 10
n_test = 6
n_population = 40
noise = 0.5
[model]
width = [1, 3, 5]
[train]
epochs = 8
dtype = "float64"
[seeds]
data = 2
init = 3
"""


#: TINY made slow enough to interrupt: 12 chunks of about 0.2 s each with ``chunk_units = 6``
#: (one width and data seed per chunk), recorded on a log-spaced grid
SLOW = (TINY.replace("epochs = 8", "epochs = 600\nrecord = {log = 20}")
        .replace("width = [1, 3, 5]", "width = [1, 2, 3, 4]")
        .replace("data = 2", "data = 3").replace("init = 3", "init = 6"))


#: source of ``hwm()``, the peak resident bytes of the process so far, for scripts run in a
#: fresh process: VmHWM, the high-water mark of the process's own memory map
#: (``ru_maxrss`` is not: Linux carries it over an exec, so a child started by a large
#: pytest process reports the parent's size)
HWM = """
import re
from pathlib import Path

def hwm():
    return int(re.search(r"VmHWM:\\s*(\\d+) kB", Path("/proc/self/status").read_text())[1]) << 10
"""


def digest(path: Path) -> str:
    """A hash of every file under ``path`` (names and bytes)."""
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(path)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The tiny experiment as a TOML file."""
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


@pytest.fixture
def stored(tmp_path: Path, config: Path) -> Path:
    """The tiny experiment run into a store."""
    out = tmp_path / "tiny.zarr"
    ddlab.run(config, out=out, device="cpu", progress=False)
    return out


def disk_full_after(writes: int):
    """A stand-in for zarr's file write that fails with ENOSPC after ``writes`` test_loss chunks."""
    import errno

    import zarr.storage._local as zarr_local

    put, count = zarr_local._put, [0]

    def full(path, value, exclusive: bool = False):
        if path.parent.name == "test_loss" and not path.name.startswith("."):
            count[0] += 1
            if count[0] > writes:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return put(path, value, exclusive=exclusive)

    return full
