"""``ddlab verify``: check a store's files against their checksums, and repair damage.

Prints one line. Exits 0 when no completed cell is damaged (or ``--repair``
cleared the damaged cells' flags, for the next ``ddlab run`` to recompute
them), 1 when damage was found and left, 2 when the store cannot be checked.
"""

from __future__ import annotations

import argparse

from ..results import verify

__all__ = ["add_parser", "main"]


def add_parser(sub) -> None:
    p = sub.add_parser("verify", help="check a stored result's files against their checksums")
    p.add_argument("path", help="zarr store")
    p.add_argument("--repair", action="store_true",
                   help="clear the flags of damaged cells (the next run recomputes them) and "
                        "rebuild damaged consolidated metadata")
    p.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    report = verify(args.path, repair=args.repair)
    print(report)
    return 0 if report.ok or report.repaired else 1
