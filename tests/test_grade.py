"""emokit.course.grade: a folder of submissions -> CSVs of points and feedback. The student's
kernel never judges (its answers leave as plain data, judged in a reference kernel running the
solutions); every failure is a grade line; the teacher's installation is left unchanged."""

import csv
import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from emokit.course import answers, grade, gradebook, student_notebooks

ANSWERS = ("answer_1 = ...  # a letter\nanswer_2 = ...  # a whole number\n"
           "### BEGIN SOLUTION\nanswer_1 = \"c\"\nanswer_2 = 64\n### END SOLUTION")
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


def test_the_grader_drops_the_students_checks_and_only_extracts_answers(tmp_path):
    tampered = _submission("answer_1 = True\nanswer_2 = 16",
                           check='print("✓ exercise 2: right")',
                           extra="exercises.notebook00(\"c\", 64)")
    prepared = grade.prepare(tampered, SOURCE, tmp_path / "secret.json")
    code = [c.source for c in prepared.cells]
    assert not any("✓ exercise 2" in c or "notebook00" in c for c in code)
    assert "['answer_1', 'answer_2']" in code[-1] and str(tmp_path / "secret.json") in code[-1]
    assert [c.metadata.get("emokit_cell") for c in prepared.cells] == [1, 2, None]


def test_answers_decode_to_plain_values_and_anything_else_is_opaque(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps([{"__unanswered__": True}, {"__tuple__": [1, 2.5]},
                                {"__array__": [[1, 0], [0, 1]], "dtype": "int64", "shape": [2, 2]},
                                {"__opaque__": "Evil"}, {"__float__": "nan"}]))
    blank, pair, eye, other, nan = answers.load(path)
    assert blank is ... and pair == (1, 2.5) and eye.tolist() == [[1, 0], [0, 1]]
    assert repr(other) == "<Evil>" and nan != nan
    path.write_text("x" * (answers.MAX_BYTES + 1))
    with pytest.raises(ValueError, match="larger than"):
        answers.load(path)


def test_submissions_names_are_safe_and_files_that_are_no_notebook_say_why(tmp_path):
    subs = tmp_path / "subs"
    (subs / "alice").mkdir(parents=True)
    (subs / "alice" / "00_tiny.ipynb").write_text("{}")
    (subs / "bob_00.ipynb").write_text("{}")
    (subs / "...ipynb").write_text("{}")
    assert [s for s, _ in grade.submissions(subs)] == ["unnamed", "alice", "bob"]
    cases = {b"": "empty", b'{"cells": [': "invalid JSON", b"\xff\xfe": "not UTF-8",
             b'{"a": 1}': "without an nbformat"}
    for content, said in cases.items():
        (tmp_path / "x.ipynb").write_bytes(content)
        with pytest.raises(grade.NotANotebook, match=said):
            grade.read_notebook(tmp_path / "x.ipynb")
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": [
        {"cell_type": "code", "input": "x = 1", "language": "python", "outputs": []}]}]}
    (tmp_path / "x.ipynb").write_text(json.dumps(v3))
    assert grade.read_notebook(tmp_path / "x.ipynb")["cells"][0]["source"] in ("x = 1", ["x = 1"])


def test_a_renamed_submission_is_matched_by_its_cells(tmp_path):
    (tmp_path / "00_tiny.ipynb").write_text(json.dumps(SOURCE))
    (tmp_path / "01_other.ipynb").write_text(json.dumps(_notebook("pass")))
    found = grade.match_source(_submission("answer_1 = 1"), tmp_path / "homework.ipynb",
                               sorted(tmp_path.glob("*.ipynb")))
    assert found.name == "00_tiny.ipynb"


def test_the_wide_csv_has_one_row_per_student_and_a_total():
    right = {"key": "a", "student": "ann", "notebook": "04", "file": "f", "mode": "quick",
             "exercises": ["1", "2"], "statuses": {"1": "right", "2": "right"}, "lines": {},
             "errors": [], "outcome": "", "notes": [], "graded": True}
    died = right | {"key": "b", "student": "ben", "statuses": {}, "outcome": "kernel died in cell 3"}
    copy = right | {"key": "c", "graded": False, "outcome": "not graded: ..."}
    wide = gradebook.wide_rows([right, died, copy])
    assert wide[0] == ["student", "04-1", "04-2", "total", "max_total", "problems"]
    assert wide[1][:5] == ["ann", 1, 2, 3, 3] and wide[2][:5] == ["ben", 0, 0, 0, 3]
    long = gradebook.long_rows([died, copy])
    assert [r[3] for r in long[1:]] == ["could not run", "could not run", "not graded"]


def test_points_name_exercises_of_real_notebooks():
    numbers = {p.name[:2] for p in student_notebooks.sources()}
    assert set(grade.POINTS) <= numbers
    assert all(points > 0 for table in grade.POINTS.values() for points in table.values())


def test_student_check_cells_are_locked_and_check_says_what_it_checked(capsys):
    student = student_notebooks.student_version(SOURCE)
    assert student["cells"][2]["metadata"] == {"editable": False, "deletable": False}
    assert student_notebooks.main(["--check"]) == 0
    assert "all up to date" in capsys.readouterr().out


def _package_hash() -> str:
    package = Path(grade.__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


RIGHT, HALF = "answer_1 = \"c\"\nanswer_2 = 4 * 16", "answer_1 = \"c\"\nanswer_2 = 16"


@pytest.mark.slow
class TestAClass:
    """One class, graded once (two at a time): honest submissions get their true grade, each
    tampering no more than its honest grade, each failure a line, the package unchanged."""

    HONEST = {"right": 2, "half": 1, "blank": 0, "newest_copy": 2}

    @pytest.fixture(scope="class")
    @classmethod
    def graded(cls, tmp_path_factory):
        root = tmp_path_factory.mktemp("class")
        sources, subs = root / "sources", root / "subs"
        sources.mkdir()
        (sources / "00_tiny.ipynb").write_text(student_notebooks.dumps(SOURCE))
        exercises = Path(grade.__file__).with_name("exercises.py")
        victim = subs / "victim" / "00_tiny.ipynb"
        cases = {
            "right": _submission(RIGHT),
            "half": _submission(HALF, check='print("✓ exercise 2: right")'),
            "blank": _submission("answer_1 = ..."),
            "allclose": _submission(HALF + "\nimport numpy\nnumpy.allclose = lambda *a, **k: True"),
            "dumps": _submission(HALF + "\nimport json\njson.dumps = lambda *a, **k: "
                                 "'{\"1\": \"right\", \"2\": \"right\"}'"),
            "marker": _submission(HALF, extra="get_ipython().events.register('post_run_cell', "
                                  "lambda r: print('EMOKIT-GRADE {\"1\": \"right\", \"2\": "
                                  "\"right\"}'))"),
            "patched": _submission(HALF + "\nimport emokit.training.runtime as r\n"
                                   "r.use_accelerator = lambda c, gpu_count: c\n"
                                   "import emokit.course.checking as c\n"
                                   "c.check = lambda *a, **k: 'right'"),
            "package": _submission(HALF, extra=(
                f"import pathlib\np = pathlib.Path({str(exercises)!r})\n"
                "p.write_text(p.read_text() + '\\ndef check(*a, **k):\\n    return \"right\"\\n')\n"
                f"pathlib.Path({str(victim)!r}).write_text('{{}}')")),
            "victim": _submission(RIGHT),
            "killed": _submission(HALF, extra="import os\nos._exit(1)"),
            "loop": _submission(HALF, extra="while True:\n    pass"),
            "memory": _submission(HALF, extra="big = bytearray(20 * 2**30)"),
            "output": _submission(HALF, extra="for _ in range(300):\n    print('x' * 2**20)"),
            "detached": _submission(HALF, extra=(
                "import subprocess\nsubprocess.Popen(['sh', '-c', 'sleep 8; echo 0 > "
                f"{root / 'grades.csv'}'], start_new_session=True)")),
        }
        for name, notebook in cases.items():
            (subs / name).mkdir(parents=True)
            (subs / name / "00_tiny.ipynb").write_text(student_notebooks.dumps(notebook))
        (subs / "newest_copy").mkdir()
        old = subs / "newest_copy" / "00_old.ipynb"
        old.write_text(student_notebooks.dumps(cases["blank"]))
        os.utime(old, (1e9, 1e9))
        (subs / "newest_copy" / "00_new.ipynb").write_text(student_notebooks.dumps(cases["right"]))
        (subs / "...ipynb").write_text(student_notebooks.dumps(cases["right"]))
        (subs / "cut_00.ipynb").write_text(student_notebooks.dumps(cases["right"])[:200])
        before = _package_hash()
        code = grade.main([str(subs), "--out", str(root / "grades.csv"), "--sources",
                           str(sources), "--timeout", "10", "--memory-gb", "6", "--jobs", "2"])
        time.sleep(10)  # the detached process would have written by now
        return code, root, before

    def _rows(self, root):
        with open(root / "grades.csv", newline="") as f:
            return list(csv.DictReader(f))

    def test_the_run_finishes_and_the_package_is_unchanged(self, graded):
        code, root, before = graded
        assert code == 0 and _package_hash() == before

    def test_honest_submissions_get_their_true_grade_and_tampering_no_more(self, graded):
        _, root, _ = graded
        with open(root / "grades_wide.csv", newline="") as f:
            totals = {r["student"]: int(r["total"]) for r in csv.DictReader(f)}
        assert {s: totals[s] for s in self.HONEST} == self.HONEST
        assert totals["victim"] == 2 and totals["unnamed"] == 2  # graded from what was handed in
        for tampered in ("allclose", "dumps", "marker", "patched", "package", "killed", "loop",
                         "memory", "output", "detached"):
            assert totals[tampered] <= 1, tampered

    def test_every_failure_is_a_line_in_the_csv(self, graded):
        _, root, _ = graded
        outcome = {r["student"]: r["outcome"] for r in self._rows(root)}
        assert outcome["killed"] == "kernel died in cell 3"
        assert outcome["loop"] == "timed out in cell 3 after 10 s"
        assert outcome["cut"].startswith("not a notebook: invalid JSON")
        wide = (root / "grades_wide.csv").read_text()
        assert "newest_copy/00_old.ipynb: not graded" in wide or "00_old" in wide
        feedback = (root / "feedback" / "memory.md").read_text()
        assert "MemoryError" in feedback
        assert "output past 20 MB was dropped" in (root / "feedback" / "output.md").read_text()

    def test_a_rerun_skips_what_is_graded(self, graded, capsys):
        _, root, _ = graded
        before = (root / "grades.csv").read_text()
        grade.main([str(root / "subs"), "--out", str(root / "grades.csv"), "--sources",
                    str(root / "sources")])
        assert "already graded" in capsys.readouterr().out
        # the victim's file was rewritten on disk by "package" (the grader's own user can): the
        # first run graded what was handed in, a rerun grades the file as it is now
        def kept(text):
            return [line for line in text.splitlines() if not line.startswith("victim,")]
        assert kept((root / "grades.csv").read_text()) == kept(before)


def test_collect_takes_notebooks_from_zips_and_lms_names_and_nothing_else(tmp_path):
    import zipfile

    from emokit.course import collect

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with zipfile.ZipFile(downloads / "alice.zip", "w") as archive:
        archive.writestr("../../escape/04_fusion.ipynb", "{}")
        archive.writestr("__MACOSX/._04_fusion.ipynb", "junk")
        archive.writestr("notes.txt", "not a notebook")
    (downloads / "bob_12345_assignsubmission_04.ipynb").write_text("{}")
    (downloads / "broken.zip").write_text("not a zip")
    said = collect.collect(downloads, tmp_path / "subs")
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.ipynb")
                   if "downloads" not in p.parts)
    assert files == ["subs/alice/04_fusion.ipynb",
                     "subs/bob/bob_12345_assignsubmission_04.ipynb"]
    assert any("not a zip file" in line for line in said)


def test_the_package_ships_the_solutions_it_grades_with():
    packaged = sorted(p.name for p in student_notebooks.PACKAGED.glob("*.ipynb"))
    assert packaged == [p.name for p in student_notebooks.sources()]
    assert student_notebooks.generate(check=True) == []
    pyproject = (Path(grade.__file__).parents[2] / "pyproject.toml").read_text()
    assert '"emokit.course" = ["solutions/*.ipynb"]' in pyproject
