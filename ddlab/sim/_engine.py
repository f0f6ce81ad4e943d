"""Batched training engine: many networks of one data set trained in one set of tensor ops.

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

from ..config import Experiment, mlp_n_params
from ..results import metric_names, records_predictions
from ._data import make_data
from ._models import (
    ACTIVATION,
    init_params,
    many_cell_uniforms,
    shuffle_generators,
    shuffle_keys,
)

__all__ = ["PopulationStats", "train_chunk"]

Tensor = torch.Tensor

#: rows x hidden units per evaluation slab: stays in cache on CPU, fills the GPU on CUDA
_EVAL_ELEMENTS = {"cpu": 1 << 20, "cuda": 1 << 26}
_SHUFFLE_BLOCK = 16  # epochs of minibatch order drawn at a time


@dataclass(frozen=True)
class _Bucket:
    width: int
    cells: slice  # range of cells within the chunk
    units: slice  # range of first-layer hidden units
    deep: list[tuple[slice, slice]]  # per extra hidden layer: (weight, bias) flat ranges

    @property
    def n_cells(self) -> int:
        return self.cells.stop - self.cells.start


class _Layout:
    """Flat-buffer layout of the parameters of cells sorted by width.

    ``[W1^T (d, H) | b1 (H) | per bucket and extra layer: W (c, w, w), b (c, w) |
    w_out (H) | b_out (C)]``: first-layer weights and output weights are aligned
    with the H concatenated hidden units, output biases with the C cells. The
    first layer is stored transposed because its gradient ``x^T dZ^T`` is several
    times faster in that orientation for skinny inputs.
    """

    def __init__(self, widths: Sequence[int], dim: int, depth: int):
        self.widths = np.asarray(widths, dtype=np.int64)
        self.dim, self.depth = dim, depth
        self.n_cells = len(widths)
        self.n_units = int(self.widths.sum())
        h = self.n_units
        pos = h * dim + h
        self.buckets: list[_Bucket] = []
        cell = unit = 0
        for w in np.unique(self.widths).tolist():
            c = int((self.widths == w).sum())
            deep = []
            for _ in range(depth - 1):
                mid, end = pos + c * w * w, pos + c * w * (w + 1)
                deep.append((slice(pos, mid), slice(mid, end)))
                pos = end
            self.buckets.append(_Bucket(w, slice(cell, cell + c), slice(unit, unit + c * w), deep))
            cell += c
            unit += c * w
        self.out_slice = slice(pos, pos + h)
        self.size = pos + h + self.n_cells
        self.cell_of_unit = torch.repeat_interleave(torch.arange(self.n_cells),
                                                    torch.from_numpy(self.widths))

    def first(self, buf: Tensor) -> tuple[Tensor, Tensor]:
        h, d = self.n_units, self.dim
        return buf[:h * d].view(d, h), buf[h * d:h * d + h]

    def deep(self, buf: Tensor, b: _Bucket, k: int) -> tuple[Tensor, Tensor]:
        ws, bs = b.deep[k]
        return buf[ws].view(b.n_cells, b.width, b.width), buf[bs].view(b.n_cells, b.width)

    def out(self, buf: Tensor) -> tuple[Tensor, Tensor]:
        return buf[self.out_slice], buf[self.out_slice.stop:self.size]

    def gather(self) -> tuple[np.ndarray, np.ndarray]:
        """Where each flat entry comes from in the concatenated per-cell uniforms, and its bound.

        Each cell's uniforms are laid out layer by layer (weight row-major, then
        bias), as :func:`ddlab.models.cell_uniforms` draws them.
        """
        d, depth, widths = self.dim, self.depth, self.widths
        sizes = {int(w): mlp_n_params(d, int(w), depth) for w in np.unique(widths)}
        n_par = np.array([sizes[int(w)] for w in widths], dtype=np.int64)
        offset = np.concatenate([[0], np.cumsum(n_par)[:-1]])
        index: list[np.ndarray] = []
        bound: list[np.ndarray] = []

        def take(b: _Bucket, start: int, length: int, fan_in: int) -> None:
            rows = offset[b.cells][:, None] + start + np.arange(length)
            index.append(rows.ravel())
            bound.append(np.full(rows.size, fan_in**-0.5))

        first = [(offset[b.cells][:, None] + np.arange(b.width * d)).reshape(-1, d)
                 for b in self.buckets]
        index.append(np.concatenate(first).T.ravel())  # stored transposed: (d, H)
        bound.append(np.full(self.n_units * d, d**-0.5))
        for b in self.buckets:
            take(b, b.width * d, b.width, d)
        for b in self.buckets:
            for k in range(depth - 1):
                start = b.width * (d + 1) + k * b.width * (b.width + 1)
                take(b, start, b.width * b.width, b.width)
                take(b, start + b.width * b.width, b.width, b.width)
        for b in self.buckets:
            take(b, b.width * (d + 1) + (depth - 1) * b.width * (b.width + 1), b.width, b.width)
        index.append(offset + n_par - 1)
        bound.append(widths ** -0.5)
        return np.concatenate(index), np.concatenate(bound)


class _Net:
    """Forward and hand-written backward of all cells of a chunk.

    Activations are feature-major: (hidden units, rows).
    """

    def __init__(self, layout: _Layout, activation: str, device: str):
        self.layout = layout
        self.act = ACTIVATION[activation]
        self.cell_of_unit = layout.cell_of_unit.to(device)

    def forward(self, params: Tensor, x: Tensor, scratch: Tensor | None = None):
        """Outputs (cells, rows) for inputs x (rows, dim), and what backward needs.

        Given a ``scratch`` buffer of at least H x rows elements, nothing is kept
        for backward and the first layer is computed in place in it, which is
        several times faster for large evaluation slabs.
        """
        lay = self.layout
        keep = scratch is None
        act = self.act.fn if keep else self.act.inplace
        w1t, b1 = lay.first(params)
        z1 = None if keep else scratch[:lay.n_units * x.shape[0]].view(lay.n_units, x.shape[0])
        z1 = torch.addmm(b1.unsqueeze(1), w1t.t(), x.t(), out=z1)
        a1 = act(z1)
        rows = x.shape[0]
        traces = []
        last = a1
        if lay.depth > 1:
            last = torch.empty_like(a1)
            for b in lay.buckets:
                h = a1[b.units].view(b.n_cells, b.width, rows)
                trace = [(None, h)]
                for k in range(lay.depth - 1):
                    wk, bk = lay.deep(params, b, k)
                    z = torch.baddbmm(bk.unsqueeze(2), wk, h)
                    h = act(z)
                    trace.append((z, h))
                last[b.units].view(b.n_cells, b.width, rows).copy_(h)
                traces.append(trace)
        wo, bo = lay.out(params)
        prod = last * wo.unsqueeze(1) if keep else last.mul_(wo.unsqueeze(1))
        out = x.new_empty(lay.n_cells, rows)
        for b in lay.buckets:
            torch.sum(prod[b.units].view(b.n_cells, b.width, rows), dim=1, out=out[b.cells])
        out += bo.unsqueeze(1)
        return out, (x, z1, a1, traces, last)

    def backward(self, params: Tensor, cache, g: Tensor, grad: Tensor) -> None:
        """Write into ``grad`` the gradient of sum_c loss_c, given g = dloss_c/dout_c.

        ``g`` has shape (cells, n); only the first n rows of the cached forward
        pass (the training rows) enter the gradient.
        """
        lay = self.layout
        x, z1, a1, traces, last = cache
        n = g.shape[1]
        x, z1, a1, last = x[:n], z1[:, :n], a1[:, :n], last[:, :n]
        wo, _ = lay.out(params)
        gwo, gbo = lay.out(grad)
        dlast = g.index_select(0, self.cell_of_unit)  # (H, n)
        torch.sum(dlast * last, dim=1, out=gwo)
        torch.sum(g, dim=1, out=gbo)
        dlast.mul_(wo.unsqueeze(1))
        da1 = dlast
        if lay.depth > 1:
            da1 = torch.empty_like(dlast)
            for b, trace in zip(lay.buckets, traces, strict=True):
                dh = dlast[b.units].view(b.n_cells, b.width, n)
                for k in range(lay.depth - 2, -1, -1):
                    z, h = (t[..., :n] for t in trace[k + 1])
                    dz = self.act.backprop(dh.clone(), z, h)
                    gwk, gbk = lay.deep(grad, b, k)
                    torch.bmm(dz, trace[k][1][..., :n].transpose(1, 2), out=gwk)
                    torch.sum(dz, dim=2, out=gbk)
                    wk, _ = lay.deep(params, b, k)
                    dh = torch.bmm(wk.transpose(1, 2), dz)
                da1[b.units].view(b.n_cells, b.width, n).copy_(dh)
        dz1 = self.act.backprop(da1, z1, a1)
        gw1t, gb1 = lay.first(grad)
        torch.mm(x.t(), dz1.t(), out=gw1t)
        torch.sum(dz1, dim=1, out=gb1)


class _Optimizer:
    """torch.optim update rules applied to one flat parameter buffer.

    ``lr`` and ``weight_decay`` are floats, or tensors with one entry per
    parameter when cells of one chunk use different values.
    """

    def __init__(self, spec, params: Tensor, lr: float | Tensor, weight_decay: float | Tensor):
        self.spec, self.lr, self.wd = spec, lr, weight_decay
        self.decay = isinstance(weight_decay, Tensor) or weight_decay != 0
        self.step_count = 0
        zeros = torch.zeros_like
        self.m = zeros(params) if spec.optimizer in ("adam", "adamw") or spec.momentum else None
        self.v = zeros(params) if spec.optimizer in ("adam", "adamw", "rmsprop") else None

    def step(self, p: Tensor, g: Tensor) -> None:
        s, lr = self.spec, self.lr
        self.step_count += 1
        t = self.step_count
        if self.decay and s.optimizer != "adamw":
            g = g + p * self.wd
        if s.optimizer == "sgd":
            if s.momentum:
                if t == 1:
                    self.m.copy_(g)
                else:
                    self.m.mul_(s.momentum).add_(g)
                g = g.add(self.m, alpha=s.momentum) if s.nesterov else self.m
            p.sub_(g * lr)
        elif s.optimizer == "rmsprop":
            self.v.mul_(s.alpha).addcmul_(g, g, value=1 - s.alpha)
            avg = self.v.sqrt().add_(s.eps)
            if s.momentum:
                self.m.mul_(s.momentum).addcdiv_(g, avg)
                p.sub_(self.m * lr)
            else:
                p.addcdiv_(g * lr, avg, value=-1)
        else:  # adam, adamw
            beta1, beta2 = s.betas
            if s.optimizer == "adamw" and self.decay:
                p.mul_(1 - lr * self.wd)
            self.m.lerp_(g, 1 - beta1)
            self.v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            denom = (self.v.sqrt() / math.sqrt(1 - beta2**t)).add_(s.eps)
            p.addcdiv_(self.m * lr, denom, value=-1 / (1 - beta1**t))


class PopulationStats:
    """Errors and init-averaged predictions on the population sample, accumulated by slabs.

    Cells come in consecutive groups of ``inits`` (one group per width and
    sweep point, all its init seeds); ``groups=False`` keeps ``f_error`` only.

    Attributes
    ----------
    f_error : Tensor (cells,)
        Mean over x of (prediction - f)^2.
    mean : Tensor (groups, rows)
        Mean over the group's init seeds of the prediction at each x.
    var_init : Tensor (groups,)
        Mean over x of the variance over init seeds of the prediction.
    """

    def __init__(self, like: Tensor, n_cells: int, n_rows: int, inits: int, groups: bool = True):
        self.inits, self.n_rows, self.groups = inits, max(1, n_rows), groups
        self.f_error = like.new_zeros(n_cells)
        self.mean = like.new_empty(n_cells // inits if groups else 0, n_rows)
        self.var_init = like.new_zeros(n_cells // inits if groups else 0)

    def add(self, pred: Tensor, f: Tensor, start: int, cells: slice = slice(None)) -> None:
        """Add predictions (cells, rows) at population rows ``start:start + rows``.

        ``cells`` selects the cells ``pred`` belongs to: whole groups, in order.
        """
        self.f_error[cells] += (pred - f).square().sum(dim=1) / self.n_rows
        if not self.groups:
            return
        first = (cells.start or 0) // self.inits
        groups = slice(first, first + pred.shape[0] // self.inits)
        grouped = pred.view(-1, self.inits, pred.shape[1])
        m = grouped.mean(dim=1)
        self.mean[groups, start:start + pred.shape[1]] = m
        self.var_init[groups] += (grouped - m.unsqueeze(1)).square_().sum(dim=(1, 2)) / (
            self.inits * self.n_rows)


def _population(net: _Net, params: Tensor, x: Tensor, f: Tensor, inits: int,
                groups: bool) -> PopulationStats:
    """:class:`PopulationStats` of every cell of a network chunk, over x in slabs."""
    rows = max(1, _EVAL_ELEMENTS[x.device.type] // max(1, net.layout.n_units))
    stats = PopulationStats(x, net.layout.n_cells, x.shape[0], inits, groups)
    scratch = x.new_empty(net.layout.n_units * min(rows, x.shape[0]))
    for start in range(0, x.shape[0], rows):
        pred, _ = net.forward(params, x[start:start + rows], scratch)
        stats.add(pred, f[start:start + rows], start)
    return stats


def _loss_grad(kind: str, pred: Tensor, y: Tensor, weight: Tensor | float) -> Tensor:
    r = pred - y
    return (r.mul_(2) if kind == "mse" else r.sign_()).mul_(weight)


def _mse(pred: Tensor, target: Tensor) -> Tensor:
    return (pred - target).square_().mean(dim=1)


def _per_cell(values: Sequence[float], device: str, dtype: torch.dtype) -> float | Tensor:
    """A float when every cell shares the value, else a (cells,) tensor."""
    if len(set(values)) == 1:
        return float(values[0])
    return torch.tensor(values, dtype=torch.float64).to(device=device, dtype=dtype)


def _chunk_samples(points: Sequence[Experiment], point_of_cell: Sequence[int], data_seed: int,
                  device: str) -> tuple[Tensor, ...]:
    """The samples of a chunk: ``x_train, y_train, x_test, y_test, x_pop, f_train, f_pop``.

    Inputs and f are shared by the chunk's points (they differ at most in
    noise, lr and weight decay); when the noise differs, ``y_train`` and
    ``y_test`` get one row per cell.
    """
    samples = {}
    for p in point_of_cell:
        noise = points[p].data.noise
        if noise not in samples:
            samples[noise] = [t.to(device) for t in make_data(points[p], data_seed)]
    x_train, y_train, x_test, y_test, x_pop, f_train, f_pop, _ = next(iter(samples.values()))
    if len(samples) > 1:  # one row of noisy targets per cell
        y_train = torch.stack([samples[points[p].data.noise][1] for p in point_of_cell])
        y_test = torch.stack([samples[points[p].data.noise][3] for p in point_of_cell])
    return x_train, y_train, x_test, y_test, x_pop, f_train, f_pop


def train_chunk(points: Sequence[Experiment], cells: Sequence[tuple[int, int, int, int]],
                device: str = "cpu") -> dict[str, np.ndarray]:
    """Train cells of one data seed together.

    Parameters
    ----------
    points : sequence of Experiment
        Concrete (unswept) experiments that differ at most in ``data.noise``,
        ``train.lr`` and ``train.weight_decay``.
    cells : sequence of (int, int, int, int)
        ``(point, width, data_seed, init_seed)``, ``point`` indexing ``points``,
        all of one data seed; any order.
    device : str
        torch device.

    Returns
    -------
    dict of str to ndarray
        For each metric the experiments record (:func:`ddlab.dataset.metric_names`), a float64
        array of shape (len(epochs), len(cells)), cells in the order given. With a
        population sample and ``record_bias_variance``, also ``pred_mean``
        (len(epochs), groups, n_population) and ``pred_var_init`` (len(epochs), groups):
        the mean and variance over init seeds of the predictions at the
        population points, for groups of cells sharing (width, point), ordered
        by width and then point, and ``f_population`` (1, n_population), the true
        f there. Every (point, width) must come with all ``seeds.init`` init seeds.
    """
    exp = points[0]
    tr = exp.train
    data_seed = cells[0][2]
    if any(c[2] != data_seed for c in cells):
        raise ValueError("cells: train_chunk takes the cells of one data seed")
    order = sorted(range(len(cells)), key=lambda k: (cells[k][1], cells[k][0], cells[k][3]))
    ordered = [(p, w, i) for p, w, _, i in (cells[k] for k in order)]
    dtype = getattr(torch, tr.dtype)
    layout = _Layout([w for _, w, _ in ordered], exp.data.dim, exp.model.depth)
    net = _Net(layout, exp.model.activation, device)
    index, bound = layout.gather()
    index = torch.from_numpy(index)
    if exp.model.family == "mlp":
        vectors = many_cell_uniforms(exp, [(w, data_seed, i) for _, w, i in ordered])
        params = torch.cat(vectors)[index].mul_(2).sub_(1).mul_(torch.from_numpy(bound))
    else:  # fixed features, zero output layer; only the output weights are trained
        vectors = [torch.cat([t.reshape(-1) for layer in init_params(exp, w, data_seed, i)
                              for t in layer]) for _, w, i in ordered]
        params = torch.cat(vectors)[index]
        trainable = torch.cat([torch.cat([torch.zeros(len(v) - w - 1), torch.ones(w),
                                          torch.zeros(1)]) for v, (_, w, _) in
                               zip(vectors, ordered, strict=True)])[index]
    params = params.to(device=device, dtype=dtype)
    grad = torch.zeros_like(params)
    # per-parameter hyperparameters, when the chunk's points differ in them
    starts = np.cumsum([0] + [len(v) for v in vectors])
    cell_of_param = torch.from_numpy(
        np.searchsorted(starts, index.numpy(), side="right") - 1).to(device)

    def per_param(values: Sequence[float]) -> float | Tensor:
        v = _per_cell(values, device, dtype)
        return v if isinstance(v, float) else v[cell_of_param]

    lr = per_param([points[p].train.lr for p, _, _ in ordered])
    if exp.model.family != "mlp":
        lr = trainable.to(device=device, dtype=dtype) * lr
    opt = _Optimizer(tr, params, lr, per_param([points[p].train.weight_decay
                                                for p, _, _ in ordered]))
    x_train, y_train, x_test, y_test, x_pop, f_train, f_pop = _chunk_samples(
        points, [p for p, _, _ in ordered], data_seed, device)
    n = x_train.shape[0]
    rec_index = {e: k for k, e in enumerate(exp.epochs)}
    res = {m: params.new_full((len(rec_index), len(cells)), torch.nan) for m in metric_names(exp)}
    inits = exp.seeds.init  # chunks hold every init seed of their (point, width)
    groups = len(cells) // inits
    keep_predictions = records_predictions(exp)
    if keep_predictions:
        pred_mean = params.new_empty((len(rec_index), groups, x_pop.shape[0]))
        pred_var = params.new_empty((len(rec_index), groups))

    def record(epoch: int, train_pred: Tensor, test_pred: Tensor) -> None:
        k = rec_index[epoch]
        res["train_loss"][k] = _mse(train_pred, y_train)
        res["f_error_train"][k] = _mse(train_pred, f_train)
        res["test_loss"][k] = _mse(test_pred, y_test)
        if x_pop.shape[0]:
            stats = _population(net, params, x_pop, f_pop, inits, keep_predictions)
            res["f_error"][k] = stats.f_error
            if keep_predictions:
                pred_mean[k], pred_var[k] = stats.mean, stats.var_init

    if tr.batch_size is None or tr.batch_size >= n:
        x_both = torch.cat([x_train, x_test])
        for epoch in range(tr.epochs + 1):
            recorded = epoch in rec_index
            pred, cache = net.forward(params, x_both if recorded else x_train)
            if recorded:
                record(epoch, pred[:, :n], pred[:, n:])
            if epoch == tr.epochs:
                break
            net.backward(params, cache, _loss_grad(tr.loss, pred[:, :n], y_train, 1.0 / n), grad)
            opt.step(params, grad)
    else:
        gens = shuffle_generators(exp, [(w, data_seed, i) for _, w, i in ordered])
        weight = x_train.new_zeros(len(cells), n)
        scratch = x_train.new_empty(layout.n_units * max(n, x_test.shape[0]))
        for epoch in range(tr.epochs + 1):
            if epoch in rec_index:
                record(epoch, *(net.forward(params, x, scratch)[0] for x in (x_train, x_test)))
            if epoch == tr.epochs:
                break
            if epoch % _SHUFFLE_BLOCK == 0:
                block = min(_SHUFFLE_BLOCK, tr.epochs - epoch)
                perms = torch.stack([shuffle_keys(g, block, n) for g in gens]).argsort(
                    dim=2).to(device)
            perm = perms[:, epoch % _SHUFFLE_BLOCK]
            for start in range(0, n, tr.batch_size):
                idx = perm[:, start:start + tr.batch_size]
                weight.zero_().scatter_(1, idx, 1.0 / idx.shape[1])
                pred, cache = net.forward(params, x_train)
                net.backward(params, cache, _loss_grad(tr.loss, pred, y_train, weight), grad)
                opt.step(params, grad)
    inverse = torch.from_numpy(np.argsort(order))
    out = {m: v.to("cpu", torch.float64)[:, inverse].numpy() for m, v in res.items()}
    if keep_predictions:
        out["pred_mean"] = pred_mean.to("cpu", torch.float64).numpy()
        out["pred_var_init"] = pred_var.to("cpu", torch.float64).numpy()
        out["f_population"] = f_pop.to("cpu", torch.float64).numpy()[None]
    return out
