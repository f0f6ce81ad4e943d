"""The compiled CPU kernel against the eager engine steps it replaces, on the shapes it serves.

::

    python benchmarks/fused.py            # five workloads and the compile, a few minutes
    python benchmarks/fused.py --quick    # seconds (a smoke test, not a timing)

Full-batch training of one-hidden-layer ReLU regression networks runs through
:mod:`ddlab.sim._fused`; every other chunk through the eager steps of
:mod:`ddlab.sim._engine`. This script times both on the same experiments, in
this process, one torch thread, interleaved (the eager side by switching the
kernel off for the run), and prints medians and their ratio: the lecture grid
as shipped (population metrics every epoch: back in Python once per epoch)
and the three workloads of ``vs_jax.py``.

It then times the kernel's compilation, paid once per machine, dtype and ddlab
version: a fresh process with an empty numba cache directory, then a fresh
process that finds that cache (every later process).
"""

from __future__ import annotations

import argparse

from _common import JAX_WORKLOADS, compile_seconds, interleaved, lecture_variant, machine

import ddlab
from ddlab.sim import _engine

WORKLOADS = {"lecture as shipped": ({}, {"seeds": {"init": 5}, "train": {"epochs": 5}}),
             **JAX_WORKLOADS}


def _eager(exp: ddlab.Experiment) -> None:
    """Run ``exp`` on the eager engine steps."""
    fused = _engine._Setup.fused
    _engine._Setup.fused = property(lambda self: False)
    try:
        ddlab.run(exp, device="cpu", progress=False)
    finally:
        _engine._Setup.fused = fused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny workloads, for a smoke test")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    print("{:>26} {:>9} {:>9} {:>7}".format("workload", "eager", "fused", "ratio"))
    for name, (changes, small) in WORKLOADS.items():
        exp = lecture_variant(changes, small, args.quick)
        t = interleaved({"eager": lambda exp=exp: _eager(exp),
                         "fused": lambda exp=exp: ddlab.run(exp, device="cpu", progress=False)},
                        1 if args.quick else args.repeats)
        print(f"{name:>26} {t['eager']:8.3f}s {t['fused']:8.3f}s {t['eager'] / t['fused']:6.2f}x")
    cold, warm = compile_seconds()
    print(f"a fresh process, import and a tiny run: {cold:.2f}s with an empty numba cache "
          f"(the compilation), {warm:.2f}s with it filled")


if __name__ == "__main__":
    main()
