"""``ddlab reproduce``: every experiment, figure and number of the paper, from one command.

It reads the paper file (``experiments/paper.toml``), runs each experiment
into a store (resuming: finished cells are never recomputed; a store of
another ddlab version or of a changed experiment is replaced), draws each
figure as PNG and PDF, times the speed table (once; the timings are kept
beside the stores), and writes every number the paper quotes as LaTeX macros.

Outputs: stores ``OUT/<name>.zarr`` and figures ``OUT/figures/<figure>.{png,pdf}``
(``OUT`` = ``results``, or ``results/quick`` with ``--quick``); numbers
``paper/generated/numbers.tex`` for the default full run, else
``OUT/generated/numbers.tex`` (so a quick run never replaces the paper's).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from .._orphans import die_with_parent
from .._version import __version__
from ..results import check_writable, experiment_of, open_results
from ._paperfile import Entry, PaperFile, read_paper_file

__all__ = ["add_parser", "main", "reproduce"]

#: the repository's paper file, figures and numbers, relative to the working directory
PAPER_FILE = Path("experiments/paper.toml")
RESULTS = Path("results")
PAPER_NUMBERS = Path("paper/generated")


def add_parser(sub) -> None:
    p = sub.add_parser("reproduce", help="run every experiment of the paper and draw its "
                                         "figures and numbers")
    p.add_argument("--quick", action="store_true",
                   help="a reduced version of everything (about a minute on 2 cores)")
    p.add_argument("--out", help="stores and figures (default: results, or results/quick "
                                 "with --quick)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="only these experiments")
    p.add_argument("--n-jobs", type=int, default=-1,
                   help="worker processes, each running whole experiments (default -1: one "
                        "per core)")
    p.add_argument("--paper-file", default=str(PAPER_FILE), help="the paper file")
    p.set_defaults(handler=main)


def _say(text: str) -> None:
    print(text, flush=True)


def _stale(store: Path, exp) -> str:
    """Why a store of an earlier reproduction cannot be reused ("" if it can)."""
    import zarr

    try:
        attrs = zarr.open_group(store, mode="r").attrs.asdict()
    except Exception:  # no store there (or not one ddlab can read): nothing to reuse
        return ""
    if attrs.get("ddlab_version") != __version__:
        return f"computed by ddlab {attrs.get('ddlab_version')}"
    try:
        same = experiment_of(attrs).to_dict() == exp.to_dict()
    except ValueError:
        same = False
    return "" if same else "experiment changed"


def _speed(paper: PaperFile, out: Path, quick: bool) -> tuple[dict[str, float], int]:
    """The speed table's timings, measured once and kept in ``out/speed.json``."""
    from ..sim import per_model_loop, run, vmap_ensemble

    spec = paper.speed
    sims = int(spec.get("quick_sims" if quick else "sims", 100))
    entry = next(e for e in paper.entries if e.name == spec["experiment"])
    exp = entry.experiment(quick=False).replace(data={"n_population": 0},
                                                seeds={"init": sims})
    key = {"experiment": exp.to_json(), "version": __version__, "sims": sims}
    path = out / "speed.json"
    if path.exists():
        saved = json.loads(path.read_text())
        if saved.get("key") == key:
            return saved["timings"], sims
    run(exp, device="cpu", progress=False)  # warm-up
    timings = {}
    for name, fn in (("ddlab", lambda: run(exp, device="cpu", progress=False)),
                     ("vmap", lambda: vmap_ensemble(exp, sims)),
                     ("loop", lambda: per_model_loop(exp, sims, n_jobs=1))):
        t0 = time.perf_counter()
        fn()
        timings[name] = time.perf_counter() - t0
    path.write_text(json.dumps({"key": key, "timings": timings}, indent=1))
    return timings, sims


def _experiment(entry: Entry, quick: bool, root: Path) -> dict[str, object]:
    """Run one experiment of the paper file into its store, draw its figures, take its numbers.

    Runs in a worker process of :func:`reproduce` (or in the caller's with one job).
    """
    import matplotlib  # plotting and simulation load only when reproducing

    matplotlib.use("Agg")
    from ..plot import save
    from ..sim import run
    from ._figures import draw
    from ._numbers import experiment_numbers

    t0 = time.perf_counter()
    exp = entry.experiment(quick)
    store = root / f"{entry.name}.zarr"
    stale = _stale(store, exp)
    ds = run(exp, out=store, progress=False, fresh=bool(stale))
    note = ds.attrs["history"].splitlines()[-1].rsplit("(", 1)[-1].rstrip(")")
    note += f" ({stale}: store replaced)" if stale else ""
    ds = open_results(store)
    exp = experiment_of(ds)
    figures = []
    for fig in entry.figures:
        figures += save(draw(fig, ds, exp, quick), root / "figures" / fig.name)
    numbers = {}
    if entry.numbers:
        theories = {f.options["theory"] for f in entry.figures if "theory" in f.options}
        numbers = experiment_numbers(entry.name, ds, exp, sorted(theories),
                                     {f.kind for f in entry.figures})
    return {"note": note, "figures": figures, "numbers": numbers,
            "computed": not note.startswith("computed 0 "), "seconds": time.perf_counter() - t0}


def _jobs(n_jobs: int) -> int:
    """Worker processes for ``n_jobs`` (``-1``: one per core)."""
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs = {n_jobs!r}: expected a positive integer or -1")
    return (os.cpu_count() or 1) if n_jobs == -1 else n_jobs


def reproduce(quick: bool = False, out: str | Path | None = None,
              only: list[str] | None = None, n_jobs: int = -1,
              paper_file: str | Path = PAPER_FILE) -> dict[str, object]:
    """Run, draw and number everything the paper file lists.

    Parameters
    ----------
    quick : bool
        Apply each experiment's ``quick`` overrides (stores go to their own
        directory, so quick and full results never mix).
    out : str or Path, optional
        Directory of stores and figures.
    only : list of str, optional
        Experiment names to do (default: all).
    n_jobs : int
        Worker processes, each running whole experiments, one torch thread
        each (``-1``, the default: one per core). Stores, figures and
        numbers do not depend on it; the speed table is timed afterwards, in
        this process alone.
    paper_file : str or Path
        The paper file.

    Returns
    -------
    dict
        ``figures`` (paths written), ``numbers`` (the numbers file),
        ``computed`` (experiments that computed chunks), ``seconds``.
    """
    from ._numbers import parse, render, speed_numbers

    t0 = time.perf_counter()
    paper = read_paper_file(paper_file)
    entries = paper.select(only)
    jobs = min(_jobs(n_jobs), len(entries))
    root = Path(out) if out else (RESULTS / "quick" if quick else RESULTS)
    numbers_dir = PAPER_NUMBERS if out is None and not quick else root / "generated"
    for path in (root / "figures", numbers_dir):
        check_writable(path / "probe")
    done: dict[str, dict[str, object]] = {}

    def report(entry: Entry, result: dict[str, object]) -> None:
        done[entry.name] = result
        _say(f"[{len(done)}/{len(entries)}] {entry.name}: {result['note']}, "
             f"{len(entry.figures)} figure(s), {result['seconds']:.1f} s")

    if jobs == 1:
        for entry in entries:
            report(entry, _experiment(entry, quick, root))
    else:  # largest first, so that no long experiment starts last
        from ..sim import estimate_seconds

        spawn = multiprocessing.get_context("spawn")  # no torch or matplotlib state forked
        with ProcessPoolExecutor(jobs, mp_context=spawn, initializer=die_with_parent,
                                 initargs=(os.getpid(),)) as pool:
            order = sorted(entries, key=lambda e: -estimate_seconds(e.experiment(quick)))
            futures = {pool.submit(_experiment, e, quick, root): e for e in order}
            for future in as_completed(futures):
                report(futures[future], future.result())
    results = [done[e.name] for e in entries]  # in the paper file's order
    figures = [f for r in results for f in r["figures"]]
    computed = [e.name for e, r in zip(entries, results, strict=True) if r["computed"]]
    numbers = {k: v for r in results for k, v in r["numbers"].items()}
    if paper.speed and (not only or paper.speed["experiment"] in only):
        timings, sims = _speed(paper, root, quick)
        numbers |= speed_numbers(timings, sims)
        _say(f"speed: ddlab {timings['ddlab']:.2f} s, vmap ensemble {timings['vmap']:.2f} s, "
             f"per-model loop {timings['loop']:.2f} s ({sims} networks per width)")
    numbers_file = numbers_dir / "numbers.tex"
    if only and numbers_file.exists():  # a partial run updates its own numbers only
        numbers = parse(numbers_file.read_text()) | numbers
    numbers_file.write_text(render(numbers, quick))
    seconds = time.perf_counter() - t0
    _say(f"reproduce: {len(entries)} experiments ({len(computed)} computed, "
         f"{len(entries) - len(computed)} reused) in {jobs} process(es), {len(figures)} "
         f"figure files in {root / 'figures'}, {len(numbers)} numbers in {numbers_file}, "
         f"{seconds:.1f} s")
    return {"figures": figures, "numbers": numbers_file, "computed": computed,
            "seconds": seconds}


def main(args: argparse.Namespace) -> int:
    reproduce(args.quick, args.out, args.only, args.n_jobs, args.paper_file)
    return 0
