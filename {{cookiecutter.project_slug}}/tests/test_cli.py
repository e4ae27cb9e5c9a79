"""The real command line, in a subprocess: tables, commands run through a shell, one-line errors."""

from __future__ import annotations

import json
import re
import shlex
import textwrap

import pytest
from conftest import (
    INPUTS,
    PARAMS,
    PHASES,
    Project,
    assert_valid_artifact,
    plan_of,
    run_commands_through_a_shell,
)

from {{ cookiecutter.package_name }} import settings
from {{ cookiecutter.package_name }}.builder import axes, layout

TOTAL = len(INPUTS) * len(PARAMS)


def test_manifest_table_lists_every_permutation_missing(project: Project) -> None:
    out = project.run("manifest").stdout
    assert f"=== Manifest (0/{TOTAL}) ===" in out
    assert out.count("[MISS]") == TOTAL


def test_list_subcommands_name_each_axis_value(project: Project) -> None:
    inputs = project.run(axes.LIST_INPUTS).stdout.split("\n")
    assert [line.split()[0] for line in inputs if line] == INPUTS
    params = project.run(axes.LIST_PARAMS).stdout.split("\n")
    assert [line.split()[0] for line in params if line] == PARAMS


def test_generated_commands_build_everything(project: Project) -> None:
    commands = project.run("manifest", "--missing", "--commands").stdout
    assert len(commands.splitlines()) == TOTAL
    run_commands_through_a_shell(project, commands)
    out = project.run("manifest").stdout
    assert f"=== Manifest ({TOTAL}/{TOTAL}) ===" in out and out.count("[DONE]") == TOTAL
    assert project.run("manifest", "--missing", "--commands").stdout == ""
    for entry in project.manifest()["entries"]:
        assert_valid_artifact(project.artifact(entry["permutation_id"]))


def test_build_without_axis_flags_builds_all_missing_cheapest_first(project: Project) -> None:
    expected = project.run("manifest", "--missing", "--commands").stdout.splitlines()
    built = project.run("build", "--output-folder", "output").stderr
    order = re.findall(r"^\[\d+/\d+\] (\S+) built in ", built, re.M)
    assert [f"{c.split()[-3]}_{c.split()[-1]}" for c in expected] == order
    assert project.manifest()["done"] == TOTAL


def test_build_pinned_to_one_axis_builds_only_that_row(project: Project) -> None:
    first = INPUTS[0]
    project.run("build", "--output-folder", "output", axes.INPUT_FLAG, first)
    done = {e["permutation_id"] for e in project.manifest("--done")["entries"]}
    assert done == {f"{first}_{p}" for p in PARAMS}


def test_build_of_a_done_permutation_does_nothing(project: Project) -> None:
    inp, param = INPUTS[0], PARAMS[0]
    args = ("build", "--output-folder", "output", axes.INPUT_FLAG, inp, axes.PARAM_FLAG, param)
    project.run(*args)
    before = project.artifact(f"{inp}_{param}").stat().st_mtime_ns
    assert "is done" in project.run(*args).stderr
    assert project.artifact(f"{inp}_{param}").stat().st_mtime_ns == before


def test_commands_outside_the_project_use_absolute_paths(
    project: Project, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    line = project.run(
        "manifest", "--commands", "--limit", "1", "--output-folder", str(elsewhere)
    ).stdout
    assert f"--output-folder {elsewhere} " in line
    inside = project.run(
        "manifest", "--commands", "--limit", "1", "--output-folder", "output/sub"
    ).stdout
    assert "--output-folder output/sub " in inside


BAD_USAGE = [
    pytest.param(
        ("build", "--output-folder", "output", axes.INPUT_FLAG, "nope"),
        f"unknown {settings.INPUT_AXIS} id 'nope'",
        id="unknown-input",
    ),
    pytest.param(
        ("build", "--output-folder", "output", axes.PARAM_FLAG, "nope"),
        f"unknown {settings.PARAM_AXIS} name 'nope'",
        id="unknown-param",
    ),
    pytest.param(
        ("build", "--output-folder", "output", axes.INPUT_FLAG, "../x", axes.PARAM_FLAG, "y"),
        "not a safe filename stem",
        id="path-traversal",
    ),
    pytest.param(
        ("build", "--output-folder", "output", axes.INPUT_FLAG, "a b"),
        "not a safe filename stem",
        id="space-in-id",
    ),
    pytest.param(
        ("manifest", "--limit", "0"), "--limit '0' is not a whole number", id="limit-zero"
    ),
    pytest.param(
        ("manifest", "--limit", "x"), "--limit 'x' is not a whole number", id="limit-text"
    ),
    pytest.param(
        ("manifest", "--force"),
        "--force only applies with --commands or --json",
        id="force-alone",
    ),
    pytest.param(("manifest", "--slurm"), "unrecognized arguments: --slurm", id="slurm-is-plan"),
    pytest.param(
        ("build", "--output-folder", "output", "--jobs", "0"),
        "--jobs '0' is not a whole number of at least 1",
        id="jobs-zero",
    ),
    pytest.param(("manifest", "--shard", "3/2"), "--shard '3/2' is not I/N", id="shard-past-n"),
    pytest.param(("manifest", "--shard", "0/2"), "--shard '0/2' is not I/N", id="shard-zero"),
    pytest.param(("manifest", "--shard", "2"), "--shard '2' is not I/N", id="shard-no-slash"),
    pytest.param(
        ("plan", "--time", "1:00:00"), "one of the arguments --slurm", id="plan-no-engine"
    ),
    pytest.param(
        ("plan", "--slurm", "--time", "1h"), "--time '1h' is not minutes", id="slurm-time"
    ),
    pytest.param(
        ("plan", "--slurm", "--mem", "4 GB"), "--mem '4 GB' is not a whole size", id="slurm-mem"
    ),
    pytest.param(
        ("plan", "--slurm", "--partition", "a\nb"),
        "--partition 'a\\nb' is not partition names",
        id="slurm-partition-newline",
    ),
    pytest.param(
        ("plan", "--slurm", "--max-array-size", "0"),
        "--max-array-size '0' is not a whole number",
        id="slurm-array-size-zero",
    ),
    pytest.param(("plan", "--slurm", "--sge"), "not allowed with argument", id="slurm-and-sge"),
    pytest.param(
        ("manifest", "--missing", "--done"), "not allowed with argument", id="missing-and-done"
    ),
    pytest.param(("manifest", "--sort", "cost"), "invalid choice: 'cost'", id="unknown-sort"),
    pytest.param(("manifest", "--status", "ok"), "invalid choice: 'ok'", id="unknown-status"),
    pytest.param(
        ("manifest", axes.PARAM_FLAG, "nope,*"),
        f"unknown {settings.PARAM_AXIS} name 'nope'",
        id="unknown-param-in-a-list",
    ),
    pytest.param(
        ("manifest", "--stale", "--done"), "--stale already selects built", id="stale-and-done"
    ),
    pytest.param(("build",), "--output-folder", id="build-without-output"),
    pytest.param(("frobnicate",), "invalid choice: 'frobnicate'", id="unknown-subcommand"),
]


@pytest.mark.parametrize(("args", "message"), BAD_USAGE)
def test_bad_usage_is_one_line_and_exit_2(
    project: Project, args: tuple[str, ...], message: str
) -> None:
    result = project.run(*args, code=2)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr


def test_output_folder_that_is_a_file_is_refused(project: Project) -> None:
    (project.root / "taken").write_text("precious")
    for args in (("manifest", "--output-folder", "taken"), ("build", "--output-folder", "taken")):
        result = project.run(*args, code=2)
        assert "is a file" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert (project.root / "taken").read_text() == "precious"


def pinned(commands: str) -> list[tuple[str, str]]:
    """The (input, param) pair each generated command builds."""
    pairs = []
    for line in commands.splitlines():
        words = shlex.split(line)
        inp, param = words.index(axes.INPUT_FLAG) + 1, words.index(axes.PARAM_FLAG) + 1
        pairs.append((words[inp], words[param]))
    return pairs


EMPTY_SELECTION = [
    ("manifest",),
    ("manifest", "--commands"),
    ("manifest", "--json"),
    ("manifest", "--grid"),
    ("plan", "--slurm"),
    ("build", "--output-folder", "output"),
]


@pytest.mark.parametrize("args", EMPTY_SELECTION, ids=lambda a: " ".join(a))
def test_an_empty_selection_writes_nothing_and_says_so(
    project: Project, args: tuple[str, ...]
) -> None:
    # A build's pattern must match some id (test_hostile): here the status matches nothing.
    pattern = "no-such-*" if args[0] == "manifest" else f"{INPUTS[0][0]}*"
    result = project.run(*args, axes.INPUT_FLAG, pattern, "--status", "fail")
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "no" in result.stderr


def test_axis_flags_take_lists_repeats_and_patterns(project: Project) -> None:
    first, last = INPUTS[0], INPUTS[-1]
    out = project.run(
        "manifest", "--commands", axes.INPUT_FLAG, f"{first},{last}", axes.PARAM_FLAG, PARAMS[0]
    ).stdout
    assert sorted(pinned(out)) == sorted([(first, PARAMS[0]), (last, PARAMS[0])])
    pattern = f"{first[0]}*"
    out = project.run(
        "manifest", "--missing", axes.INPUT_FLAG, pattern, "--commands", axes.PARAM_FLAG, "*"
    ).stdout
    expected = {(i, p) for i in INPUTS if i.startswith(first[0]) for p in PARAMS}
    assert set(pinned(out)) == expected and len(pinned(out)) == len(expected)
    repeated = project.run(
        "manifest", "--json", axes.PARAM_FLAG, PARAMS[0], axes.PARAM_FLAG, PARAMS[-1]
    ).stdout
    assert {e[axes.PARAM_KEY] for e in json.loads(repeated)["entries"]} == {PARAMS[0], PARAMS[-1]}


def test_status_and_axis_selection_make_a_slurm_file_of_one_models_failures(
    project: Project,
) -> None:
    failing = PARAMS[-1]
    project.fault(PHASES[-1], "raise", "injected", param=failing)
    project.run("build", "--output-folder", "output", axes.INPUT_FLAG, INPUTS[0], code=1)
    script = project.run("plan", axes.PARAM_FLAG, failing, "--status", "fail", "--slurm").stdout
    planned = plan_of(script).read_text().splitlines()[1:]
    assert planned == [f"{INPUTS[0]}\t{failing}"]
    grid = project.run("manifest", "--grid", "--status", "fail", axes.PARAM_FLAG, failing).stdout
    assert "F" in grid
    # build takes the same selectors: only the failed one is tried again
    project.clear_faults()
    result = project.run("build", "--output-folder", "output", "--status", "fail")
    assert f"{INPUTS[0]}_{failing}" in result.stderr
    assert project.manifest("--done")["total"] == len(PARAMS)


def test_build_stale_rebuilds_only_the_stale_artifacts(project: Project) -> None:
    project.run("build", "--output-folder", "output", axes.INPUT_FLAG, INPUTS[0])
    data = project.input_file(INPUTS[0])
    data.write_text(data.read_text() + "999\n")
    assert len(project.manifest("--stale")["entries"]) == len(PARAMS)
    result = project.run("build", "--output-folder", "output", "--stale", "--jobs", "2")
    assert "summary" in result.stderr
    assert project.manifest("--stale")["entries"] == []
    assert project.manifest()["done"] == len(PARAMS)  # nothing else was built


def test_build_with_lists_builds_exactly_the_selection(project: Project) -> None:
    project.run(
        "build", "--output-folder", "output", axes.INPUT_FLAG, INPUTS[0],
        axes.PARAM_FLAG, f"{PARAMS[0]},{PARAMS[-1]}",
    )  # fmt: skip
    done = {e["permutation_id"] for e in project.manifest("--done")["entries"]}
    assert done == {f"{INPUTS[0]}_{PARAMS[0]}", f"{INPUTS[0]}_{PARAMS[-1]}"}


PAIR_COST_PIPELINE = """
COST_UNIT = "seconds"
PARAM_REGISTRY = {"small": {"cost": 1}, "large": {"cost": 2}}
PHASES = []


def discover_inputs():
    return ["a", "b"]


def estimate_cost(input_id, param_name):
    # b is cheap with the large parameter only: the pair, not the input, decides
    return {("a", "small"): 4, ("a", "large"): 3, ("b", "small"): 2, ("b", "large"): 1}[
        (input_id, param_name)
    ]
"""


def test_a_pipeline_may_estimate_the_cost_of_a_pair(project: Project) -> None:
    path = project.root / "pair_pipeline.py"
    path.write_text(textwrap.dedent(PAIR_COST_PIPELINE))
    project.extra_env[layout.PIPELINE_VARIABLE] = str(path)
    out = project.run("manifest", "--commands").stdout
    assert pinned(out) == [("b", "large"), ("b", "small"), ("a", "large"), ("a", "small")]
    document = json.loads(project.run("manifest", "--json").stdout)
    assert [e["cost"][0] for e in document["entries"]] == [1, 2, 3, 4]
    assert project.run(axes.LIST_INPUTS).stdout.split() == ["a", "b"]
