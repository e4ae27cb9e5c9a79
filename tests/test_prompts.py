"""Every question can be answered without a terminal, and reads well in one."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from combinations import EVERY_ANSWER
from conftest import (
    PUBLIC_VARIABLES,
    TEMPLATE,
    Bake,
    baked_root,
    recorded_answers,
    run_command,
)

PROMPTS = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))["__prompts__"]
SHOW_SETTINGS = """\
import importlib, json, sys
settings = importlib.import_module(sys.argv[1] + ".settings")
pipeline = importlib.import_module(sys.argv[1] + ".pipeline")
shown = {name: getattr(settings, name) for name in dir(settings) if name.isupper()}
print(json.dumps({**shown, "PARAM_REGISTRY": list(pipeline.PARAM_REGISTRY)}))
"""


def landed(root: Path, env: dict[str, str]) -> dict[str, str]:
    """Each public answer as the baked project shows it, where the project uses it."""
    (package,) = {path.parent.name for path in root.glob("*/settings.py")}
    shown = json.loads(
        run_command([sys.executable, "-c", SHOW_SETTINGS, package], root, env).stdout
    )
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert (project["name"], shown["PACKAGE"]) == (root.name, package)
    assert project["description"] == shown["DESCRIPTION"]
    return {
        "project_name": shown["PROJECT_NAME"],
        "project_slug": root.name,
        "package_name": package,
        "description": project["description"],
        "input_axis": shown["INPUT_AXIS"],
        "input_axis_plural": shown["INPUT_AXIS_PLURAL"],
        "param_axis": shown["PARAM_AXIS"],
        "param_axis_plural": shown["PARAM_AXIS_PLURAL"],
        "param_values": ",".join(shown["PARAM_REGISTRY"]),
        "artifact_extension": shown["ARTIFACT_EXTENSION"],
        "command_runner": shown["COMMAND_RUNNER"],
    }


def test_every_question_is_answered_on_the_command_line(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    assert list(EVERY_ANSWER) == PUBLIC_VARIABLES, "EVERY_ANSWER must answer every question"
    pairs = [f"{name}={value}" for name, value in EVERY_ANSWER.items()]
    command: list[str | Path] = [
        "cookiecutter",
        TEMPLATE,
        "--no-input",
        "--output-dir",
        tmp_path / "out",
        *pairs,
    ]
    run_command(command, tmp_path, cli_env)

    root = baked_root(tmp_path / "out")
    assert landed(root, cli_env) == EVERY_ANSWER
    assert recorded_answers(root) == EVERY_ANSWER


# (what the user types, what the project gets); an empty line takes the default shown.
TYPED = {
    "project_name": ("Weather Models", "Weather Models"),
    "project_slug": ("", "weather-models"),
    "package_name": ("", "weather_models"),
    "description": ("Fits a trend per station.", "Fits a trend per station."),
    "input_axis": ("station", "station"),
    "input_axis_plural": ("", "stations"),
    "param_axis": ("model", "model"),
    "param_axis_plural": ("model_sizes", "model_sizes"),
    "param_values": ("small,base", "small,base"),
    "artifact_extension": (".json", "json"),
    "command_runner": ("2", "python"),
}


def prompt_text(name: str) -> str:
    prompt = PROMPTS[name]
    return str(prompt["__prompt__"] if isinstance(prompt, dict) else prompt)


def test_an_interactive_bake_asks_each_question_once_in_one_line(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    assert list(TYPED) == PUBLIC_VARIABLES
    typed = "".join(f"{answer}\n" for answer, _ in TYPED.values())
    command: list[str | Path] = ["cookiecutter", TEMPLATE, "--output-dir", tmp_path / "out"]
    result = run_command(command, tmp_path, cli_env, stdin=typed)

    # rich numbers the questions and wraps a line longer than the terminal's 80 columns.
    total = len(PUBLIC_VARIABLES)
    asked = re.split(rf"\s*\[\d+/{total}\] ", result.stdout)[1:]
    assert len(asked) == total, result.stdout
    for number, (name, question) in enumerate(zip(PUBLIC_VARIABLES, asked, strict=True), 1):
        assert f"[{number}/{total}] {prompt_text(name)}" in result.stdout
        assert question.startswith(prompt_text(name))
        first_line = question.splitlines()[0]
        assert len(f"  [{number}/{total}] {first_line}") <= 80, first_line
        if not isinstance(PROMPTS[name], dict):
            assert "\n" not in question.rstrip(), f"{name}'s question wraps: {question!r}"

    root = baked_root(tmp_path / "out")
    expected = {name: value for name, (_, value) in TYPED.items()}
    assert landed(root, cli_env) == expected


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param([], id="accepted"),
        pytest.param(["package_name=class"], id="refused"),
    ],
)
def test_hooks_never_read_stdin(
    tmp_path: Path, cli_env: dict[str, str], answers: list[str]
) -> None:
    """With stdin an open pipe that never sends, a hook that asked anything would hang."""
    log = tmp_path / "bake.log"
    command = ["cookiecutter", str(TEMPLATE), "--no-input", "-o", str(tmp_path / "out"), *answers]
    with log.open("w") as output:
        bake = subprocess.Popen(
            command, cwd=tmp_path, env=cli_env, stdin=subprocess.PIPE, stdout=output, stderr=output
        )
        try:
            code = bake.wait(timeout=120)
        finally:
            bake.kill()
            bake.wait()
            assert bake.stdin is not None
            bake.stdin.close()
    assert (code == 0) == (not answers), log.read_text()


def test_the_stated_plurals_name_the_list_subcommands(bake: Bake) -> None:
    answers = {"input_axis": "species", "input_axis_plural": "species"}
    project = bake(**answers, param_axis="analysis", param_axis_plural="analyses")

    listed = {
        name: [line.split()[0] for line in project.builder(name).stdout.splitlines()]
        for name in ("list-species", "list-analyses")
    }
    assert listed == {"list-species": project.inputs, "list-analyses": project.param_values}
    refused = project.builder("list-specieses", ok=False)
    assert refused.returncode == 2 and "list-specieses" in refused.stderr
