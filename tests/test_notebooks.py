"""The course notebooks: students' versions generated from their sources, exercises with feedback,
a Colab-style first cell, and every notebook running quietly, alone or in course order.

Student notebooks (``notebooks/*.ipynb``, the ones the Colab badges open) hold blanks; their
sources (``notebooks/solutions/*.ipynb``) hold the reference answers between
``### BEGIN SOLUTION`` / ``### END SOLUTION`` markers. ``python -m emokit.course.student_notebooks``
regenerates the student versions.
"""

import importlib.util
import json
import re
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from emokit.course import student_notebooks

ROOT = Path(__file__).resolve().parent.parent
FIGURE_CHECK = Path(__file__).resolve().parent / "_figure_check.py"
STUDENT = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOURCES = sorted((ROOT / "notebooks" / "solutions").glob("*.ipynb"))
ALL = STUDENT + SOURCES
REPOSITORY = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]

# TensorFlow's C++ log ("2026-11-27 01:14:16.648190: E tensorflow/..." or absl's "E0000 00:00:...")
# and its Python log ("WARNING:tensorflow:5 out of the last 13 calls to <function ...> triggered
# tf.function retracing")
TF_LOG = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] |[IWEF]\d{4} \d\d:\d\d:|"
                    r"WARNING: All log messages before absl|(DEBUG|INFO|WARNING|ERROR):tensorflow:)",
                    re.MULTILINE)
PY_WARNING = re.compile(r"\b\w*Warning\b: ")
EXERCISE_LINE = re.compile(r"^[✓✗…] exercise (\S+): (right|not right yet|not answered yet)", re.MULTILINE)


def _cells(path):
    return json.loads(path.read_text())["cells"]


def _code(path):
    return ["".join(c["source"]) for c in _cells(path) if c["cell_type"] == "code"]


def _name(path):
    return path.name if path.parent.name == "notebooks" else f"solutions/{path.name}"


# --- stored form --------------------------------------------------------------------------------

def test_every_student_notebook_has_a_source():
    assert STUDENT and [p.name for p in STUDENT] == [p.name for p in SOURCES]


@pytest.mark.parametrize("path", ALL, ids=_name)
def test_notebook_is_stored_without_outputs(path):
    for i, cell in enumerate(_cells(path)):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{_name(path)} cell {i} has outputs: strip them"
            assert cell.get("execution_count") is None, f"{_name(path)} cell {i} has a count"


def test_student_notebooks_are_generated_from_their_sources():
    stale = student_notebooks.generate(check=True)
    assert not stale, f"{stale} differ from notebooks/solutions/: run python -m emokit.course.student_notebooks"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_no_student_notebook_holds_a_solution(source):
    student = ROOT / "notebooks" / source.name
    text = "\n".join(_code(student))
    assert student_notebooks.BEGIN not in text and student_notebooks.END not in text
    source_text = "\n".join(_code(source))
    outside = {line.strip() for line in
               student_notebooks.strip_solutions(source_text + "\n").splitlines()}
    solutions = [line for line in student_notebooks.solution_lines(source_text)
                 if line not in outside]
    assert solutions, f"{source.name} marks no solution"
    leaked = [line for line in solutions if line in {s.strip() for s in text.splitlines()}]
    assert not leaked, f"{student.name} holds reference answers: {leaked}"
    assert re.search(r"^\w+ = \.\.\.  # ", text, re.MULTILINE), f"{student.name}: no `...` blank with a hint"
    assert re.search(r"exercises\.notebook\d\d\(", text), f"{student.name} never checks its answers"


@pytest.mark.parametrize("path", STUDENT, ids=lambda p: p.name)
def test_notebook_header_has_badge_timing_and_outcome(path):
    """The first cell carries an Open-in-Colab badge pointing at this very file, the measured
    CPU time, the GPU time (or "not measured") and what the student can do after it."""
    text = "".join(_cells(path)[0]["source"])
    owner_repo = REPOSITORY.removeprefix("https://github.com/")
    links = re.findall(r"colab\.research\.google\.com/github/([^/]+/[^/]+)/blob/main/([^)\s]+)", text)
    assert links, f"{path.name}: no Open-in-Colab badge in the first cell"
    for repo, link in links:
        assert repo == owner_repo, f"{path.name}: badge opens {repo}, pyproject says {owner_repo}"
        assert (ROOT / link).resolve() == path.resolve(), f"{path.name}: badge points at {link}"
    assert re.search(r"quick mode.*: (about )?\d", text, re.DOTALL), f"{path.name}: no measured CPU time"
    assert "GPU: not measured" in text or re.search(r"GPU[^.]*\d+ (s|min)", text)
    assert "After it you can" in text and "⟨" not in text


# --- the first code cell: install the kit the Colab way -----------------------------------------

INSTALL_LINE = f'!pip install -q "emokit @ git+{REPOSITORY}"'
# notebook 09 (pretrained encoders) installs the [hub] extra (keras-hub) on Colab
HUB_NOTEBOOKS = ("09_",)
HUB_INSTALL_LINE = f'!pip install -q "emokit[hub] @ git+{REPOSITORY}"'


def _needs_hub(path) -> bool:
    return path.name.startswith(HUB_NOTEBOOKS)


def test_pyproject_urls_name_the_badges_repository():
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    assert REPOSITORY.startswith("https://github.com/") and urls["Homepage"] == REPOSITORY
    readme = (ROOT / "README.md").read_text()
    for repo in re.findall(r"colab\.research\.google\.com/github/([^/]+/[^/]+)/", readme):
        assert f"https://github.com/{repo}" == REPOSITORY, f"README badge opens {repo}"


@pytest.mark.parametrize("path", ALL, ids=_name)
def test_first_code_cell_installs_the_kit_colab_style(path):
    """The same first cell everywhere: pip-installs the package from the published repository
    (loose requirements: Colab keeps its TensorFlow), and fetches nothing else."""
    first, install = _code(path)[0], HUB_INSTALL_LINE if _needs_hub(path) else INSTALL_LINE
    assert first == _code(STUDENT[0])[0].replace(INSTALL_LINE, install), (
        f"{_name(path)}: first code cell differs from notebook 00's")
    shell = [line.strip() for line in first.splitlines() if line.strip().startswith(("!", "%"))]
    assert shell == [install], f"{_name(path)}: the first cell may only run {install}"
    assert not re.search(r"wget|curl|git clone|urllib|requests", first)
    assert first.index('os.environ["TF_CPP_MIN_LOG_LEVEL"]') < first.index("from emokit")


def _run_first_cell(monkeypatch, importable: bool, in_colab: bool):
    """Execute the first cell as IPython would, with shell escapes recorded, not run."""
    import importlib.util

    from IPython.core.inputtransformer2 import TransformerManager

    calls = []
    shell = type("Shell", (), {"system": lambda self, cmd: calls.append(cmd)})()
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    if not importable:
        real = importlib.util.find_spec
        monkeypatch.setattr(importlib.util, "find_spec",
                            lambda name, *a: None if name == "emokit" else real(name, *a))
    if in_colab:
        monkeypatch.setitem(sys.modules, "google.colab", type(sys)("google.colab"))
    code = TransformerManager().transform_cell(_code(STUDENT[0])[0])
    exec(compile(code, "first-cell", "exec"), {"get_ipython": lambda: shell})  # noqa: S102
    return calls


def test_first_cell_installs_nothing_where_emokit_is_importable(monkeypatch, capsys):
    import os

    assert _run_first_cell(monkeypatch, importable=True, in_colab=True) == []
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    assert "data:" in capsys.readouterr().out


def test_first_cell_pip_installs_on_colab_and_refuses_elsewhere(monkeypatch):
    assert _run_first_cell(monkeypatch, importable=False, in_colab=True) == [INSTALL_LINE[1:]]
    monkeypatch.undo()
    with pytest.raises(RuntimeError, match="README's setup command"):
        _run_first_cell(monkeypatch, importable=False, in_colab=False)


# --- executing the notebooks ---------------------------------------------------------------------

def _execute(path, env, monkeypatch, replace=None):
    """Run ``path`` in a fresh kernel with ``env``; ``replace`` rewrites lines of its cells first.
    Returns ``(notebook, text of every cell's outputs)``."""
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)  # only the notebook may silence it
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(path, as_version=4)
    figure_log = Path(env["EMOKIT_RESULTS"]).parent / f"figures-{path.stem}.json"
    figure_log.unlink(missing_ok=True)
    nb.cells.insert(0, nbformat.v4.new_code_cell(
        f"exec(compile(open({str(FIGURE_CHECK)!r}).read(), 'figure_check', 'exec'), "
        f"_check := {{}}); _check['install_in_kernel']({str(figure_log)!r}); del _check"))
    for old, new in (replace or {}).items():
        hits = [c for c in nb.cells if old in c.source]
        assert hits, f"{path.name}: no cell holds {old!r}"
        for c in hits:
            c.source = c.source.replace(old, new)
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    _assert_figures_show_something(path, figure_log)
    nb.cells.pop(0)
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", "") if out["output_type"] == "stream"
                         else out.get("data", {}).get("text/plain", "") + out.get("evalue", ""))
    return nb, "\n".join(texts)


def _assert_figures_show_something(path, log):
    """Every panel of every figure the run drew plots non-empty, finite series (or says why it
    is empty: tests/_figure_check.py); a notebook that draws figures drew at least one."""
    record = json.loads(log.read_text()) if log.exists() else {"figures": 0, "problems": []}
    assert not record["problems"], f"{_name(path)}: {record['problems']}"
    draws = any(re.search(r"\bplt\.|plots\.plot_|\.plot\(|quick_banner", code)
                for code in _code(path))
    assert not draws or record["figures"] > 0, f"{_name(path)} draws figures, none was checked"


def _assert_quiet(name, text):
    assert not TF_LOG.search(text), f"{name}: TensorFlow log lines in a cell: {TF_LOG.findall(text)}"
    warnings = [line for line in text.splitlines() if PY_WARNING.search(line)]
    assert not warnings, f"{name}: warnings in cell outputs: {warnings}"


RETRACING = ("WARNING:tensorflow:5 out of the last 13 calls to <function _encode_function.<locals>."
             "<lambda> at 0x7f> triggered tf.function retracing.")
ONEDNN = ("2026-11-30 12:56:27.972725: E tensorflow/core/util/util.cc:131] oneDNN supports DT_BOOL "
          "only on platforms with AVX-512. Falling back to the default Eigen-based implementation.")


@pytest.mark.parametrize("line", [RETRACING, ONEDNN, "E0000 00:00:1732 123 util.cc:131] oneDNN"])
def test_the_quiet_check_sees_tensorflow_lines(line):
    with pytest.raises(AssertionError, match="TensorFlow log lines"):
        _assert_quiet("a notebook", f"fold 1 prepared\n{line}\nrun 1 done")
    _assert_quiet("a notebook", "fold 1 prepared\nrun 1 done")


def _env(base):
    return {"EMOKIT_QUICK": "1", "EMOKIT_DATA": str(base / "data"),
            "EMOKIT_RESULTS": str(base / "results"), "MPLBACKEND": "Agg"}


def _exercise_statuses(name, text):
    statuses = [status for _, status in EXERCISE_LINE.findall(text)]
    assert statuses, f"{name}: no exercise was checked"
    return set(statuses)


# The student pass and the solutions pass behave alike on any stack; what a stack changes is
# whether the code runs at all. On the Colab-like stack (no tensorflow-io: Colab itself, and the
# newest-stack leg of .ci/run) both passes run; where tensorflow-io is installed (the pinned local
# stack, the second leg) each notebook runs once, its solutions from an empty folder, which
# executes every cell the student version has and checks every answer.
BOTH_PASSES = importlib.util.find_spec("tensorflow_io") is None


@pytest.mark.notebook
@pytest.mark.parametrize("path", STUDENT, ids=lambda p: p.name)
def test_notebook_runs_alone_unanswered_then_with_its_solutions(path, tmp_path, monkeypatch):
    """The student notebook in a fresh kernel with an empty data folder: it makes what it needs
    (corpus, feature cache) itself, and every exercise says "not answered yet" without stopping
    it. Then its source, with the reference answers, in the same folder: it reuses what the first
    run made, and every check passes. Both runs print no warning and no TensorFlow log line.
    Notebook 07's student run also tries a recording given by its file path. With tensorflow-io
    installed only the solutions pass runs (see BOTH_PASSES). Notebook 09 needs keras-hub
    (emokit[hub], TensorFlow >= 2.20): skipped where it is missing (the pinned leg)."""
    import time

    if _needs_hub(path):
        pytest.importorskip("keras_hub", reason=f"{path.name} needs emokit[hub] (keras-hub, "
                            "TensorFlow >= 2.20): the newest-stack leg runs it")

    alone = None
    if BOTH_PASSES:
        began = time.perf_counter()
        _run_student_notebook(path, tmp_path, monkeypatch)
        alone = time.perf_counter() - began
    source = ROOT / "notebooks" / "solutions" / path.name
    began = time.perf_counter()
    _, text = _execute(source, _env(tmp_path), monkeypatch)
    first = "" if alone is None else f"alone and unanswered {alone:.0f} s, then "
    print(f"{path.name}: {first}with solutions {time.perf_counter() - began:.0f} s")
    assert _exercise_statuses(source.name, text) == {"right"}, EXERCISE_LINE.findall(text)
    _assert_quiet(f"solutions/{source.name}", text)


def _run_student_notebook(path, tmp_path, monkeypatch):
    """The student pass: nothing answered, nothing stops it."""
    replace, env = {}, _env(tmp_path)
    if path.name.startswith("07"):
        import soundfile

        rate = 16000
        t = np.arange(int(1.5 * rate)) / rate
        voice = 0.3 * np.sin(2 * np.pi * (180 + 40 * t) * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2
        soundfile.write(tmp_path / "my voice.wav", voice.astype("float32"), rate)
        replace = {"MY_RECORDING = None": f"MY_RECORDING = {str(tmp_path / 'my voice.wav')!r}",
                   "MY_TRANSCRIPT = None": 'MY_TRANSCRIPT = "I cannot believe we won"'}
        env.pop("MPLBACKEND")  # the inline backend, so that the bar chart is an output
    nb, text = _execute(path, env, monkeypatch, replace)
    assert _exercise_statuses(path.name, text) == {"not answered yet"}
    _assert_quiet(path.name, text)
    if replace:
        voice_cell = next(c for c in nb.cells if "MY_RECORDING =" in c.source)
        printed = "".join(o.get("text", "") for o in voice_cell.outputs)
        assert "a recording from your file: 'I cannot believe we won'" in printed
        assert any("image/png" in o.get("data", {}) for o in voice_cell.outputs), "no bar chart"


@pytest.mark.notebook
def test_a_wrong_answer_gets_a_hint_not_the_answer(tmp_path, monkeypatch):
    path = ROOT / "notebooks" / "00_getting_started.ipynb"
    _, text = _execute(path, _env(tmp_path), monkeypatch, {
        'answer_1 = ...  # a letter, such as "a"': 'answer_1 = "a"',
        "answer_2 = ...  # a whole number": "answer_2 = 16"})
    lines = [line for line in text.splitlines() if "exercise" in line and line[:1] in "✓✗…"]
    assert lines == [("✗ exercise 1: not right yet (one GPU has it too: which setting differs "
                      "between the one- and two-GPU configs?)"),
                     ("✗ exercise 2: not right yet (that is the batch you started from: a GPU "
                     "changes it)")]
