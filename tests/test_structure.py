"""Every supported combination bakes a complete, rendered, lint- and type-clean project."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from combinations import SUPPORTED
from conftest import Bake, BakedProject

# Stands for the mypy_cache fixture's folder in a lint command.
MYPY_CACHE = "<mypy cache>"
JINJA_LEFTOVERS = ("{{ cookiecutter.", "{{cookiecutter.", "{%", "{#")


def text_of(path: Path) -> str | None:
    """The file's text, or None for a binary file."""
    data = path.read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def tree(project: BakedProject) -> list[str]:
    """Relative paths with the package name generalised, to compare bakes of other answers."""
    package = f"/{project.package}/"
    return [
        f"/{path.relative_to(project.root).as_posix()}".replace(package, "/<package>/", 1)
        for path in project.files()
    ]


# A stub a user would meet at build time: every bake's demo builds, so no file carries one.
STUBS = ("NotImplementedError",)


@pytest.mark.parametrize("answers", SUPPORTED)
def test_nothing_is_left_unrendered_or_unwritten(bake: Bake, answers: dict[str, str]) -> None:
    project = bake(**answers)
    leftovers = [
        f"{path.relative_to(project.root)}: {marker!r}"
        for path in project.files()
        for marker in (*JINJA_LEFTOVERS, *STUBS)
        if marker in str(path.relative_to(project.root)) or marker in (text_of(path) or "")
    ]
    assert not leftovers


@pytest.mark.parametrize("answers", SUPPORTED)
def test_python_and_toml_parse(bake: Bake, answers: dict[str, str]) -> None:
    project = bake(**answers)
    for path in project.root.rglob("*.py"):
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
    pyproject = tomllib.loads((project.root / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["description"]
    assert (project.root / ".gitignore").is_file()


@pytest.mark.parametrize("answers", SUPPORTED)
def test_the_tree_is_the_same_in_every_bake(bake: Bake, answers: dict[str, str]) -> None:
    """Answers change names and values, never which files a project has."""
    default, project = bake(), bake(**answers)
    assert tree(project) == tree(default)


def test_the_default_tree_has_the_promised_files(bake: Bake) -> None:
    files = set(tree(bake()))
    promised = {
        "/pyproject.toml",
        "/README.md",
        "/.gitignore",
        "/.cookiecutter-answers.yaml",
        "/<package>/__init__.py",
        "/<package>/settings.py",
        "/<package>/pipeline.py",
        "/<package>/builder/__init__.py",
        "/<package>/builder/__main__.py",
    }
    assert promised <= files
    assert len([name for name in files if name.startswith("/data/")]) == 3
    assert any(name.startswith("/tests/test_") for name in files)


@pytest.fixture(scope="session")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One mypy cache for the bakes of this worker: by mypy's own incremental rule, a module whose
    source and whose imports' interfaces match a bake checked before is not checked again (the
    machinery is the same in every bake); every other one is."""
    return tmp_path_factory.mktemp("mypy-cache")


@pytest.mark.parametrize("answers", SUPPORTED)
@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["ruff", "check", "--no-cache", "."], id="ruff-check"),
        pytest.param(["ruff", "format", "--no-cache", "--check", "."], id="ruff-format"),
        pytest.param(["mypy", "--cache-dir", MYPY_CACHE, "."], id="mypy"),
    ],
)
def test_baked_project_is_lint_and_type_clean(
    bake: Bake, answers: dict[str, str], command: list[str], mypy_cache: Path
) -> None:
    bake(**answers).python(
        "-m", *(str(mypy_cache) if part == MYPY_CACHE else part for part in command)
    )
