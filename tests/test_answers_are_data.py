"""Answers with quotes, backslashes, newlines or code in them bake as plain text."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from conftest import Bake

# Each payload would create PWNED if an answer were pasted into Python or TOML unescaped.
TOUCH = "__import__('os').system('touch PWNED')"
TOUCH_DOUBLE_QUOTED = TOUCH.replace("'", '"')
DESCRIPTIONS = [
    pytest.param('Quote " apostrophe \' backslash \\ and """ triple', id="quotes"),
    pytest.param("First line\nsecond line with \\n and \\", id="newline-backslash"),
    pytest.param(f'"; {TOUCH_DOUBLE_QUOTED} #', id="closes-double-quote"),
    pytest.param(f'"""+{TOUCH}+"""', id="closes-triple-quote"),
    pytest.param(f"'''+{TOUCH}+'''", id="closes-single-triple-quote"),
    pytest.param('x"\ndependencies = ["evil"]\n#', id="toml-injection"),
]


def assert_nothing_ran(tmp_path: Path) -> None:
    assert not list(tmp_path.rglob("PWNED"))
    assert not (Path.cwd() / "PWNED").exists()


@pytest.mark.parametrize("description", DESCRIPTIONS)
def test_description_is_data(bake: Bake, tmp_path: Path, description: str) -> None:
    project = bake(description=description)
    pyproject = tomllib.loads((project.root / "pyproject.toml").read_text(encoding="utf-8"))

    assert pyproject["project"]["description"] == description
    assert "evil" not in pyproject["project"].get("dependencies", [])
    project.builder("manifest")
    assert_nothing_ran(tmp_path)


def test_project_name_is_data(bake: Bake, tmp_path: Path) -> None:
    name = f'Evil"; {TOUCH} #'
    project = bake(project_name=name)

    shown = project.python("-c", f"import {project.package}.settings as s; print(s.PROJECT_NAME)")
    assert shown.stdout.rstrip("\n") == name
    project.builder("manifest")
    assert_nothing_ran(tmp_path)
