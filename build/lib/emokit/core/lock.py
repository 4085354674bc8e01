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

Taking the lock is one atomic step: the owner's record is written to a temporary file that is then
hard-linked to the lock's name (a link fails if the name exists), so no process ever sees an empty
or half-written lock of a live owner. Deciding that a lock is stale and replacing it happens under
an ``flock`` of the folder, so two processes cannot both take over one stale lock. An unreadable
lock file is stale only once it is ``DAMAGED_AFTER_S`` old. A lock naming this process's PID that
this process does not hold (a restarted notebook kernel that got its old PID back, a container
whose processes always start with the same PIDs) is left over from the previous process: taken
over.

:func:`data_lock` is the other kind: a blocking lock of a data folder, held while one process
generates a corpus or builds a feature cache there, so that a second process waits for it instead
of reading half-written files.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from pathlib import Path

from emokit.core.errors import UserError

LOCK_FILE = ".emokit.lock"
HEARTBEAT_S = 60.0  # the holder refreshes the lock file's time this often
STALE_AFTER_S = 600.0  # a lock of another host not refreshed for this long is stale
DAMAGED_AFTER_S = 30.0  # an unreadable lock file this old is a damaged one, not one being written
DATA_LOCK_FILE = ".emokit-data.lock"

_HELD: set[str] = set()  # the results locks this process holds (resolved paths)
_DATA_HELD: dict[str, int] = {}  # data locks this process holds -> depth (re-entrant)


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
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return True
    if owner is None:
        return age > DAMAGED_AFTER_S  # younger: another process may be writing it (old emokit)
    if owner.get("host") == socket.gethostname():
        return not _pid_alive(owner["pid"])
    return age > STALE_AFTER_S


@contextlib.contextmanager
def _folder_guard(folder: Path):
    """An exclusive ``flock`` of ``folder`` itself for a short decision; a no-op where the
    platform or file system has none (Windows, some network drives)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            pass  # no flock on this file system: the atomic link still guards the creation
        yield
    finally:
        os.close(fd)  # releases the flock


def _create(path: Path, record: dict) -> bool:
    """Create ``path`` holding ``record`` in one atomic step; ``False`` if it exists."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(record))
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: exclusive create, then write
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(record))
        return True
    finally:
        tmp.unlink(missing_ok=True)


def acquire(folder: str | Path) -> Path:
    """Take the lock of ``folder`` (created if needed) or raise :class:`LockedError`."""
    folder = Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    me = {"pid": os.getpid(), "host": socket.gethostname(),
          "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    with _folder_guard(folder):
        for _ in range(3):
            if _create(path, me):
                _HELD.add(str(path.resolve()))
                return path
            owner = _owner(path)
            mine = owner is not None and owner.get("pid") == me["pid"] and \
                owner.get("host") == me["host"]
            if mine and str(path.resolve()) in _HELD:
                raise LockedError(
                    f"{folder} is already locked by this process: an experiment on it is still "
                    "running here (e.g. in another thread or an interrupted generator). Let it "
                    "finish or restart the kernel; or use another name/results folder")
            if mine or _is_stale(owner, path):
                path.unlink(missing_ok=True)  # a dead run's lock (or a restarted kernel's)
                continue
            if owner is None:
                raise LockedError(
                    f"{path} cannot be read (it is being written, or damaged). If no other "
                    f"emokit process uses {folder}, delete {path} and start again (an unreadable "
                    f"lock is taken over by itself after {DAMAGED_AFTER_S:g} s)")
            raise LockedError(
                f"{folder} is in use by another emokit process (PID {owner['pid']} on "
                f"{owner.get('host')}, started {owner.get('started')}): two experiments on one "
                "results folder would both train every run. Wait for it to finish, or use another "
                f"name/--results folder. If that process is gone (e.g. another machine that "
                f"crashed), delete {path} and start again (a lock of another machine that is not "
                f"refreshed for {STALE_AFTER_S / 60:g} minutes is taken over by itself)."
            ) from None
    raise LockedError(f"could not take the lock {path}: other processes keep replacing it")


def holds(folder: str | Path) -> bool:
    """True when this process holds ``folder``'s results lock (e.g. the experiment that asks for
    its robustness pass)."""
    return str((Path(folder).expanduser() / LOCK_FILE).resolve()) in _HELD


def release(folder: str | Path) -> None:
    """Remove ``folder``'s lock if this process holds it."""
    path = Path(folder).expanduser() / LOCK_FILE
    _HELD.discard(str(path.resolve()))
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


@contextlib.contextmanager
def data_lock(folder: str | Path, what: str = "data"):
    """Hold ``folder``'s data lock for the ``with`` block, waiting while another process holds it.

    Corpus generation and feature caching hold it, so that a second process on the same data
    folder waits instead of reading (or removing) files being written. It is an ``flock``: the
    system drops it when its holder dies, so it is never stale. Re-entrant within a process; a
    no-op where the platform has no ``flock`` (Windows).
    """
    folder = Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    key = str(folder.resolve())
    if key in _DATA_HELD:
        _DATA_HELD[key] += 1
        try:
            yield
        finally:
            _DATA_HELD[key] -= 1
        return
    try:
        import fcntl
    except ImportError:
        yield
        return
    fd = os.open(folder / DATA_LOCK_FILE, os.O_CREAT | os.O_RDWR, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another emokit process that is preparing {what} in {folder}",
                  flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            pass  # no flock on this file system
        _DATA_HELD[key] = 1
        try:
            yield
        finally:
            _DATA_HELD.pop(key, None)
    finally:
        os.close(fd)
