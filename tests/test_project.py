"""The project's own setup: pinned installs, and CI running exactly what the README says."""

from __future__ import annotations

import re
import tomllib

from tests.conftest import REPO


def name(requirement: str) -> str:
    """A requirement's distribution name, normalized as pip compares names."""
    found = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert found, requirement
    return re.sub(r"[-_.]+", "-", found[0]).lower()


def test_the_constraints_pin_every_dependency_and_the_test_extra() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = {
        name(r) for r in [*project["dependencies"], *project["optional-dependencies"]["test"]]
    }
    lines = (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines()
    pins = [line for line in lines if line.strip() and not line.startswith("#")]
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+==[A-Za-z0-9.+!-]+", pin) for pin in pins), pins
    assert wanted - {name(pin) for pin in pins} == set()


def test_ci_runs_the_readme_test_command_exactly() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"^python3 -m venv .*$", readme, re.MULTILINE)
    assert len(commands) == 2  # one to build, one to test: two commands, each one line
    (test_command,) = [c for c in commands if c.endswith("&& pytest")]
    assert "-c constraints.txt" in test_command
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_command in ci
