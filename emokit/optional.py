"""Optional pieces: what each is for, which extra installs it, and a clear error naming both
*before* any work that needs a missing one starts (not a crash after an epoch).

- ``tensorboard``, for ``TrainConfig.tensorboard_dir`` (TensorFlow >= 2.21 no longer brings it):
  ``pip install "emokit[tensorboard]"``.
- ``ipywidgets``, for progress bars drawn as widgets in notebooks (text bars without it):
  ``emokit[notebooks]`` locally, ``emokit[colab]`` on Colab.
- ``tensorflow_io``, for ``load_audio(..., decoder="tfio")`` (Python < 3.13 only):
  ``emokit[tfio]``; ``emokit.audio.tfio_status`` says why it does not load.

>>> require("tensorboard", "TrainConfig.tensorboard_dir")   # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import sys

# module -> (pip requirement, the emokit extra that declares it)
PIECES = {
    "tensorboard": ("tensorboard", "tensorboard"),
    "ipywidgets": ("ipywidgets", "notebooks"),
}


class MissingOptionalDependency(ModuleNotFoundError):
    """An optional package that a setting needs is not installed."""


def is_available(module: str) -> bool:
    """Whether ``module`` imports (a broken install counts as missing)."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def require(module: str, needed_for: str) -> None:
    """Raise ``MissingOptionalDependency`` naming what needs ``module`` and how to install it."""
    if is_available(module):
        return
    package, extra = PIECES[module]
    raise MissingOptionalDependency(
        f"{needed_for} needs {package}, which is not installed here. Install it with "
        f"`pip install {package}` (or emokit's extra: `pip install \"emokit[{extra}]\"`), or "
        "turn the setting off.", name=module)


_told_about_widgets = False


def progress_bar():
    """The ``tqdm`` class to use: widget bars in a notebook with ipywidgets, text bars elsewhere.
    In a notebook without ipywidgets it says once how to get widget bars, in place of tqdm's
    ``TqdmWarning: IProgress not found``."""
    global _told_about_widgets
    if "ipykernel.zmqshell" not in sys.modules:  # not a notebook kernel
        from tqdm.std import tqdm
        return tqdm
    if is_available("ipywidgets"):
        from tqdm.notebook import tqdm
        return tqdm
    if not _told_about_widgets:
        print("Progress bars are drawn as text: ipywidgets is not installed "
              "(`pip install ipywidgets` draws them as widgets).")
        _told_about_widgets = True
    from tqdm.std import tqdm
    return tqdm
