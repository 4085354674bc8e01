"""A package's public names, imported when first read, so that importing the package stays cheap
(``emokit.training`` and ``emokit.experiment`` would otherwise import TensorFlow at once)."""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_names(package: str, homes: dict[str, str]) -> Callable[[str], object]:
    """A module-level ``__getattr__`` for ``package``: reading ``package.name`` imports the module
    ``homes[name]`` and returns its ``name``.

    >>> __getattr__ = lazy_names("emokit.training", {"fit": "emokit.training.loop"})  # doctest: +SKIP
    """
    def __getattr__(name: str):
        if name in homes:
            return getattr(importlib.import_module(homes[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
