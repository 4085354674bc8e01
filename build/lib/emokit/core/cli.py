"""Command-line error handling: user errors print one clean message, bugs keep their traceback.

>>> def main(argv=None):
...     raise ConfigError(["train.epochs: 0 is below the minimum 1"])
>>> run_cli(main, [])  # doctest: +SKIP
error: 1 problem(s) in the config:
  train.epochs: 0 is below the minimum 1
2

Exit status: 0 success, 1 bad data (:class:`DataError`, a missing file), 2 bad usage or config
(:class:`UsageError`, :class:`ConfigError`, argparse's own errors).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from emokit.core.errors import ConfigError, CorruptFileError, DataError, UsageError, UserError

__all__ = [
    "ConfigError",
    "CorruptFileError",
    "DataError",
    "UsageError",
    "UserError",
    "exit_code_of",
    "run_cli",
]


def exit_code_of(error: BaseException) -> int | None:
    """The exit status for a user error, ``None`` for a bug (which should keep its traceback)."""
    if isinstance(error, UserError):
        return error.exit_code
    if isinstance(error, FileNotFoundError | IsADirectoryError | NotADirectoryError):
        return 1  # the kit's own file errors name the file and the fix
    return None


def run_cli(main: Callable[[Sequence[str] | None], int | None],
            argv: Sequence[str] | None = None) -> int:
    """Call ``main(argv)``; a user error prints ``error: <message>`` to stderr (no traceback) and
    returns its exit status; a bug propagates with its traceback."""
    try:
        return int(main(argv) or 0)
    except KeyboardInterrupt:
        print("interrupted; finished work is kept, run the command again to resume",
              file=sys.stderr)
        return 130
    except Exception as error:
        code = exit_code_of(error)
        if code is None:
            raise
        print(f"error: {error}", file=sys.stderr)
        return code
