"""Resources per permutation: the pipeline's (registry key, per-pair function), the flags over them,
and one array per resource set in the files of ``plan --slurm`` and ``--sge``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import (
    BUILD_ONE,
    DEFAULT_CONFIG,
    INPUTS,
    PARAMS,
    PHASES,
    Project,
    assert_valid_artifact,
    local_commands,
    plan_ids,
    run_task,
    submissions,
)

from {{ cookiecutter.package_name }}.builder import axes, layout
from {{ cookiecutter.package_name }}.builder.building.context import CPU_VARIABLES, allocated_cpus

HALF, DOUBLE, TRIPLE = PARAMS  # the test pipeline's registry, cheapest first
ALL = sorted(f"{i}_{p}" for i in INPUTS for p in PARAMS)


def declare(project: Project, resources: dict[str, dict[str, Any]]) -> None:
    """Give registry entries ``resources`` (param name -> its resources)."""
    registry = {
        name: {**entry, **({"resources": resources[name]} if name in resources else {})}
        for name, entry in DEFAULT_CONFIG["registry"].items()
    }
    project.configure(registry=registry)


def arrays_by_param(script: str) -> dict[str, list[str]]:
    """Each array's options, by the one parameter its plan holds."""
    found: dict[str, list[str]] = {}
    for array in submissions(script):
        (param,) = {pid.split("_", 1)[1] for pid in plan_ids(array.plan)}
        found[param] = array.options
    return found


def planned(script: str) -> list[str]:
    """Every permutation the file's plans hold, each once, sorted."""
    plans = {array.plan for array in submissions(script)}
    return sorted(pid for plan in plans for pid in plan_ids(plan))


def test_each_resource_set_of_the_registry_gets_its_own_array(project: Project) -> None:
    declare(project, {HALF: {"mem": "1G", "time": "10"}, DOUBLE: {"mem": "2G", "cpus": 2}})
    script = project.run("plan", "--slurm").stdout
    assert arrays_by_param(script) == {
        HALF: ["--cpus-per-task=1", "--mem=1G", "--time=10"],
        DOUBLE: ["--cpus-per-task=2", "--mem=2G"],
        TRIPLE: ["--cpus-per-task=1"],
    }
    assert planned(script) == ALL and len(submissions(script)) == 3
    assert f"#   plan2: {len(INPUTS)} builds in {len(INPUTS)} task(s): cpus=2 mem=2G (" in script


def test_the_pair_function_goes_over_the_registry_key_by_key(project: Project) -> None:
    declare(project, {HALF: {"mem": "1G", "time": "10"}})
    rule = {"input": INPUTS[-1], "param": HALF, "resources": {"mem": "3G"}}
    project.configure(pair_resources=[rule])
    script = project.run("plan", "--slurm").stdout
    options = {tuple(array.options): plan_ids(array.plan) for array in submissions(script)}
    assert options[("--cpus-per-task=1", "--mem=3G", "--time=10")] == [f"{INPUTS[-1]}_{HALF}"]
    assert len(options[("--cpus-per-task=1", "--mem=1G", "--time=10")]) == len(INPUTS) - 1
    assert planned(script) == ALL


def test_flags_go_over_every_resource_set(project: Project) -> None:
    declare(project, {HALF: {"mem": "1G", "time": "10"}, DOUBLE: {"mem": "2G", "cpus": 2}})
    flags = ("--mem", "8G", "--time", "5", "--cpus-per-task", "1", "--partition", "debug")
    script = project.run("plan", "--slurm", *flags, "--gpus", "1").stdout
    (array,) = submissions(script)  # the sets became one
    assert array.options == [
        "--cpus-per-task=1", "--mem=8G", "--time=5", "--partition=debug", "--gres=gpu:1",
    ]  # fmt: skip
    assert sorted(plan_ids(array.plan)) == ALL
    # one flag overrides its key only: the sets stay apart by the others
    partly = arrays_by_param(project.run("plan", "--slurm", "--mem", "8G").stdout)
    assert partly[DOUBLE] == ["--cpus-per-task=2", "--mem=8G"]
    assert partly[HALF] == ["--cpus-per-task=1", "--mem=8G", "--time=10"]


@pytest.mark.parametrize("shape", ["--slurm", "--sge"])
@pytest.mark.parametrize(
    ("registry", "pairs", "message"),
    [
        pytest.param(
            {"mem": "lots"},
            [],
            f"PARAM_REGISTRY['{HALF}']['resources']['mem'] is 'lots'; give a whole size in K,",
            id="registry-mem",
        ),
        pytest.param(
            {"disk": "1G"},
            [],
            f"PARAM_REGISTRY['{HALF}']['resources'] has the key 'disk'; resources are cpus,",
            id="registry-key",
        ),
        pytest.param(
            None,
            [{"input": "small", "param": DOUBLE, "resources": "big"}],
            f"pipeline.resources('small', '{DOUBLE}', 4) is 'big'; give a dict",
            id="function-not-a-dict",
        ),
        pytest.param(
            None,
            [{"param": TRIPLE, "resources": {"cpus": 0}}],
            "['cpus'] is 0; give a whole number of at least 1",
            id="function-cpus",
        ),
        pytest.param(
            None,
            [{"resources": {"time": "1h"}}],
            "['time'] is '1h'; give minutes, H:MM:SS",
            id="function-time",
        ),
    ],
)
def test_invalid_pipeline_resources_are_one_line_naming_where_and_exit_2(
    project: Project,
    shape: str,
    registry: dict[str, Any] | None,
    pairs: list[dict[str, Any]],
    message: str,
) -> None:
    if registry is not None:
        declare(project, {HALF: registry})
    project.configure(pair_resources=pairs)
    result = project.run("plan", shape, code=2)
    assert message in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    assert not (project.output / layout.PLAN_FOLDER).exists()  # nothing half-written


def test_grid_engine_maps_resources_to_qsub_options(project: Project) -> None:
    declare(
        project,
        {
            HALF: {"mem": "4G", "time": "1-0:30:00", "cpus": 2, "partition": "short.q"},
            DOUBLE: {"gpus": 1, "time": "90"},
        },
    )
    script = project.run("plan", "--sge", "--parallel-environment", "smp").stdout
    assert arrays_by_param(script) == {
        # h_vmem is per slot: 4G over 2 cpus
        HALF: ["-pe", "smp", "2", "-l", "h_rt=24:30:00", "-l", "h_vmem=2048M", "-q", "short.q"],
        DOUBLE: ["-l", "h_rt=1:30:00", "-l", "gpu=1"],
        TRIPLE: [],
    }
    # more than one cpu needs a parallel environment: refused, and nothing written
    refused = project.run("plan", "--sge", code=2).stderr
    assert "cpus=2: Grid Engine gives a task more than one cpu in a parallel environment" in refused
    assert "name one with --parallel-environment" in refused and len(refused.splitlines()) == 1
    plans = set((project.output / layout.PLAN_FOLDER).iterdir())
    project.run("plan", "--sge", code=2)
    assert set((project.output / layout.PLAN_FOLDER).iterdir()) == plans
    flagged = project.run("plan", "--slurm", "--parallel-environment", "smp", code=2)
    assert "--parallel-environment only applies with --sge" in flagged.stderr
    queues = project.run("plan", "--pbs", "--partition", "a,b", code=2).stderr
    assert "partition=a,b: PBS submits to one queue (-q); give one name" in queues


def test_each_sets_tasks_build_their_own_plan_with_their_cpus_as_jobs(
    project: Project, tmp_path: Path
) -> None:
    declare(project, {DOUBLE: {"cpus": 2}})
    text = project.run("plan", "--slurm", "--per-task", "2").stdout
    script = tmp_path / "build.slurm"
    script.write_text(local_commands(text))
    arrays = submissions(text)
    assert {array.jobs for array in arrays} == {1, 2}  # 2 where the set has 2 cpus
    built = []
    for array in arrays:
        result = run_task(script, project, array, 0)
        assert result.returncode == 0, result.stderr
        assert f": task {array.offset} of plan {array.plan} on {array.jobs} job(s)" in result.stderr
        built += plan_ids(array.plan)[:2]
    done = sorted(e["permutation_id"] for e in project.manifest("--done")["entries"])
    assert done == sorted(built)
    for permutation_id in built:
        assert_valid_artifact(project.artifact(permutation_id))


# --- inside the task: ctx.cpus ------------------------------------------------------------------


@pytest.mark.parametrize("variable", CPU_VARIABLES)
def test_a_build_knows_its_cpus_from_its_scheduler(project: Project, variable: str) -> None:
    record = project.root / "cpus.log"
    project.fault(PHASES[0], "cpus", str(record))
    project.extra_env.update({name: "" for name in CPU_VARIABLES}, **{variable: "3"})
    project.run(*BUILD_ONE)
    assert record.read_text().split()[1:] == ["3"]


def test_builds_at_once_split_the_cpus(project: Project) -> None:
    record = project.root / "cpus.log"
    project.fault(PHASES[0], "cpus", str(record))
    project.extra_env.update({name: "" for name in CPU_VARIABLES}, SLURM_CPUS_PER_TASK="4")
    project.run("build", "--output-folder", "output", axes.PARAM_FLAG, HALF, "--jobs", "2")
    assert [line.split()[1] for line in record.read_text().splitlines()] == ["2"] * len(INPUTS)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        pytest.param({"SLURM_CPUS_PER_TASK": "8", "NSLOTS": "2"}, 8, id="slurm-first"),
        pytest.param({"NSLOTS": "2"}, 2, id="grid-engine"),
        pytest.param({"NCPUS": "6"}, 6, id="pbs"),
        pytest.param({"LSB_DJOB_NUMPROC": "5"}, 5, id="lsf"),
        pytest.param({"NSLOTS": "0", "NCPUS": "x"}, None, id="nonsense-ignored"),
        pytest.param({}, None, id="affinity"),
    ],
)
def test_allocated_cpus_reads_the_schedulers_variables(
    environ: dict[str, str], expected: int | None
) -> None:
    import os

    assert allocated_cpus(environ) == (expected or len(os.sched_getaffinity(0)))
