"""Fused CPU training of one-hidden-layer ReLU regression networks, compiled with numba.

The eager engine (:mod:`ddlab.sim._engine`) runs a training step as some twenty
tensor operations over all cells of a chunk; on narrow networks each costs a
few microseconds of dispatch and a pass over memory. Here one compiled loop nest
trains a *group* of cells of one width through many epochs while their
parameters, optimiser state and activations stay in cache: forward pass, loss,
backward pass, optimiser update and the recorded train and test metrics.

Layout
------
A group of ``C`` cells of width ``w`` is copied out of the chunk's flat buffers
into arrays of ``w Cp`` columns, the first-layer weights and biases as ``(dim
+ 1, w Cp)``, the input dimension padded to a multiple of 4 with zeros. Narrow
networks (``w < 32``) are laid out *unit-major*: unit ``u`` of cell ``c`` at
column ``u Cp + c``, ``Cp`` being C rounded up to a multiple of 8 (zero
lanes), so that the per-cell loops (outputs, their gradients) run over cells,
vectorised. Wider ones are *cell-major*, ``c w + u`` with ``Cp = C``, and those
loops run over a cell's units. The first layer and its gradient are loops over
all columns, four input rows at a time (each weight loaded once for four
rows). No sum runs across cells, and the one reduction over units
(:func:`_relu_dot`) has an order fixed by the width: a cell's numbers are the
same bits in any group, whatever the chunking.

The arithmetic is the eager engine's and ``torch.optim``'s up to the order of
summation; ``tests/sim/test_fused.py`` pins the kernel to a plain one-model
loop at float64 round-off. The compiled code is cached on disk (``cache=True``,
in ``__pycache__`` or numba's cache directory): compiled once per dtype,
loaded by later processes.
"""

from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np

__all__ = ["OPTIMIZERS", "group_bounds", "trainer"]

#: cells per vector of the unit-major layout (8 float32 lanes of AVX2)
_LANES = 8
#: the narrowest width laid out cell-major (each cell's units contiguous)
_CELL_MAJOR = 32
#: optimiser codes of the compiled update
OPTIMIZERS = {"sgd": 0, "adam": 1, "adamw": 2, "rmsprop": 3}
#: slots of the constants the kernel takes in the parameters' dtype
(H_BETA2, H_EPS, H_ALPHA, H_MOMENTUM, H_NESTEROV, H_TWO, H_ONE, H_ZERO, H_INV_N, H_1MB1,
 H_1MB2, H_1MALPHA) = range(12)

_njit = numba.njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")


def group_bounds(widths: np.ndarray, d1: int, itemsize: int) -> np.ndarray:
    """Groups of consecutive equal-width cells (``widths`` sorted): their bounds.

    A group holds as many cells as keep its first-layer weights (``d1`` = dim + 1
    padded to 4, by its columns) within 64 KiB, about L1; when it is laid out
    unit-major (narrower than :data:`_CELL_MAJOR`), whole vectors of cells.
    """
    d = -(-d1 // 4) * 4
    bounds = [0]
    for w, count in zip(*np.unique(widths, return_counts=True), strict=True):
        fit = (1 << 16) // (d * itemsize * int(w))
        cap = max(_LANES, fit // _LANES * _LANES) if w < _CELL_MAJOR else max(1, fit)
        end = bounds[-1] + int(count)
        bounds += [*range(bounds[-1] + cap, end, cap), end]
    return np.array(bounds, dtype=np.int64)


@_njit
def _lanes(cells, width):
    """Columns per unit: the cells, rounded up to a multiple of :data:`_LANES` if unit-major."""
    return -(-cells // _LANES) * _LANES if width < _CELL_MAJOR else cells


@numba.njit(cache=True, nogil=True, fastmath={"contract", "reassoc"}, error_model="numpy")
def _relu_dot(z, w2, zero):
    """sum_u relu(z[u]) w2[u]: a vectorised reduction.

    Its order of summation depends on the length alone, so a cell's output
    does not depend on the group it is trained in.
    """
    s = zero
    for u in range(z.shape[0]):
        a = z[u]
        s += (a if a > zero else zero) * w2[u]
    return s


@_njit
def _update(p, g, m, v, lr, wd, decay, code, t, h, c1, c2sqrt):
    """One optimiser step of the rows of p (rows, J) with per-column lr and wd (J,)."""
    one, zero = h[H_ONE], h[H_ZERO]
    b2, eps, alpha, mom = h[H_BETA2], h[H_EPS], h[H_ALPHA], h[H_MOMENTUM]
    b1c, b2c, alphac = h[H_1MB1], h[H_1MB2], h[H_1MALPHA]
    rows, cols = p.shape
    for k in range(rows):
        pk, gk, mk, vk = p[k], g[k], m[k], v[k]
        if decay and code != 2:
            for j in range(cols):
                gk[j] = gk[j] + pk[j] * wd[j]
        if code == 1 or code == 2:  # adam, adamw
            if code == 2 and decay:
                for j in range(cols):
                    pk[j] = pk[j] * (one - lr[j] * wd[j])
            # one array written per loop: few enough alias checks for LLVM to vectorise
            for j in range(cols):
                mk[j] = mk[j] + b1c * (gk[j] - mk[j])
            for j in range(cols):
                vk[j] = vk[j] * b2 + b2c * gk[j] * gk[j]
            for j in range(cols):
                pk[j] = pk[j] - lr[j] / c1 * (mk[j] / (np.sqrt(vk[j]) / c2sqrt + eps))
        elif code == 0:  # sgd
            if mom != zero:
                for j in range(cols):
                    mk[j] = gk[j] if t == 1 else mk[j] * mom + gk[j]
                    step = gk[j] + mom * mk[j] if h[H_NESTEROV] != zero else mk[j]
                    pk[j] = pk[j] - step * lr[j]
            else:
                for j in range(cols):
                    pk[j] = pk[j] - gk[j] * lr[j]
        else:  # rmsprop
            for j in range(cols):
                vk[j] = vk[j] * alpha + alphac * gk[j] * gk[j]
                avg = np.sqrt(vk[j]) + eps
                if mom != zero:
                    mk[j] = mk[j] * mom + gk[j] / avg
                    pk[j] = pk[j] - mk[j] * lr[j]
                else:
                    pk[j] = pk[j] - gk[j] * lr[j] / avg


@_njit
def _forward_rows(x, r, W, w2, b2, z, out, cp, zero):
    """Pre-activations z (4, J) and outputs out (4, Cp) of input rows r..r+3.

    The input dimension comes padded to a multiple of 4 (zero weights at zero
    inputs): each pass over z loads four rows of W once for four input rows.
    """
    d, cols = W.shape
    z0, z1, z2, z3 = z[0], z[1], z[2], z[3]
    for k in range(0, d, 4):
        a0, a1, a2, a3 = x[k, r], x[k + 1, r], x[k + 2, r], x[k + 3, r]
        b0, b1, b2_, b3 = x[k, r + 1], x[k + 1, r + 1], x[k + 2, r + 1], x[k + 3, r + 1]
        c0, c1, c2, c3 = x[k, r + 2], x[k + 1, r + 2], x[k + 2, r + 2], x[k + 3, r + 2]
        d0, d1, d2, d3 = x[k, r + 3], x[k + 1, r + 3], x[k + 2, r + 3], x[k + 3, r + 3]
        Wa, Wb, Wc, Wd = W[k], W[k + 1], W[k + 2], W[k + 3]
        if k == 0:
            for j in range(cols):
                z0[j] = Wa[j] * a0 + Wb[j] * a1 + Wc[j] * a2 + Wd[j] * a3
                z1[j] = Wa[j] * b0 + Wb[j] * b1 + Wc[j] * b2_ + Wd[j] * b3
                z2[j] = Wa[j] * c0 + Wb[j] * c1 + Wc[j] * c2 + Wd[j] * c3
                z3[j] = Wa[j] * d0 + Wb[j] * d1 + Wc[j] * d2 + Wd[j] * d3
        else:
            for j in range(cols):
                z0[j] = z0[j] + Wa[j] * a0 + Wb[j] * a1 + Wc[j] * a2 + Wd[j] * a3
                z1[j] = z1[j] + Wa[j] * b0 + Wb[j] * b1 + Wc[j] * b2_ + Wd[j] * b3
                z2[j] = z2[j] + Wa[j] * c0 + Wb[j] * c1 + Wc[j] * c2 + Wd[j] * c3
                z3[j] = z3[j] + Wa[j] * d0 + Wb[j] * d1 + Wc[j] * d2 + Wd[j] * d3
    for i in range(4):
        zi, oi = z[i], out[i]
        if cols // cp < _CELL_MAJOR:  # unit-major: a vector of cells per unit
            for c in range(cp):
                oi[c] = b2[c]
            for u in range(cols // cp):
                base = u * cp
                for c in range(cp):
                    a = zi[base + c]
                    oi[c] = oi[c] + (a if a > zero else zero) * w2[base + c]
        else:  # cell-major: each cell's units in a row
            w = cols // cp
            for c in range(cp):
                oi[c] = b2[c] + _relu_dot(zi[c * w:c * w + w], w2[c * w:c * w + w], zero)


@_njit
def _backward_rows(x, r, w2, z, g, gW, gw2, gb2, cp, zero):
    """Add the gradient of rows r..r+3, given their loss gradients g (4, Cp), to gW, gw2, gb2.

    z (4, J) holds the rows' pre-activations; they become the gradients with
    respect to them. Four rows at a time: gW is loaded and stored once per four.
    """
    cols = w2.shape[0]
    w = cols // cp
    for i in range(4):
        zi, gi = z[i], g[i]
        for c in range(cp):
            gb2[c] = gb2[c] + gi[c]
        if w < _CELL_MAJOR:
            for u in range(w):
                base = u * cp
                for c in range(cp):
                    a = zi[base + c]
                    gw2[base + c] = gw2[base + c] + (gi[c] * a if a > zero else zero)
                    zi[base + c] = gi[c] * w2[base + c] if a > zero else zero
        else:
            for c in range(cp):  # on slices, one array written per loop: vectorised
                cell = slice(c * w, c * w + w)
                gc, zc, w2c, gw2c = gi[c], zi[cell], w2[cell], gw2[cell]
                for u in range(w):
                    a = zc[u]
                    gw2c[u] = gw2c[u] + (gc * a if a > zero else zero)
                for u in range(w):
                    zc[u] = gc * w2c[u] if zc[u] > zero else zero
    z0, z1, z2, z3 = z[0], z[1], z[2], z[3]
    for k in range(gW.shape[0]):
        x0, x1, x2, x3 = x[k, r], x[k, r + 1], x[k, r + 2], x[k, r + 3]
        gk = gW[k]
        for j in range(cols):
            gk[j] = gk[j] + z0[j] * x0 + z1[j] * x1 + z2[j] * x2 + z3[j] * x3


@_njit
def _gather(flat, first, stride, wout, bout, cells, w, cp, d1, arrays, back):
    """Copy a group's parameters between the chunk's flat buffer and the group's arrays.

    ``arrays``: (W, w2, b2); only the first ``d1`` rows of W are the buffer's.
    """
    W, w2, b2 = arrays
    for c in range(len(cells)):
        cell = cells[c]
        for u in range(w):
            j = u * cp + c if w < _CELL_MAJOR else c * w + u
            for k in range(d1):
                pos = first[cell] + k * stride[cell] + u
                if back:
                    flat[pos] = W[k, j]
                else:
                    W[k, j] = flat[pos]
            if back:
                flat[wout[cell] + u] = w2[j]
            else:
                w2[j] = flat[wout[cell] + u]
        if back:
            flat[bout[cell]] = b2[c]
        else:
            b2[c] = flat[bout[cell]]


@_njit
def _record(out, y, f, r, n, cp, acc):
    """Add row r's squared errors to acc: train loss, test loss, error in f (rows of Cp)."""
    slot = 0 if r < n else cp
    for c in range(cp):
        diff = out[c] - y[r, c]
        acc[slot + c] = acc[slot + c] + diff * diff
    if r < n:
        for c in range(cp):
            df = out[c] - f[r]
            acc[2 * cp + c] = acc[2 * cp + c] + df * df


@_njit
def _epochs(x, n, rows, y, f, cells, cp, W, w2, b2, state, lr, decay, code, h, betas, t0,
            e0, e1, last, rec_row, res):
    """Train one group from epoch e0 to e1 (exclusive), recording where rec_row[e] >= 0.

    ``x`` (dim + 1 padded, n padded + test rows padded) holds the train rows,
    padded to a multiple of 4 with zero rows, then the ``rows - n_pad`` test
    rows; ``y`` (rows, Cp) the group's targets there; ``state`` the gradients,
    the optimiser's m and v, and the work arrays; ``res`` the (recorded epoch,
    cell) train loss, test loss and error in f on the train rows.
    """
    gW, gw2, gb2, mW, mw2, mb2, vW, vw2, vb2, z, out, g, acc, corr = state
    lr_j, lr_c, wd_j, wd_c = lr
    zero, two, scale = h[H_ZERO], h[H_TWO], h[H_INV_N]
    n_pad = (n + 3) // 4 * 4
    for e in range(e0, e1):
        row = rec_row[e]
        step = e < last
        acc[:] = zero
        gW[:] = zero
        gw2[:] = zero
        gb2[:] = zero
        for r0 in range(0, x.shape[1] if row >= 0 else n_pad, 4):  # train, then test rows
            _forward_rows(x, r0, W, w2, b2, z, out, cp, zero)
            for i in range(4):
                r = r0 + i
                if r0 < n_pad:
                    for c in range(cp):
                        g[i, c] = (out[i, c] - y[r, c]) * two * scale if r < n else zero
                if row >= 0 and (r < n or n_pad <= r < rows):
                    _record(out[i], y, f, r, n, cp, acc)
            if step and r0 < n_pad:
                _backward_rows(x, r0, w2, z, g, gW, gw2, gb2, cp, zero)
        if row >= 0:
            for c in range(len(cells)):
                res[0][row, cells[c]] = acc[c] / n
                res[1][row, cells[c]] = acc[cp + c] / (rows - n_pad)
                res[2][row, cells[c]] = acc[2 * cp + c] / n
        if step:
            t = t0 + e - e0 + 1
            corr[0] = 1.0 - betas[0] ** t  # bias corrections in float64, then cast
            corr[1] = np.sqrt(1.0 - betas[1] ** t)
            c1, c2sqrt = corr[0], corr[1]
            _update(W, gW, mW, vW, lr_j, wd_j, decay, code, t, h, c1, c2sqrt)
            _update(w2.reshape(1, -1), gw2.reshape(1, -1), mw2.reshape(1, -1),
                    vw2.reshape(1, -1), lr_j, wd_j, decay, code, t, h, c1, c2sqrt)
            _update(b2.reshape(1, -1), gb2.reshape(1, -1), mb2.reshape(1, -1),
                    vb2.reshape(1, -1), lr_c, wd_c, decay, code, t, h, c1, c2sqrt)


@_njit
def _train_groups(params, m, v, x, d1, n, y, ycell, f, pos, bounds, widths, lr_cell, wd_cell,
                  decay, code, h, betas, t0, e0, e1, last, rec_row, res):
    """Train every group of cells; see :func:`trainer` (``x`` and ``f`` come padded)."""
    first, stride, wout, bout = pos
    d, rows = x.shape
    n_pad, n_test = (n + 3) // 4 * 4, y.shape[1] - n
    dt = params.dtype
    for gi in range(len(bounds) - 1):
        cells = np.arange(bounds[gi], bounds[gi + 1])
        w = widths[cells[0]]
        cp = _lanes(len(cells), w)
        cols = w * cp
        wide = np.zeros((4, d, cols), dt)
        W, mW, vW, gW = wide[0], wide[1], wide[2], wide[3]
        units = np.zeros((6, cols), dt)
        w2, mw2, vw2, gw2, lr_j, wd_j = units[0], units[1], units[2], units[3], units[4], units[5]
        lanes = np.zeros((6, cp), dt)
        b2, mb2, vb2, gb2, lr_c, wd_c = lanes[0], lanes[1], lanes[2], lanes[3], lanes[4], lanes[5]
        z, g, out = np.zeros((4, cols), dt), np.zeros((4, cp), dt), np.zeros((4, cp), dt)
        acc, corr = np.zeros(3 * cp, dt), np.zeros(2, dt)
        yl = np.zeros((rows, cp), dt)
        for c in range(len(cells)):
            lr_c[c], wd_c[c] = lr_cell[cells[c]], wd_cell[cells[c]]
            for u in range(w):
                j = u * cp + c if w < _CELL_MAJOR else c * w + u
                lr_j[j], wd_j[j] = lr_c[c], wd_c[c]
            for r in range(rows):
                if r < n or n_pad <= r < n_pad + n_test:
                    yl[r, c] = y[ycell[cells[c]], r - n_pad + n if r >= n_pad else r]
        for flat, arrays in ((params, (W, w2, b2)), (m, (mW, mw2, mb2)), (v, (vW, vw2, vb2))):
            if flat.shape[0]:
                _gather(flat, first, stride, wout, bout, cells, w, cp, d1, arrays, False)
        state = (gW, gw2, gb2, mW, mw2, mb2, vW, vw2, vb2, z, out, g, acc, corr)
        _epochs(x, n, n_pad + n_test, yl, f, cells, cp, W, w2, b2, state,
                (lr_j, lr_c, wd_j, wd_c), decay, code, h, betas, t0, e0, e1, last, rec_row, res)
        for flat, arrays in ((params, (W, w2, b2)), (m, (mW, mw2, mb2)), (v, (vW, vw2, vb2))):
            if flat.shape[0]:
                _gather(flat, first, stride, wout, bout, cells, w, cp, d1, arrays, True)


def trainer(flat: tuple[np.ndarray, np.ndarray, np.ndarray], x: np.ndarray, n: int,
            y: np.ndarray, y_cell: np.ndarray, f: np.ndarray, positions: tuple[np.ndarray, ...],
            bounds: np.ndarray, widths: np.ndarray, lr: np.ndarray,
            weight_decay: np.ndarray, spec, rec_row: np.ndarray,
            res: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Callable[[int, int, int], None]:
    """The kernel bound to a chunk: ``train(steps, start, stop)`` trains epochs ``[start, stop)``.

    Each epoch is recorded where ``rec_row[epoch] >= 0`` (into row
    ``rec_row[epoch]`` of the (recorded epochs, cells) arrays ``res``: train
    loss, test loss, error in f on the train rows), then stepped unless it is
    ``spec.epochs``; ``steps`` counts the optimiser steps taken before (bias
    corrections, SGD's first momentum step).
    Parameters and optimiser state are read from and written back to ``flat``.

    Parameters
    ----------
    flat : (ndarray, ndarray, ndarray)
        The chunk's flat parameters and the optimiser's first and second
        moment buffers (empty arrays for moments the optimiser lacks).
    x : ndarray
        (dim + 1, n + n_test) inputs with a row of ones: train rows, then test rows.
    n : int
        Train rows.
    y, y_cell : ndarray
        Targets (rows, n + n_test), and the row of each cell.
    f : ndarray
        True f on the train rows (n,).
    positions : tuple of ndarray
        :meth:`ddlab.sim._engine._Tiles.cell_positions`.
    bounds : ndarray
        :func:`group_bounds`: group k holds cells ``bounds[k]`` to ``bounds[k + 1]``.
    widths, lr, weight_decay : ndarray
        Per cell.
    spec : TrainSpec
        The optimiser and its hyperparameters, and the epochs.
    rec_row : ndarray
        The row of each epoch in ``res``, -1 if not recorded.
    res : (ndarray, ndarray, ndarray)
        Where to record.
    """
    dt = flat[0].dtype
    h = np.array([spec.betas[1], spec.eps, spec.alpha, spec.momentum,
                  spec.nesterov, 2, 1, 0, 1 / n, 1 - spec.betas[0], 1 - spec.betas[1],
                  1 - spec.alpha], dtype=dt)
    d1, n_pad = x.shape[0], (n + 3) // 4 * 4
    xp = np.zeros((-(-d1 // 4) * 4, n_pad + -(-(x.shape[1] - n) // 4) * 4), dt)
    xp[:d1, :n], xp[:d1, n_pad:n_pad + x.shape[1] - n] = x[:, :n], x[:, n:]
    fp = np.zeros(n_pad, dt)
    fp[:n] = f
    args = (*flat, xp, d1, n, np.ascontiguousarray(y, dt), y_cell, fp, positions, bounds, widths,
            lr.astype(dt), weight_decay.astype(dt), bool(np.any(weight_decay != 0)),
            OPTIMIZERS[spec.optimizer], h, np.array(spec.betas, dtype=np.float64))

    def train(steps: int, start: int, stop: int) -> None:
        _train_groups(*args, steps, start, stop, spec.epochs, rec_row, res)

    return train
