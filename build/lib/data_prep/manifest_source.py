"""Which release a manifest was parsed from: the ``<manifest>.source.json`` file beside it.

It holds the release's absolute path and the class set, so that a manifest's relative ``wav``
paths can be found again and a stale manifest (another release, another class set) is parsed anew.
"""

from __future__ import annotations

import json
from pathlib import Path

from emokit.core.atomic import write_atomic


def source_path(manifest: str | Path) -> Path:
    """The file beside a manifest naming the release it was parsed from (``manifest.source.json``)."""
    manifest = Path(manifest)
    return manifest.with_name(manifest.stem + ".source.json")


def write_source(manifest: str | Path, root: str | Path, class_set: str) -> Path:
    """Record which release (absolute path) and class set ``manifest`` was parsed from."""
    return write_atomic(source_path(manifest),
                        json.dumps({"root": str(Path(root).resolve()), "class_set": class_set}))


def read_source(manifest: str | Path) -> dict | None:
    """``{"root", "class_set"}`` of a manifest (see :func:`write_source`), ``None`` when there is
    no such file; a damaged one is a :class:`emokit.core.errors.CorruptFileError`."""
    from emokit.core.errors import CorruptFileError

    path = source_path(manifest)
    if not path.exists():
        return None
    fix = f"delete {path} (and {Path(manifest).name} beside it) and parse the release again"
    try:
        source = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise CorruptFileError(path, str(e), fix) from None
    if not isinstance(source, dict) or not isinstance(source.get("root"), str):
        raise CorruptFileError(path, "no 'root' entry", fix)
    return source
