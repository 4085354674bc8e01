"""The pinned install (requirements.txt, used by CI and the README) and environment.yml agree."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).parent.parent


def _pins(lines):
    pins = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if line:
            m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
            assert m, f"not an exact pin: {line!r}"
            pins[m.group(1).lower()] = m.group(2)
    return pins


def test_environment_yml_names_the_same_pins_as_requirements():
    req = _pins((ROOT / "requirements.txt").read_text().splitlines())
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert _pins(pip_section) == req


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    test_cmd = ".venv/bin/python -m pytest -n 2 --dist loadgroup"
    assert test_cmd in readme
    assert ci.strip().splitlines()[-1] == test_cmd
