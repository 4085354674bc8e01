"""The grader's records and what it writes from them, rewritten after every submission.

A record is one submitted file's grading, a plain dict::

    {"key": "alice/04/3f2a...", "student": "alice", "notebook": "04", "file": "alice/04_x.ipynb",
     "mode": "quick", "exercises": ["1", "2", "3"], "statuses": {"1": "right", ...},
     "lines": {"1": "✓ exercise 1: right"}, "errors": [...], "outcome": "", "notes": [...],
     "graded": True, "seconds": 81.2}

``outcome`` is "" when the whole notebook ran, else why not ("kernel died in cell 7", "not a
notebook: ..."); a record with ``graded`` False is a second notebook of the same number, named
and not counted. From the records: ``grades.csv`` (long: one row per exercise),
``grades_wide.csv`` (one row per student, one column per exercise, the total), one feedback page
per student, and the state file a rerun reads to skip what is graded. Every file is written to a
temporary name and renamed, so an interrupted grader leaves the last complete version.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from emokit.course.checking import RIGHT

# Points per exercise; every exercise not listed here is worth 1 point.
POINTS: dict[str, dict[str, int]] = {
    "04": {"2": 2},  # UA from a confusion matrix
    "05": {"3": 2},  # the pair term the regularizer adds to the objective, computed
    "06": {"3": 2},  # the paired t-interval of the mean difference, in points
    "07": {"3": 2},  # a model with a third input that uses it
}
LONG_COLUMNS = ["student", "notebook", "exercise", "status", "points", "max_points", "mode",
                "file", "outcome"]


def points_of(notebook: str, exercise: str) -> int:
    return POINTS.get(notebook, {}).get(exercise, 1)


def scored(record: dict) -> list[tuple[str, str, int, int]]:
    """``(exercise, status, points, max_points)`` of a record (nothing for an ignored copy)."""
    if not record.get("graded", True):
        return []
    rows = []
    for exercise in record.get("exercises", []):
        status = record["statuses"].get(exercise, "could not run")
        most = points_of(record["notebook"], exercise)
        rows.append((exercise, status, most if status == RIGHT else 0, most))
    return rows


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp{os.getpid()}")
    temporary.write_text(text)
    os.replace(temporary, path)


def _csv(rows: list[list]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def long_rows(records: list[dict]) -> list[list]:
    rows = [LONG_COLUMNS]
    for r in records:
        lines = scored(r) or [("*", "not graded" if not r.get("graded", True) else "could not run",
                               0, 0)]
        for exercise, status, got, most in lines:
            rows.append([r["student"], r["notebook"], exercise, status, got, most, r["mode"],
                         r["file"], r["outcome"]])
    return rows


def wide_rows(records: list[dict]) -> list[list]:
    """One row per student: the points of each ``NN-E`` exercise, the total and its maximum."""
    columns = sorted({f"{r['notebook']}-{e}" for r in records for e, *_ in scored(r)})
    rows = [["student", *columns, "total", "max_total", "problems"]]
    for student in sorted({r["student"] for r in records}):
        mine = [r for r in records if r["student"] == student]
        points = {f"{r['notebook']}-{e}": got for r in mine for e, _, got, _ in scored(r)}
        most = sum(m for r in mine for *_, m in scored(r))
        problems = "; ".join(f"{r['file']}: {r['outcome']}" for r in mine if r["outcome"])
        rows.append([student, *[points.get(c, "") for c in columns], sum(points.values()), most,
                     problems])
    return rows


def feedback_page(student: str, records: list[dict]) -> str:
    mine = [r for r in records if r["student"] == student]
    got = sum(p for r in mine for _, _, p, _ in scored(r))
    total = sum(m for r in mine for *_, m in scored(r))
    lines = [f"# {student}: {got} of {total} points", ""]
    for r in mine:
        rows = scored(r)
        lines += [f"## notebook {r['notebook']} ({r['file']}): {sum(x[2] for x in rows)} of "
                  f"{sum(x[3] for x in rows)} points", ""]
        if r["outcome"]:
            lines.append(f"- **{r['outcome']}**")
        for exercise, status, points, most in rows:
            line = r["lines"].get(exercise, f"exercise {exercise}: {status}")
            lines.append(f"- {line} [{points}/{most} points]")
        lines += [f"- {note}" for note in r.get("notes", [])]
        lines += [f"- {error}" for error in r.get("errors", [])[:3]]
        lines.append("")
    return "\n".join(lines)


def write_all(records: list[dict], out: Path, feedback: Path, state: Path) -> None:
    """The state, both CSVs and every student's feedback page, from ``records``."""
    records = sorted(records, key=lambda r: (r["student"], r["notebook"], r["file"]))
    atomic_write(state, json.dumps(records, indent=1))
    atomic_write(out, _csv(long_rows(records)))
    atomic_write(out.with_name(f"{out.stem}_wide{out.suffix}"), _csv(wide_rows(records)))
    for student in sorted({r["student"] for r in records}):
        atomic_write(feedback / f"{student}.md", feedback_page(student, records))


def read_state(state: Path) -> list[dict]:
    if not state.is_file():
        return []
    try:
        records = json.loads(state.read_text())
    except ValueError:
        return []
    return records if isinstance(records, list) else []
