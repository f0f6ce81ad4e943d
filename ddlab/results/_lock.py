"""An exclusive lock on a result store, so that two runs never write one store at once.

The lock is an ``flock`` on a hidden file beside the store
(``.<store name>.lock``), which holds the owner's pid for the message of the
run that is refused. The kernel drops the lock when its process ends, however
it ends (Ctrl-C, SIGKILL, a crash), so a killed run never leaves a stale
lock; the file is removed when the lock is released normally. Works on local
file systems and on NFS v4 and Lustre mounts that support ``flock``.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

__all__ = ["StoreLock"]


class StoreLock:
    """Hold the exclusive lock of the store at ``path`` until :meth:`release`.

    Parameters
    ----------
    path : str or Path
        The store (it need not exist yet; its parent directory must).
    wait : bool
        Wait for another run to release the lock instead of refusing.

    Raises
    ------
    ValueError
        If another process holds the lock and ``wait`` is false, or the lock
        file cannot be created.
    """

    def __init__(self, path: str | Path, wait: bool = False):
        self.store = Path(path)
        self.path = self.store.parent / f".{self.store.name}.lock"
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as err:
                raise ValueError(f"out = '{self.store}': cannot lock it ({err.strerror})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = os.read(fd, 32).decode(errors="replace").strip() or "?"
                os.close(fd)
                raise ValueError(
                    f"out = '{self.store}': another ddlab run (pid {owner}) is writing it; "
                    f"wait for it to finish (--wait, wait=True) or choose another output"
                ) from None
            try:  # the file we locked may have been released and removed meanwhile
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd: int | None = fd

    def __del__(self) -> None:  # a lock nobody can release any more is released
        self.release()

    def release(self) -> None:
        """Remove the lock file and drop the lock (idempotent)."""
        if getattr(self, "_fd", None) is None:  # never acquired, or released
            return
        try:
            self.path.unlink()
        except FileNotFoundError:  # pragma: no cover - removed by hand
            pass
        os.close(self._fd)
        self._fd = None
