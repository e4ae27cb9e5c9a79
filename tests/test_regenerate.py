"""A baked project records its answers, and they bake it again byte for byte."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from combinations import EVERY_ANSWER
from conftest import (
    ANSWERS_FILE,
    PUBLIC_VARIABLES,
    TEMPLATE,
    Bake,
    BakedProject,
    baked_root,
    change_machinery,
    copy_template,
    recorded_answers,
    run_command,
    snapshot,
)

# Text a YAML writer must escape or keep as is: quotes, backslashes, line breaks of every kind
# (NEL and U+2028 included), a tab, a DEL, accents and a character outside the BMP.
AWKWARD_TEXT = 'Say "hi" \\ it\'s\nnew line\ttab \x85 \u2028 \x7f café 🚀 {x} #1: - [a]'
REBAKES = [
    pytest.param({}, id="defaults"),
    pytest.param(EVERY_ANSWER, id="every-answer"),
    pytest.param(
        {"project_name": "Dr. O'Brien's \"Weather\" Models & Co!", "description": AWKWARD_TEXT},
        id="awkward-text",
    ),
]


def rebake(template: Path, answers_file: Path, output: Path, env: dict[str, str]) -> Path:
    """Bake with plain cookiecutter from a recorded answers file; the new project's root."""
    command: list[str | Path] = [
        "cookiecutter",
        template,
        "--no-input",
        "--config-file",
        answers_file,
    ]
    run_command([*command, "--output-dir", output], output.parent, env)
    return baked_root(output)


@pytest.mark.parametrize("answers", REBAKES)
def test_answers_file_holds_every_public_answer_and_nothing_else(
    bake: Bake, tmp_path: Path, answers: dict[str, str]
) -> None:
    project = bake(**answers)
    text = (project.root / ANSWERS_FILE).read_text(encoding="utf-8")

    assert recorded_answers(project.root) == {
        name: project.context[name] for name in PUBLIC_VARIABLES
    }
    # cookiecutter's own _template, _output_dir, _repo_dir hold paths of this machine.
    assert str(tmp_path) not in text
    assert str(TEMPLATE) not in text


@pytest.mark.parametrize("answers", REBAKES)
def test_recorded_answers_bake_the_same_bytes(
    bake: Bake, tmp_path: Path, cli_env: dict[str, str], answers: dict[str, str]
) -> None:
    project = bake(**answers)
    again = rebake(TEMPLATE, project.root / ANSWERS_FILE, tmp_path / "again", cli_env)

    assert again.name == project.root.name
    assert snapshot(again) == snapshot(project.root)


def test_a_rebake_over_the_project_keeps_the_files_the_template_does_not_have(
    bake: Bake, cli_env: dict[str, str]
) -> None:
    """``--overwrite-if-exists`` rewrites the template's files and keeps the user's: a CSV added
    to data/ (a folder cookiecutter would delete whole if it were copied as one), output/, notes."""
    project = bake()
    baked = snapshot(project.root)
    added = {
        "data/mine.csv": b"day,temperature\n1,2.5\n",
        "output/alpine_linear.db": b"an artifact",
        "notes.md": b"mine",
    }
    for name, content in added.items():
        (project.root / name).parent.mkdir(exist_ok=True)
        (project.root / name).write_bytes(content)
    (project.root / "data" / "alpine.csv").unlink()  # a file of the template's comes back

    command: list[str | Path] = ["cookiecutter", TEMPLATE, "--no-input", "--overwrite-if-exists"]
    options: list[str | Path] = ["--config-file", project.root / ANSWERS_FILE]
    run_command(
        [*command, *options, "--output-dir", project.root.parent], project.root.parent, cli_env
    )

    assert snapshot(project.root) == {**baked, "output": None, **added}


def readme_commands(project: BakedProject, first_word: str) -> str:
    """The README's shell lines that start with first_word, in order, as one script."""
    readme = (project.root / "README.md").read_text(encoding="utf-8")
    lines = [line.strip() for line in readme.splitlines()]
    found = [line for line in lines if line.split(" ", 1)[0] == first_word]
    assert found, f"README.md has no {first_word} command"
    return "\n".join(found)


def test_readme_commands_rebake_and_drop_in_a_newer_builder(
    bake: Bake, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    """The README's regenerate and drop-in commands, run as written, with a newer template."""
    project = bake(input_axis="station", param_axis="model", command_runner="python")
    package = project.root / project.package
    pipeline = (package / "pipeline.py").read_bytes()
    newer = copy_template(tmp_path / "newer-template")
    marker = change_machinery(newer)

    template = shlex.quote(str(newer))
    regenerate = readme_commands(project, "cookiecutter").replace("<template>", template)
    drop_in = readme_commands(project, "rm")
    project.run("bash", "-euo", "pipefail", "-c", f"{regenerate}\n{drop_in}", env=cli_env)

    fresh = project.root.parent / "fresh" / project.root.name
    assert snapshot(package / "builder") == snapshot(fresh / project.package / "builder")
    assert marker in (package / "builder" / "cli.py").read_text(encoding="utf-8")
    assert (package / "pipeline.py").read_bytes() == pipeline
    project.builder("manifest")
