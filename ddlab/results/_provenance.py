"""Provenance and CF global attributes of a result, and the experiment it stores.

What was called is recorded as it was called: the ``ddlab`` command line when
the CLI ran, else the Python call. ddlab's git commit (and whether its tree
was dirty) is recorded only when ddlab runs from its own checkout.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib.metadata
import json
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..config import Experiment, load_experiment

__all__ = ["CONVENTIONS", "SCHEMA", "STORE_MARK", "calling", "experiment_of", "git_state",
           "history_line", "now", "provenance"]

CONVENTIONS = "CF-1.11"
#: Attr that marks a store or file as written by ddlab (its schema version).
STORE_MARK = "ddlab_schema"
#: The schema version written: 2 since ddlab 0.4, whose random streams are keyed by
#: 64-bit seeds; 1 before, torch generators that kept 32 bits of each seed.
SCHEMA = 2

_CALL: contextvars.ContextVar[str | None] = contextvars.ContextVar("ddlab_call", default=None)


@contextlib.contextmanager
def calling(command: str) -> Iterator[None]:
    """Record ``command`` as what was called, for the results made inside the block."""
    token = _CALL.set(command)
    try:
        yield
    finally:
        _CALL.reset(token)


def now() -> str:
    """The local time, ISO 8601 with its UTC offset."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


@functools.cache
def _version(package: str) -> str:
    """The installed version of ``package`` (cached: the imported one does not change)."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return ""


@functools.lru_cache(maxsize=1)
def git_state() -> tuple[str, bool | None]:
    """ddlab's own commit and whether its tree is dirty; ("", None) outside its checkout."""
    root = Path(__file__).resolve().parents[2]
    pyproject = root / "pyproject.toml"
    if not (root / ".git").exists() or not pyproject.is_file() or \
            'name = "ddlab"' not in pyproject.read_text():
        return "", None

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                                 timeout=5)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    top, head = git("rev-parse", "--show-toplevel"), git("rev-parse", "HEAD")
    if top is None or head is None or Path(top).resolve() != root:
        return "", None
    status = git("status", "--porcelain", "--untracked-files=no")
    return head, None if status is None else bool(status)


def history_line(command: str, note: str) -> str:
    """One CF ``history`` line: time, what was called, what it did."""
    return f"{now()}: {command} ({note})"


def provenance(experiment: Experiment, call: str, device: str,
               versions: Mapping[str, str]) -> dict[str, Any]:
    """Dataset attrs of a new result: CF globals, the experiment, versions and provenance.

    Parameters
    ----------
    experiment : Experiment
    call : str
        The Python call, used unless the CLI recorded its command line
        (:func:`calling`).
    device : str
        Where it ran, in words.
    versions : mapping
        Versions of the simulation layer's libraries (``torch_version``, ...).
    """
    from .._version import __version__

    command = _CALL.get() or call
    commit, dirty = git_state()
    return {
        "Conventions": CONVENTIONS,
        "title": f"ddlab experiment {experiment.name!r}"
                 + (f": {experiment.description.strip()}" if experiment.description else ""),
        "source": f"ddlab {__version__} simulation",
        "history": history_line(command, "started"),
        STORE_MARK: SCHEMA,
        "experiment": experiment.to_json(),
        "name": experiment.name,
        "command": command,
        "ddlab_version": __version__,
        "git_commit": commit,
        "git_dirty": "" if dirty is None else str(dirty).lower(),
        **versions,
        "numpy_version": np.__version__,
        "xarray_version": xr.__version__,
        "zarr_version": _version("zarr"),
        "device": device,
        "dtype": experiment.train.dtype,
        "started": now(),
    }


def experiment_of(source: xr.Dataset | Mapping[str, Any]) -> Experiment:
    """The experiment a result (its dataset or its attrs) was computed from.

    Raises
    ------
    ValueError
        If there is no stored experiment.
    """
    attrs = source.attrs if isinstance(source, xr.Dataset) else source
    if "experiment" not in attrs:
        raise ValueError("ds: no 'experiment' attr; not a ddlab result")
    return load_experiment(json.loads(attrs["experiment"]))
