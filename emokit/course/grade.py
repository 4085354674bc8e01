"""Grade a folder of submitted course notebooks into a CSV of points and per-student feedback.

    python -m emokit.course.grade SUBMISSIONS --out grades.csv

``SUBMISSIONS`` holds one folder per student with their notebooks (``alice/05_*.ipynb``), or the
notebooks themselves, named after the student (``alice.ipynb``, ``alice_05.ipynb``): any
``.ipynb`` below it is graded. Each submission runs top to bottom in a fresh kernel, but its check
cells are not trusted: every cell that calls ``exercises.notebookNN(...)`` is dropped, and the
grader appends the check cell of the *source* notebook (``notebooks/solutions/``), which imports
``emokit.course.exercises`` (and :mod:`emokit.course.checking`, whose ``check`` it calls) afresh
and reports each exercise's status to the grader. A student can thus
neither edit a check away nor patch the checker. Answers are judged by the same checkers the
student saw while working, with the same hints.

Writes ``grades.csv`` (``student, notebook, exercise, status, points, max_points``), and a
feedback page per student (``feedback/<student>.md``: every exercise's line with its hint, the
points, and the first error a cell raised). A cell that raises does not stop the grading: the
notebook runs on, like the student notebooks themselves.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from emokit.course.checking import RIGHT
from emokit.course.student_notebooks import SOURCES

CHECK_CALL = re.compile(r"exercises\.(notebook\d\d)\(")  # the course checkers
MARK = "EMOKIT-GRADE "
EXERCISE_LINE = re.compile(r"^[✓✗…] exercise (\S+): .*$", re.MULTILINE)
# Points per exercise; every exercise not listed here is worth 1 point.
POINTS: dict[str, dict[str, int]] = {
    "04": {"2": 2},  # UA from a confusion matrix
    "05": {"3": 2},  # the regularized objective, computed
    "06": {"3": 2},  # a bootstrap interval
    "07": {"3": 2},  # a model with a third input that uses it
}


@dataclass
class Result:
    """One graded submission: the statuses of its exercises and what to tell the student."""

    student: str
    notebook: str  # "05"
    path: Path
    statuses: dict[str, str] = field(default_factory=dict)
    lines: dict[str, str] = field(default_factory=dict)  # exercise -> the checker's line
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def points(self, exercise: str) -> int:
        return points_of(self.notebook, exercise) if self.statuses.get(exercise) == RIGHT else 0


def points_of(notebook: str, exercise: str) -> int:
    return POINTS.get(notebook, {}).get(exercise, 1)


def check_cells(notebook: dict) -> list[int]:
    """Indices of the code cells that call an exercise checker (the cells the grader replaces)."""
    return [i for i, cell in enumerate(notebook["cells"]) if cell["cell_type"] == "code"
            and CHECK_CALL.search("".join(cell["source"]))]


def _number(source: Path) -> str:
    return source.name[:2]


def match_source(submission: dict, path: Path, sources: list[Path]) -> Path:
    """The source notebook ``submission`` was handed out from: the one sharing most cell ids
    (students rename files), then the two-digit prefix of its file name."""
    ids = {cell.get("id") for cell in submission["cells"]}
    best, shared = None, 0
    for source in sources:
        common = len(ids & {cell.get("id") for cell in json.loads(source.read_text())["cells"]})
        if common > shared:
            best, shared = source, common
    if best is not None:
        return best
    digits = re.findall(r"(?<!\d)(\d\d)(?!\d)", path.stem)
    for source in sources:
        if digits and _number(source) == digits[-1]:
            return source
    raise ValueError(f"{path}: not one of the course notebooks ({[s.name for s in sources]}); "
                     "name it like the notebook it answers (e.g. alice/05_contrastive.ipynb)")


def grader_cell(source: dict) -> str:
    """The code the grader runs after a submission: the source's checker call, on the names the
    submission defines (a missing name counts as unanswered), its statuses printed for us."""
    cells = check_cells(source)
    if len(cells) != 1:
        raise ValueError(f"a source notebook needs exactly one check cell, found {len(cells)}")
    tree = ast.parse("".join(source["cells"][cells[0]]["source"]))
    call = next(node for node in ast.walk(tree) if isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute) and node.func.attr.startswith("notebook"))
    args = [ast.unparse(a) for a in call.args]
    kwargs = {k.arg: ast.unparse(k.value) for k in call.keywords}
    return "\n".join([
        "# emokit.course.grade: the checks of the course's source notebook, not the submission's",
        "import builtins as _grade_builtins, importlib as _grade_importlib, json as _grade_json",
        "import sys as _grade_sys",
        '_grade_sys.modules.pop("emokit.course.exercises", None)  # a fresh checker, whatever was patched',
        '_grade_sys.modules.pop("emokit.course.checking", None)',
        '_grade_checker = _grade_importlib.import_module("emokit.course.exercises")',
        "def _grade_value(expression):",
        "    try:",
        "        return _grade_builtins.eval(expression, globals())",
        "    except Exception:",
        "        return ...  # a missing answer is an unanswered one",
        f"_grade_statuses = _grade_checker.{call.func.attr}(",
        f"    *[_grade_value(e) for e in {args!r}],",
        f"    **{{k: _grade_value(e) for k, e in {kwargs!r}.items()}})",
        f"_grade_builtins.print({MARK!r} + _grade_json.dumps(_grade_statuses))",
    ])


def prepare(submission: dict, source: dict) -> dict:
    """``submission`` without its check cells (any cell calling a checker, and the cells that
    stand where the source has one, whatever they now hold), the grader's check appended."""
    import nbformat

    notebook = nbformat.reads(json.dumps(submission), as_version=4)  # sources as strings
    locked = {source["cells"][i].get("id") for i in check_cells(source)} - {None}
    drop = set(check_cells(submission)) | {i for i, c in enumerate(submission["cells"])
                                           if c.get("id") in locked}
    notebook.cells = [c for i, c in enumerate(notebook.cells) if i not in drop]
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    notebook.cells.append(nbformat.v4.new_code_cell(grader_cell(source)))
    return notebook


def run(notebook, workdir: Path, timeout: int) -> tuple[str, list[str]]:
    """Execute ``notebook`` in a fresh kernel in ``workdir``; return the grader cell's output and
    the errors its cells raised."""
    from nbclient import NotebookClient

    workdir.mkdir(parents=True, exist_ok=True)
    NotebookClient(notebook, timeout=timeout, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(workdir)}}).execute()
    errors = []
    for index, cell in enumerate(notebook.cells[:-1]):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                errors.append(f"cell {index + 1} raised {out['ename']}: {out['evalue']}"[:300])
    last = notebook.cells[-1].get("outputs", [])
    text = "".join(out.get("text", "") for out in last if out.get("output_type") == "stream")
    text += "".join(f"{out['ename']}: {out['evalue']}" for out in last
                    if out.get("output_type") == "error")
    return text, errors


def grade_one(path: Path, student: str, sources: list[Path], workdir: Path,
              timeout: int = 1800) -> Result:
    """Grade one submitted notebook."""
    began = time.perf_counter()
    submission = json.loads(path.read_text())
    source_path = match_source(submission, path, sources)
    result = Result(student, _number(source_path), path)
    text, result.errors = run(prepare(submission, json.loads(source_path.read_text())), workdir,
                              timeout)
    marked = [line for line in text.splitlines() if line.startswith(MARK)]
    if marked:
        result.statuses = json.loads(marked[-1][len(MARK):])
        result.lines = {m.group(1): m.group(0) for m in EXERCISE_LINE.finditer(text)}
    else:
        last_line = text.strip().splitlines()[-1:] or ["no output"]
        result.errors.append(f"the checks could not run: {last_line[0]}"[:300])
    result.seconds = time.perf_counter() - began
    return result


def submissions(folder: Path) -> list[tuple[str, Path]]:
    """``(student, notebook)`` pairs: the student is the first folder below ``folder``, or the
    notebook's name (up to a ``_NN`` suffix) when it lies in ``folder`` itself."""
    found = []
    for path in sorted(folder.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        relative = path.relative_to(folder)
        student = relative.parts[0] if len(relative.parts) > 1 else re.sub(
            r"[_-]?\d\d(_[\w-]*)?$", "", path.stem) or path.stem
        found.append((student, path))
    return found


def write_csv(results: list[Result], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "notebook", "exercise", "status", "points", "max_points"])
        for r in results:
            for exercise in sorted(r.statuses) or ["*"]:
                writer.writerow([r.student, r.notebook, exercise,
                                 r.statuses.get(exercise, "could not run"), r.points(exercise),
                                 points_of(r.notebook, exercise) if r.statuses else 0])


def write_feedback(results: list[Result], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    pages = []
    for student in sorted({r.student for r in results}):
        mine = [r for r in results if r.student == student]
        got = sum(r.points(e) for r in mine for e in r.statuses)
        total = sum(points_of(r.notebook, e) for r in mine for e in r.statuses)
        lines = [f"# {student}: {got} of {total} points", ""]
        for r in mine:
            notebook_points = sum(r.points(e) for e in r.statuses)
            notebook_total = sum(points_of(r.notebook, e) for e in r.statuses)
            lines += [(f"## notebook {r.notebook} ({r.path.name}): {notebook_points} of "
                      f"{notebook_total} points"), ""]
            lines += [f"- {r.lines.get(e, f'exercise {e}: ' + r.statuses[e])} "
                      f"[{r.points(e)}/{points_of(r.notebook, e)} points]" for e in sorted(r.statuses)]
            lines += [f"- {error}" for error in r.errors[:3]]
            lines.append("")
        page = folder / f"{student}.md"
        page.write_text("\n".join(lines))
        pages.append(page)
    return pages


def grade(folder: Path, out: Path, sources: Path = SOURCES, feedback: Path | None = None,
          timeout: int = 1800, verbose: bool = True) -> list[Result]:
    """Grade every notebook below ``folder``; write ``out`` (CSV) and the feedback pages."""
    found = submissions(folder)
    if not found:
        raise FileNotFoundError(f"no .ipynb file below {folder}: put each student's notebooks in "
                                "a folder named after them (alice/05_contrastive.ipynb)")
    source_list = sorted(Path(sources).glob("*.ipynb"))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the kernels' TensorFlow: no log lines
    work = out.parent / f".{out.stem}_work"
    results, saved = [], os.environ.get("EMOKIT_RESULTS")
    for student, path in found:
        workdir = work / student
        os.environ["EMOKIT_RESULTS"] = str(workdir / "results")  # each student's runs apart
        try:
            result = grade_one(path, student, source_list, workdir, timeout)
        finally:
            if saved is None:
                os.environ.pop("EMOKIT_RESULTS", None)
            else:
                os.environ["EMOKIT_RESULTS"] = saved
        results.append(result)
        if verbose:
            points = sum(result.points(e) for e in result.statuses)
            total = sum(points_of(result.notebook, e) for e in result.statuses)
            print(f"{student} {path.name}: {points}/{total} points ({result.seconds:.0f} s)"
                  + (f"; {result.errors[-1]}" if result.errors else ""), flush=True)
    write_csv(results, out)
    write_feedback(results, feedback or out.parent / "feedback")
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, help="folder of submitted notebooks")
    parser.add_argument("--out", type=Path, default=Path("grades.csv"), help="the CSV to write")
    parser.add_argument("--feedback", type=Path, help="folder of feedback pages "
                        "(default: feedback/ next to --out)")
    parser.add_argument("--sources", type=Path, default=SOURCES,
                        help="the source notebooks whose checks are run (default: the course's)")
    parser.add_argument("--quick", action="store_true",
                        help="run the submissions in quick mode (EMOKIT_QUICK=1)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args(argv)
    if args.quick:
        os.environ["EMOKIT_QUICK"] = "1"
    try:
        results = grade(args.submissions, args.out, args.sources, args.feedback, args.timeout)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({len(results)} notebooks) and "
          f"{args.feedback or args.out.parent / 'feedback'}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
