"""The ``ddlab`` command: one module per subcommand, one error policy for all.

Bad input prints one line on stderr and exits with code 2, without a
traceback; a missing optional dependency prints which package to install and
exits with code 1; Ctrl-C exits with 130. Nothing already on disk is lost.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence

from .._version import __version__
from ..results import calling
from . import _export, _info, _plot, _reproduce, _run, _show, _table

__all__ = ["main"]

_SUBCOMMANDS = (_reproduce, _run, _show, _info, _export, _plot, _table)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ddlab", description="Double-descent simulations.")
    parser.add_argument("--version", action="version", version=f"ddlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in _SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ddlab`` console script.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 1 when an optional dependency is missing, 2 on bad
        input, 130 when interrupted.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    try:
        with calling(shlex.join(["ddlab", *argv])):
            return args.handler(args)
    except ValueError as err:
        print(f"ddlab: error: {err}", file=sys.stderr)
        return 2
    except ImportError as err:
        print(f"ddlab: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        store = getattr(args, "store", None)
        where = f" in {store}" if store else ""
        print(f"ddlab: interrupted; completed chunks are saved{where}: run the same command "
              f"again to resume", file=sys.stderr)
        return 130

