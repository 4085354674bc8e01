"""Atomic file writes: a killed process leaves the old file or the new one, never half a file."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from emokit.core.errors import DataError

#: errno values that mean "this place cannot take the write" rather than a bug
STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


class StorageError(DataError):
    """A folder that cannot take a write (disk full, read-only, no permission)."""


def storage_error(error: BaseException, folder: str | Path, what: str) -> StorageError | None:
    """A one-line :class:`StorageError` naming ``folder`` and what to do, when ``error`` is a full
    disk, a read-only place or a permission refusal; ``None`` for any other error.
    TensorFlow's errors for the same causes (a full disk under a checkpoint) count too."""
    number = getattr(error, "errno", None)
    text = str(error)
    if number not in STORAGE_ERRNOS:
        if "No space left on device" in text:
            number = errno.ENOSPC
        elif "Read-only file system" in text:
            number = errno.EROFS
        else:
            return None
    where = Path(getattr(error, "filename", None) or folder)
    cause = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
             errno.EROFS: "it is on a read-only file system"}.get(number, "it is not writable")
    return StorageError(
        f"cannot write {what} in {folder} ({cause}: {where}). Free space there or make it "
        "writable, or point emokit elsewhere (EMOKIT_DATA / EMOKIT_RESULTS, or the --results / "
        "results_dir / corpus.data_dir settings), and run again: what is finished is kept and "
        "the rerun resumes")


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace``: a killed process
    leaves either the old file or the new one, never half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):  # mkstemp makes 0600: give the mode an open() would give
            os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def current_umask() -> int:
    """The process's umask, read without changing it where the system tells it (Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: read it by setting it, and put it back at once
    os.umask(mask)
    return mask
