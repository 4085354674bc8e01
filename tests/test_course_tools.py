"""The course's helpers: exercise feedback, student-notebook generation, your-own-voice, Drive."""

import json

import numpy as np
import pytest

from emokit.core import paths
from emokit.course import checking, exercises, student_notebooks, your_voice

# --- emokit.course.checking.check -----------------------------------------------------------------------

@pytest.mark.parametrize("blank", [..., None])
def test_a_blank_is_not_answered_yet_and_does_not_raise(blank, capsys):
    assert checking.check("1", blank, expected=10) == checking.UNANSWERED
    assert capsys.readouterr().out.startswith("… exercise 1: not answered yet")


def test_a_right_answer_says_so_within_tolerance(capsys):
    assert checking.check("2", 0.1 + 0.2, expected=0.3) == checking.RIGHT
    assert checking.check("3", [[1, 0], [0, 1]], expected=np.eye(2)) == checking.RIGHT
    assert checking.check("4", ("Ses03F",), expected=("Ses03F",)) == checking.RIGHT
    assert capsys.readouterr().out.count("right") == 3


@pytest.mark.parametrize(("answer", "expected", "hint"), [
    (9, 10, "forgot the diagonal"),           # a foreseen mistake
    (20, 10, "off by a factor of 2"),          # a factor
    (np.ones((2, 2)), np.eye(3), "expected shape (3, 3), got (2, 2)"),
    ([1, 2], [1, 2, 3], "expected 3 items, got 2"),
    ("10", 10, "expected a number, got str"),
    (1, True, "expected True or False"),
])
def test_a_wrong_answer_gets_a_hint_that_does_not_give_it_away(answer, expected, hint, capsys):
    status = checking.check("5", answer, expected, hints=[(9, "forgot the diagonal")], factors=(2,))
    out = capsys.readouterr().out
    assert status == checking.WRONG and hint in out
    if not isinstance(expected, bool):
        assert str(expected) not in out.replace(str(answer), "")


def test_accept_predicates_and_answers_that_break_the_check_are_wrong_not_fatal(capsys):
    assert checking.check("6", 3, accept=lambda a: a % 2 == 1) == checking.RIGHT
    assert checking.check("7", "x", accept=lambda a: a % 2 == 1, hint="odd") == checking.WRONG
    assert "checking it raised TypeError" in capsys.readouterr().out


def test_notebook05_checker_knows_the_answers_without_the_notebook_giving_them(capsys):
    class Model:
        contrastive_weight = 0.5

        def compute_losses(self, inputs, labels):
            return {"loss": 1.5, "ce": 1.0, "pair_term": 0.5, "disc_loss": 1.0}

    statuses = exercises.notebook05(np.eye(3), 9, ..., model=Model(), inputs=None, labels=None)
    assert statuses == {"1": checking.RIGHT, "2": checking.WRONG, "3": checking.UNANSWERED}
    assert "labelled 1 pairs with itself" in capsys.readouterr().out


# --- emokit.course.student_notebooks --------------------------------------------------------------------

SOURCE_CELL = "x = ...  # a number\n### BEGIN SOLUTION\nx = 42\n### END SOLUTION\nprint(x)"


def test_strip_solutions_keeps_the_blank_and_drops_the_block():
    assert student_notebooks.strip_solutions(SOURCE_CELL) == "x = ...  # a number\nprint(x)"
    assert student_notebooks.solution_lines(SOURCE_CELL) == ["x = 42"]
    indented = "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n    return ..."
    assert student_notebooks.strip_solutions(indented) == "def f():\n    return ..."


@pytest.mark.parametrize("broken", [
    "### BEGIN SOLUTION\nx = 1",
    "x = 1\n### END SOLUTION",
    "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION",
])
def test_unbalanced_markers_are_an_error_naming_the_place(broken):
    with pytest.raises(ValueError, match="nb.ipynb cell 3"):
        student_notebooks.strip_solutions(broken, "nb.ipynb cell 3")


def _notebook(*sources):
    return {"cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
                       "outputs": [], "source": s.splitlines(keepends=True)}
                      for i, s in enumerate(sources)],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_generate_writes_student_versions_and_check_reports_drift(tmp_path):
    sources, students = tmp_path / "solutions", tmp_path
    packaged = tmp_path / "packaged"  # never the package's own copies
    sources.mkdir()
    (sources / "01_x.ipynb").write_text(student_notebooks.dumps(_notebook("import os", SOURCE_CELL)))
    both = [students / "01_x.ipynb", packaged / "01_x.ipynb"]
    assert student_notebooks.generate(sources, students, check=True, packaged=packaged) == both
    assert student_notebooks.generate(sources, students, packaged=packaged) == both
    assert (packaged / "01_x.ipynb").read_text() == (sources / "01_x.ipynb").read_text()
    written = json.loads((students / "01_x.ipynb").read_text())
    assert "".join(written["cells"][1]["source"]) == "x = ...  # a number\nprint(x)"
    assert student_notebooks.generate(sources, students, check=True, packaged=packaged) == []
    (students / "01_x.ipynb").write_text((students / "01_x.ipynb").read_text().replace("...", "42"))
    assert (student_notebooks.generate(sources, students, check=True, packaged=packaged)
            == [students / "01_x.ipynb"])


# --- emokit.course.your_voice ---------------------------------------------------------------------------

def test_get_recording_prefers_your_file_then_falls_back_to_the_corpus(tmp_path):
    wav = tmp_path / "me.wav"
    wav.write_bytes(b"RIFF")
    mine = your_voice.get_recording(str(wav), "hello there", fallback=("corpus.wav", "hi"))
    assert (mine.wav, mine.transcript, mine.origin) == (wav, "hello there", "your file")
    builtin = your_voice.get_recording(None, None, fallback=("corpus.wav", "hi"))
    assert (builtin.wav.name, builtin.transcript, builtin.origin) == ("corpus.wav", "hi",
                                                                    "the built-in corpus")


def test_get_recording_names_the_fix_for_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="MY_RECORDING"):
        your_voice.get_recording(tmp_path / "missing.wav", "hi", fallback=("c.wav", "hi"))
    (tmp_path / "me.wav").write_bytes(b"RIFF")
    with pytest.raises(ValueError, match="MY_TRANSCRIPT"):
        your_voice.get_recording(tmp_path / "me.wav", " ", fallback=("c.wav", "hi"))
    with pytest.raises(RuntimeError, match="on Colab"):
        your_voice.get_recording(None, "hi", colab_input="microphone", fallback=("c.wav", "hi"))
    with pytest.raises(ValueError, match="colab_input"):
        your_voice.get_recording(None, "hi", colab_input="mic", fallback=("c.wav", "hi"))


def test_plot_probabilities_draws_one_bar_per_class_and_marks_the_top_one():
    import matplotlib

    matplotlib.use("Agg")
    ax = your_voice.plot_probabilities({"neutral": 0.1, "happy": 0.6, "angry": 0.2, "sad": 0.1})
    heights = [bar.get_height() for bar in ax.patches]
    assert heights == [0.1, 0.6, 0.2, 0.1]
    assert ax.patches[1].get_facecolor() != ax.patches[0].get_facecolor()


# --- emokit.core.paths on Colab -----------------------------------------------------------------------

def test_data_and_results_go_to_drive_when_it_is_mounted(tmp_path, monkeypatch):
    monkeypatch.delenv("EMOKIT_DATA", raising=False)
    monkeypatch.delenv("EMOKIT_RESULTS", raising=False)
    monkeypatch.setattr(paths, "DRIVE_ROOT", tmp_path / "MyDrive")
    assert paths.data_dir() == paths.REPO_ROOT / "data"
    (tmp_path / "MyDrive").mkdir()
    assert paths.data_dir() == tmp_path / "MyDrive" / "emokit" / "data"
    assert paths.results_dir() == tmp_path / "MyDrive" / "emokit" / "results"
    assert "a disconnect loses nothing" in paths.storage_note()
    monkeypatch.setenv("EMOKIT_DATA", str(tmp_path / "mine"))
    assert paths.data_dir() == tmp_path / "mine"


# --- the quick-mode switch of every notebook's first cell -----------------------------------------

@pytest.mark.parametrize(("switch", "quick"), [("True", True), ("False", False)])
def test_the_first_cells_quick_mode_line_switches_quick_mode(switch, quick, monkeypatch, capsys):
    from IPython.core.inputtransformer2 import TransformerManager

    from emokit.config import quick_mode

    monkeypatch.setenv("EMOKIT_QUICK", "0" if quick else "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")  # the cell sets it: restored afterwards
    first = next("".join(c["source"]) for c in json.loads(
        (student_notebooks.NOTEBOOKS / "00_getting_started.ipynb").read_text())["cells"]
        if c["cell_type"] == "code")
    assert "QUICK_MODE = None  #" in first
    code = TransformerManager().transform_cell(first.replace("QUICK_MODE = None", f"QUICK_MODE = {switch}"))
    exec(compile(code, "first-cell", "exec"), {"get_ipython": lambda: None})  # noqa: S102
    assert quick_mode() is quick


# --- notebook 07's chart carries its caveats -------------------------------------------------------

def test_a_near_chance_chart_marks_no_winner_and_shows_chance_and_numbers():
    import matplotlib

    matplotlib.use("Agg")
    near = {"neutral": 0.26, "happy": 0.27, "angry": 0.24, "sad": 0.23}
    ax = your_voice.plot_probabilities(near, title="mine")
    assert len({bar.get_facecolor() for bar in ax.patches}) == 1
    assert "near chance" in ax.get_title()
    assert [line.get_ydata()[0] for line in ax.get_lines()] == [0.25]
    assert {"0.26", "0.27", "0.24", "0.23"} <= {t.get_text() for t in ax.texts}
    clear = your_voice.plot_probabilities({"neutral": 0.1, "happy": 0.7, "angry": 0.1, "sad": 0.1})
    assert "near chance" not in clear.get_title()


def test_input_report_names_unknown_words_a_cut_recording_and_the_normalization(tmp_path,
                                                                                 monkeypatch):
    import types

    import soundfile

    from emokit import inference
    from emokit.config import FeatureConfig
    from emokit.data.normalization import FeatureNormalizer
    from emokit.data.text import Vocabulary

    soundfile.write(tmp_path / "me.wav", np.zeros(4 * 16000, "float32") + 0.01, 16000)
    bundle = types.SimpleNamespace(features=FeatureConfig(), lowercase=True, max_words=30,
                                   max_frames=300, vocab=Vocabulary.build([["we", "won"]]),
                                   normalizer=FeatureNormalizer("speaker"), text_preset=None)
    monkeypatch.setattr(inference, "load_bundle", lambda path: bundle)
    report = inference.input_report(tmp_path / "me.wav", "We WON the cup, the cup!", "bundle")
    assert report.unknown_words == ["the", "cup"]
    assert report.cut and report.seconds == 4.0 and report.seconds_used == 3.0
    lines = your_voice.caveats({"neutral": 0.3, "happy": 0.3, "angry": 0.2, "sad": 0.2}, report)
    text = "\n".join(lines)
    assert "chance is 0.25" in text and "near chance" in text
    assert "does not know (read as <unk>): the, cup" in text
    assert "first 3.0 s of 4.0 s (max_frames=300)" in text
    assert "training fold's statistics" in text
    bundle.max_frames = 750
    assert not inference.input_report(tmp_path / "me.wav", "we won", "bundle").cut
