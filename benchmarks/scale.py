"""A large grid on 2 local processes and on a 2-worker Dask LocalCluster, side by side.

Run by hand (never from the test suite)::

    python benchmarks/scale.py            # the full grid (hours on 2 cores)
    python benchmarks/scale.py --quick    # 2 data seeds x 10 inits x 300 epochs
    python benchmarks/scale.py --data 4 --init 20 --epochs 500   # any scale between

The grid: 30 log-spaced widths from 1 to 1,024 x 3 noise levels (0.1, 0.5,
1.5; trained in one batch) x 20 data seeds x 50 inits x 2,000 epochs,
recorded at 50 log-spaced epochs, with ``f_error`` on 1,000 population
points (``record_bias_variance = false``: the per-point predictions would
take 30 x 50 x 20 x 3 x 1,000 x 8 B = 720 MB). Each backend runs in a fresh
process into its own store, with the default memory budget (2 GiB). It
prints, per backend: wall time, cell-epochs per second, peak resident memory
of the parent and of each worker (Linux ``VmHWM``), the store's size, and
``ddlab show``'s estimates of them; then the ratio of the wall times and
whether the two stores hold bit-identical results.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common
import cloudpickle
import numpy as np
from _common import peak_rss_bytes

import ddlab
from ddlab.sim import format_bytes, local_cluster, plan_run


def grid(data: int, init: int, epochs: int) -> dict:
    """The benchmark experiment at a given scale."""
    return {
        "name": "scale",
        "data": {"n_population": 1000, "noise": [0.1, 0.5, 1.5]},
        "model": {"width": {"start": 1, "stop": 1024, "num": 30, "log": True}},
        "train": {"epochs": epochs, "record": {"log": 50}, "record_bias_variance": False},
        "seeds": {"data": data, "init": init},
    }


def child(backend: str, exp: dict, out: str) -> dict:
    """Run the grid with one backend in this process; measure what the parent prints."""
    import psutil

    if backend == "local":
        t0 = time.perf_counter()
        ddlab.run(exp, out=out, n_jobs=2, device="cpu", progress=False)
        wall = time.perf_counter() - t0
        workers = sorted(peak_rss_bytes(p.pid) for p in psutil.Process().children(recursive=True)
                         if "popen_loky" in " ".join(p.cmdline()))  # not its resource tracker
        return {"wall": wall, "start": 0.0, "parent": peak_rss_bytes(), "workers": workers}
    from distributed import Client

    t0 = time.perf_counter()
    with local_cluster(2) as cluster, Client(cluster) as client:  # what --scheduler local starts
        start = time.perf_counter() - t0
        t0 = time.perf_counter()
        ddlab.run(exp, out=out, backend="dask", scheduler=client, progress=False)
        wall = time.perf_counter() - t0
        cloudpickle.register_pickle_by_value(_common)  # workers cannot import benchmarks/
        workers = sorted(client.run(peak_rss_bytes).values())
    return {"wall": wall, "start": start, "parent": peak_rss_bytes(), "workers": workers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 data x 10 inits x 300 epochs")
    parser.add_argument("--data", type=int, help="data seeds (default 20)")
    parser.add_argument("--init", type=int, help="init seeds (default 50)")
    parser.add_argument("--epochs", type=int, help="epochs (default 2000)")
    parser.add_argument("--child", nargs=2, metavar=("BACKEND", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    quick = (2, 10, 300) if args.quick else (20, 50, 2000)
    scale = [q if a is None else a for a, q in zip((args.data, args.init, args.epochs), quick,
                                                    strict=True)]
    exp = grid(*scale)
    if args.child:
        print(json.dumps(child(args.child[0], exp, args.child[1])))
        return
    e = ddlab.load_experiment(exp)
    cells = len(e.model.width) * 3 * e.seeds.data * e.seeds.init
    plan = plan_run(e)
    print(f"grid: 30 widths 1-1024 x 3 noises x {e.seeds.data} data x {e.seeds.init} inits = "
          f"{cells} cells x {e.train.epochs} epochs ({len(e.epochs)} recorded); "
          f"{len(plan.chunks)} chunks")
    print(f"estimated (ddlab show): one process {format_bytes(plan.local_bytes)}, parent "
          f"{format_bytes(plan.parent_bytes)}, worker {format_bytes(plan.worker_bytes)}, "
          f"store {format_bytes(plan.store_bytes)}")
    tmp = Path(tempfile.mkdtemp(prefix="ddlab_scale_"))
    results = {}
    try:
        for backend in ("local", "dask"):
            out = tmp / f"{backend}.zarr"
            done = subprocess.run([sys.executable, __file__, *sys.argv[1:], "--child", backend,
                                   str(out)], capture_output=True, text=True)
            if done.returncode:
                sys.exit(done.stderr)
            r = json.loads(done.stdout.splitlines()[-1])
            r["store"] = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
            # each chunk stores its compute time in its cells: the workers' busy fraction
            r["busy"] = float(np.unique(ddlab.open_results(out).wall_time.values).sum()) / (
                2 * r["wall"])
            results[backend] = r
            name = "2 local processes (joblib)" if backend == "local" else "2-worker LocalCluster"
            print(f"{name:>28}: {r['wall']:8.1f} s (+{r['start']:.1f} s cluster start), "
                  f"{cells * e.train.epochs / r['wall']:,.0f} cell-epochs/s; peak parent "
                  f"{format_bytes(r['parent'])}, workers "
                  f"{', '.join(format_bytes(w) for w in r['workers'])}; store "
                  f"{format_bytes(r['store'])}; workers busy {r['busy']:.0%}")
        a, b = (ddlab.open_results(tmp / f"{k}.zarr") for k in ("local", "dask"))
        same = all(np.array_equal(a[v].values, b[v].values, equal_nan=True)
                   for v in a.data_vars if v != "wall_time")
        print(f"dask / local wall time: {results['dask']['wall'] / results['local']['wall']:.2f}"
              f"; results bit-identical: {same}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
