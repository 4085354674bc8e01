"""What can be wrong in an IEMOCAP release, and how it is reported.

A :class:`Problem` names a file, a line and an utterance; :class:`ReleaseError` lists every
problem of a release at once; :class:`EncodingNote` warns about a text file that was decoded
exactly although it was not plain UTF-8; :func:`write_skip_report` writes the problems that
``--skip-missing`` skipped to a CSV.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from emokit.core.atomic import write_atomic
from emokit.core.errors import DataError

MAX_LISTED_PROBLEMS = 20


@dataclass(frozen=True)
class Problem:
    """Something wrong in the release: where it is, which utterance (if known), and what."""

    file: str
    line: int  # 0 when the problem concerns a whole file or utterance
    utterance: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        who = f" [{self.utterance}]" if self.utterance else ""
        return f"{where}{who}: {self.message}"


class EncodingNote(UserWarning):
    """A text file of the release was not plain UTF-8 but could be decoded exactly."""


class IgnoredNote(UserWarning):
    """A folder of the release that the parser does not read (an extra ``Session6``)."""


class ReleaseError(DataError):
    """The release has problems; ``.problems`` lists all of them."""

    def __init__(self, root: Path, problems: list[Problem]):
        self.problems = problems
        listed = "\n".join(f"  {p}" for p in problems[:MAX_LISTED_PROBLEMS])
        more = len(problems) - MAX_LISTED_PROBLEMS
        more_text = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(
            f"{len(problems)} problem(s) in the IEMOCAP release at {root}:\n{listed}{more_text}\n"
            "Fix these files (compare them with a fresh copy of the release), or skip the "
            "utterances concerned with skip_missing=True (--skip-missing), which writes a report "
            "of what was skipped."
        )


def write_skip_report(problems: Sequence[Problem], path: str | Path) -> Path:
    """A CSV of what ``--skip-missing`` skipped: file, line, utterance, reason."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(["file", "line", "utterance", "reason"])
    for p in problems:
        writer.writerow([p.file, p.line, p.utterance, p.message])
    return write_atomic(path, text.getvalue())
