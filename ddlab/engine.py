"""Batched training engine: many MLP cells of one data set trained in one set of tensor ops.

Layout
------
The cells of a chunk share one data seed and are sorted by width. All their
first-layer hidden units are concatenated, so the first layer of every cell is
one matrix multiply ``X @ W1.T`` of shape (n, H). Cells of equal width form a
*bucket*; layers after the first are batched per bucket (``bmm``). All
parameters live in one flat buffer, and so do their gradients and the
optimiser state, so an optimiser step is a handful of elementwise ops whatever
the number of cells.

The backward pass is written by hand. It computes, per cell, exactly the
gradient autograd would compute for that cell's loss, and the optimisers
reproduce ``torch.optim`` update rules; ``tests/test_equivalence.py`` pins both
against a plain one-model loop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ._seeding import cell_seed
from .data import make_data
from .experiment import Experiment
from .models import ACTIVATION, init_params

__all__ = ["METRICS", "train_chunk"]

Tensor = torch.Tensor

#: Metric names recorded by the engine, in output order.
METRICS = ("train_loss", "test_loss", "f_error_train", "f_error")

_EVAL_ELEMENTS = 1 << 21  # rows x hidden units per evaluation slab (stays in cache)
_SHUFFLE_BLOCK = 16  # epochs of minibatch order drawn at a time


@dataclass(frozen=True)
class _Bucket:
    width: int
    cells: slice  # range of cells within the chunk
    units: slice  # range of first-layer hidden units
    deep: list[tuple[slice, slice]]  # per extra hidden layer: (weight, bias) flat ranges
    out_w: slice
    out_b: slice


class _Layout:
    """Flat-buffer layout of the parameters of cells sorted by width."""

    def __init__(self, widths: Sequence[int], dim: int, depth: int):
        self.dim, self.depth = dim, depth
        self.n_cells = len(widths)
        self.n_units = int(sum(widths))
        pos = self.n_units * dim + self.n_units
        self.buckets: list[_Bucket] = []
        cell = unit = 0
        for w in sorted(set(widths)):
            c = sum(1 for v in widths if v == w)
            deep = []
            for _ in range(depth - 1):
                mid, end = pos + c * w * w, pos + c * w * (w + 1)
                deep.append((slice(pos, mid), slice(mid, end)))
                pos += c * w * (w + 1)
            self.buckets.append(_Bucket(
                w, slice(cell, cell + c), slice(unit, unit + c * w), deep,
                slice(pos, pos + c * w), slice(pos + c * w, pos + c * w + c)))
            pos += c * w + c
            cell += c
            unit += c * w
        self.size = pos

    def first(self, buf: Tensor) -> tuple[Tensor, Tensor]:
        h, d = self.n_units, self.dim
        return buf[:h * d].view(h, d), buf[h * d:h * d + h]

    def deep(self, buf: Tensor, b: _Bucket, k: int) -> tuple[Tensor, Tensor]:
        c, w = b.cells.stop - b.cells.start, b.width
        ws, bs = b.deep[k]
        return buf[ws].view(c, w, w), buf[bs].view(c, w)

    def out(self, buf: Tensor, b: _Bucket) -> tuple[Tensor, Tensor]:
        c, w = b.cells.stop - b.cells.start, b.width
        return buf[b.out_w].view(c, w), buf[b.out_b]

    def pack(self, cells: list[list[tuple[Tensor, Tensor]]]) -> Tensor:
        """Flat buffer from per-cell (weight, bias) lists, cells in chunk order."""
        parts = [torch.cat([p[0][0] for p in cells]).reshape(-1),
                 torch.cat([p[0][1] for p in cells])]
        for b in self.buckets:
            group = cells[b.cells]
            for k in range(1, self.depth):
                parts += [torch.stack([p[k][0] for p in group]).reshape(-1),
                          torch.stack([p[k][1] for p in group]).reshape(-1)]
            parts += [torch.stack([p[-1][0][0] for p in group]).reshape(-1),
                      torch.cat([p[-1][1] for p in group])]
        return torch.cat(parts)


class _Net:
    """Forward and hand-written backward of all cells of a chunk."""

    def __init__(self, layout: _Layout, activation: str):
        self.layout = layout
        self.act, _, self.dact = ACTIVATION[activation]

    def forward(self, params: Tensor, x: Tensor, out: Tensor | None = None):
        """Outputs (cells, rows) for inputs x (rows, dim), and what backward needs."""
        lay = self.layout
        w1, b1 = lay.first(params)
        z1 = torch.addmm(b1, x, w1.t())
        a1 = self.act(z1)
        n = x.shape[0]
        if out is None:
            out = x.new_empty(lay.n_cells, n)
        hidden = []
        for b in lay.buckets:
            c = b.cells.stop - b.cells.start
            h = a1[:, b.units].view(n, c, b.width).transpose(0, 1)
            trace = [(None, h)]
            for k in range(lay.depth - 1):
                wk, bk = lay.deep(params, b, k)
                z = torch.baddbmm(bk.unsqueeze(1), h, wk.transpose(1, 2))
                h = self.act(z)
                trace.append((z, h))
            wo, bo = lay.out(params, b)
            torch.sum(h * wo.unsqueeze(1), dim=2, out=out[b.cells])
            out[b.cells] += bo.unsqueeze(1)
            hidden.append(trace)
        return out, (x, z1, a1, hidden)

    def backward(self, params: Tensor, cache, dout: Tensor, grad: Tensor) -> None:
        """Write into ``grad`` the gradient of sum_c loss_c given dout = dloss_c/dout_c."""
        lay = self.layout
        x, z1, a1, hidden = cache
        n = x.shape[0]
        da1 = torch.empty_like(a1)
        for b, trace in zip(lay.buckets, hidden, strict=True):
            c = b.cells.stop - b.cells.start
            g = dout[b.cells]  # (c, n)
            h = trace[-1][1]
            gwo, gbo = lay.out(grad, b)
            torch.sum(g.unsqueeze(2) * h, dim=1, out=gwo)
            torch.sum(g, dim=1, out=gbo)
            wo, _ = lay.out(params, b)
            dh = g.unsqueeze(2) * wo.unsqueeze(1)  # (c, n, w)
            for k in range(lay.depth - 2, -1, -1):
                z, h = trace[k + 1]
                dz = dh * self.dact(z, h)
                gwk, gbk = lay.deep(grad, b, k)
                torch.bmm(dz.transpose(1, 2), trace[k][1], out=gwk)
                torch.sum(dz, dim=1, out=gbk)
                wk, _ = lay.deep(params, b, k)
                dh = torch.bmm(dz, wk)
            da1[:, b.units].view(n, c, b.width).copy_(dh.transpose(0, 1))
        dz1 = da1.mul_(self.dact(z1, a1))
        gw1, gb1 = lay.first(grad)
        torch.mm(dz1.t(), x, out=gw1)
        torch.sum(dz1, dim=0, out=gb1)


class _Optimizer:
    """torch.optim update rules applied to one flat parameter buffer."""

    def __init__(self, spec, params: Tensor):
        self.spec = spec
        self.step_count = 0
        zeros = torch.zeros_like
        self.m = zeros(params) if spec.optimizer in ("adam", "adamw") or spec.momentum else None
        self.v = zeros(params) if spec.optimizer in ("adam", "adamw", "rmsprop") else None

    def step(self, p: Tensor, g: Tensor) -> None:
        s = self.spec
        self.step_count += 1
        t = self.step_count
        if s.weight_decay and s.optimizer != "adamw":
            g = g.add(p, alpha=s.weight_decay)
        if s.optimizer == "sgd":
            if s.momentum:
                if t == 1:
                    self.m.copy_(g)
                else:
                    self.m.mul_(s.momentum).add_(g)
                g = g.add(self.m, alpha=s.momentum) if s.nesterov else self.m
            p.add_(g, alpha=-s.lr)
        elif s.optimizer == "rmsprop":
            self.v.mul_(s.alpha).addcmul_(g, g, value=1 - s.alpha)
            avg = self.v.sqrt().add_(s.eps)
            if s.momentum:
                self.m.mul_(s.momentum).addcdiv_(g, avg)
                p.add_(self.m, alpha=-s.lr)
            else:
                p.addcdiv_(g, avg, value=-s.lr)
        else:  # adam, adamw
            beta1, beta2 = s.betas
            if s.optimizer == "adamw" and s.weight_decay:
                p.mul_(1 - s.lr * s.weight_decay)
            self.m.lerp_(g, 1 - beta1)
            self.v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            step_size = s.lr / (1 - beta1**t)
            denom = (self.v.sqrt() / math.sqrt(1 - beta2**t)).add_(s.eps)
            p.addcdiv_(self.m, denom, value=-step_size)


def _sq_errors(net: _Net, params: Tensor, x: Tensor, targets: Sequence[Tensor]) -> list[Tensor]:
    """Mean squared error of every cell against each target, over the rows of x, in slabs."""
    rows = max(1, _EVAL_ELEMENTS // max(1, net.layout.n_units))
    sums = [x.new_zeros(net.layout.n_cells) for _ in targets]
    for start in range(0, x.shape[0], rows):
        pred, _ = net.forward(params, x[start:start + rows])
        for acc, t in zip(sums, targets, strict=True):
            acc += (pred - t[start:start + rows]).square_().sum(dim=1)
    n = max(1, x.shape[0])
    return [acc / n for acc in sums]


def _loss_grad(kind: str, pred: Tensor, y: Tensor, weight: Tensor | float) -> Tensor:
    r = pred - y
    return (r.mul_(2) if kind == "mse" else r.sign_()).mul_(weight)


def train_chunk(experiment: Experiment, data_seed: int, cells: Sequence[tuple[int, int]],
                device: str = "cpu") -> dict[str, np.ndarray]:
    """Train the cells ``(width, init_seed)`` of one data seed together.

    Parameters
    ----------
    experiment : Experiment
    data_seed : int
    cells : sequence of (int, int)
        The (width, init_seed) pairs to train; any order.
    device : str
        torch device.

    Returns
    -------
    dict of str to ndarray
        For each name in :data:`METRICS` that the experiment records, a float64
        array of shape (len(experiment.epochs), len(cells)), cells in the order given.
    """
    exp = experiment
    tr = exp.train
    order = sorted(range(len(cells)), key=lambda i: (cells[i][0], cells[i][1]))
    sorted_cells = [cells[i] for i in order]
    widths = [w for w, _ in sorted_cells]
    dtype = getattr(torch, tr.dtype)
    layout = _Layout(widths, exp.data.dim, exp.model.depth)
    net = _Net(layout, exp.model.activation)
    params = layout.pack([init_params(exp, w, data_seed, s) for w, s in sorted_cells])
    params = params.to(device=device, dtype=dtype)
    grad = torch.zeros_like(params)
    opt = _Optimizer(tr, params)
    s = make_data(exp, data_seed)
    x_train, y_train, x_test, y_test, x_pop, f_train, f_pop, _ = (
        t.to(device) for t in s)
    n = x_train.shape[0]
    record = exp.epochs
    rec_index = {e: i for i, e in enumerate(record)}
    names = [m for m in METRICS if m != "f_error" or exp.data.n_population > 0]
    res = {m: torch.full((len(record), len(cells)), torch.nan, dtype=torch.float64)
           for m in names}

    def store(name: str, epoch: int, value: Tensor) -> None:
        res[name][rec_index[epoch]] = value.to("cpu", torch.float64)

    def evaluate(epoch: int, train_pred: Tensor | None) -> None:
        if train_pred is None:
            tl, ft = _sq_errors(net, params, x_train, [y_train, f_train])
        else:
            tl = (train_pred - y_train).square().mean(dim=1)
            ft = (train_pred - f_train).square().mean(dim=1)
        store("train_loss", epoch, tl)
        store("f_error_train", epoch, ft)
        store("test_loss", epoch, _sq_errors(net, params, x_test, [y_test])[0])
        if "f_error" in res:
            store("f_error", epoch, _sq_errors(net, params, x_pop, [f_pop])[0])

    out = x_train.new_empty(len(cells), n)
    if tr.batch_size is None or tr.batch_size >= n:
        for epoch in range(tr.epochs + 1):
            pred, cache = net.forward(params, x_train, out)
            if epoch in rec_index:
                evaluate(epoch, pred)
            if epoch == tr.epochs:
                break
            net.backward(params, cache, _loss_grad(tr.loss, pred, y_train, 1.0 / n), grad)
            opt.step(params, grad)
    else:
        gens = [torch.Generator().manual_seed(cell_seed(exp.seeds.root, "shuffle", w, data_seed, i))
                for w, i in sorted_cells]
        bs = tr.batch_size
        weight = x_train.new_zeros(len(cells), n)
        for epoch in range(tr.epochs + 1):
            if epoch in rec_index:
                evaluate(epoch, None)
            if epoch == tr.epochs:
                break
            if epoch % _SHUFFLE_BLOCK == 0:
                block = min(_SHUFFLE_BLOCK, tr.epochs - epoch)
                perms = torch.stack([torch.rand(block, n, generator=g, dtype=torch.float64)
                                     for g in gens]).argsort(dim=2).to(device)
            perm = perms[:, epoch % _SHUFFLE_BLOCK]
            for start in range(0, n, bs):
                idx = perm[:, start:start + bs]
                weight.zero_().scatter_(1, idx, 1.0 / idx.shape[1])
                pred, cache = net.forward(params, x_train, out)
                net.backward(params, cache, _loss_grad(tr.loss, pred, y_train, weight), grad)
                opt.step(params, grad)
    inverse = np.argsort(order)
    return {m: v.numpy()[:, inverse] for m, v in res.items()}
