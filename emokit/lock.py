"""One process at a time per results folder.

>>> with results_lock("results/quick"):       # doctest: +SKIP
...     train_every_run()

The lock is a file ``<folder>/.emokit.lock`` holding the owner's PID, host and start time, created
exclusively (``O_CREAT | O_EXCL``). A second process finds it and refuses with
:class:`LockedError`, naming the owner. A lock left behind by a killed process is stale and taken
over: a lock of this host whose PID is dead, an unreadable lock file (half written by a killed
process), or a lock of another host (a results folder on a shared drive, e.g. Google Drive from a
Colab runtime that was disconnected) that its holder has not refreshed for ``STALE_AFTER_S``: the
holder touches the file every ``HEARTBEAT_S``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from pathlib import Path

from emokit.errors import UserError

LOCK_FILE = ".emokit.lock"
HEARTBEAT_S = 60.0  # the holder refreshes the lock file's time this often
STALE_AFTER_S = 600.0  # a lock of another host not refreshed for this long is stale


class LockedError(UserError, RuntimeError):
    """Another live process holds the results folder."""

    exit_code = 1


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by another user
    return True


def _owner(path: Path) -> dict | None:
    """The lock's content, or ``None`` when it is unreadable (a write cut short)."""
    try:
        owner = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) and isinstance(owner.get("pid"), int) else None


def _is_stale(owner: dict | None, path: Path) -> bool:
    if owner is None:
        return True
    if owner.get("host") == socket.gethostname():
        return not _pid_alive(owner["pid"])
    try:
        return time.time() - path.stat().st_mtime > STALE_AFTER_S
    except FileNotFoundError:
        return True


def acquire(folder: str | Path) -> Path:
    """Take the lock of ``folder`` (created if needed) or raise :class:`LockedError`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    me = {"pid": os.getpid(), "host": socket.gethostname(),
          "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = _owner(path)
            if owner is not None and owner.get("pid") == me["pid"] and owner.get("host") == me["host"]:
                raise LockedError(f"{folder} is already locked by this process") from None
            if _is_stale(owner, path):
                path.unlink(missing_ok=True)  # a killed run's lock: take it over
                continue
            raise LockedError(
                f"{folder} is in use by another emokit process (PID {owner['pid']} on "
                f"{owner.get('host')}, started {owner.get('started')}): two experiments on one "
                "results folder would both train every run. Wait for it to finish, or use another "
                f"name/--results folder. If that process is gone (e.g. another machine that "
                f"crashed), delete {path} and start again (a lock of another machine that is not "
                f"refreshed for {STALE_AFTER_S / 60:g} minutes is taken over by itself)."
            ) from None
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(me))
        return path
    raise LockedError(f"could not take the lock {path}: other processes keep replacing it")


def release(folder: str | Path) -> None:
    """Remove ``folder``'s lock if this process holds it."""
    path = Path(folder) / LOCK_FILE
    owner = _owner(path)
    if owner is not None and owner.get("pid") == os.getpid() and \
            owner.get("host") == socket.gethostname():
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def results_lock(folder: str | Path):
    """Hold ``folder``'s lock for the ``with`` block (see the module docstring)."""
    path = acquire(folder)
    done = threading.Event()

    def heartbeat() -> None:
        while not done.wait(HEARTBEAT_S):
            try:
                os.utime(path)
            except OSError:
                return

    threading.Thread(target=heartbeat, name="emokit-lock-heartbeat", daemon=True).start()
    try:
        yield path
    finally:
        done.set()
        release(folder)
