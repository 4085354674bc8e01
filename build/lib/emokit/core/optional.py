"""Optional pieces: what each is for, which extra installs it, and a clear error naming both
*before* any work that needs a missing one starts (not a crash after an epoch).

- ``tensorboard``, for ``TrainConfig.tensorboard_dir`` (TensorFlow >= 2.21 no longer brings it):
  ``pip install "emokit[tensorboard]"``.
- ``ipywidgets``, for progress bars drawn as widgets in notebooks (text bars without it):
  ``emokit[notebooks]`` locally, ``emokit[colab]`` on Colab.
- ``keras_hub``, for the pretrained encoders (``features.kind: hub``, ``text.hub_preset``;
  TensorFlow >= 2.20): ``emokit[hub]`` (``pip install -e ".[hub]"`` in a checkout).
- ``tensorflow_io``, for ``load_audio(..., decoder="tfio")`` (Python < 3.13 only):
  ``emokit[tfio]``; ``emokit.data.audio.tfio_status`` says why it does not load.

>>> require("tensorboard", "TrainConfig.tensorboard_dir")   # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import sys

from emokit.core.errors import UserError

# module -> (pip requirement, the emokit extra that declares it)
PIECES = {
    "tensorboard": ("tensorboard", "tensorboard"),
    "ipywidgets": ("ipywidgets", "notebooks"),
    # Python >= 3.11 and TensorFlow >= 2.20 (Colab's), not the pinned TensorFlow 2.16 install
    "keras_hub": ("keras-hub", "hub"),
}


class MissingOptionalDependency(UserError, ModuleNotFoundError):
    """An optional package that a setting needs is not installed (a command line prints the
    message, no traceback)."""

    exit_code = 2


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


class LineProgress:
    """A progress bar for output that is not a terminal (a log file, CI): a plain line each time
    another tenth is done, instead of ``\r`` frames. The part of tqdm's interface emokit uses:
    ``LineProgress(total=, initial=, desc=, unit=, disable=, file=)``, ``update(n)``,
    ``write(message, file=)``, ``close()``, and ``with``."""

    def __init__(self, total=None, initial=0, desc="", unit="it", disable=False, file=None,
                 **_ignored):
        self.total, self.n, self.desc, self.unit = total, initial, desc, unit
        self.disable, self.file = disable, file
        self._shown = self._tenths()

    def _tenths(self) -> int:
        return 10 * self.n // self.total if self.total else 0

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.disable or self._tenths() == self._shown:
            return
        self._shown = self._tenths()
        percent = f" ({100 * self.n // self.total}%)" if self.total else ""
        unit = "" if self.unit == "it" else f" {self.unit}"  # tqdm's default unit says nothing
        print(f"{self.desc + ': ' if self.desc else ''}{self.n}/{self.total}{unit}{percent}",
              file=self.file or sys.stdout, flush=True)

    def write(self, message: str, file=None) -> None:
        print(message, file=file or self.file or sys.stdout, flush=True)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress_bar():
    """The progress-bar class to use: widget bars in a notebook with ipywidgets, tqdm's text bar
    in a terminal, plain lines (:class:`LineProgress`) when stdout is neither (a log file, CI).
    In a notebook without ipywidgets it says once how to get widget bars, in place of tqdm's
    ``TqdmWarning: IProgress not found``."""
    global _told_about_widgets
    if "ipykernel.zmqshell" not in sys.modules:  # not a notebook kernel
        if not sys.stdout.isatty():
            return LineProgress
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
