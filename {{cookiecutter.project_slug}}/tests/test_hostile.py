"""Hostile names, paths and pipeline answers, through the real CLI: one line, exit 2, no harm.

One table: each case prepares the project (a test pipeline named by the pipeline variable, a
folder, nothing), runs one command and names the words its one-line error must hold.
"""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Callable

import pytest
from conftest import Project, local_commands, submissions

from {{ cookiecutter.package_name }} import settings
from {{ cookiecutter.package_name }}.builder import axes, layout

# A pipeline reduced to what the manifest reads; each case replaces a part of it.
PIPELINE = """
COST_UNIT = "rows"
PARAM_REGISTRY = @PARAMS@
PHASES = []


def discover_inputs():
    @DISCOVER@


def estimate_cost(input_id):
    @COST@
"""


def pipeline_file(
    discover: str = 'return ["a", "b"]',
    cost: str = "return 1",
    params: dict[str, int] | None = None,
    then: str = "",
) -> Callable[[Project], None]:
    """A case's preparation: write that pipeline (with the lines ``then`` after it) into the
    project and point the variable at it."""
    registry = {name: {"cost": cost_} for name, cost_ in (params or {"p": 1, "q": 2}).items()}

    def prepare(project: Project) -> None:
        source = PIPELINE.replace("@DISCOVER@", discover).replace("@COST@", cost)
        source = source.replace("@PARAMS@", repr(registry))
        path = project.root / "hostile_pipeline.py"
        path.write_text(textwrap.dedent(source) + then)
        project.extra_env[layout.PIPELINE_VARIABLE] = str(path)

    return prepare


def pipeline_variable(value: str, text: str | None = None) -> Callable[[Project], None]:
    """A case's preparation: the pipeline variable names ``value`` (a file of ``text``, if given,
    in the project)."""

    def prepare(project: Project) -> None:
        path = value
        if text is not None:
            path = str(project.root / value)
            (project.root / value).write_text(text)
        project.extra_env[layout.PIPELINE_VARIABLE] = path

    return prepare


def nothing(project: Project) -> None:
    pass


HOSTILE: list[object] = [
    pytest.param(
        nothing,
        ("plan", "--output-folder", "x\ntouch PWNED;#", "--missing", "--slurm"),
        "holds a control character",
        id="newline-in-folder-slurm",
    ),
    pytest.param(
        nothing,
        ("manifest", "--output-folder", "x\ntouch PWNED;#", "--commands"),
        "holds a control character",
        id="newline-in-folder-commands",
    ),
    pytest.param(
        nothing,
        ("manifest", "--output-folder", "x\rtab\x1b[2J", "--json"),
        "holds a control character",
        id="escape-in-folder-json",
    ),
    pytest.param(
        nothing, ("manifest", "--shard", "²/³"), "--shard '²/³' is not I/N", id="shard-superscript"
    ),
    pytest.param(
        nothing,
        ("manifest", "--shard", "1/100000000"),
        "more shards than the",
        id="shard-huge",
    ),
    pytest.param(
        pipeline_file(discover=f'return ["{"a" * 128}"]', params={"p" * 121: 1}),
        ("manifest",),
        f"permutation id '{'a' * 128}_{'p' * 121}'",
        id="ids-too-long-together",
    ),
    pytest.param(
        pipeline_file(discover='raise RuntimeError("no database")'),
        ("manifest", "--commands"),
        "pipeline.discover_inputs() failed: RuntimeError: no database",
        id="discover-raises",
    ),
    pytest.param(
        pipeline_file(discover="return 7"),
        ("manifest",),
        "pipeline.discover_inputs() returned 7; return a list of str ids",
        id="discover-not-a-list",
    ),
    pytest.param(
        pipeline_file(
            discover='return [p.stem for p in __import__("pathlib").Path("data").iterdir()]'
        ),
        (axes.LIST_INPUTS,),
        "pipeline.discover_inputs() failed: FileNotFoundError",
        id="data-folder-missing",
    ),
    pytest.param(
        pipeline_file(cost="return None"),
        ("manifest", "--json"),
        "pipeline.estimate_cost('a') returned None; return a number",
        id="cost-none",
    ),
    pytest.param(
        pipeline_file(cost='return "12"'),
        ("build", "--output-folder", "output"),
        "pipeline.estimate_cost('a') returned '12'; return a number",
        id="cost-string",
    ),
    pytest.param(
        pipeline_file(cost="return 1 / 0"),
        (axes.LIST_INPUTS,),
        "pipeline.estimate_cost('a') failed: ZeroDivisionError",
        id="cost-raises",
    ),
    pytest.param(
        nothing,
        ("manifest", axes.INPUT_FLAG, ""),
        f"{axes.INPUT_FLAG} '' holds an empty value",
        id="empty-input-id",
    ),
    pytest.param(
        nothing,
        ("build", "--output-folder", "output", axes.PARAM_FLAG, "half,,double"),
        f"{axes.PARAM_FLAG} 'half,,double' holds an empty value",
        id="empty-value-in-a-list",
    ),
    pytest.param(
        nothing,
        ("build", "--output-folder", "output", axes.INPUT_FLAG, "zz*"),
        f"{axes.INPUT_FLAG} 'zz*' matches no {axes.INPUT_AXIS} id; valid: ",
        id="build-pattern-matches-nothing",
    ),
    pytest.param(
        pipeline_variable("/etc/passwd"),
        ("manifest",),
        f"{layout.PIPELINE_VARIABLE}='/etc/passwd' is not a Python file (.py)",
        id="pipeline-not-python",
    ),
    pytest.param(
        pipeline_variable("broken.py", "def phase(:\n"),
        ("manifest",),
        "cannot be loaded: SyntaxError: invalid syntax (line 1)",
        id="pipeline-syntax-error",
    ),
    pytest.param(
        pipeline_variable("raising.py", "import no_such_module_here\n"),
        (axes.LIST_PARAMS,),
        "cannot be loaded: ModuleNotFoundError: No module named 'no_such_module_here'",
        id="pipeline-import-fails",
    ),
    pytest.param(
        pipeline_file(then="PHASES = None\n"),
        ("manifest",),
        "pipeline.PHASES is None; give a list of phase functions",
        id="phases-none",
    ),
    pytest.param(
        pipeline_file(then="PHASES = [print, 'not a function']\n"),
        ("build", "--output-folder", "output"),
        "pipeline.PHASES[1] is 'not a function'; give a list of phase functions",
        id="phase-not-a-function",
    ),
    pytest.param(
        pipeline_file(then="PARAM_REGISTRY = ['p', 'q']\n"),
        (axes.LIST_PARAMS,),
        "pipeline.PARAM_REGISTRY is a list; give a dict of each",
        id="registry-a-list",
    ),
    pytest.param(
        pipeline_file(then="PARAM_REGISTRY['q'] = None\n"),
        ("manifest", "--json"),
        "pipeline.PARAM_REGISTRY['q'] is None; give a dict with a 'cost'",
        id="registry-entry-none",
    ),
    pytest.param(
        pipeline_file(then="del COST_UNIT\n"),
        ("manifest",),
        "pipeline.COST_UNIT is missing; give a str, the unit of estimate_cost (e.g. 'rows')",
        id="cost-unit-missing",
    ),
]


@pytest.mark.parametrize(("prepare", "args", "message"), HOSTILE)
def test_hostile_input_is_one_line_and_exit_2(
    project: Project, prepare: Callable[[Project], None], args: tuple[str, ...], message: str
) -> None:
    prepare(project)
    result = project.run(*args, code=2)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert not (project.root / "PWNED").exists()
    assert not (project.root / "x\ntouch PWNED;#").exists()


@pytest.mark.parametrize("shape", ["--commands", "--slurm"])
def test_a_folder_starting_with_a_dash_gives_working_commands(project: Project, shape: str) -> None:
    """Run through bash: the commands must reach the folder '-out', not read it as an option."""
    command = "plan" if shape == "--slurm" else "manifest"
    out = project.run(command, "--output-folder=-out", "--limit", "1", shape).stdout
    if shape == "--slurm":  # an array task runs its command: task 0 of the first array
        env = {**project.env(), "SLURM_ARRAY_TASK_ID": "0"}
        array = submissions(out)[0]  # with the arguments its submission gives it
        task = [str(array.plan), str(array.offset), str(array.jobs)]
        argv = ["bash", "-c", local_commands(out), "bash", *task]
    else:
        env, argv = project.env(), ["bash", "-euo", "pipefail", "-c", local_commands(out)]
    result = subprocess.run(argv, cwd=project.root, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    suffix = f".{settings.ARTIFACT_EXTENSION}"
    built = [
        path.name
        for path in (project.root / "-out").iterdir()
        if path.name.endswith(suffix) and not path.name.endswith(".provenance.json")
    ]
    assert len(built) == 1, result.stderr


@pytest.mark.unprivileged
def test_an_unreadable_output_folder_is_one_line_and_exit_2(project: Project) -> None:
    import os

    if os.geteuid() == 0:  # the template's CI runs this as an ordinary user (test_unprivileged)
        pytest.skip("root reads any folder whatever its mode, and no trick makes one unreadable")
    project.output.mkdir()
    project.output.chmod(0)
    try:
        result = project.run("manifest", code=2)
    finally:
        project.output.chmod(0o755)
    assert result.stdout == "" and result.stderr.startswith("error: cannot read output folder")
    assert len(result.stderr.strip().splitlines()) == 1


def test_long_ids_are_refused_before_any_file_is_made(project: Project) -> None:
    pipeline_file(discover=f'return ["{"a" * 128}"]', params={"p" * 121: 1})(project)
    project.run("build", "--output-folder", "output", code=2)
    assert not project.output.exists()
