"""Every notebook runs top to bottom in quick mode, in course order, and is stored without outputs."""

import json
import os
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{path.name} cell {i} has outputs: strip them"
            assert cell.get("execution_count") is None, f"{path.name} cell {i} has a count"


@pytest.fixture(scope="session")
def course_env(tmp_path_factory):
    """One data/results folder shared by all notebooks, as a user working through the course has."""
    base = tmp_path_factory.mktemp("course")
    env = dict(os.environ, EMOKIT_QUICK="1", EMOKIT_DATA=str(base / "data"),
               EMOKIT_RESULTS=str(base / "results"), MPLBACKEND="Agg")
    return env


@pytest.mark.notebook
@pytest.mark.xdist_group("notebooks")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_in_quick_mode(path, course_env, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    for key, value in course_env.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_header_has_badge_and_timing(path):
    """The first cell carries an Open-in-Colab badge pointing at this very file, and the times."""
    import re

    first = json.loads(path.read_text())["cells"][0]
    text = "".join(first["source"])
    links = re.findall(r"colab\.research\.google\.com/github/[^/]+/[^/]+/blob/main/([^)\s]+)", text)
    assert links, f"{path.name}: no Open-in-Colab badge in the first cell"
    root = path.parent.parent
    for link in links:
        assert (root / link).resolve() == path.resolve(), f"{path.name}: badge points at {link}"
    assert "CPU" in text and "GPU" in text, f"{path.name}: the header must state CPU and GPU times"
