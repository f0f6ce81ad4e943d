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
import sys
import time
from pathlib import Path

from .._version import __version__
from ..results import check_writable, experiment_of, open_results
from ._paperfile import PaperFile, read_paper_file

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
    p.add_argument("--n-jobs", type=int, default=1, help="CPU worker processes (-1: all)")
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


def reproduce(quick: bool = False, out: str | Path | None = None,
              only: list[str] | None = None, n_jobs: int = 1,
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
        CPU worker processes for the runs.
    paper_file : str or Path
        The paper file.

    Returns
    -------
    dict
        ``figures`` (paths written), ``numbers`` (the numbers file),
        ``computed`` (experiments that computed chunks), ``seconds``.
    """
    import matplotlib  # plotting and simulation load only when reproducing

    matplotlib.use("Agg")
    from ..plot import save
    from ..sim import run
    from ._figures import draw
    from ._numbers import experiment_numbers, parse, render, speed_numbers

    t0 = time.perf_counter()
    paper = read_paper_file(paper_file)
    entries = paper.select(only)
    root = Path(out) if out else (RESULTS / "quick" if quick else RESULTS)
    numbers_dir = PAPER_NUMBERS if out is None and not quick else root / "generated"
    for path in (root / "figures", numbers_dir):
        check_writable(path / "probe")
    figures, computed, numbers = [], [], {}
    for k, entry in enumerate(entries, 1):
        exp = entry.experiment(quick)
        store = root / f"{entry.name}.zarr"
        t1 = time.perf_counter()
        stale = _stale(store, exp)
        ds = run(exp, out=store, n_jobs=n_jobs, progress=sys.stderr.isatty(),
                 fresh=bool(stale))
        note = ds.attrs["history"].splitlines()[-1].rsplit("(", 1)[-1].rstrip(")")
        note += f" ({stale}: store replaced)" if stale else ""
        if not note.startswith("computed 0 "):
            computed.append(entry.name)
        ds = open_results(store)
        exp = experiment_of(ds)
        for fig in entry.figures:
            drawn = draw(fig, ds, exp, quick)
            figures += save(drawn, root / "figures" / fig.name)
        if entry.numbers:
            theories = {f.options["theory"] for f in entry.figures if "theory" in f.options}
            numbers |= experiment_numbers(entry.name, ds, exp, sorted(theories),
                                          {f.kind for f in entry.figures})
        _say(f"[{k}/{len(entries)}] {entry.name}: {note}, {len(entry.figures)} figure(s), "
             f"{time.perf_counter() - t1:.1f} s")
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
         f"{len(entries) - len(computed)} reused), {len(figures)} figure files in "
         f"{root / 'figures'}, {len(numbers)} numbers in {numbers_file}, {seconds:.1f} s")
    return {"figures": figures, "numbers": numbers_file, "computed": computed,
            "seconds": seconds}


def main(args: argparse.Namespace) -> int:
    reproduce(args.quick, args.out, args.only, args.n_jobs, args.paper_file)
    return 0
