"""ddlab against a compiled JAX ensemble: steady state and first call (compile included).

::

    pip install 'ddlab[bench]'          # jax, CPU build
    python benchmarks/vs_jax.py          # the three workloads, a few minutes
    python benchmarks/vs_jax.py --quick  # seconds (a smoke test, not a timing)

The JAX ensemble is what a skilled JAX user would write instead of ddlab: the
init seeds of one width under ``jax.vmap``, all epochs in one ``jax.lax.scan``,
the whole run of a width under ``jax.jit``, full-batch Adam written out (the
``torch.optim.Adam`` update), and the metrics ddlab records without a
population sample (train and test loss, error in f on the training inputs) at
every epoch, kept on the device until the run ends. It trains on ddlab's data
of data seed 0 in the experiment's dtype, from PyTorch's default
initialisation drawn with ``jax.random``. XLA runs on one thread
(``--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1``, set
before jax is imported), torch on one thread; both run in this process.

Columns: ``ddlab`` (median of ``--repeats`` runs after one untimed run),
``ddlab 1st`` (its first run in this process: its compiled kernel loaded from
numba's disk cache, filled by an earlier process; the last line times that
one-time compilation in fresh processes),
``jax`` (the compiled ensemble's median, the same way), ``jax 1st`` (its first
call after ``jax.clear_caches()``, tracing and XLA compilation of every width
included), and the ratios jax / ddlab for each (> 1: ddlab is faster).
"""

from __future__ import annotations

import os

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_cpu_multi_thread_eigen=false"
                           " intra_op_parallelism_threads=1").strip()

import argparse
import functools
import statistics
import time

import numpy as np
from _common import JAX_WORKLOADS, compile_seconds, lecture_variant, machine

import ddlab

try:
    import jax
    import jax.numpy as jnp
except ImportError:  # pragma: no cover - depends on the environment
    raise SystemExit("benchmarks/vs_jax.py needs jax: pip install 'ddlab[bench]'") from None

WORKLOADS = JAX_WORKLOADS


def _init(key: jax.Array, sims: int, dim: int, width: int, dtype) -> dict[str, jax.Array]:
    """PyTorch's default nn.Linear initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    k = jax.random.split(key, 4)

    def u(key, shape, fan_in):
        bound = 1 / np.sqrt(fan_in)
        return jax.random.uniform(key, (sims, *shape), dtype, -bound, bound)

    return {"w1": u(k[0], (dim, width), dim), "b1": u(k[1], (width,), dim),
            "w2": u(k[2], (width,), width), "b2": u(k[3], (), width)}


def _forward(p: dict[str, jax.Array], x: jax.Array) -> jax.Array:
    return jax.nn.relu(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]


@functools.cache
def _runner(lr: float, epochs: int):
    """The jitted run of one width: Adam over ``epochs`` full-batch steps, metrics each epoch.

    Cached, as a user would keep it: jax.jit compiles once per input shape.
    """
    b1, b2, eps = 0.9, 0.999, 1e-8

    def one(p, x, y, xt, yt, ft):
        def loss(q):
            return jnp.mean((_forward(q, x) - y) ** 2)

        def step(carry, t):
            q, m, v = carry
            value, g = jax.value_and_grad(loss)(q)
            m = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, m, g)
            v = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, v, g)
            c1, c2 = 1 - b1 ** t, 1 - b2 ** t
            q = jax.tree.map(lambda q, m, v: q - lr / c1 * m / (jnp.sqrt(v / c2) + eps), q, m, v)
            pred = _forward(q, x)
            metrics = (value, jnp.mean((_forward(q, xt) - yt) ** 2), jnp.mean((pred - ft) ** 2))
            return (q, m, v), metrics

        zeros = jax.tree.map(jnp.zeros_like, p)
        ts = jnp.arange(1, epochs + 1, dtype=x.dtype)
        (q, _, _), metrics = jax.lax.scan(step, (p, zeros, zeros), ts)
        return q, metrics

    return jax.jit(jax.vmap(one, in_axes=(0, None, None, None, None, None)))


def jax_ensemble(exp: ddlab.Experiment) -> list:
    """Train every width of the grid (data seed 0) as one compiled JAX ensemble per width."""
    s = ddlab.make_data(exp, 0)
    data = [jnp.asarray(t.numpy()) for t in (s.x_train, s.y_train, s.x_test, s.y_test,
                                             s.f_train)]
    run = _runner(exp.train.lr, exp.train.epochs)
    out = []
    for width in exp.model.width:
        p = _init(jax.random.key(width), exp.seeds.init, exp.data.dim, width, data[0].dtype)
        out.append(run(p, *data))
    return jax.block_until_ready(out)


def _timed(fn, repeats: int) -> tuple[float, float]:
    """(first call, median of ``repeats`` more) in seconds."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return first, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny workloads, for a smoke test")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    print(machine())
    print(f"jax {jax.__version__} on {jax.devices()[0]}; XLA_FLAGS={os.environ['XLA_FLAGS']}")
    head = ("workload", "ddlab", "ddlab 1st", "jax", "jax 1st", "steady", "1st call")
    print("{:>24} {:>9} {:>9} {:>9} {:>9} {:>7} {:>8}".format(*head))
    for name in WORKLOADS:
        exp = lecture_variant(*WORKLOADS[name], args.quick)
        d_first, d = _timed(lambda exp=exp: ddlab.run(exp, device="cpu", progress=False),
                            repeats)
        jax.clear_caches()
        _runner.cache_clear()
        j_first, j = _timed(lambda exp=exp: jax_ensemble(exp), repeats)
        print(f"{name:>24} {d:8.3f}s {d_first:8.3f}s {j:8.3f}s {j_first:8.3f}s "
              f"{j / d:6.2f}x {j_first / d_first:7.1f}x")
    cold, warm = compile_seconds()
    print(f"ddlab's kernel compilation, once per machine, dtype and ddlab version: a fresh "
          f"process (import, a tiny run) takes {cold:.2f}s with an empty numba cache, "
          f"{warm:.2f}s with it filled ('ddlab 1st' above: filled)")


if __name__ == "__main__":
    main()
