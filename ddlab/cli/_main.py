"""The ``ddlab`` command: one module per subcommand, one error policy for all.

Bad input (argparse's own complaints included) prints one line on stderr and
exits with code 2, without a traceback; a missing optional dependency prints
which package to install and exits with code 1; Ctrl-C exits with 130; output
into a pipe closed early (``ddlab info STORE | head``) stops quietly with 141,
as a shell reports a process killed by SIGPIPE. Nothing already on disk is lost.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import warnings
from collections.abc import Sequence
from typing import NoReturn

from .._version import __version__
from ..results import StoreDamageWarning, calling
from . import _export, _info, _plot, _reproduce, _run, _show, _table, _verify

__all__ = ["main"]

_SUBCOMMANDS = (_reproduce, _run, _show, _info, _verify, _export, _plot, _table)
#: Exit code of output cut short by a closed pipe (128 + SIGPIPE, as shells report it).
EXIT_BROKEN_PIPE = 141


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other bad input."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"ddlab: error: {self.prog}: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ddlab", description="Double-descent simulations.")
    parser.add_argument("--version", action="version", version=f"ddlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in _SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def _one_line(message: Warning | str, category: type[Warning], *args: object,
              **kwargs: object) -> None:
    """Show a warning as one line on stderr, as errors are."""
    print(f"ddlab: warning: {message}", file=sys.stderr)


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
        with calling(shlex.join(["ddlab", *argv])), warnings.catch_warnings():
            warnings.simplefilter("always", StoreDamageWarning)
            warnings.showwarning = _one_line
            code = args.handler(args)
            sys.stdout.flush()  # a closed pipe shows here, not at exit
            return code
    except ValueError as err:
        print(f"ddlab: error: {err}", file=sys.stderr)
        return 2
    except ImportError as err:
        print(f"ddlab: error: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader has gone: say nothing more to it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        store = getattr(args, "store", None)
        where = f" in {store}" if store else ""
        print(f"ddlab: interrupted; completed chunks are saved{where}: run the same command "
              f"again to resume", file=sys.stderr)
        return 130

