"""Answers that would bake a broken project are refused, named, and leave nothing behind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import TEMPLATE
from cookiecutter.exceptions import FailedHookException
from cookiecutter.generate import generate_context
from cookiecutter.main import cookiecutter
from cookiecutter.prompt import prompt_for_config

# (answers, the variable the error names, the value it quotes)
REFUSED = [
    pytest.param({"project_slug": "My Project"}, "project_slug", "My Project", id="slug-space"),
    pytest.param({"project_slug": "-perm"}, "project_slug", "-perm", id="slug-leading-dash"),
    pytest.param({"project_slug": "perm/builder"}, "project_slug", "perm/builder", id="slug-slash"),
    pytest.param({"package_name": "class"}, "package_name", "class", id="package-keyword"),
    pytest.param(
        {"package_name": "perm-builder"}, "package_name", "perm-builder", id="package-dash"
    ),
    pytest.param({"package_name": "2fast"}, "package_name", "2fast", id="package-digit-first"),
    pytest.param({"package_name": "json"}, "package_name", "json", id="package-shadows-stdlib"),
    pytest.param({"project_name": "Json"}, "package_name", "json", id="derived-package-stdlib"),
    pytest.param({"input_axis": "Dataset"}, "input_axis", "Dataset", id="input-axis-uppercase"),
    pytest.param({"input_axis": "lambda"}, "input_axis", "lambda", id="input-axis-keyword"),
    pytest.param({"input_axis": "data-set"}, "input_axis", "data-set", id="input-axis-dash"),
    pytest.param({"input_axis": "output"}, "input_axis", "output", id="input-axis-cli-word"),
    pytest.param(
        {"input_axis": "box", "param_axis": "boxe"},
        "param_axis_plural",
        "boxes",
        id="axes-same-default-plural",
    ),
    pytest.param(
        {"input_axis_plural": "runs", "param_axis_plural": "runs"},
        "param_axis_plural",
        "runs",
        id="plurals-equal",
    ),
    pytest.param(
        {"input_axis_plural": "Inputs"}, "input_axis_plural", "Inputs", id="plural-uppercase"
    ),
    pytest.param(
        {"param_axis_plural": "param-sets"},
        "param_axis_plural",
        "param-sets",
        id="plural-dash",
    ),
    pytest.param({"input_axis_plural": ""}, "input_axis_plural", "", id="plural-empty"),
    pytest.param({"param_axis_plural": "2nd"}, "param_axis_plural", "2nd", id="plural-digit-first"),
    pytest.param(
        {"param_axis": "_model"}, "param_axis", "_model", id="param-axis-underscore-first"
    ),
    pytest.param({"param_axis": "status"}, "param_axis", "status", id="param-axis-cli-word"),
    pytest.param(
        {"input_axis": "permutation"}, "input_axis", "permutation", id="input-axis-entry-key"
    ),
    pytest.param(
        {"input_axis": "model", "param_axis": "model"}, "param_axis", "model", id="axes-equal"
    ),
    pytest.param({"param_values": ""}, "param_values", "", id="params-empty"),
    pytest.param({"param_values": " , "}, "param_values", "", id="params-only-comma"),
    pytest.param({"param_values": "a,,b"}, "param_values", "", id="params-stray-comma"),
    pytest.param({"param_values": "a,b,a"}, "param_values", "a", id="params-duplicate"),
    pytest.param({"param_values": "tiny,Tiny"}, "param_values", "Tiny", id="params-case-dup"),
    pytest.param({"param_values": "a,big model"}, "param_values", "big model", id="params-space"),
    pytest.param({"param_values": "a/b"}, "param_values", "a/b", id="params-slash"),
    pytest.param({"param_values": "-x"}, "param_values", "-x", id="params-leading-dash"),
    pytest.param({"param_values": "v1."}, "param_values", "v1.", id="params-trailing-dot"),
    pytest.param({"param_values": "x" * 65}, "param_values", "x" * 65, id="params-too-long"),
    pytest.param({"artifact_extension": ""}, "artifact_extension", "", id="ext-empty"),
    pytest.param({"artifact_extension": "."}, "artifact_extension", ".", id="ext-dot-only"),
    pytest.param({"artifact_extension": "..db"}, "artifact_extension", "..db", id="ext-two-dots"),
    pytest.param(
        {"artifact_extension": "tar..gz"}, "artifact_extension", "tar..gz", id="ext-inner-dots"
    ),
    pytest.param({"artifact_extension": "a/b"}, "artifact_extension", "a/b", id="ext-slash"),
    pytest.param({"artifact_extension": "d b"}, "artifact_extension", "d b", id="ext-space"),
    pytest.param({"artifact_extension": "db."}, "artifact_extension", "db.", id="ext-trailing-dot"),
    pytest.param({"artifact_extension": "npz"}, "artifact_extension", "npz", id="ext-no-writer"),
    pytest.param(
        {"artifact_extension": "tar.gz"}, "artifact_extension", "tar.gz", id="ext-compound"
    ),
]


def leftover_files(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


@pytest.mark.parametrize(("answers", "variable", "value"), REFUSED)
def test_refused(
    cookies: Any,
    capfd: pytest.CaptureFixture[str],
    output_dir: Path,
    answers: dict[str, str],
    variable: str,
    value: str,
) -> None:
    result = cookies.bake(extra_context=answers, template=str(TEMPLATE))
    message = capfd.readouterr().err + str(result.exception)

    assert result.exit_code != 0
    assert f"error: {variable} {value!r} " in message
    # cookiecutter deletes the folder a failed hook ran in; it never gets to write a file.
    assert not leftover_files(output_dir)
    if result.context:
        slug = result.context["project_slug"]
        assert not [bake for bake in output_dir.iterdir() if (bake / slug).exists()]


def test_every_problem_is_reported_on_its_own_line(
    cookies: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    answers = {"package_name": "class", "input_axis": "output", "param_values": "a,a"}
    result = cookies.bake(extra_context=answers, template=str(TEMPLATE))
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("error: ")]

    assert result.exit_code != 0
    assert [line.split()[1] for line in errors] == ["package_name", "input_axis", "param_values"]


def test_an_extension_without_a_writer_is_refused_saying_what_to_do(
    cookies: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    """A bake's demo must build: an extension ctx.write_table cannot write is refused in one line
    that lists those it can and says how to add a format (what the baked README says too)."""
    result = cookies.bake(extra_context={"artifact_extension": ".NPZ"}, template=str(TEMPLATE))
    (line,) = [line for line in capfd.readouterr().err.splitlines() if line.startswith("error: ")]

    assert result.exit_code != 0
    assert line.startswith("error: artifact_extension '.NPZ' has no writer for the demo")
    assert "db, sqlite, sqlite3, db3, csv, json, jsonl, parquet" in line
    assert "set ARTIFACT_EXTENSION in settings.py and write ctx.artifact_path" in line


def test_unknown_runner_is_refused_by_cookiecutter(cookies: Any, output_dir: Path) -> None:
    result = cookies.bake(extra_context={"command_runner": "poetry run"}, template=str(TEMPLATE))

    assert result.exit_code != 0
    assert "poetry run provided for choice variable command_runner" in str(result.exception)
    assert not leftover_files(output_dir)


def test_replayed_answers_are_checked_too(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A replay file skips cookiecutter's choice check, so the hook checks the runner itself."""
    context = prompt_for_config(
        generate_context(str(TEMPLATE / "cookiecutter.json")), no_input=True
    )
    replay = tmp_path / "replay.json"
    replay.write_text(json.dumps({"cookiecutter": {**context, "command_runner": "poetry run"}}))

    with pytest.raises(FailedHookException):
        cookiecutter(str(TEMPLATE), replay=str(replay), output_dir=str(tmp_path / "out"))

    assert "error: command_runner 'poetry run' must be one of" in capfd.readouterr().err
    assert not leftover_files(tmp_path / "out")
