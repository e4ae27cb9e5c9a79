"""cruft bakes from a git repo of the template and carries a project to the template's next commit.

The machinery lives apart from the user's module so that an update can replace one and never
touch the other: this test edits the user's module, updates, and compares bytes.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from conftest import (
    PUBLIC_VARIABLES,
    TEMPLATE,
    BakedProject,
    baked_root,
    change_machinery,
    commit_all,
    copy_template,
    recorded_answers,
    run_command,
)

pytestmark = pytest.mark.slow

# The commands the baked README gives; the test runs them as written.
CRUFT_CHECK = "cruft check"
CRUFT_UPDATE = "cruft update --skip-apply-ask"
ANSWERS = {
    "project_name": "Weather Models",
    "input_axis": "station",
    "param_axis": "model",
    "param_values": "small,base",
    "command_runner": "python",
}
README_LINE = "Updated for {{ cookiecutter.project_name }} by the template's second commit."


def cruft_create(template: Path, output: Path, env: dict[str, str]) -> BakedProject:
    command: list[str | Path] = ["cruft", "create", template, "--no-input", "--output-dir", output]
    run_command([*command, "--extra-context", json.dumps(ANSWERS)], template.parent, env)
    root = baked_root(output)
    state = json.loads((root / ".cruft.json").read_text(encoding="utf-8"))
    return BakedProject(root, state["context"]["cookiecutter"], env)


def edit_pipeline(project: BakedProject) -> bytes:
    """What a user does in their own module: a new parameter, a changed phase. The new bytes.

    The phase is one the template's own updates leave alone: an edit to a line the template
    changes too (fit_model's, for its dispatch table) is a conflict for git to show the user."""
    pipeline = project.root / project.package / "pipeline.py"
    source = pipeline.read_text(encoding="utf-8")
    registry = "PARAM_REGISTRY: dict[str, dict[str, Any]] = {\n"
    assert source.count(registry) == 1
    source = source.replace(registry, registry + '    "large": {"cost": 3, "degree": 3},\n')
    phase = re.compile(r'(def load_samples\(ctx: BuildContext\) -> str:\n    """.*?"""\n)', re.S)
    source, count = phase.subn(r'\1    ctx.log.info("my own step")\n', source)
    assert count == 1
    pipeline.write_text(source, encoding="utf-8")
    return pipeline.read_bytes()


def newer_template(template: Path) -> str:
    """Change the machinery and one rendered file of the template; the machinery's new line."""
    readme = template / "{{cookiecutter.project_slug}}" / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + f"\n{README_LINE}\n", encoding="utf-8")
    return change_machinery(template)


def changed_files(project: BakedProject) -> set[str]:
    status = project.run("git", "status", "--porcelain", "--untracked-files=all").stdout
    return {line[3:] for line in status.splitlines()}


def cruft(project: BakedProject, command: str, ok: bool = True) -> str:
    result = project.run(*command.split(), ok=ok)
    return result.stdout + result.stderr


def test_cruft_update_replaces_the_machinery_and_keeps_the_pipeline(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    template = copy_template(tmp_path / "template")
    first = commit_all(template, cli_env, "template, first version")
    project = cruft_create(template, tmp_path / "projects", cli_env)
    package = project.root / project.package
    for readme in (project.root / "README.md", TEMPLATE / "README.md"):
        text = readme.read_text(encoding="utf-8")
        for command in (CRUFT_CHECK, CRUFT_UPDATE):
            assert re.search(rf"^\s*{re.escape(command)}\s", text, re.M), (readme, command)

    # cruft's record (template and commit) and the answers for plain cookiecutter, side by side.
    assert project.context["_commit"] == first
    assert recorded_answers(project.root) == {
        name: project.context[name] for name in PUBLIC_VARIABLES
    }

    commit_all(project.root, cli_env, "baked with cruft")
    pipeline = edit_pipeline(project)
    settings = (package / "settings.py").read_bytes()
    commit_all(project.root, cli_env, "my pipeline")
    assert "SUCCESS" in cruft(project, CRUFT_CHECK)

    line = newer_template(template)
    second = commit_all(template, cli_env, "template, second version")
    assert "out of date" in cruft(project, CRUFT_CHECK, ok=False)

    cruft(project, CRUFT_UPDATE)

    assert line in (package / "builder" / "cli.py").read_text(encoding="utf-8")
    readme_line = README_LINE.replace("{{ cookiecutter.project_name }}", ANSWERS["project_name"])
    assert readme_line in (project.root / "README.md").read_text(encoding="utf-8")
    assert (package / "pipeline.py").read_bytes() == pipeline
    assert (package / "settings.py").read_bytes() == settings
    assert changed_files(project) == {
        ".cruft.json",
        "README.md",
        f"{project.package}/builder/cli.py",
    }
    assert (
        json.loads((project.root / ".cruft.json").read_text(encoding="utf-8"))["commit"] == second
    )
    assert "SUCCESS" in cruft(project, CRUFT_CHECK)

    models = project.builder("list-models").stdout.split()
    assert {"small", "base", "large"} <= set(models)
    # The updated machinery against its own test pipeline, and the kept pipeline.py against the
    # contract (the whole suite runs on other bakes).
    tests = ("tests/test_build.py", "tests/test_pipeline_contract.py")
    project.suite(*tests)


def test_cruft_link_takes_a_cookiecutter_bake_into_cruft(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    """A project baked with plain cookiecutter joins cruft by the baked README's `cruft link`
    line, run as written: its answers kept, its next update brings the template's next commit."""
    template = copy_template(tmp_path / "template")
    commit_all(template, cli_env, "template, first version")
    output = tmp_path / "projects"
    answers = [f"{name}={value}" for name, value in ANSWERS.items()]
    run_command(["cookiecutter", template, "--no-input", "-o", output, *answers], tmp_path, cli_env)
    root = baked_root(output)
    project = BakedProject(root, recorded_answers(root), cli_env)
    commit_all(project.root, cli_env, "baked with cookiecutter")

    readme = (project.root / "README.md").read_text(encoding="utf-8")
    (link,) = [line.split("#")[0].strip() for line in readme.splitlines()
               if line.strip().startswith("cruft link ")]  # fmt: skip
    project.run(*shlex.split(link.replace("<template>", str(template))))
    state = json.loads((project.root / ".cruft.json").read_text(encoding="utf-8"))
    assert {name: state["context"]["cookiecutter"][name] for name in PUBLIC_VARIABLES} == {
        name: project.context[name] for name in PUBLIC_VARIABLES
    }
    commit_all(project.root, cli_env, "linked with cruft")
    assert "SUCCESS" in cruft(project, CRUFT_CHECK)

    line = newer_template(template)
    commit_all(template, cli_env, "template, second version")
    cruft(project, CRUFT_UPDATE)
    assert line in (project.root / project.package / "builder" / "cli.py").read_text(
        encoding="utf-8"
    )
    assert changed_files(project) == {
        ".cruft.json",
        "README.md",
        f"{project.package}/builder/cli.py",
    }


# The template's last commit before builder/ was laid out in folders (manifest/, building/,
# engines/, commands/): a project baked then must update to today's layout like any other.
BEFORE_THE_LAYOUT = "953dfb4"


def template_at(revision: str, destination: Path, env: dict[str, str]) -> Path:
    """The template's files as they were at ``revision`` (from this checkout's git history)."""
    commit = f"{revision}^{{commit}}"
    known = run_command(["git", "cat-file", "-e", commit], TEMPLATE, env, ok=False)
    if known.returncode != 0:
        pytest.skip(f"this checkout lacks the template's commit {revision}: a shallow clone?")
    destination.mkdir(parents=True)
    archive = destination.parent / f"{revision}.tar"
    run_command(["git", "archive", "-o", archive, revision], TEMPLATE, env)
    run_command(["tar", "-xf", archive, "-C", destination], TEMPLATE, env)
    return destination


def test_cruft_update_carries_a_project_across_the_layout_move(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    """Baked before the move, the pipeline edited: the update brings the new folders, keeps the
    user's edits, and the updated project builds with them."""
    template = template_at(BEFORE_THE_LAYOUT, tmp_path / "template", cli_env)
    commit_all(template, cli_env, "template before the layout")
    project = cruft_create(template, tmp_path / "projects", cli_env)
    builder = project.root / project.package / "builder"
    assert (builder / "runner.py").is_file() and not (builder / "building").exists()
    commit_all(project.root, cli_env, "baked with cruft")
    edit_pipeline(project)
    settings = (project.root / project.package / "settings.py").read_bytes()
    commit_all(project.root, cli_env, "my pipeline")

    for old in template.iterdir():  # the template as this checkout has it now
        if old.name != ".git":
            run_command(["rm", "-rf", old], tmp_path, cli_env)
    copy_template(template)
    commit_all(template, cli_env, "template with builder/ in folders")
    cruft(project, CRUFT_UPDATE)

    assert not (builder / "runner.py").exists() and (builder / "building" / "runner.py").is_file()
    assert project.machinery() == cruft_create(template, tmp_path / "fresh", cli_env).machinery()
    pipeline = (project.root / project.package / "pipeline.py").read_text(encoding="utf-8")
    assert '"large": {"cost": 3, "degree": 3}' in pipeline and "my own step" in pipeline
    assert "from .builder.building.context import BuildContext" in pipeline
    assert (project.root / project.package / "settings.py").read_bytes() == settings
    assert {"small", "base", "large"} <= set(project.builder("list-models").stdout.split())
    project.builder("build", "--output-folder", "output", "--model-name", "large")
    project.suite("tests/test_build.py", "tests/test_pipeline_contract.py", "tests/test_imports.py")
