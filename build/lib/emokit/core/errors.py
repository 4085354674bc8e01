"""The kit's user-error classes: what a command line reports as a clean message, without a traceback.

A :class:`UserError` is bad input, not a bug: its message names the file/line or setting and the
fix, and ``exit_code`` is the status a command line ends with (2: usage or config, 1: data).
:func:`emokit.core.cli.run_cli` turns them into ``error: ...`` lines; anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user; ``exit_code`` is what a command line exits with."""

    exit_code = 1


class UsageError(UserError, ValueError):
    """A command line used wrongly (a flag, a path that is the wrong kind of thing)."""

    exit_code = 2


class ConfigError(UserError, ValueError):
    """A config with bad settings; ``problems`` lists every one (``setting: what is wrong``)."""

    exit_code = 2

    def __init__(self, problems: list[str], source: str = "the config"):
        self.problems = list(problems)
        listed = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in {source}:\n{listed}")


class DataError(UserError, ValueError):
    """Bad data: a corpus file, a cache, a bundle; the message names the file and the fix."""

    exit_code = 1


class CorruptFileError(DataError):
    """A state file (marker, checkpoint, manifest source, bundle) that cannot be read back."""

    def __init__(self, path, detail: str, fix: str | None = None):
        self.path = path
        fix = fix or f"delete {path} and run the step again: it is rebuilt"
        super().__init__(f"file {path} is corrupt ({detail}); {fix}")
