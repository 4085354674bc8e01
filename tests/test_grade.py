"""emokit.course.grade: a folder of submissions -> a CSV of points and feedback, with the grader's own
checks (a student cannot edit or patch them away)."""

import csv
import json

import pytest

from emokit.course import grade, student_notebooks

ANSWERS = ("answer_1 = ...  # True or False\nanswer_2 = ...  # a whole number\n"
           "### BEGIN SOLUTION\nanswer_1 = True\nanswer_2 = 64\n### END SOLUTION")
CHECK = "from emokit.course import exercises\n\nexercises.notebook00(answer_1, answer_2);"


def _notebook(*sources):
    return {"cells": [{"cell_type": "code", "execution_count": None, "id": f"cell{i}",
                       "metadata": {}, "outputs": [], "source": s.splitlines(keepends=True)}
                      for i, s in enumerate(sources)],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                        "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


SOURCE = _notebook("from emokit.config import ExperimentConfig\n"
                   "from emokit.training.runtime import use_accelerator", ANSWERS, CHECK)


def _submission(answers: str, check: str = CHECK, extra: str = "x = 1"):
    student = student_notebooks.student_version(SOURCE)
    student["cells"][1]["source"] = answers.splitlines(keepends=True)
    student["cells"][2]["source"] = check.splitlines(keepends=True)
    student["cells"].insert(2, _notebook(extra)["cells"][0] | {"id": "mine"})
    return student


def test_the_grader_replaces_the_students_checks_with_the_sources():
    tampered = _submission("answer_1 = True\nanswer_2 = 16",
                           check='print("✓ exercise 2: right")',
                           extra="exercises.notebook00(True, 64)")
    prepared = grade.prepare(tampered, SOURCE)
    code = [c.source for c in prepared.cells]
    assert not any("✓ exercise 2" in c or c == "exercises.notebook00(True, 64)" for c in code)
    assert code[-1].count("notebook00(") == 1 and "['answer_1', 'answer_2']" in code[-1]
    assert 'modules.pop("emokit.course.exercises"' in code[-1]
    assert 'modules.pop("emokit.course.checking"' in code[-1]


def test_a_renamed_submission_is_matched_by_its_cells_and_students_by_folder(tmp_path):
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "00_tiny.ipynb").write_text(json.dumps(SOURCE))
    (sources / "01_other.ipynb").write_text(json.dumps(_notebook("pass")))
    found = grade.match_source(_submission("answer_1 = 1"), tmp_path / "homework.ipynb",
                               sorted(sources.glob("*.ipynb")))
    assert found.name == "00_tiny.ipynb"
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    (tmp_path / "subs" / "alice" / "00_tiny.ipynb").write_text("{}")
    (tmp_path / "subs" / "bob_00.ipynb").write_text("{}")
    assert [s for s, _ in grade.submissions(tmp_path / "subs")] == ["alice", "bob"]


def _rows(path):
    with open(path, newline="") as f:
        return {(r["student"], r["exercise"]): r for r in csv.DictReader(f)}


@pytest.mark.slow
def test_two_submissions_are_graded_into_a_csv_with_feedback(tmp_path, capsys):
    """alice answers right in other forms; bob gets exercise 2 wrong and tries to patch the
    checker and overwrite his check cell; carol's notebook raises and lacks an answer, and is
    graded to the end all the same."""
    sources, subs = tmp_path / "sources", tmp_path / "submissions"
    sources.mkdir()
    (sources / "00_tiny.ipynb").write_text(student_notebooks.dumps(SOURCE))
    for student, notebook in {
        "alice": _submission("answer_1 = bool(1)\nanswer_2 = 4 * 16"),
        "bob": _submission("answer_1 = True\nanswer_2 = 16\nimport emokit.course.exercises\n"
                           "emokit.course.exercises.check = lambda *a, **k: 'right'\n"
                           "import emokit.course.checking\n"
                           "emokit.course.checking.check = lambda *a, **k: 'right'",
                           check='print("✓ exercise 2: right")'),
        "carol": _submission("answer_1 = True", extra="1 / 0"),
    }.items():
        (subs / student).mkdir(parents=True)
        (subs / student / "00_tiny.ipynb").write_text(student_notebooks.dumps(notebook))

    grade.main([str(subs), "--out", str(tmp_path / "grades.csv"), "--sources", str(sources)])

    rows = _rows(tmp_path / "grades.csv")
    points = {key: int(row["points"]) for key, row in rows.items()}
    assert points == {("alice", "1"): 1, ("alice", "2"): 1, ("bob", "1"): 1, ("bob", "2"): 0,
                      ("carol", "1"): 1, ("carol", "2"): 0}
    assert rows[("carol", "2")]["status"] == "not answered yet"
    bob = (tmp_path / "feedback" / "bob.md").read_text()
    assert "# bob: 1 of 2 points" in bob and "the batch you started from" in bob
    assert "ZeroDivisionError" in (tmp_path / "feedback" / "carol.md").read_text()
    assert "alice 00_tiny.ipynb: 2/2 points" in capsys.readouterr().out


def test_student_check_cells_are_locked_and_check_says_what_it_checked(capsys):
    student = student_notebooks.student_version(SOURCE)
    assert student["cells"][2]["metadata"] == {"editable": False, "deletable": False}
    assert student["cells"][1]["metadata"] == {}
    assert student_notebooks.main(["--check"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"checked {len(student_notebooks.sources())} student notebooks")
    assert "all up to date" in out


def test_points_name_exercises_of_real_notebooks():
    numbers = {p.name[:2] for p in student_notebooks.sources()}
    assert set(grade.POINTS) <= numbers
    assert all(points > 0 for table in grade.POINTS.values() for points in table.values())
