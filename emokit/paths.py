"""Where generated data and results go.

``EMOKIT_DATA`` / ``EMOKIT_RESULTS`` override the defaults (on Colab, point them at Google Drive so a
disconnect loses nothing). Otherwise a source checkout keeps them in its own ``data/`` and
``results/`` folders, whatever the working directory (notebooks run from ``notebooks/``).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_base() -> Path:
    if (REPO_ROOT / "pyproject.toml").exists():
        return REPO_ROOT
    return Path.home() / "emokit"


def data_dir() -> Path:
    """Folder for generated corpora, manifests and feature caches."""
    return Path(os.environ.get("EMOKIT_DATA", _default_base() / "data"))


def results_dir() -> Path:
    """Folder for experiment results, checkpoints and plots."""
    return Path(os.environ.get("EMOKIT_RESULTS", _default_base() / "results"))
