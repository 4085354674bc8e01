"""Generate the course's student notebooks from their sources, which hold the solutions.

The source of truth is ``notebooks/solutions/NN_name.ipynb``: the full notebook, with every
reference answer between nbgrader-style markers::

    n_positive = ...  # a whole number
    ### BEGIN SOLUTION
    n_positive = 10
    ### END SOLUTION

The student notebook ``notebooks/NN_name.ipynb`` (the one the Colab badges open) is the same
notebook with the marked lines removed, so its placeholders stay. Markdown cells may hold marked
blocks too (an answer in prose). Edit only the sources, then run::

    python -m emokit.course.student_notebooks          # rewrite the student notebooks
    python -m emokit.course.student_notebooks --check  # fail if any is out of date (the tests do this)
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

from emokit.core.paths import REPO_ROOT

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
NOTEBOOKS = REPO_ROOT / "notebooks"
PACKAGED = Path(__file__).with_name("solutions")  # the copy shipped in the package (for grading)
SOURCES = NOTEBOOKS / "solutions" if (NOTEBOOKS / "solutions").is_dir() else PACKAGED


def strip_solutions(text: str, where: str = "") -> str:
    """``text`` without its marked solution blocks (markers included)."""
    kept, inside = [], False
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise ValueError(f"{where} line {number}: {BEGIN} inside a solution block")
            inside = True
        elif marker == END:
            if not inside:
                raise ValueError(f"{where} line {number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            kept.append(line)
    if inside:
        raise ValueError(f"{where}: {BEGIN} is never closed by {END}")
    result = "".join(kept)
    return result if text.endswith("\n") else result.rstrip("\n")


def solution_lines(text: str) -> list[str]:
    """The non-blank lines inside ``text``'s solution blocks, stripped."""
    lines, inside = [], False
    for line in text.splitlines():
        marker = line.strip()
        if marker in (BEGIN, END):
            inside = marker == BEGIN
        elif inside and marker:
            lines.append(marker)
    return lines


CHECK_CALL = re.compile(r"exercises\.notebook\d\d\(")


def student_version(source: dict, name: str = "") -> dict:
    """The student notebook of ``source`` (a notebook as JSON): solution blocks removed, and the
    check cells (those calling ``exercises.notebookNN``) locked against editing and deleting in
    Jupyter (``emokit.course.grade`` runs its own copy of them in any case)."""
    notebook = copy.deepcopy(source)
    for index, cell in enumerate(notebook["cells"]):
        text = "".join(cell["source"])
        stripped = strip_solutions(text, f"{name} cell {index}")
        if stripped != text:
            cell["source"] = stripped.splitlines(keepends=True)
        if cell["cell_type"] == "code" and CHECK_CALL.search(text):
            cell.setdefault("metadata", {}).update(editable=False, deletable=False)
    return notebook


def dumps(notebook: dict) -> str:
    """A notebook as nbformat writes it (so a regenerated file is byte-identical)."""
    return json.dumps(notebook, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def sources(folder: Path = SOURCES) -> list[Path]:
    return sorted(folder.glob("*.ipynb"))


def generate(source_dir: Path = SOURCES, student_dir: Path = NOTEBOOKS, check: bool = False,
             packaged: Path = PACKAGED) -> list[Path]:
    """Write (or with ``check``, only compare) each source's student notebook, and the package's
    copy of the source (what ``emokit.course.grade`` grades with when there is no checkout);
    return the files that were (or would be) changed."""
    changed = []
    for source in sources(source_dir):
        text = dumps(student_version(json.loads(source.read_text()), source.name))
        for target, wanted in ((student_dir / source.name, text),
                               (packaged / source.name, source.read_text())):
            if source_dir == packaged and target.parent == packaged:
                continue
            if not target.exists() or target.read_text() != wanted:
                changed.append(target)
                if not check:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(wanted)
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report out-of-date notebooks")
    args = parser.parse_args(argv)
    changed = generate(check=args.check)
    for path in changed:
        print(("out of date: " if args.check else "wrote ") + str(path))
    if args.check:
        print(summary(changed))
        if changed:
            print("run `python -m emokit.course.student_notebooks` after editing notebooks/solutions/")
            return 1
    return 0


def summary(changed: list[Path], source_dir: Path = SOURCES) -> str:
    """What ``--check`` checked: how many notebooks, solution blocks and locked check cells."""
    notebooks = sources(source_dir)
    blocks = checks = 0
    for source in notebooks:
        for cell in json.loads(source.read_text())["cells"]:
            text = "".join(cell["source"])
            blocks += sum(line.strip() == BEGIN for line in text.splitlines())
            checks += cell["cell_type"] == "code" and bool(CHECK_CALL.search(text))
    state = "all up to date" if not changed else f"{len(changed)} out of date"
    return (f"checked {len(notebooks)} student notebooks against {source_dir}: each must equal its "
            f"source without its {blocks} solution blocks, with its {checks} check cells locked: "
            f"{state}")


if __name__ == "__main__":
    sys.exit(main())
