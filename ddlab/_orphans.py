"""Worker processes end when the process that started them is gone.

A worker of a joblib (loky) pool, of ``reproduce``'s process pool or of a
device pool otherwise outlives a parent killed by SIGKILL: it goes on training
(and, in ``reproduce``, writing) for minutes, holding hundreds of MB, and a
caller that waits on the pipe the workers inherited hangs. Each worker runs a
daemon thread that exits the process at once when its parent changes (the
orphan is re-parented to init or a subreaper).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["die_with_parent", "guarded"]

#: seconds between looks at the parent
INTERVAL_S = 0.5
#: the parent being watched, once the watch started in this process
_WATCHED: list[int] = []


def die_with_parent(parent: int) -> None:
    """In a worker process: exit (status 1) once ``parent`` is no longer its parent.

    ``parent`` is the pid of the process that started the pool, passed from it
    (a worker may first run after its parent is gone: it then exits at once).
    Idempotent: the first call starts the watch; later calls do nothing.
    """
    if os.getppid() != parent:
        os._exit(1)
    if _WATCHED:
        return
    _WATCHED.append(parent)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(INTERVAL_S)
        os._exit(1)

    threading.Thread(target=watch, name="ddlab-parent-watch", daemon=True).start()


def guarded(parent: int, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a pool worker that dies with ``parent`` (for joblib's ``delayed``).

    Run by ``parent`` itself (joblib with one job runs tasks in-process), no watch.
    """
    if os.getpid() != parent:
        die_with_parent(parent)
    return fn(*args)
