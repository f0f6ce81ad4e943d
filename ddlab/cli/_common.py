"""What the subcommands share: building the experiment, the ``--set`` option."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from ..config import Experiment, load_experiment, read_toml, set_key

__all__ = ["add_config", "experiment", "positive_int"]


def add_config(parser: argparse.ArgumentParser) -> None:
    """The ``CONFIG.toml`` argument and the repeatable ``--set`` option."""
    parser.add_argument("config", help="experiment TOML file")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="SECTION.KEY=VALUE",
                        help="override a key, e.g. train.lr=0.05 or data.noise=[0.01,1.5] "
                             "(repeatable)")


def experiment(config: str, overrides: Sequence[str]) -> Experiment:
    """The validated experiment of a TOML file with ``--set`` overrides applied."""
    raw = read_toml(config)
    for assignment in overrides:
        set_key(raw, assignment)
    raw.setdefault("name", Path(config).stem)
    return load_experiment(raw)


def positive_int(text: str) -> int:
    """An option's value as an integer >= 1 (an argparse ``type``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected an integer >= 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected an integer >= 1")
    return value
