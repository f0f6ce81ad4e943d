"""``ddlab info``: dims, completion, variables, provenance and configuration of a store."""

from __future__ import annotations

import argparse
import json

from ..results import VARIABLES, open_results

__all__ = ["add_parser", "describe", "main"]


def add_parser(sub) -> None:
    p = sub.add_parser("info", help="describe a stored result")
    p.add_argument("path", help="zarr store")
    p.set_defaults(handler=main)


def describe(path: str) -> str:
    """A store's dims, completion, variables, provenance and configuration, as text."""
    ds = open_results(path)
    done = ds["completed"].values
    lines = [f"{path}: experiment {ds.attrs.get('name')!r}",
             "dims: " + ", ".join(f"{d}={n}" for d, n in ds.sizes.items()),
             f"completed: {int(done.sum())} of {done.size} cells "
             f"({100 * done.mean():.1f}%)",
             "variables: " + ", ".join(f"{v} [{ds[v].attrs.get('units')}]"
                                      for v in VARIABLES if v in ds),
             "provenance:"]
    lines += [f"  {k}: {v}" for k, v in ds.attrs.items() if k not in ("experiment", "history")]
    lines.append("history:")
    lines += [f"  {h}" for h in str(ds.attrs.get("history", "")).splitlines()]
    lines.append("configuration:")
    lines.append(json.dumps(json.loads(ds.attrs["experiment"]), indent=2, sort_keys=True))
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    print(describe(args.path))
    return 0
