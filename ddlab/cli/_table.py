"""``ddlab table``: one row per store and sweep point, printed or written as CSV or Markdown."""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd

from ..analysis import table
from ..results import check_writable, private_dir

__all__ = ["add_parser", "main", "markdown"]

_SUFFIXES = (".csv", ".md")
#: First line of a Markdown table ddlab writes, so that it may replace its own files.
_MARK = "<!-- written by ddlab table -->"
_DESCRIPTION = (
    "Tabulate result stores: one row per store and sweep point with the store, the "
    "experiment's name, the resolved keys that differ between the rows, the summary of "
    "ddlab.analysis.summarize (at the final epoch and the widest width), the compute time "
    "and the cells done of all. Printed as a Markdown table, or written to --out (.csv or "
    ".md); an existing file is replaced only if ddlab table wrote it, or with --force.")


def add_parser(sub) -> None:
    p = sub.add_parser("table", help="tabulate result stores: a row per sweep point",
                       description=_DESCRIPTION)
    p.add_argument("stores", nargs="+", metavar="STORE", help="zarr result store(s)")
    p.add_argument("--metric", default="test_loss",
                   help="variable summarised (default: test_loss)")
    p.add_argument("--out", default=None, metavar="RUNS.csv",
                   help="write the table to a .csv or .md file instead of printing it")
    p.add_argument("--force", action="store_true",
                   help="replace --out even if ddlab did not write it")
    p.set_defaults(handler=main)


def _cell(value: Any) -> str:
    """A table cell as text: numbers to 4 significant digits, missing values empty."""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, (list, dict, bool)):
        return json.dumps(value)
    return str(value)


def markdown(df: pd.DataFrame) -> str:
    """``df`` as a Markdown table, columns padded, numeric columns right-aligned."""
    header = [str(c) for c in df.columns]
    rows = [[_cell(v).replace("|", "\\|") for v in row] for row in df.itertuples(index=False)]
    widths = [max(3, len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    right = [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.rjust(w) if r else c.ljust(w)
                                 for c, w, r in zip(cells, widths, right, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 1) + ":" if r else "-" * (w + 2)
                          for w, r in zip(widths, right, strict=True)) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def _written_by_ddlab(path: Path) -> bool:
    """Whether ``path`` is a table ddlab wrote: its Markdown mark, or the CSV header's start."""
    try:
        with path.open() as f:
            first = f.readline().strip()
    except (OSError, UnicodeDecodeError):
        return False
    return first == _MARK if path.suffix.lower() == ".md" else first.startswith("store,name")


def _write(df: pd.DataFrame, out: Path, force: bool) -> None:
    """Write ``df`` to ``out`` (.csv or .md) whole or not at all."""
    if out.is_dir():
        raise ValueError(f"out = '{out}': is a directory; give a file name such as "
                         f"'{out / 'runs.csv'}'")
    if out.exists() and not force and not _written_by_ddlab(out):
        raise ValueError(f"out = '{out}': exists and was not written by ddlab; "
                         f"use --force to replace it")
    check_writable(out)
    if out.suffix.lower() == ".csv":  # numbers in full; lists and booleans as JSON
        text = df.map(lambda v: json.dumps(v) if isinstance(v, (list, dict, bool)) else v
                      ).to_csv(index=False)
    else:
        text = f"{_MARK}\n{markdown(df)}\n"
    with private_dir(out) as tmp:  # no name another user could have planted a link at
        (tmp / out.name).write_text(text)
        os.replace(tmp / out.name, out)


def main(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix.lower() not in _SUFFIXES:
        raise ValueError(f"out = '{out}': expected a .csv or .md file name")
    df = table(args.stores, metric=args.metric)
    if out is None:
        print(markdown(df))
    else:
        _write(df, out, args.force)
        print(f"wrote {out} ({len(df)} rows)")
    return 0
