"""Deterministic samples for each data seed: noisy train and test sets, noise-free population.

The population sample is :data:`POPULATION_REPLICATES` consecutive blocks of
as equal sizes as possible (:func:`population_blocks`). With ``population =
"sobol"`` each block is a scrambled Sobol sequence of its own, scrambled
independently from the root seed, mapped through the inverse normal CDF for
normal inputs: each block mean is an unbiased, low-discrepancy estimate of a
population integral, and the spread of the block means gives its standard
error. With ``population = "iid"`` the points are iid, and the blocks are
independent batches of them.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from typing import NamedTuple

import numpy as np
import torch

from ..config import CLASSIFICATION_TARGETS, REAL_TARGETS, DataSpec, Experiment, load_experiment
from ._seeding import cell_seed, normals, uniforms_of

__all__ = ["MNIST1D_ARGS", "POPULATION_REPLICATES", "Samples", "flip_labels", "make_data",
           "mnist1d_arrays", "population_blocks", "target_function"]

#: Independent randomized replicates of the population sample (blocks of ``x_pop``).
POPULATION_REPLICATES = 2


class Samples(NamedTuple):
    """The samples of one data seed, as torch tensors of the experiment's dtype.

    ``x_*`` have shape (n, dim); ``y_*`` and ``f_*`` have shape (n,), or
    (n, outputs) for data sets with several outputs (one-hot float targets
    for classification). ``y_train_clean`` is ``y_train`` before label noise
    and ``flipped`` the boolean (n_train,) mask of the training labels it
    replaced (all false without label noise).
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    x_pop: torch.Tensor
    f_train: torch.Tensor
    f_pop: torch.Tensor
    f_test: torch.Tensor
    y_train_clean: torch.Tensor
    flipped: torch.Tensor


def target_function(spec: DataSpec, root: int, data_seed: int):
    """The true regression function f of a data seed, acting on float64 tensors.

    Parameters
    ----------
    spec : DataSpec
        The data section of the experiment.
    root : int
        Root seed (the ``teacher`` network is drawn from it).
    data_seed : int
        Data seed (the ``linear`` target's beta is drawn from it).

    Returns
    -------
    callable
        Maps an (n, dim) float64 tensor to an (n,) float64 tensor.
    """
    if spec.target == "exp_diff":
        return lambda x: torch.exp(x[:, 0] - x[:, 1])
    if spec.target == "sin_bump":
        return lambda x: torch.sin(x[:, 0]) + torch.exp(-x[:, 0] ** 2) / (1 + x[:, 0].abs())
    if spec.target == "quadratic":
        return lambda x: 1 + 2 * x[:, 0] - 3 * x[:, 0] ** 2
    if spec.target == "linear":
        g = normals(root, "target", data_seed, shape=(spec.dim,))
        if spec.blocks:  # ||beta_b||^2 = signal_b in each block
            index = torch.from_numpy(spec.block_arrays()[1])
            signal = torch.tensor([dict(b)["signal"] for b in spec.blocks], dtype=g.dtype)
            norm2 = torch.zeros_like(signal).index_add_(0, index, g**2)
            beta = g * (signal / norm2).sqrt()[index]
        else:
            beta = g * (spec.signal**0.5 / g.norm())
        return lambda x: x @ beta
    # teacher: fixed for the whole experiment (drawn from the root seed alone)
    m, d = spec.teacher_width, spec.dim
    z = normals(root, "target", shape=(m, d + 2))  # row j: w1_j, b1_j, w2_j
    w1, b1, w2 = z[:, :d] / d**0.5, z[:, d], z[:, d + 1] / m**0.5
    return lambda x: torch.tanh(x @ w1.T + b1) @ w2


def population_blocks(n_population: int) -> tuple[int, ...]:
    """Sizes of the replicate blocks of a population sample of ``n_population`` points.

    Parameters
    ----------
    n_population : int
        ``data.n_population``.

    Returns
    -------
    tuple of int
        ``min(POPULATION_REPLICATES, n_population)`` sizes that differ by at most
        one, larger first, summing to ``n_population`` (empty for 0); block ``k``
        is rows ``sum(sizes[:k]):sum(sizes[:k + 1])`` of ``x_pop``.
    """
    r = min(POPULATION_REPLICATES, n_population)
    return tuple(n_population // r + (k < n_population % r) for k in range(r))


def _sobol(dim: int, n: int, seed: int) -> np.ndarray:
    """The first ``n`` points of a scrambled Sobol sequence in [0, 1)^dim."""
    from scipy.stats import qmc  # scipy.stats takes a second to import: only when needed

    engine = qmc.Sobol(dim, scramble=True, rng=np.random.default_rng(seed))
    return engine.random_base2(max(0, n - 1).bit_length())[:n]


@functools.lru_cache(maxsize=4)
def _population_inputs(spec: DataSpec, root: int) -> torch.Tensor:
    """The population inputs, shared by all data seeds (cached: never modify in place)."""
    if spec.population == "iid":
        return _inputs(spec, spec.n_population, root, "x_pop")
    blocks = [_sobol(spec.dim, m, cell_seed(root, "x_pop", k))
              for k, m in enumerate(population_blocks(spec.n_population))]
    u = torch.from_numpy(np.concatenate(blocks) if blocks else np.empty((0, spec.dim)))
    if spec.input == "uniform":
        return u
    return _scaled(spec, torch.special.ndtri(u.clamp_(2.0**-40, 1 - 2.0**-40)))  # may hit 0


def _scaled(spec: DataSpec, x: torch.Tensor) -> torch.Tensor:
    """Standard normal inputs times each feature's block scale (unchanged without blocks)."""
    return x * torch.from_numpy(spec.block_arrays()[0]) if spec.blocks else x


def _inputs(spec: DataSpec, n: int, root: int, stream: str, *coords: int) -> torch.Tensor:
    """(n, dim) float64 inputs, row by row, from the stream of ``(root, stream, *coords)``."""
    if spec.input == "uniform":
        return uniforms_of(root, stream, *coords, shape=(n, spec.dim))
    return _scaled(spec, normals(root, stream, *coords, shape=(n, spec.dim)))


@functools.lru_cache(maxsize=2)
def real_data(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Features and targets of a scikit-learn data set, as read-only float64 arrays.

    ``digits``: 1,797 8x8 images scaled to [0, 1], one-hot labels (1797, 10).
    ``diabetes``: 442 x 10 features and the disease-progression target, each
    standardised to mean 0 and variance 1. ``mnist1d``: the 16,000 sequences
    of length 40 of :func:`mnist1d_arrays`, one-hot labels (16000, 10).
    """
    if name == "mnist1d":
        x, labels = mnist1d_arrays()
        x, y = x.copy(), np.eye(10)[labels]
        for a in (x, y):
            a.setflags(write=False)
        return x, y
    try:
        from sklearn import datasets
    except ImportError:  # pragma: no cover - depends on the environment
        raise ValueError(f"data.target = {name!r}: needs scikit-learn; "
                         f"pip install 'ddlab[real]'") from None
    if name == "digits":
        d = datasets.load_digits()
        x, y = d.data / 16.0, np.eye(10)[d.target]
    else:
        x, y = datasets.load_diabetes(return_X_y=True, scaled=False)
        x, y = (x - x.mean(0)) / x.std(0), (y - y.mean()) / y.std()
    for a in (x, y):  # cached: shared by every caller
        a.setflags(write=False)
    return x, y


#: Arguments of ``mnist1d.data.get_dataset_args`` changed for ddlab's pool of 16,000
MNIST1D_ARGS = {"num_samples": 16_000, "train_split": 1.0, "seed": 42}

_MNIST1D_SCRIPT = """
import json, sys
import numpy as np
from mnist1d.data import get_dataset_args, make_dataset
args = get_dataset_args()
for k, v in json.loads(sys.argv[1]).items():
    setattr(args, k, v)
d = make_dataset(args)
np.savez(sys.argv[2], x=np.asarray(d["x"], np.float64), y=np.asarray(d["y"], np.int64))
"""


def _digest(x: np.ndarray, labels: np.ndarray) -> str:
    return hashlib.sha256(x.tobytes() + labels.tobytes()).hexdigest()


def _load_mnist1d(path, key: str) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        with np.load(path) as f:
            x, labels, stored = f["x"], f["y"], str(f["checksum"])
            if str(f["key"]) != key or stored != _digest(x, labels):
                return None
            return x, labels
    except Exception:  # missing or unreadable: regenerate
        return None


@functools.lru_cache(maxsize=1)
def mnist1d_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The MNIST-1D pool: (16000, 40) float64 sequences and their (16000,) integer labels.

    Generated locally by ``mnist1d.data.make_dataset`` with
    :data:`MNIST1D_ARGS` (never downloaded) in a subprocess, so its reseeding
    of the global ``numpy``/``random`` state and its ``requests`` import stay
    out of this process; cached under :func:`ddlab.sim.cache_dir`
    ``/mnist1d/``, keyed by the generation arguments and checked by a checksum
    (a file failing either check is regenerated).

    Raises
    ------
    ImportError
        Without the ``mnist1d`` package (``pip install 'ddlab[real]'``).
    """
    from ._best import cache_dir

    if importlib.util.find_spec("mnist1d") is None:
        raise ImportError("data.target = 'mnist1d' needs the mnist1d package: "
                          "pip install 'ddlab[real]'")
    key = json.dumps(MNIST1D_ARGS, sort_keys=True)
    path = cache_dir() / "mnist1d" / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"
    cached = _load_mnist1d(path, key)
    if cached is not None:
        return cached
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = path.with_name(f".{path.stem}.raw.npz")
    subprocess.run([sys.executable, "-c", _MNIST1D_SCRIPT, key, str(raw)], check=True,
                   cwd=path.parent, stdout=subprocess.DEVNULL)
    with np.load(raw) as f:
        x, labels = f["x"], f["y"]
    partial = path.with_name(f".{path.stem}.partial.npz")
    np.savez(partial, x=x, y=labels, key=key, checksum=_digest(x, labels))
    os.replace(partial, path)
    raw.unlink()
    return x, labels


def flip_labels(labels: torch.Tensor, p: float, classes: int, root: int,
                data_seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Label noise: each label, with probability ``p``, replaced by a uniformly drawn other class.

    Parameters
    ----------
    labels : Tensor
        (n,) integer class labels in ``0 .. classes - 1``.
    p : float
        Flip probability, ``0 <= p <= 1``.
    classes : int
        Number of classes, ``>= 2``.
    root, data_seed : int
        Seeds: row ``i`` uses the words of row ``i`` of the data seed's own
        ``label_noise`` stream, so it does not depend on ``p`` or on later rows.

    Returns
    -------
    noisy : Tensor
        (n,) labels; ``noisy[i] != labels[i]`` exactly where ``flipped[i]``.
    flipped : Tensor
        (n,) boolean mask of the replaced labels.
    """
    u = uniforms_of(root, "label_noise", data_seed, shape=(len(labels), 2))
    flipped = u[:, 0] < p
    shift = 1 + (u[:, 1] * (classes - 1)).long()  # uniform on 1 .. classes - 1
    return torch.where(flipped, (labels + shift) % classes, labels), flipped


def _class_labels(spec: DataSpec, root: int, x: torch.Tensor) -> torch.Tensor:
    """The ``teacher_classes`` labels: argmax of a random tanh network fixed by the root seed.

    The network has no biases and sees standardised inputs (uniform inputs
    mapped to mean 0 and variance 1), so every logit is an odd function of a
    symmetric input: no class is favoured on average.
    """
    m, d, k = spec.teacher_width, spec.dim, spec.classes
    z = normals(root, "target", shape=(m, d + k))
    w1, w2 = z[:, :d] / d**0.5, z[:, d:] / m**0.5
    std = (x - 0.5) * 12**0.5 if spec.input == "uniform" else x
    return (torch.tanh(std @ w1.T) @ w2).argmax(dim=1)


def _pool_split(spec: DataSpec, root: int, data_seed: int):
    """Train and test inputs and targets: real data split per data seed, or synthetic."""
    if spec.target in REAL_TARGETS:
        x, y = (torch.tensor(a) for a in real_data(spec.target))
        perm = uniforms_of(root, "split", data_seed, shape=(len(x),)).argsort()
        tr, te = perm[:spec.n_train], perm[spec.n_train:spec.n_train + spec.n_test]
        return x[tr], y[tr], x[te], y[te]
    x_train = _inputs(spec, spec.n_train, root, "x_train", data_seed)
    x_test = _inputs(spec, spec.n_test, root, "x_test", data_seed)
    eye = torch.eye(spec.classes, dtype=torch.float64)
    return (x_train, eye[_class_labels(spec, root, x_train)], x_test,
            eye[_class_labels(spec, root, x_test)])


def _labelled_samples(spec: DataSpec, root: int, data_seed: int) -> Samples:
    """Real data and classification targets: no f, no population; labels maybe flipped."""
    x_train, y_clean, x_test, y_test = _pool_split(spec, root, data_seed)
    y_train, flipped = y_clean, torch.zeros(len(y_clean), dtype=torch.bool)
    if spec.target in CLASSIFICATION_TARGETS and spec.label_noise > 0:
        k = y_clean.shape[1]
        labels, flipped = flip_labels(y_clean.argmax(dim=1), spec.label_noise, k, root,
                                      data_seed)
        y_train = torch.eye(k, dtype=y_clean.dtype)[labels]
    empty = x_train.new_empty(0, x_train.shape[1])
    return Samples(x_train, y_train, x_test, y_test, empty, torch.full_like(y_train, torch.nan),
                   y_train.new_empty((0, *y_train.shape[1:])),
                   torch.full_like(y_test, torch.nan), y_clean, flipped)


def make_data(experiment, data_seed: int) -> Samples:
    """Draw the samples of one data seed.

    Each sample comes from its own random stream, seeded by the root seed and
    ``data_seed``, so changing ``n_test`` or ``n_population`` leaves the
    training set unchanged. Values are drawn in float64 and then cast to the
    experiment's dtype.

    Parameters
    ----------
    experiment : Experiment or mapping or path
        The experiment (anything :func:`ddlab.load_experiment` accepts).
    data_seed : int
        Which data set, ``0 <= data_seed``.

    Returns
    -------
    Samples
        Named tuple ``x_train, y_train, x_test, y_test, x_pop, f_train, f_pop,
        f_test, y_train_clean, flipped``; ``y = f(x) + noise * N(0, 1)``. The
        population inputs ``x_pop`` are the same for every data seed, so
        averages over data sets compare predictions at common points; they are
        empty when ``n_population = 0``, and consist of the replicate blocks
        of :func:`population_blocks`.
        For real data (``digits``, ``diabetes``, ``mnist1d``) the split into
        train and test is fixed per data seed, ``y`` has one column per output,
        and the unknown ``f_*`` are NaN, as for ``teacher_classes``. For
        classification targets ``y`` is one-hot; with ``label_noise = p`` each
        training label is replaced with probability p by a uniformly drawn
        other class (:func:`flip_labels`), test labels stay clean.
    """
    exp: Experiment = load_experiment(experiment)
    if exp.sweep:
        keys = ", ".join(str(k) for k, _ in exp.sweep)
        raise ValueError(f"experiment {exp.name!r}: {keys} swept; make_data needs one point "
                         f"(exp.point(index))")
    spec, root = exp.data, exp.seeds.root
    dtype = getattr(torch, exp.train.dtype)
    if spec.target in REAL_TARGETS or spec.target in CLASSIFICATION_TARGETS:
        out = _labelled_samples(spec, root, data_seed)
    else:
        f = target_function(spec, root, data_seed)
        x_train = _inputs(spec, spec.n_train, root, "x_train", data_seed)
        x_test = _inputs(spec, spec.n_test, root, "x_test", data_seed)
        x_pop = _population_inputs(spec, root)
        e_train = normals(root, "noise_train", data_seed, shape=(spec.n_train,))
        e_test = normals(root, "noise_test", data_seed, shape=(spec.n_test,))
        f_train, f_test, f_pop = f(x_train), f(x_test), f(x_pop)
        y_train = f_train + spec.noise * e_train
        out = Samples(x_train, y_train, x_test, f_test + spec.noise * e_test, x_pop, f_train,
                      f_pop, f_test, y_train, torch.zeros(spec.n_train, dtype=torch.bool))
    # fresh tensors every call: .to() of a float64 tensor would return the cached one itself
    return Samples(*(t.to(dtype, copy=True) for t in out[:-1]), out.flipped.clone())
