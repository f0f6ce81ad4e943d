"""TOML files and ``--set section.key=value`` overrides."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from ._fields import fail

__all__ = ["read_toml", "set_key"]


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file, with errors that name the file and the line.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    dict

    Raises
    ------
    ValueError
        If the file cannot be read or is not valid TOML.
    """
    path = Path(path)
    try:
        return tomllib.loads(path.read_text())
    except IsADirectoryError:
        raise ValueError(f"{path}: is a directory, not a TOML file") from None
    except OSError as err:
        raise ValueError(f"{path}: cannot read ({err.strerror})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file") from None
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path}: invalid TOML: {err}") from None


def set_key(raw: dict[str, Any], assignment: str) -> dict[str, Any]:
    """Apply one ``section.key=value`` override to a raw experiment mapping.

    The value is read as a TOML value (``0.05``, ``[1, 2, 4]``, ``true``,
    ``"sgd"``); anything that is not valid TOML is taken as a bare string.

    Parameters
    ----------
    raw : dict
        The experiment mapping (changed in place and returned).
    assignment : str
        ``section.key=value``, e.g. ``train.lr=0.05`` or ``model.width=[1,2,4,8]``.

    Returns
    -------
    dict
        ``raw``.
    """
    key, sep, text = assignment.partition("=")
    parts = key.strip().split(".")
    if not sep or len(parts) != 2 or not all(parts):
        raise ValueError(f"--set {assignment!r}: expected section.key=value, "
                         f"e.g. train.lr=0.05")
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = text.strip()
    section = raw.setdefault(parts[0], {})
    if not isinstance(section, dict):
        raise fail(parts[0], section, "expected a table")
    section[parts[1]] = value
    return raw
