"""The feature cache on disk: shards of ``{id: (frames, dims)}`` features, and their marker.

``python -m data_prep.features`` (``data_prep.features.build_cache``) writes a cache folder: shards
written by :func:`write_shard` (one ``.npz`` each: the frames of all its utterances in one float32
block, their offsets and ids), then ``complete.json`` (:data:`COMPLETE_MARKER`) last, listing every
shard and its ids. :func:`load_features` reads the features of some or all ids from a finished
cache, reading only the shards that hold them; a cache without its marker is refused
(:class:`IncompleteCacheError`), and a damaged shard or marker is a
:class:`emokit.core.errors.CorruptFileError` saying what to delete.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from emokit.core.errors import CorruptFileError, DataError

COMPLETE_MARKER = "complete.json"


class IncompleteCacheError(DataError):
    """A feature cache whose extraction never finished; re-run the extraction command."""


def load_features(cache_dir: str | Path, ids=None) -> dict[str, np.ndarray]:
    """Raw (un-normalized) features ``{id: (frames, dims) float32}`` from a finished cache.

    ``cache_dir`` is the folder ``data_prep.features.build_cache`` returns; ``ids`` selects
    utterances (``None``: all). Only the shards holding them are read. A cache without its
    ``complete.json`` marker (an extraction killed or still running) is refused.
    """
    cache_dir = Path(cache_dir)
    marker = cache_dir / COMPLETE_MARKER
    if not marker.exists():
        raise IncompleteCacheError(
            f"feature cache {cache_dir} is incomplete (no {COMPLETE_MARKER}: its extraction was "
            f"interrupted or is still running); re-run `python -m data_prep.features --manifest "
            f"MANIFEST --root RELEASE_ROOT` (or data_prep.features.build_cache) to finish it"
        )
    shards = _read_marker(marker)
    shard_of = {uid: shard["file"] for shard in shards for uid in shard["ids"]}
    wanted = list(shard_of) if ids is None else list(ids)
    missing = [uid for uid in wanted if uid not in shard_of]
    if missing:
        raise KeyError(
            f"{len(missing)} id(s) not in feature cache {cache_dir}, e.g. {missing[:3]}; build the "
            f"cache from the manifest that lists them"
        )
    needed = {shard_of[uid] for uid in wanted}
    found: dict[str, np.ndarray] = {}
    for name in sorted(needed):
        found.update(read_shard(cache_dir / name))
    return {uid: found[uid] for uid in wanted}


def _read_marker(marker: Path) -> list[dict]:
    """The shard list of a cache's ``complete.json``; a damaged marker is a clear error."""
    fix = (f"delete {marker} and re-run `python -m data_prep.features` (finished shards are "
           "kept)")
    try:
        shards = json.loads(marker.read_text())["shards"]
        return [{"file": str(s["file"]), "ids": [str(i) for i in s["ids"]]} for s in shards]
    except (ValueError, KeyError, TypeError) as e:
        raise CorruptFileError(marker, f"{type(e).__name__}: {e}", fix) from None


def read_shard(path: str | Path) -> dict[str, np.ndarray]:
    """``{id: (frames, dims) float32}`` of one shard; the arrays are views of one block.

    A shard that cannot be read, or that holds NaN or inf, is a
    :class:`emokit.core.errors.CorruptFileError` saying what to delete.
    """
    path = Path(path)
    fix = f"delete {path.parent} (this feature cache) and run the feature step again"
    try:
        with np.load(path) as shard:
            block, offsets, ids = shard["features"], shard["offsets"], shard["ids"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise CorruptFileError(path, f"{type(e).__name__}: {e}", fix) from None
    found = {str(uid): block[offsets[i]:offsets[i + 1]] for i, uid in enumerate(ids)}
    bad = [uid for uid, arr in found.items() if not np.isfinite(arr).all()]
    if bad:
        raise CorruptFileError(path, f"non-finite features for {len(bad)} utterance(s), e.g. "
                               f"{bad[:3]}", fix)
    return found


def write_shard(path: str | Path, features: dict[str, np.ndarray]) -> None:
    """Write ``{id: (frames, dims)}`` as one shard, atomically (temp file, then rename).
    Non-finite features are refused: a cache never holds NaN or inf."""
    path = Path(path)
    bad = [uid for uid, arr in features.items() if not np.isfinite(arr).all()]
    if bad:
        raise DataError(f"refusing to cache non-finite (NaN or inf) features of {bad[:3]}")
    ids = list(features)
    lengths = [len(features[uid]) for uid in ids]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    block = np.concatenate([features[uid] for uid in ids]).astype(np.float32, copy=False)
    # Zipped in memory, then written: np.savez leaves its zip file open when a write to disk
    # fails (a full disk), and that zip file's __del__ would print a stray traceback later.
    buffer = io.BytesIO()
    np.savez(buffer, features=block, offsets=offsets, ids=np.array(ids))
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(buffer.getbuffer())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk or a kill: no half shard left behind
        raise
