"""Where generated data and results go.

``EMOKIT_DATA`` / ``EMOKIT_RESULTS`` override the defaults. Otherwise, when Google Drive is mounted
(on Colab: ``drive.mount("/content/drive")``), both live in ``MyDrive/emokit/`` so that a
disconnect loses nothing; a source checkout keeps them in its own ``data/`` and ``results/``
folders, whatever the working directory (notebooks run from ``notebooks/``); an installed copy in
``~/emokit/``.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]  # emokit/core/paths.py -> the checkout
DRIVE_ROOT = Path("/content/drive/MyDrive")  # where Colab mounts Google Drive


def drive_mounted() -> bool:
    """True when Google Drive is mounted the way Colab mounts it."""
    return DRIVE_ROOT.is_dir()


def _default_base() -> Path:
    if drive_mounted():
        return DRIVE_ROOT / "emokit"
    if (REPO_ROOT / "pyproject.toml").exists():
        return REPO_ROOT
    return Path.home() / "emokit"


def data_dir() -> Path:
    """Folder for generated corpora, manifests and feature caches."""
    return Path(os.environ.get("EMOKIT_DATA", _default_base() / "data"))


def results_dir() -> Path:
    """Folder for experiment results, checkpoints and plots."""
    return Path(os.environ.get("EMOKIT_RESULTS", _default_base() / "results"))


def storage_note() -> str:
    """Where data and results go now, and whether they survive a Colab disconnect."""
    where = f"data: {data_dir()}\nresults: {results_dir()}"
    on_drive = all(str(p).startswith(str(DRIVE_ROOT)) for p in (data_dir(), results_dir()))
    if on_drive:
        return where + "\n(on Google Drive: a disconnect loses nothing)"
    if Path("/content").is_dir() and not drive_mounted():
        return where + ("\n(on this Colab machine: lost when it disconnects; mount Google Drive"
                        " to keep them, see notebook 00)")
    return where
