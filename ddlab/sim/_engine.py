"""Batched training engine: many networks of one data set trained in one set of tensor ops.

Layout
------
The cells of a chunk share one data seed and are sorted by width. All their
first-layer hidden units are concatenated, so with shared inputs (full batch,
evaluation) the first layer of every cell is one matrix multiply ``[W1 | b1]
@ [X | 1]^T`` of shape (H, n), and the output layer one sparse (cells x H)
product. With minibatches each cell gathers its own batch rows, and its first
layer is one sparse product with the stacked per-cell inputs. Cells of equal
width form a *bucket*; deeper layers are batched per bucket (``bmm``). A
chunk trains in *tiles* of consecutive cells whose activations stay in cache.
All parameters live in one flat buffer, and so do their gradients and the
optimiser state, so an optimiser step is a handful of elementwise ops whatever
the number of cells.

The population sample is evaluated in slabs of rows, with buffers allocated
once per chunk; :class:`PopulationStats` accumulates the errors per replicate
block (hence ``f_error`` and ``f_error_se``) and the init means and variances.

On CPU, full-batch training of one-hidden-layer ReLU networks with one output
and the MSE loss (the grids of the regression experiments) runs instead
through the compiled kernel of :mod:`ddlab.sim._fused`, which fuses a whole
step and keeps a group of cells in cache over many epochs; this module then
supplies its inputs and the population metrics (:meth:`_Recorder.population`).

The backward pass is written by hand. It computes, per cell, exactly the
gradient autograd would compute for that cell's loss, and the optimisers
reproduce ``torch.optim`` update rules; ``tests/sim/test_equivalence.py`` and
``tests/sim/test_population.py`` pin both against a plain one-model loop.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..config import CLASSIFICATION_TARGETS, Experiment, mlp_n_params
from ..results import (
    CLASS_BIAS_VARIANCE,
    metric_names,
    optimizer_slots,
    records_class_variance,
    records_predictions,
)
from ._classify import ensemble_terms, train_errors, zero_one_error
from ._data import make_data, population_blocks
from ._models import (
    ACTIVATION,
    init_params,
    many_cell_uniforms,
    shuffle_keys,
    shuffle_seeds,
)

__all__ = ["PopulationStats", "train_chunk"]

Tensor = torch.Tensor

#: rows x hidden units per evaluation slab: few slab calls on CPU, fills the GPU on CUDA
#: (CPU sizes measured with benchmarks/vs_vmap.py and benchmarks/large_grid.py)
_EVAL_ELEMENTS = {"cpu": 1 << 20, "cuda": 1 << 26}
#: rows x hidden units per training tile (see :class:`_Tiles`): 1 MiB per buffer on CPU
_TILE_ELEMENTS = {"cpu": 1 << 18, "cuda": 1 << 28}
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
    per cell W_out (k, w) | b_out (C, k)]`` for k outputs: first-layer weights are
    aligned with the H concatenated hidden units, each cell's output weights are
    its (k, w) matrix row-major, output biases k per cell. The first layer is
    stored transposed because its gradient ``x^T dZ^T`` is several times faster in
    that orientation for skinny inputs.
    """

    def __init__(self, widths: Sequence[int], dim: int, depth: int, outputs: int = 1):
        self.widths = np.asarray(widths, dtype=np.int64)
        self.dim, self.depth, self.outputs = dim, depth, outputs
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
        self.out_slice = slice(pos, pos + outputs * h)
        self.size = self.out_slice.stop + outputs * self.n_cells
        self.cell_of_unit = torch.repeat_interleave(torch.arange(self.n_cells),
                                                    torch.from_numpy(self.widths))

    def first(self, buf: Tensor) -> Tensor:
        """``[W1 | b1]^T``, (dim + 1, H): first-layer weights transposed, then the biases."""
        return buf[:self.n_units * (self.dim + 1)].view(self.dim + 1, self.n_units)

    def deep(self, buf: Tensor, b: _Bucket, k: int) -> tuple[Tensor, Tensor]:
        ws, bs = b.deep[k]
        return buf[ws].view(b.n_cells, b.width, b.width), buf[bs].view(b.n_cells, b.width)

    def out(self, buf: Tensor) -> tuple[Tensor, Tensor]:
        """Output weights (k H,) and biases (C k,) of ``buf``."""
        return buf[self.out_slice], buf[self.out_slice.stop:self.size]

    def out_weights(self, buf: Tensor, b: _Bucket) -> Tensor:
        """The output weights (c, k, w) of bucket ``b``'s cells."""
        k, start = self.outputs, self.out_slice.start
        return buf[start + k * b.units.start:start + k * b.units.stop].view(
            b.n_cells, k, b.width)

    def gather(self) -> tuple[np.ndarray, np.ndarray]:
        """Where each flat entry comes from in the concatenated per-cell uniforms, and its bound.

        Each cell's uniforms are laid out layer by layer (weight row-major, then
        bias), as :func:`ddlab.models.cell_uniforms` draws them.
        """
        d, depth, widths, k = self.dim, self.depth, self.widths, self.outputs
        sizes = {int(w): mlp_n_params(d, int(w), depth, k) for w in np.unique(widths)}
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
            for layer in range(depth - 1):
                start = b.width * (d + 1) + layer * b.width * (b.width + 1)
                take(b, start, b.width * b.width, b.width)
                take(b, start + b.width * b.width, b.width, b.width)
        for b in self.buckets:
            take(b, b.width * (d + 1) + (depth - 1) * b.width * (b.width + 1), k * b.width,
                 b.width)
        index.append(((offset + n_par - k)[:, None] + np.arange(k)).ravel())
        bound.append(np.repeat(widths ** -0.5, k))
        return np.concatenate(index), np.concatenate(bound)


class _Net:
    """Forward and hand-written backward of all cells of a chunk, on one parameter buffer.

    Activations are feature-major: (hidden units, rows). Inputs come with a
    trailing column of ones, so the first layer is ``[W1 | b1] @ [x | 1]^T``,
    bias included, and so is its gradient. They are *shared*, (dim + 1, rows),
    every cell seeing the same rows: then the first layer of all cells is one
    matrix product; or *per cell*, (cells, dim + 1, rows), each cell its own
    rows (its minibatch): then the first layer is one sparse product of the
    units' weights with the stacked per-cell inputs, and its gradient the
    product of the pre-activation gradients and the inputs sampled at the
    same pattern. The output layer sums each cell's units with its output
    weights as one sparse (cells k x units) product, k outputs per cell, whose
    values are the output weights in ``params`` (a view: the optimiser's in-place
    updates show through); their gradient is the product of the cells' output
    gradients and the units' activations sampled at the same pattern, written
    into ``grad``. Outputs are (cells k, rows): cell c's output j is row c k + j.
    """

    def __init__(self, layout: _Layout, activation: str, params: Tensor, grad: Tensor,
                 work: Tensor):
        self.layout, self.params, self.grad, self.work = layout, params, grad, work
        self.act = ACTIVATION[activation]
        device = params.device
        self.cell_of_unit = layout.cell_of_unit.to(device)
        k = layout.outputs
        row_width = np.repeat(layout.widths, k)  # row c k + j: the units of cell c
        rows = np.concatenate([[0], np.cumsum(row_width)])
        first_unit = np.repeat(np.concatenate([[0], np.cumsum(layout.widths)[:-1]]), k)
        cols = np.repeat(first_unit - rows[:-1], row_width) + np.arange(rows[-1])
        rows, cols = (torch.from_numpy(a).to(device) for a in (rows, cols))
        units = torch.arange(layout.n_units + 1, device=device)
        shape = (layout.n_cells * k, layout.n_units)
        (wo, _), (gwo, _) = layout.out(params), layout.out(grad)
        with warnings.catch_warnings():  # "sparse CSR support is in beta"
            warnings.simplefilter("ignore", UserWarning)
            self.readout, self.readout_grad = (  # the output weights and their gradient
                torch.sparse_csr_tensor(rows, cols, values, shape, check_invariants=False)
                for values in (wo, gwo))
        # per-cell inputs: the first layer of every cell is one (units x cells (dim + 1))
        # sparse product, each unit's row holding its weights at its cell's inputs
        d1 = layout.dim + 1
        inputs = (self.cell_of_unit[:, None] * d1 + torch.arange(d1, device=device)).reshape(-1)
        self._rows = params.new_empty(layout.n_units * d1)  # [W1 | b1], unit by unit
        self._grad_rows = torch.zeros_like(self._rows)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            self.first_cells, self.first_cells_grad = (torch.sparse_csr_tensor(
                units * d1, inputs, values, (layout.n_units, layout.n_cells * d1),
                check_invariants=False) for values in (self._rows, self._grad_rows))
        for csr, values in ((self.readout, wo), (self.readout_grad, gwo),
                            (self.first_cells, self._rows),
                            (self.first_cells_grad, self._grad_rows)):
            if csr.values().data_ptr() != values.data_ptr():  # pragma: no cover - torch internals
                raise RuntimeError("a sparse view does not alias its buffer")
        # views of the buffers, made once: each step would otherwise rebuild a few per bucket
        self._wa, self._gwa = layout.first(params), layout.first(grad)
        self._wa_t = self._wa.t()
        self._bo_col = layout.out(params)[1].unsqueeze(1)
        self._gwo, self._gbo = layout.out(grad)
        # W_out^T per bucket (k > 1); with one output, each unit's weight as a column
        self._wo_col = wo.unsqueeze(1)
        self._wo_t = ([layout.out_weights(params, b).transpose(1, 2) for b in layout.buckets]
                      if k > 1 else [])
        self._buffers: dict[tuple[int, int], Tensor] = {}

    def _first(self, x: Tensor, z1: Tensor) -> None:
        """z1 (units, rows) = first-layer pre-activations for shared or per-cell inputs x."""
        if x.dim() == 2:
            torch.mm(self._wa_t, x, out=z1)
            return
        self._rows.view(-1, self._wa.shape[0]).copy_(self._wa_t)
        torch.mm(self.first_cells, x.reshape(-1, x.shape[2]), out=z1)

    def _buffer(self, k: int, rows: int) -> Tensor:
        """(units, rows) view of row k of the workspace."""
        view = self._buffers.get((k, rows))
        if view is None:
            view = self.work[k, :self.layout.n_units * rows].view(self.layout.n_units, rows)
            self._buffers[k, rows] = view
        return view

    def forward(self, x: Tensor, scratch: Tensor | None = None):
        """Outputs (cells, rows) for inputs x, and what backward needs.

        Without ``scratch``, the first layer's pre-activations and activations
        go to the workspace, for backward. Given a ``scratch`` buffer of at
        least H x rows elements (twice that for depth > 1), nothing is kept
        for backward and the hidden layers are computed in place in it.
        """
        lay = self.layout
        keep = scratch is None
        act = self.act.fn if keep else self.act.inplace
        rows = x.shape[-1]
        size = lay.n_units * rows
        z1 = self._buffer(0, rows) if keep else scratch[:size].view(lay.n_units, rows)
        self._first(x, z1)
        a1 = self.act.into(z1, self._buffer(1, rows)) if keep else act(z1)
        traces = []
        last = a1
        if lay.depth > 1:
            last = torch.empty_like(a1) if keep else scratch[size:2 * size].view_as(a1)
            for b in lay.buckets:
                h = a1[b.units].view(b.n_cells, b.width, rows)
                trace = [(None, h)]
                for k in range(lay.depth - 1):
                    wk, bk = lay.deep(self.params, b, k)
                    z = torch.baddbmm(bk.unsqueeze(2), wk, h)
                    h = act(z)
                    trace.append((z, h))
                last[b.units].view(b.n_cells, b.width, rows).copy_(h)
                traces.append(trace)
        out = torch.addmm(self._bo_col, self.readout, last)
        return out, (x, z1, a1, traces, last)

    def backward(self, cache, g: Tensor) -> None:
        """Write into ``grad`` the gradient of sum_c loss_c, given g = dloss_c/dout_c.

        ``g`` has shape (cells k, n), n the rows of the cached forward pass.
        """
        lay = self.layout
        x, z1, a1, traces, last = cache
        n = g.shape[1]
        grad = self.grad
        self._gwo.zero_()  # sampled_addmm scales its input by beta = 0, which keeps NaN
        torch.sparse.sampled_addmm(self.readout_grad, g, last.t(), beta=0.0,
                                   out=self.readout_grad)
        torch.sum(g, dim=1, out=self._gbo)
        dlast = self._buffer(2, n)  # (H, n): W_out^T g
        if lay.outputs == 1:
            # each unit's output weight times its cell's output gradient: the gradient
            # rows gathered unit by unit, then one product for all cells (the same
            # products as one outer product per cell, in one op instead of one per bucket)
            torch.index_select(g, 0, self.cell_of_unit, out=dlast)
            dlast.mul_(self._wo_col)
        else:
            g_cells = g.view(lay.n_cells, lay.outputs, n)
            for b, wo_t in zip(lay.buckets, self._wo_t, strict=True):
                torch.bmm(wo_t, g_cells[b.cells], out=dlast[b.units].view(b.n_cells, b.width, n))
        da1 = dlast
        if lay.depth > 1:
            da1 = torch.empty_like(dlast)
            for b, trace in zip(lay.buckets, traces, strict=True):
                dh = dlast[b.units].view(b.n_cells, b.width, n)
                for k in range(lay.depth - 2, -1, -1):
                    z, h = trace[k + 1]
                    dz = self.act.backprop(dh.clone(), z, h)
                    gwk, gbk = lay.deep(grad, b, k)
                    torch.bmm(dz, trace[k][1].transpose(1, 2), out=gwk)
                    torch.sum(dz, dim=2, out=gbk)
                    wk, _ = lay.deep(self.params, b, k)
                    dh = torch.bmm(wk.transpose(1, 2), dz)
                da1[b.units].view(b.n_cells, b.width, n).copy_(dh)
        dz1 = self.act.backprop(da1, z1, a1)
        gwa = self._gwa
        if x.dim() == 2:
            torch.mm(x, dz1.t(), out=gwa)
            return
        self._grad_rows.zero_()  # beta = 0 keeps NaN
        torch.sparse.sampled_addmm(self.first_cells_grad, dz1, x.reshape(-1, n).t(), beta=0.0,
                                   out=self.first_cells_grad)
        gwa.copy_(self._grad_rows.view(-1, gwa.shape[0]).t())


def _cat(parts: list[Tensor]) -> Tensor:
    """``torch.cat(parts)``, without a copy for one part."""
    return parts[0] if len(parts) == 1 else torch.cat(parts)


class _Tiles:
    """The cells of a chunk as tiles: runs of consecutive cells trained one after another.

    A tile holds as many cells as keep its activations over the rows of one
    step (units x rows) within :data:`_TILE_ELEMENTS`, so that they stay in
    cache; each has its own :class:`_Layout` on its own segment of the chunk's
    flat parameter buffer, and the optimiser steps the whole buffer at once.
    ``rows`` is the most rows of one training step; :meth:`bind` sizes the
    tiles' shared workspace from it.
    """

    def __init__(self, widths: Sequence[int], dim: int, depth: int, outputs: int, rows: int,
                 device: str):
        self.rows = rows
        budget = max(1, _TILE_ELEMENTS[device] // max(1, rows))
        bounds, start, units = [], 0, 0
        for k, w in enumerate(widths):
            if units and units + w > budget:
                bounds.append((start, k))
                start, units = k, 0
            units += w
        bounds.append((start, len(widths)))
        self.cells = [slice(a, b) for a, b in bounds]
        self.layouts = [_Layout(widths[a:b], dim, depth, outputs) for a, b in bounds]
        self.offsets = np.cumsum([0] + [lay.size for lay in self.layouts]).tolist()
        self.max_units = max(lay.n_units for lay in self.layouts)
        self.nets: list[_Net] = []

    def gather(self) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_Layout.gather` of every tile, into the uniforms of all cells concatenated.

        A tile's cells hold its layout's ``size`` uniforms in all, so tile k's
        start at ``offsets[k]``.
        """
        parts = [lay.gather() for lay in self.layouts]
        index = [i + start for (i, _), start in zip(parts, self.offsets[:-1], strict=True)]
        return np.concatenate(index), np.concatenate([b for _, b in parts])

    def cell_positions(self) -> tuple[np.ndarray, ...]:
        """Where each cell's one-output, one-hidden-layer parameters sit in the flat buffer.

        Four (cells,) arrays: the position of its first unit's first input
        weight (the (dim + 1, units) matrix ``[W1 | b1]^T`` of its tile has row
        stride ``stride``), that stride, the position of its first output weight,
        and that of its output bias.
        """
        pos = np.empty((4, sum(lay.n_cells for lay in self.layouts)), dtype=np.int64)
        for lay, off, cells in zip(self.layouts, self.offsets[:-1], self.cells, strict=True):
            for b in lay.buckets:
                local = np.arange(b.cells.start, b.cells.stop)
                units = b.units.start + (local - b.cells.start) * b.width
                at = cells.start + local
                pos[0, at], pos[1, at] = off + units, lay.n_units
                pos[2, at] = off + lay.out_slice.start + units
                pos[3, at] = off + lay.out_slice.stop + local
        return tuple(pos)

    def bind(self, activation: str, params: Tensor, grad: Tensor) -> None:
        """Build each tile's network on its segments of ``params`` and ``grad``.

        The tiles, trained one after another, share one workspace for their
        activations and their gradient: three (units, rows) buffers, allocated
        once (fresh allocations of a few MiB cost page faults at every step).
        """
        work = params.new_empty(3, self.max_units * self.rows)
        self.nets = [_Net(lay, activation, params[a:b], grad[a:b], work) for lay, a, b in
                     zip(self.layouts, self.offsets[:-1], self.offsets[1:], strict=True)]

    def forward(self, x: Tensor, scratch: Tensor) -> Tensor:
        """Outputs (cells k, rows) of every cell, for shared inputs x, without gradients."""
        return _cat([net.forward(x, scratch)[0] for net in self.nets])

    def backprop(self, x: Tensor, y: Tensor, loss: _Loss, keep: bool) -> Tensor | None:
        """Forward and backward pass of every tile: the gradient of the loss lands in grad.

        ``x``: shared inputs (dim + 1, n) or per-cell inputs (cells, dim + 1, n);
        ``y``: targets (k, n) shared or (cells, k, n). Returns the outputs
        (cells k, n) if ``keep``.
        """
        outs = []
        for net, cells in zip(self.nets, self.cells, strict=True):
            out, cache = net.forward(x if x.dim() == 2 else x[cells])
            target = y if y.dim() == 2 else y[cells]
            net.backward(cache, loss.grad(out, target))
            if keep:
                outs.append(out)
        return _cat(outs) if keep else None


def _sqrt(x: Tensor, out: Tensor) -> Tensor:
    """``torch.sqrt(x, out=out)``; on CPU numpy's (correctly rounded, torch's within an ulp).

    torch's CPU sqrt takes about 4 ns per zero, 25 times its cost on positive
    entries, and the second moments of Adam and RMSprop hold many zeros (the
    weights of dead ReLU units, for one): numpy's costs the same on both.
    """
    if x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64):
        np.sqrt(x.numpy(), out=out.numpy())
        return out
    return torch.sqrt(x, out=out)


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
        self.work = torch.empty_like(params)  # denominators and scaled steps, reused

    @property
    def buffers(self) -> list[Tensor]:
        """The optimiser's state buffers, in the order a cell's ``state`` keeps them."""
        return [b for b in (self.m, self.v) if b is not None]

    def load(self, buffers: Sequence[Tensor], steps: int) -> None:
        """Continue from saved :attr:`buffers` after ``steps`` steps."""
        for mine, saved in zip(self.buffers, buffers, strict=True):
            mine.copy_(saved)
        self.step_count = steps

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
            avg = _sqrt(self.v, self.work).add_(s.eps)
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
            denom = _sqrt(self.v, self.work).div_(math.sqrt(1 - beta2**t)).add_(s.eps)
            if isinstance(lr, Tensor):
                p.addcdiv_(self.m * lr, denom, value=-1 / (1 - beta1**t))
            else:
                p.addcdiv_(self.m, denom, value=-lr / (1 - beta1**t))


class PopulationStats:
    """Errors and init-averaged predictions on the population sample, accumulated by slabs.

    The sample is a sequence of replicate blocks (:func:`ddlab.sim._data.population_blocks`);
    slabs never straddle two blocks (:meth:`slabs`). Cells come in consecutive
    groups of ``inits`` (one group per width and sweep point, all its init
    seeds); ``groups=False`` keeps the errors only. The buffers are allocated
    once; :meth:`reset` starts a new pass.

    Attributes
    ----------
    sums : Tensor (cells, blocks)
        Sum over each block's points of (prediction - f)^2.
    mean : Tensor (groups, rows)
        Mean over the group's init seeds of the prediction at each x.
    var_init : Tensor (groups,)
        Mean over x of the variance over init seeds of the prediction.
    """

    def __init__(self, like: Tensor, n_cells: int, blocks: Sequence[int], inits: int,
                 groups: bool = True):
        self.blocks, self.inits, self.groups = tuple(blocks), inits, groups
        self.n_rows = sum(self.blocks)
        n_groups = n_cells // inits if groups else 0
        self.sums = like.new_zeros(n_cells, len(self.blocks))
        self.mean = like.new_empty(n_groups, self.n_rows)
        self.var_init = like.new_zeros(n_groups)

    def reset(self) -> None:
        """Zero the accumulators for a new pass over the sample."""
        self.sums.zero_()
        self.var_init.zero_()

    def slabs(self, rows: int) -> Iterator[tuple[int, int, int]]:
        """``(block, start, stop)`` of consecutive slabs of at most ``rows`` points."""
        start = 0
        for block, size in enumerate(self.blocks):
            for first in range(start, start + size, rows):
                yield block, first, min(first + rows, start + size)
            start += size

    def add(self, pred: Tensor, f: Tensor, start: int, block: int) -> None:
        """Add predictions (cells, rows) at population rows ``start:start + rows`` of ``block``.

        ``f`` is the true f there, (rows,) or (cells, rows). ``pred`` is overwritten.
        """
        rows = pred.shape[1]
        if self.groups:
            grouped = pred.view(-1, self.inits, rows)
            mean = self.mean[:, start:start + rows]
            torch.mean(grouped, dim=1, out=mean)
            spread = (grouped - mean.unsqueeze(1)).square_().sum(dim=(1, 2))
            self.var_init.add_(spread, alpha=1 / (self.inits * self.n_rows))
        self.sums[:, block] += pred.sub_(f).square_().sum(dim=1)

    @property
    def f_error(self) -> Tensor:
        """(cells,) mean over all points of (prediction - f)^2."""
        return self.sums.sum(dim=1) / max(1, self.n_rows)

    @property
    def f_error_se(self) -> Tensor:
        """(cells,) standard error of :attr:`f_error` from the spread of the block means.

        ``sqrt(R / (R - 1) * sum_r (n_r / n)^2 (m_r - f_error)^2)`` for R blocks of n_r
        points with means m_r (for equal blocks, the standard error of the mean of
        the R replicate estimates); NaN with fewer than two blocks.
        """
        r = len(self.blocks)
        if r < 2:
            return torch.full_like(self.sums[:, 0], torch.nan)
        sizes = torch.tensor(self.blocks, dtype=self.sums.dtype, device=self.sums.device)
        dev = (self.sums / sizes - self.f_error.unsqueeze(1)) * (sizes / self.n_rows)
        return (dev.square().sum(dim=1) * (r / (r - 1))).sqrt_()


def _population(tiles: _Tiles, x: Tensor, f: Tensor, stats: PopulationStats,
                scratch: Tensor) -> None:
    """Fill ``stats`` for every cell of a chunk, over x (dim + 1, rows) in slabs."""
    rows = scratch.numel() // (tiles.max_units * (1 + (tiles.layouts[0].depth > 1)))
    stats.reset()
    for block, start, stop in stats.slabs(rows):
        stats.add(tiles.forward(x[:, start:stop], scratch), f[start:stop], start, block)


def _slab_rows(elements: int, units: int) -> int:
    """Rows per evaluation slab of ``units`` hidden units within ``elements``.

    A multiple of 32 when at least 32 fit: a ragged row count sends the
    first-layer product to the GEMM's slow edge kernels (95 rows instead of 96
    cost the lecture grid 15%).
    """
    rows = max(1, elements // units)
    return rows if rows < 32 else rows // 32 * 32


def _cells(pred: Tensor, y: Tensor) -> Tensor:
    """Outputs (cells k, n) as (cells, k, n), k the outputs of targets (k, n) or (cells, k, n)."""
    return pred.view(-1, *y.shape[-2:])


class _Loss:
    """A training loss in one place: its gradient with respect to the outputs, its records.

    Outputs come as (cells k, n) for n rows, targets as (k, n) shared by the
    cells or (cells, k, n): one-hot labels for classification, k = 1 for
    regression. The loss of a cell is the mean over its rows of a per-row loss
    (and, as ``nn.MSELoss`` and ``nn.L1Loss`` do, over its outputs). The
    recorded ``train_loss`` and ``test_loss`` are mean squared errors unless the
    loss records itself (as their ``long_name`` says).
    """

    def grad(self, pred: Tensor, y: Tensor) -> Tensor:
        """d(loss)/d(pred), (cells k, n), for outputs ``pred`` and targets ``y``."""
        raise NotImplementedError

    def record(self, pred: Tensor, y: Tensor, out: Tensor | None = None) -> Tensor:
        """(cells,) the recorded loss of outputs ``pred`` against targets ``y`` (into ``out``)."""
        return torch.mean((_cells(pred, y) - y).square_(), dim=(1, 2), out=out)


class _Mse(_Loss):
    def grad(self, pred: Tensor, y: Tensor) -> Tensor:
        diff = _cells(pred, y) - y  # autograd's order of operations
        return diff.mul_(2).mul_(1 / y.shape[-1] / y.shape[-2]).view_as(pred)


class _L1(_Loss):
    def grad(self, pred: Tensor, y: Tensor) -> Tensor:
        diff = _cells(pred, y) - y
        return diff.sign_().mul_(1 / y.shape[-1] / y.shape[-2]).view_as(pred)


class _CrossEntropy(_Loss):
    """Softmax cross-entropy over the k outputs, as ``nn.CrossEntropyLoss`` (mean over rows)."""

    def grad(self, pred: Tensor, y: Tensor) -> Tensor:
        p = torch.softmax(_cells(pred, y), dim=1)
        return p.sub_(y).mul_(1 / y.shape[-1]).view_as(pred)

    def record(self, pred: Tensor, y: Tensor, out: Tensor | None = None) -> Tensor:
        logp = torch.log_softmax(_cells(pred, y), dim=1)
        return torch.mean(logp.mul_(y).sum(dim=1), dim=1, out=out).neg_()


#: ``train.loss`` -> its :class:`_Loss`
LOSSES = {"mse": _Mse(), "l1": _L1(), "cross_entropy": _CrossEntropy()}


def _argsort(keys: Tensor) -> Tensor:
    """``keys.argsort(dim=-1)`` of float64 CPU keys, with numpy's faster introsort.

    A row without ties has one sorting permutation, whatever the algorithm; the
    rare rows with ties are sorted by torch itself, so the result always equals
    torch's (and :func:`ddlab.minibatch_order`'s).
    """
    k = keys.numpy()
    order = np.argsort(k, axis=-1)
    tied = (np.diff(np.take_along_axis(k, order, axis=-1), axis=-1) == 0).any(axis=-1)
    out = torch.from_numpy(order)
    if tied.any():
        rows = torch.from_numpy(tied)
        out[rows] = keys[rows].argsort(dim=-1)
    return out


def _augment(x: Tensor) -> Tensor:
    """x (rows, dim) with a trailing column of ones (the first layer's bias input)."""
    return torch.cat([x, x.new_ones(x.shape[0], 1)], dim=1)


def _mse(pred: Tensor, target: Tensor, out: Tensor | None = None) -> Tensor:
    return torch.mean((pred - target).square_(), dim=1, out=out)


def _by_row(pred: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Outputs (cells k, n) and targets (k, n) or (cells, k, n) as two (cells, n, k)."""
    pred = _cells(pred, y).transpose(1, 2)
    return pred, y.transpose(-1, -2).expand_as(pred)


def _per_cell(values: Sequence[float], device: str, dtype: torch.dtype) -> float | Tensor:
    """A float when every cell shares the value, else a (cells,) tensor."""
    if len(set(values)) == 1:
        return float(values[0])
    return torch.tensor(values, dtype=torch.float64).to(device=device, dtype=dtype)


def _chunk_samples(points: Sequence[Experiment], point_of_cell: Sequence[int], data_seed: int,
                  device: str) -> tuple[Tensor, ...]:
    """The samples of a chunk: ``x_train, y_train, x_test, y_test, x_pop, f_train, f_pop,
    flipped``.

    Targets are (k, n): one-hot labels over k classes, or one row (k = 1) for
    regression. Inputs and f are shared by the chunk's points (they differ at
    most in noise, label noise, lr and weight decay); when the (label) noise
    differs, ``y_train``, ``y_test`` and ``flipped`` get one entry per cell.
    """
    samples = {}
    for p in point_of_cell:
        key = points[p].data.noise, points[p].data.label_noise
        if key not in samples:
            data = make_data(points[p], data_seed)
            samples[key] = [t.to(device) for t in data[:7]] + [data.flipped.to(device)]
            for i in (1, 3):  # targets as (k, n)
                y = samples[key][i]
                samples[key][i] = y.t().contiguous() if y.dim() == 2 else y.unsqueeze(0)
    x_train, y_train, x_test, y_test, x_pop, f_train, f_pop, flipped = next(
        iter(samples.values()))
    if len(samples) > 1:  # one row of noisy targets per cell
        keys = [(points[p].data.noise, points[p].data.label_noise) for p in point_of_cell]
        y_train, y_test, flipped = (torch.stack([samples[key][i] for key in keys])
                                    for i in (1, 3, 7))
    return x_train, y_train, x_test, y_test, x_pop, f_train, f_pop, flipped


def _state_in(state: np.ndarray, order: Sequence[int], sizes: Sequence[int],
              index: Tensor, parts: int) -> list[Tensor]:
    """``parts`` flat buffers (parameters, then optimiser buffers) from ``state`` rows.

    Rows are in the caller's cell order; ``order`` sorts them as the layout does.
    """
    rows = [state[k] for k in order]
    return [torch.from_numpy(np.concatenate([r[s * n:(s + 1) * n] for r, n in
                                             zip(rows, sizes, strict=True)]))[index]
            for s in range(parts)]


def _state_out(buffers: Sequence[Tensor], order: Sequence[int], sizes: Sequence[int],
               index: Tensor) -> np.ndarray:
    """The cells' ``state`` rows (caller's cell order, NaN-padded) from flat buffers."""
    parts = []
    for buf in buffers:
        flat = np.empty(len(index))
        flat[index.numpy()] = buf.to("cpu", torch.float64).numpy()
        parts.append(np.split(flat, np.cumsum(sizes)[:-1]))
    out = np.full((len(order), max(sizes) * len(buffers)), np.nan)
    for k, cell in enumerate(order):
        row = np.concatenate([p[k] for p in parts])
        out[cell, :len(row)] = row
    return out


@dataclass
class _Setup:
    """A chunk ready to train: its cells in layout order, network, parameters and optimiser."""

    exp: Experiment
    order: list[int]  # the cells' positions in the caller's order, in layout order
    ordered: list[tuple[int, int, int]]  # (point, width, init_seed) in layout order
    tiles: _Tiles
    params: Tensor
    grad: Tensor
    opt: _Optimizer
    sizes: list[int]  # parameters per cell
    index: Tensor  # flat-buffer entry -> position in the concatenated per-cell vectors
    minibatch: bool
    lr: np.ndarray  # per cell
    weight_decay: np.ndarray  # per cell

    @property
    def fused(self) -> bool:
        """Whether the compiled CPU kernel (:mod:`ddlab.sim._fused`) trains this chunk.

        It serves full-batch training of one-hidden-layer ReLU networks with one
        output and the MSE loss, on CPU; every other chunk runs the eager steps.
        """
        exp = self.exp
        return (self.params.device.type == "cpu" and not self.minibatch
                and exp.model.family == "mlp" and exp.model.depth == 1
                and exp.model.activation == "relu" and exp.outputs == 1
                and exp.train.loss == "mse"
                and exp.data.target not in CLASSIFICATION_TARGETS)


def _setup(points: Sequence[Experiment], cells: Sequence[tuple[int, int, int, int]],
           device: str, state: np.ndarray | None, start: int) -> _Setup:
    """Lay out the cells by width, draw (or load) their parameters, build the optimiser."""
    exp = points[0]
    tr = exp.train
    data_seed = cells[0][2]
    if any(c[2] != data_seed for c in cells):
        raise ValueError("cells: train_chunk takes the cells of one data seed")
    order = sorted(range(len(cells)), key=lambda k: (cells[k][1], cells[k][0], cells[k][3]))
    ordered = [(p, w, i) for p, w, _, i in (cells[k] for k in order)]
    dtype = getattr(torch, tr.dtype)
    minibatch = tr.batch_size is not None and tr.batch_size < exp.data.n_train
    step_rows = tr.batch_size if minibatch else exp.data.n_train
    tiles = _Tiles([w for _, w, _ in ordered], exp.data.dim, exp.model.depth, exp.outputs,
                   step_rows, torch.device(device).type)
    index, bound = tiles.gather()
    index = torch.from_numpy(index)
    if exp.model.family == "mlp":
        uniform = many_cell_uniforms(exp, [(w, data_seed, i) for _, w, i in ordered])
        params = uniform.index_select(0, index).mul_(2).sub_(1).mul_(torch.from_numpy(bound))
        n_params = {w: exp.n_params(w) for w in {w for _, w, _ in ordered}}
        sizes = [n_params[w] for _, w, _ in ordered]
    else:  # fixed features, zero output layer; only the output weights are trained
        k = exp.outputs
        vectors = [torch.cat([t.reshape(-1) for layer in init_params(exp, w, data_seed, i)
                              for t in layer]) for _, w, i in ordered]
        params = torch.cat(vectors)[index]
        trainable = torch.cat([torch.cat([torch.zeros(len(v) - k * w - k), torch.ones(k * w),
                                          torch.zeros(k)]) for v, (_, w, _) in
                               zip(vectors, ordered, strict=True)])[index]
        sizes = [len(v) for v in vectors]
    if state is not None:
        params, *buffers = _state_in(state, order, sizes, index, 1 + optimizer_slots(exp))
    params = params.to(device=device, dtype=dtype)
    grad = torch.zeros_like(params)
    tiles.bind(exp.model.activation, params, grad)
    # per-parameter hyperparameters, when the chunk's points differ in them
    @functools.cache
    def cell_of_param() -> Tensor:
        starts = np.cumsum([0, *sizes])
        return torch.from_numpy(np.searchsorted(starts, index.numpy(), side="right") - 1).to(
            device)

    def per_param(values: Sequence[float]) -> float | Tensor:
        v = _per_cell(values, device, dtype)
        return v if isinstance(v, float) else v[cell_of_param()]

    cell_lr = [points[p].train.lr for p, _, _ in ordered]
    cell_wd = [points[p].train.weight_decay for p, _, _ in ordered]
    lr = per_param(cell_lr)
    if exp.model.family != "mlp":
        lr = trainable.to(device=device, dtype=dtype) * lr
    opt = _Optimizer(tr, params, lr, per_param(cell_wd))
    if state is not None:
        steps = 1 if not minibatch else -(-exp.data.n_train // tr.batch_size)
        opt.load([b.to(device=device, dtype=dtype) for b in buffers], start * steps)
    return _Setup(exp, order, ordered, tiles, params, grad, opt, sizes, index, minibatch,
                  np.asarray(cell_lr), np.asarray(cell_wd))


class _Recorder:
    """The metrics of a chunk at its recorded epochs, and its results in the caller's order."""

    def __init__(self, run: _Setup, samples: tuple[Tensor, ...], n_cells: int, inits: int,
                 start: int):
        exp, params, tiles = run.exp, run.params, run.tiles
        _, y_train, _, y_test, x_pop, f_train, f_pop, flipped = samples
        self.run, self.y_train, self.y_test, self.f_train, self.f_pop = (
            run, y_train, y_test, f_train, f_pop)
        self.classify = exp.data.target in CLASSIFICATION_TARGETS
        self.flipped = flipped.expand(n_cells, -1)
        self.loss = LOSSES[exp.train.loss]
        self.xt_pop = _augment(x_pop).t().contiguous()
        self.rec_index = {e: k for k, e in enumerate(e for e in exp.epochs if e >= start)}
        self.res = {m: params.new_full((len(self.rec_index), n_cells), torch.nan)
                    for m in metric_names(exp)}
        self.keep_predictions = records_predictions(exp)
        self.inits = inits
        self.ensemble = ({name: params.new_empty((len(self.rec_index), n_cells // inits))
                          for name in CLASS_BIAS_VARIANCE}
                         if records_class_variance(exp) else {})  # per group of init seeds
        self.stats = PopulationStats(params, n_cells, population_blocks(x_pop.shape[0]), inits,
                                     self.keep_predictions)
        groups, epochs, n_pop = n_cells // inits, len(self.rec_index), x_pop.shape[0]
        if self.keep_predictions:
            self.pred_mean = params.new_empty((epochs, groups, n_pop))
            self.pred_var = params.new_empty((epochs, groups))
        slab = _slab_rows(_EVAL_ELEMENTS[params.device.type], tiles.max_units)
        rows = max(min(slab, n_pop), y_train.shape[-1] + y_test.shape[-1])  # pop slabs, train+test
        self.scratch = params.new_empty(tiles.max_units * rows * (1 + (exp.model.depth > 1)))

    def __call__(self, epoch: int, train_pred: Tensor, test_pred: Tensor) -> None:
        """Record the metrics of ``epoch`` from the outputs on the train and test rows."""
        k, res = self.rec_index[epoch], self.res
        # written in place: no temporary result, no copy into the record
        self.loss.record(train_pred, self.y_train, res["train_loss"][k])
        self.loss.record(test_pred, self.y_test, res["test_loss"][k])
        if self.classify:
            train, test = (_by_row(pred, y) for pred, y in ((train_pred, self.y_train),
                                                             (test_pred, self.y_test)))
            for name, value in train_errors(*train, self.flipped).items():
                res[name][k] = value
            res["test_error"][k] = zero_one_error(*test)
            if self.ensemble:
                for name, value in ensemble_terms(test_pred, self.y_test, self.inits).items():
                    self.ensemble[name][k] = value
            return
        _mse(train_pred, self.f_train, res["f_error_train"][k])
        self.population(epoch)

    def population(self, epoch: int) -> None:
        """Record the population metrics of ``epoch``, if there is a population sample."""
        if not self.xt_pop.shape[1]:
            return
        k, res = self.rec_index[epoch], self.res
        _population(self.run.tiles, self.xt_pop, self.f_pop, self.stats, self.scratch)
        res["f_error"][k], res["f_error_se"][k] = self.stats.f_error, self.stats.f_error_se
        if self.keep_predictions:
            self.pred_mean[k], self.pred_var[k] = self.stats.mean, self.stats.var_init

    def results(self, keep_state: bool) -> dict[str, np.ndarray]:
        """The arrays :func:`train_chunk` returns."""
        run = self.run
        inverse = torch.from_numpy(np.argsort(run.order))
        out = {m: v.to("cpu", torch.float64)[:, inverse].numpy() for m, v in self.res.items()}
        if self.keep_predictions:
            out["pred_mean"] = self.pred_mean.to("cpu", torch.float64).numpy()
            out["pred_var_init"] = self.pred_var.to("cpu", torch.float64).numpy()
            out["f_population"] = self.f_pop.to("cpu", torch.float64).numpy()[None]
        for name, value in self.ensemble.items():
            out[name] = value.to("cpu", torch.float64).numpy()
        if keep_state:
            out["state"] = _state_out([run.params, *run.opt.buffers], run.order, run.sizes,
                                      run.index)
        return out


def _fused_full_batch(run: _Setup, record: _Recorder, xt_both: Tensor, n: int,
                      start: int) -> None:
    """:func:`_full_batch` by the compiled kernel; back in Python only for population metrics."""
    from ._fused import group_bounds, trainer  # imports numba: only when a chunk needs it

    tr, opt = run.exp.train, run.opt
    widths = np.array([w for _, w, _ in run.ordered], dtype=np.int64)
    y_train, y_test = record.y_train, record.y_test
    if y_train.dim() == 2:  # (1, n): shared by the cells
        y, y_cell = torch.cat([y_train, y_test], dim=1), np.zeros(len(widths), np.int64)
    else:  # (cells, 1, n)
        y, y_cell = torch.cat([y_train[:, 0], y_test[:, 0]], dim=1), np.arange(len(widths))
    rec_row = np.full(tr.epochs + 1, -1, dtype=np.int64)
    for epoch, row in record.rec_index.items():
        rec_row[epoch] = row
    flat = tuple(t.numpy() if t is not None else np.empty(0, run.params.numpy().dtype)
                 for t in (run.params, opt.m, opt.v))
    train = trainer(flat, xt_both.numpy(), n, y.numpy(), y_cell, record.f_train.numpy(),
                    run.tiles.cell_positions(),
                    group_bounds(widths, xt_both.shape[0], run.params.element_size()),
                    widths, run.lr, run.weight_decay, tr, rec_row,
                    tuple(record.res[name].numpy()
                          for name in ("train_loss", "test_loss", "f_error_train")))

    def until(stop: int) -> None:
        nonlocal start
        if stop > start:
            train(opt.step_count, start, stop)
            opt.step_count += min(stop, tr.epochs) - start
            start = stop

    if record.xt_pop.shape[1]:
        for epoch in sorted(record.rec_index):
            until(epoch)
            record.population(epoch)
    until(tr.epochs + (tr.epochs in record.rec_index))


def _full_batch(run: _Setup, record: _Recorder, xt_both: Tensor, n: int, start: int) -> None:
    """Train full batch from epoch ``start``, recording as asked (inputs (dim + 1, n + n_test))."""
    if run.fused:
        _fused_full_batch(run, record, xt_both, n, start)
        return
    tr, tiles = run.exp.train, run.tiles
    xt_train, xt_test = xt_both[:, :n], xt_both[:, n:]
    for epoch in range(start, tr.epochs):
        recorded = epoch in record.rec_index
        pred = tiles.backprop(xt_train, record.y_train, record.loss, recorded)
        if recorded:  # the test rows apart: training activations stay contiguous
            record(epoch, pred, tiles.forward(xt_test, record.scratch))
        run.opt.step(run.params, run.grad)
    if tr.epochs in record.rec_index:
        pred = tiles.forward(xt_both, record.scratch)
        record(tr.epochs, pred[:, :n], pred[:, n:])


def _minibatches(run: _Setup, record: _Recorder, xt_both: Tensor, n: int, start: int,
                 data_seed: int, device: str) -> None:
    """Train by minibatches: one order per cell, gathered per cell, or one per data set."""
    exp, tiles = run.exp, run.tiles
    tr, y_train = exp.train, record.y_train
    xt_train, xt_test = xt_both[:, :n], xt_both[:, n:]
    seeds = shuffle_seeds(exp, [(w, data_seed, i) for _, w, i in run.ordered])
    shared = tr.shuffle == "data"
    for epoch in range(start, tr.epochs + 1):
        if epoch in record.rec_index:
            record(epoch, *(tiles.forward(x, record.scratch) for x in (xt_train, xt_test)))
        if epoch == tr.epochs:
            break
        if epoch == start or epoch % _SHUFFLE_BLOCK == 0:  # the keys of a block of epochs
            first, block = epoch, min(_SHUFFLE_BLOCK - epoch % _SHUFFLE_BLOCK,
                                      tr.epochs - epoch)
            perms = _argsort(shuffle_keys(seeds, epoch, block, n)).to(device)
        perm = perms[:, epoch - first]
        if shared:  # every cell the same rows: the dense shared-input path
            x_epoch = xt_train.index_select(1, perm[0])  # the epoch's order, gathered once
            y_epoch = y_train.index_select(-1, perm[0])
        for row in range(0, n, tr.batch_size):
            if shared:
                stop = row + tr.batch_size
                batch, y = x_epoch[:, row:stop], y_epoch[..., row:stop]
            else:
                idx = perm[:, row:row + tr.batch_size].contiguous()
                batch = xt_train.index_select(1, idx.view(-1)).view(-1, *idx.shape)
                batch = batch.transpose(0, 1).contiguous()
                y = (y_train.index_select(1, idx.view(-1)).view(-1, *idx.shape).transpose(0, 1)
                     if y_train.dim() == 2 else
                     y_train.gather(2, idx.unsqueeze(1).expand(-1, y_train.shape[1], -1)))
            tiles.backprop(batch, y, record.loss, False)
            run.opt.step(run.params, run.grad)


def train_chunk(points: Sequence[Experiment], cells: Sequence[tuple[int, int, int, int]],
                device: str = "cpu", state: np.ndarray | None = None, start: int = 0,
                keep_state: bool | None = None) -> dict[str, np.ndarray]:
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
    state : ndarray, optional
        (len(cells), k) rows of the cells' ``state`` after ``start`` epochs, as
        a previous call returned them: training continues from them.
    start : int
        Epochs already trained (0 without ``state``).
    keep_state : bool, optional
        Return each cell's final ``state`` (default: ``train.keep_state``).

    Returns
    -------
    dict of str to ndarray
        For each metric the experiments record (:func:`ddlab.dataset.metric_names`), a float64
        array of shape (len(recorded epochs from ``start`` on), len(cells)), cells in the
        order given; with ``keep_state``, ``state`` (len(cells), k): parameters then
        optimiser buffers of each cell, flattened layer by layer, NaN-padded. With a
        population sample and ``record_bias_variance``, also ``pred_mean``
        (len(epochs), groups, n_population) and ``pred_var_init`` (len(epochs), groups):
        the mean and variance over init seeds of the predictions at the
        population points, for groups of cells sharing (width, point), ordered
        by width and then point, and ``f_population`` (1, n_population), the true
        f there. Cross-entropy classification runs with ``record_bias_variance``
        return instead ``test_ce_bias``, ``test_ce_variance`` and
        ``test_error_variance`` (len(epochs), groups), the bias-variance terms over
        init seeds on the test set (:func:`ddlab.sim._classify.ensemble_terms`). Every
        (point, width) must come with the same init seeds (all of them for these
        group statistics to be over every init seed).
    """
    run = _setup(points, cells, device, state, start)
    data_seed = cells[0][2]
    samples = _chunk_samples(points, [p for p, _, _ in run.ordered], data_seed, device)
    x_train, x_test = samples[0], samples[2]
    n = x_train.shape[0]
    xt_both = _augment(torch.cat([x_train, x_test])).t().contiguous()  # (dim + 1, n + n_test)
    inits = len({c[3] for c in cells})  # every (point, width) holds the same init seeds
    record = _Recorder(run, samples, len(cells), inits, start)
    if run.minibatch:
        _minibatches(run, record, xt_both, n, start, data_seed, device)
    else:
        _full_batch(run, record, xt_both, n, start)
    return record.results(run.exp.train.keep_state if keep_state is None else keep_state)
