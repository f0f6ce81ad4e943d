"""Files ddlab makes beside a store or an output, never through a planted symlink.

On a shared directory another user may plant a symlink at a name ddlab is
about to write (``.a.zarr.lock``, ``.c.nc.partial``), hoping that ddlab writes
through it into a file of its own user's. ddlab therefore creates such files
with ``O_CREAT | O_EXCL | O_NOFOLLOW``, which fails instead of following a
link, or writes inside a fresh directory only its own user can enter and
renames the result into place (``rename`` replaces a link, never its target).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["NOFOLLOW", "private_dir", "remove_tree"]

#: ``os.O_NOFOLLOW`` where there is one (not on Windows, which has no user symlinks to fear)
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


@contextmanager
def private_dir(beside: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A new directory beside ``beside`` that only this user can enter, removed on exit.

    Parameters
    ----------
    beside : Path
        A file or directory about to be written; the directory is made in its
        parent, named ``.<name>.<random><suffix>``, so that a rename out of it
        into ``beside`` stays on one file system.
    suffix : str
        The end of the directory's name (a process killed inside the block
        leaves the directory behind; its owner finds it by this suffix).

    Yields
    ------
    Path
        The directory (mode 0700).
    """
    tmp = Path(tempfile.mkdtemp(prefix=f".{beside.name}.", suffix=suffix, dir=beside.parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def remove_tree(path: Path) -> None:
    """Remove the directory ``path``, or only the link if ``path`` is a symlink."""
    if path.is_symlink():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
