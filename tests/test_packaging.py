"""The pinned install (requirements.txt, used by CI and the README), environment.yml and
pyproject.toml agree: one exact pin per package for every supported Python, the optional pieces
declared in the extras that need them, and CI running the README's commands."""

import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).parent.parent
SUPPORTED = ["3.11", "3.12", "3.13"]  # what the README and pyproject's classifiers promise


def _requirements(lines) -> list[Requirement]:
    """The requirement lines (comments dropped); each must be an exact ``==`` pin."""
    requirements = []
    for line in lines:
        line = line.split("#")[0].strip()
        if line:
            requirement = Requirement(line)
            specs = list(requirement.specifier)
            assert len(specs) == 1 and specs[0].operator == "==", f"not an exact pin: {line!r}"
            requirements.append(requirement)
    return requirements


def _pinned_requirements() -> list[Requirement]:
    return _requirements((ROOT / "requirements.txt").read_text().splitlines())


def _pins_for(requirements, python_version: str) -> dict[str, str]:
    """``name -> version`` of the pins whose markers hold on ``python_version``; a package pinned
    twice for one Python fails."""
    pins = {}
    for requirement in requirements:
        if requirement.marker and not requirement.marker.evaluate(
                {"python_version": python_version, "python_full_version": python_version + ".0"}):
            continue
        name = requirement.name.lower()
        assert name not in pins, f"{name} is pinned twice for Python {python_version}"
        pins[name] = next(iter(requirement.specifier)).version
    return pins


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_names_the_same_pins_as_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert ([str(r) for r in _requirements(pip_section)]
            == [str(r) for r in _pinned_requirements()])  # markers included


@pytest.mark.parametrize("python_version", SUPPORTED)
def test_every_supported_python_gets_one_full_pinned_set(python_version):
    """Each package is pinned exactly once for each supported Python, and every package of the
    pinned set is pinned on every supported Python (only tensorflow-io may be missing)."""
    all_names = {r.name.lower() for r in _pinned_requirements()}
    pins = _pins_for(_pinned_requirements(), python_version)
    assert all_names - set(pins) <= {"tensorflow-io"}
    assert {"tensorflow-cpu", "keras", "numpy", "tensorboard", "ipywidgets"} <= set(pins)


def test_tensorflow_io_is_pinned_only_where_it_has_wheels():
    """tensorflow-io 0.37.1 (its last release) has wheels up to Python 3.12 and needs TF 2.16."""
    assert "tensorflow-io" in _pins_for(_pinned_requirements(), "3.12")
    assert "tensorflow-io" not in _pins_for(_pinned_requirements(), "3.13")
    assert _pins_for(_pinned_requirements(), "3.12")["tensorflow-cpu"].startswith("2.16.")


def test_pyproject_promises_the_pythons_that_have_a_pinned_set():
    project = _pyproject()["project"]
    classified = sorted(c.rsplit(" ", 1)[-1] for c in project["classifiers"]
                        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c))
    assert classified == SUPPORTED
    assert all(v in SpecifierSet(project["requires-python"]) for v in SUPPORTED)
    readme = (ROOT / "README.md").read_text()
    assert "Python 3.11, 3.12 or 3.13" in readme


def test_the_license_is_an_spdx_string_so_installing_prints_no_deprecation():
    """setuptools >= 77 warns (about 40 lines, even under ``pip install -q``) about a ``license``
    table and about license classifiers: the first thing a student's first cell would show."""
    pyproject = _pyproject()
    assert pyproject["project"]["license"] == "MIT"
    assert not [c for c in pyproject["project"]["classifiers"] if c.startswith("License ::")]
    setuptools = next(Requirement(r) for r in pyproject["build-system"]["requires"]
                      if Requirement(r).name == "setuptools")
    assert "76.9" not in setuptools.specifier and "77.0" in setuptools.specifier


def test_optional_pieces_live_in_their_extras():
    """tensorboard (TrainConfig.tensorboard_dir) and ipywidgets (notebook progress bars) are
    declared; the Colab extra brings no Jupyter of its own (Colab has one)."""
    extras = {name: {Requirement(r).name.lower() for r in reqs}
              for name, reqs in _pyproject()["project"]["optional-dependencies"].items()}
    assert "tensorboard" in extras["tensorboard"] and "tensorboard" in extras["dev"]
    assert "ipywidgets" in extras["notebooks"] and "ipywidgets" in extras["colab"]
    assert not extras["colab"] & {"jupyterlab", "notebook", "ipykernel", "jupyter",
                                  "tensorflow", "tensorflow-cpu", "keras", "numpy"}
    base = {Requirement(r).name.lower() for r in _pyproject()["project"]["dependencies"]}
    assert not base & {"tensorflow", "tensorflow-cpu", "jupyterlab"}  # Colab keeps its own


@pytest.mark.tfio
def test_the_pinned_set_brings_a_working_tensorflow_io():
    """Where the pinned set for this Python has tensorflow-io and the pinned TensorFlow is what is
    installed (CI's first leg), tensorflow-io is installed and loads; elsewhere (the newest
    stack) this is not the pinned set, and the test skips."""
    from emokit.data.audio import tfio_status

    pins = _pins_for(_pinned_requirements(), f"{sys.version_info[0]}.{sys.version_info[1]}")
    if "tensorflow-io" not in pins:
        pytest.skip("the pinned set for this Python has no tensorflow-io")
    try:
        pinned_tensorflow = importlib.metadata.version("tensorflow-cpu") == pins["tensorflow-cpu"]
    except importlib.metadata.PackageNotFoundError:
        pinned_tensorflow = False
    if not pinned_tensorflow:
        pytest.skip("this environment is not the pinned set")
    assert importlib.metadata.version("tensorflow-io") == pins["tensorflow-io"]
    assert tfio_status() == (True, "")


def test_ci_runs_the_readme_setup_and_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    setup = ".venv/bin/pip install -r requirements.txt -e ."
    test_cmd = ".venv/bin/python -m pytest -n 2 --dist loadgroup"
    assert setup in readme and "python3 -m venv .venv" in readme
    assert "python3 -m venv .venv\n" in ci and "-r requirements.txt -e ." in ci
    assert test_cmd in readme
    assert ci.strip().splitlines()[-1] == test_cmd
