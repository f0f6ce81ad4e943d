"""Network definitions: activations with their derivatives, per-cell initialisation, make_model.

A cell's initial parameters are PyTorch's default ``nn.Linear`` initialisation,
U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases, drawn from one
float64 uniform stream seeded by the cell's coordinates. :func:`make_model`
and the batched engine both use :func:`init_params`, so they agree exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from ..config import Experiment, layer_shapes, load_experiment
from ._seeding import cell_seeds, uniforms, uniforms_of

__all__ = [
    "ACTIVATION", "Activation", "Cos", "cell_uniforms", "feature_params", "init_params",
    "make_model", "many_cell_uniforms", "minibatch_order", "shuffle_keys", "shuffle_seeds",
]

Tensor = torch.Tensor


class Cos(nn.Module):
    """Elementwise cosine (the activation of random Fourier features)."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.cos(x)


class Activation(NamedTuple):
    """An activation: its function, its torch module, an in-place variant, its derivative."""

    fn: Callable[[Tensor], Tensor]
    module: type[nn.Module]
    inplace: Callable[[Tensor], Tensor]
    derivative: Callable[[Tensor, Tensor], Tensor]  # given z and a = fn(z)

    def into(self, z: Tensor, out: Tensor) -> Tensor:
        """fn(z) written into ``out`` (a preallocated buffer: no fresh pages to fault in)."""
        if self.fn is torch.relu:
            return torch.clamp_min(z, 0, out=out)
        return self.inplace(out.copy_(z))

    def backprop(self, grad: Tensor, z: Tensor, a: Tensor) -> Tensor:
        """grad * derivative(z, a), computed in place in ``grad``."""
        if self.fn is torch.relu:  # one fused op, as autograd does
            return torch.ops.aten.threshold_backward.grad_input(grad, a, 0, grad_input=grad)
        return grad.mul_(self.derivative(z, a))


ACTIVATION: dict[str, Activation] = {
    "relu": Activation(torch.relu, nn.ReLU, torch.relu_, lambda z, a: (z > 0).to(z.dtype)),
    "tanh": Activation(torch.tanh, nn.Tanh, torch.tanh_, lambda z, a: 1 - a * a),
    "sigmoid": Activation(torch.sigmoid, nn.Sigmoid, torch.sigmoid_, lambda z, a: a * (1 - a)),
    "softplus": Activation(
        F.softplus, nn.Softplus, lambda z: z.copy_(F.softplus(z)),
        lambda z, a: torch.where(z > 20, 1.0, torch.sigmoid(z)).to(z.dtype)),
    "elu": Activation(F.elu, nn.ELU, lambda z: F.elu(z, inplace=True),
                      lambda z, a: torch.where(z > 0, 1.0, a + 1).to(z.dtype)),
    "softsign": Activation(F.softsign, nn.Softsign, lambda z: z.div_(1 + z.abs()),
                           lambda z, a: (1 + z.abs()).pow(-2)),
    "identity": Activation(lambda z: z, nn.Identity, lambda z: z,
                           lambda z, a: torch.ones_like(z)),
    "cos": Activation(torch.cos, Cos, torch.cos_, lambda z, a: -torch.sin(z)),
}


def cell_uniforms(experiment: Experiment, width: int, data_seed: int,
                  init_seed: int) -> Tensor:
    """The raw float64 U(0, 1) draws behind one cell's initial parameters.

    Layer by layer, each weight (row-major) then its bias, as in
    :func:`init_params`.
    """
    return many_cell_uniforms(experiment, [(width, data_seed, init_seed)])


def many_cell_uniforms(experiment: Experiment, cells: Sequence[tuple[int, int, int]]) -> Tensor:
    """:func:`cell_uniforms` of many ``(width, data_seed, init_seed)`` cells, concatenated.

    Each cell's are the first ``n_params(width)`` values of its ``init`` stream
    (:func:`ddlab.sim._seeding.uniforms`); one flat tensor, not a tensor per
    cell (creating 10^5 tensors costs a quarter of a second).
    """
    seeds = cell_seeds(experiment.seeds.root, "init", cells)
    size = {w: experiment.n_params(w) for w in {c[0] for c in cells}}
    return uniforms(seeds, [size[width] for width, _, _ in cells])


def feature_params(experiment: Experiment, width: int, data_seed: int,
                   init_seed: int) -> tuple[Tensor, Tensor]:
    """The fixed first layer (W, b) of a ``linear`` or ``random_features`` cell, in float64.

    ``linear``: the first ``width`` coordinates (W = rows of the identity, b = 0).
    ``random_features``: rows w_j ~ N(0, I / dim), from a stream of the data and
    init seeds only, so a narrower cell's features are the first rows of a
    wider one's (nested); b_j ~ U[0, 2 pi) for ``cos`` (random Fourier
    features), else b = 0.
    """
    d = experiment.data.dim
    if experiment.model.family == "linear":
        return torch.eye(d, dtype=torch.float64)[:width], torch.zeros(width, dtype=torch.float64)
    u = uniforms_of(experiment.seeds.root, "features", data_seed, init_seed, shape=(width, d + 1))
    w = torch.special.ndtri(u[:, :d]) / d**0.5
    cos = experiment.model.activation == "cos"
    return w, (2 * torch.pi * u[:, d]) if cos else torch.zeros(width, dtype=torch.float64)


def init_params(experiment: Experiment, width: int, data_seed: int,
                init_seed: int) -> list[tuple[Tensor, Tensor]]:
    """Initial (weight, bias) pairs of one cell, in float64.

    ``mlp``: every entry is ``(2 u - 1) / sqrt(fan_in)`` with ``u`` from
    :func:`cell_uniforms`: PyTorch's default ``nn.Linear`` initialisation.
    ``linear`` and ``random_features``: the fixed first layer of
    :func:`feature_params`, then a zero output layer (gradient descent from
    zero; only the output weights are trained, there is no output bias).

    Parameters
    ----------
    experiment : Experiment
    width : int
        Hidden width of the cell.
    data_seed, init_seed : int
        The cell's seeds.

    Returns
    -------
    list of (Tensor, Tensor)
        One pair per ``Linear`` layer, weight of shape (out, in), bias (out,).
    """
    if experiment.model.family != "mlp":
        k = experiment.outputs
        zeros = torch.zeros(k, width, dtype=torch.float64), torch.zeros(k, dtype=torch.float64)
        return [feature_params(experiment, width, data_seed, init_seed), zeros]
    u = cell_uniforms(experiment, width, data_seed, init_seed).mul_(2).sub_(1)
    out, pos = [], 0
    for o, i in layer_shapes(experiment.data.dim, width, experiment.model.depth,
                             experiment.outputs):
        bound = i**-0.5
        w = u[pos:pos + o * i].view(o, i) * bound
        b = u[pos + o * i:pos + o * i + o] * bound
        pos += o * i + o
        out.append((w, b))
    return out


def make_model(experiment, width: int, data_seed: int, init_seed: int) -> nn.Sequential:
    """The network of one cell, holding exactly the initial parameters ``run`` uses.

    Parameters
    ----------
    experiment : Experiment or mapping or path
    width : int
        Hidden width.
    data_seed, init_seed : int
        The cell's seeds.

    Returns
    -------
    torch.nn.Sequential
        ``Linear``/activation layers in the experiment's dtype. For the
        ``linear`` and ``random_features`` families the first layer and the
        output bias are frozen (``requires_grad = False``).
    """
    exp = load_experiment(experiment)
    dtype = getattr(torch, exp.train.dtype)
    act = ACTIVATION[exp.model.activation].module
    layers: list[nn.Module] = []
    for k, (w, b) in enumerate(init_params(exp, width, data_seed, init_seed)):
        lin = nn.Linear(w.shape[1], w.shape[0], dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(w)
            lin.bias.copy_(b)
        layers.append(lin)
        if k < exp.model.depth:
            layers.append(act())
    if exp.model.family != "mlp":  # fixed features, no output bias: only the output weights learn
        layers[0].requires_grad_(False)
        layers[-1].bias.requires_grad_(False)
    return nn.Sequential(*layers)


def minibatch_order(experiment, width: int, data_seed: int, init_seed: int) -> Tensor:
    """The order in which one cell visits its training points, epoch by epoch.

    Epoch ``e`` visits ``order[e]`` in consecutive slices of ``batch_size``
    (the last one may be shorter). The permutations are argsorts of uniforms
    drawn from a shuffle stream: the cell's own (``train.shuffle = "cell"``),
    or its data set's, shared by every cell of that data seed
    (``train.shuffle = "data"``), in which case the order depends on the root
    seed and ``data_seed`` only.

    Parameters
    ----------
    experiment : Experiment or mapping or path
    width, data_seed, init_seed : int
        The cell's coordinates.

    Returns
    -------
    Tensor
        int64 of shape (epochs, n_train).
    """
    exp = load_experiment(experiment)
    seeds = shuffle_seeds(exp, [(width, data_seed, init_seed)])
    return shuffle_keys(seeds, 0, exp.train.epochs, exp.data.n_train)[0].argsort(dim=1)


def shuffle_seeds(experiment: Experiment, cells: Sequence[tuple[int, int, int]]) -> list[int]:
    """The seeds of the shuffle streams of ``(width, data_seed, init_seed)`` cells.

    One stream per cell, or with ``train.shuffle = "data"`` one per distinct
    data seed, in order of first appearance. See :func:`minibatch_order`.
    """
    if experiment.train.shuffle == "data":
        coords = [(d,) for d in dict.fromkeys(d for _, d, _ in cells)]
    else:
        coords = list(cells)
    return cell_seeds(experiment.seeds.root, "shuffle", coords)


def shuffle_keys(seeds: Sequence[int], start: int, epochs: int, n: int) -> Tensor:
    """The uniform sort keys of epochs ``start .. start + epochs`` of shuffle streams.

    Epoch ``e`` of a stream is its values ``e n .. (e + 1) n``, drawn directly:
    the keys of epochs [start, start + E) are rows ``start .. start + E`` of the
    keys drawn from epoch 0, however the epochs are split into calls.

    Parameters
    ----------
    seeds : sequence of int
        Shuffle stream seeds (:func:`shuffle_seeds`).
    start, epochs : int
        The first epoch and how many.
    n : int
        Training points (keys per epoch).

    Returns
    -------
    Tensor
        float64 of shape (len(seeds), epochs, n).
    """
    return uniforms(seeds, [epochs * n] * len(seeds), start * n).view(len(seeds), epochs, n)
