"""Where ``TextConfig.vectors_path`` points: a local file, or a gensim-data name fetched once.

``vectors_path`` is either a word vector file (GloVe text, word2vec text or binary) or the name of
a gensim-data model, e.g. ``glove-wiki-gigaword-300`` (the paper code's vectors). A name is
fetched once through ``gensim.downloader`` into ``<data dir>/gensim-data/<name>/`` (``EMOKIT_DATA``:
Google Drive on Colab, so it survives a disconnect; ``GENSIM_DATA_DIR``, if set, names a gensim-data
folder you already have), unpacked once to ``<name>.vectors`` beside gensim's ``<name>.gz``, and from
then on read like a local file, without the network. Only a name that is not already there
downloads; nothing downloads by default (``vectors_path=None`` trains vectors on the fold).

>>> resolve_vectors("glove-wiki-gigaword-300", data_dir())   # doctest: +SKIP
PosixPath('.../data/gensim-data/glove-wiki-gigaword-300/glove-wiki-gigaword-300.vectors')

gensim-data stores its vectors in word2vec format: text for the GloVe and fastText models,
binary for ``word2vec-google-news-300`` (set ``TextConfig.vectors_binary: true`` for that one).
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
from pathlib import Path

from emokit.core.errors import DataError

# gensim-data names: lowercase words joined by dashes, no folder and no file extension
_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9_.]+)+")
_FILE_SUFFIXES = {".txt", ".vec", ".bin", ".gz", ".w2v", ".zip", ".bz2"}
UNPACKED = ".vectors"  # the unpacked copy of gensim's <name>.gz, same format


def is_gensim_data_name(path_or_name: str) -> bool:
    """Whether ``path_or_name`` reads as a gensim-data name rather than a file path."""
    return (_NAME.fullmatch(path_or_name) is not None
            and Path(path_or_name).suffix not in _FILE_SUFFIXES)


def gensim_data_dir(data_dir: str | Path) -> Path:
    """The gensim-data folder: ``GENSIM_DATA_DIR`` if set, else ``<data_dir>/gensim-data``."""
    return Path(os.environ.get("GENSIM_DATA_DIR") or Path(data_dir) / "gensim-data")


def resolve_vectors(path_or_name: str | Path, data_dir: str | Path) -> Path:
    """The local word vector file that ``path_or_name`` stands for.

    An existing file, or anything that is not a gensim-data name, comes back as a path (a
    missing file is reported by the reader). A gensim-data name is looked up in
    :func:`gensim_data_dir` and fetched through ``gensim.downloader`` only when it is not there.
    """
    path = Path(path_or_name).expanduser()
    if path.exists() or not is_gensim_data_name(str(path_or_name)):
        return path
    name = str(path_or_name)
    base = gensim_data_dir(data_dir)
    packed = _downloaded_file(base, name) or _download(name, base)
    return _unpacked(packed)


def _downloaded_file(base: Path, name: str) -> Path | None:
    """gensim's file of ``name`` in ``base`` (``<name>/<name>.gz``), if it was fetched before."""
    folder = base / name
    if not folder.is_dir():
        return None
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and p.name != "__init__.py" and not p.name.startswith(".")
                   and p.suffix != UNPACKED)
    if not files:
        return None
    preferred = folder / f"{name}.gz"
    return preferred if preferred in files else files[0]


def _download(name: str, base: Path) -> Path:
    """Fetch ``name`` with ``gensim.downloader`` into ``base`` (one download, then kept)."""
    import gensim.downloader

    print(f"Fetching the word vectors {name!r} once, with gensim's downloader, into {base} ...")
    base.mkdir(parents=True, exist_ok=True)
    catalog = base / "information.json"  # gensim rewrites it whenever it reaches the network
    before = catalog.stat().st_mtime_ns if catalog.exists() else None
    default_base = gensim.downloader.BASE_DIR
    gensim.downloader.BASE_DIR = str(base)  # read at call time: where load() looks and saves
    try:
        return Path(gensim.downloader.load(name, return_path=True))
    except (ValueError, OSError) as error:
        online = catalog.exists() and catalog.stat().st_mtime_ns != before
        if isinstance(error, ValueError) and "Incorrect model" in str(error):
            offline = "" if online else (f" in the list cached at {catalog}, which could not be "
                                         "refreshed (no network?)")
            raise ValueError(f"TextConfig.vectors_path={name!r} is neither a file nor a "
                             f"gensim-data model{offline}; see gensim.downloader.info() for the "
                             "names") from None
        raise DataError(
            f"TextConfig.vectors_path={name!r}: the gensim-data model could not be downloaded "
            f"({type(error).__name__}: {str(error)[:120]}; no network?). Download it where "
            f"there is one (python -m gensim.downloader --download {name}) and copy its folder "
            f"to {base / name}/, or set vectors_path to a GloVe or word2vec file") from None
    finally:
        gensim.downloader.BASE_DIR = default_base


def _unpacked(packed: Path) -> Path:
    """``packed`` itself, or for a ``.gz`` its unpacked copy ``<stem>.vectors`` (made once; a
    killed unpacking leaves no half file)."""
    if packed.suffix != ".gz":
        return packed
    target = packed.with_suffix(UNPACKED)
    if not target.exists():
        partial = target.with_name(f".{target.name}.part")
        with gzip.open(packed, "rb") as source, open(partial, "wb") as out:
            shutil.copyfileobj(source, out, length=1 << 20)
        os.replace(partial, target)
    return target
