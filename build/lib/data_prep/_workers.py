"""Worker processes that end with their parent.

A pool's workers outlive a parent killed by SIGKILL (no cleanup runs in the parent) when they are
busy or blocked: :func:`end_with_parent`, run as the pool's initializer, ends them too.
"""

from __future__ import annotations

import os
import sys
import threading
import time

PARENT_POLL_S = 0.5  # how often a worker checks that its parent is alive


def end_with_parent(parent_pid: int, poll_s: float = PARENT_POLL_S) -> None:
    """End this process when ``parent_pid`` ends, even by SIGKILL (which runs no cleanup in the
    parent). Linux: the kernel's parent-death signal; everywhere: a daemon thread that watches
    for re-parenting."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before we got here
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()
