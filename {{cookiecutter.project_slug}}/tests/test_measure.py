"""Each build's measurements through the real CLI: time, CPU and peak memory per phase and overall,
this build's own, kept by a build that fails or is killed, and printed by ``show``."""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path
from typing import Any

from conftest import (
    DEFAULT_CONFIG,
    INPUTS,
    PARAMS,
    PHASES,
    Project,
    local_commands,
    plan_ids,
    run_task,
    submissions,
)

from {{ cookiecutter.package_name }}.builder import axes

MIB = 1 << 20
HALF, DOUBLE, TRIPLE = PARAMS
INPUT = INPUTS[0]


def shown(project: Project, permutation_id: str) -> dict[str, Any]:
    return dict(json.loads(project.run("show", permutation_id, "--json").stdout))


def test_a_build_measures_its_phases_and_never_an_earlier_builds_peak(project: Project) -> None:
    """Three builds in one process: one allocates, the next spins a cpu, the last runs a child;
    each records its own peak, however high the one before it went."""
    project.fault(PHASES[1], "allocate", [150, 0.2], param=HALF)
    project.fault(PHASES[0], "spin", 0.3, param=DOUBLE)
    project.fault(PHASES[2], "child", 100, param=TRIPLE)
    project.run("build", "--output-folder", "output", axes.INPUT_FLAG, INPUT)

    allocating = shown(project, f"{INPUT}_{HALF}")
    phases = allocating["provenance"]["phases"]
    assert [phase["peak_rss"] >= 150 * MIB for phase in phases] == [False, True, False]
    trace = allocating["provenance"]["trace"]
    assert trace["peak_rss"] >= 150 * MIB and trace["realtime"] >= 0.2  # it holds them 0.2 s
    assert trace["start"] > time.time() - 600 and "engine" not in trace

    spinning = shown(project, f"{INPUT}_{DOUBLE}")["provenance"]
    assert spinning["trace"]["peak_rss"] < 100 * MIB  # built after the 150 MiB, in one process
    assert spinning["phases"][0]["cpu"] >= 0.25 and spinning["trace"]["cpu"] >= 0.25
    trace = spinning["trace"]
    assert abs(trace["%cpu"] - 100 * trace["cpu"] / trace["realtime"]) < 0.5

    forking = shown(project, f"{INPUT}_{TRIPLE}")
    trace = forking["provenance"]["trace"]
    assert trace["peak_rss"] < 100 * MIB <= trace["peak_rss_children"]
    assert forking["provenance"]["phases"][2]["peak_rss_children"] >= 100 * MIB
    assert forking["trace"]["peak_rss_children"] == trace["peak_rss_children"]

    text = project.run("show", f"{INPUT}_{HALF}").stdout
    assert re.search(r"\n  measured +[0-9.]+ s, ", text) and " s CPU (" in text, text
    assert f"    2 {PHASES[1]}" in text and " s CPU  peak " in text and " MiB" in text


def test_a_failed_or_killed_build_keeps_what_it_measured(project: Project) -> None:
    failing, killed = f"{INPUT}_{HALF}", f"{INPUT}_{DOUBLE}"
    project.fault(PHASES[1], "raise", "boom", param=HALF)
    project.run("build", "--output-folder", "output", axes.INPUT_FLAG, INPUT, axes.PARAM_FLAG, HALF,
                code=1)  # fmt: skip
    trace = shown(project, failing)["trace"]
    assert [phase["name"] for phase in trace["phases"]] == PHASES[:1]
    assert trace["stopped"]["where"] == f"phase 2/{len(PHASES)} {PHASES[1]}"
    text = project.run("show", failing).stdout
    assert "  measured   " in text and f"stopped in phase 2/{len(PHASES)}" in text, text
    assert f"    1 {PHASES[0]}" in text

    # Killed outright after it allocated: the sampler noted how high it got.
    project.fault(PHASES[1], "allocate", [150, 0], param=DOUBLE)
    block = project.block_in_phase(PHASES[1])
    builder = project.start(
        "build", "--output-folder", "output", axes.INPUT_FLAG, INPUT, axes.PARAM_FLAG, DOUBLE
    )
    block.wait_until_reached(builder)
    time.sleep(0.6)  # a sample or more (one each 0.5 s)
    builder.send_signal(signal.SIGKILL)
    project.finish(builder, code=-signal.SIGKILL)
    trace = shown(project, killed)["trace"]
    assert trace["peak_rss"] >= 150 * MIB, trace
    assert [phase["name"] for phase in trace["phases"]] == PHASES[:1]

    # Rebuilt, it records the attempt it follows: what learning counts as an under-estimate.
    project.clear_faults()
    pair = (axes.INPUT_FLAG, INPUT, axes.PARAM_FLAG, DOUBLE)
    project.run("build", "--output-folder", "output", *pair)
    before = shown(project, killed)["provenance"]["trace"]["previous"]
    assert (before["reason"], before["attempt"]) == ("killed", 1)
    assert before["peak_rss"] >= 150 * MIB


def test_an_array_task_records_what_its_engine_gave_it(project: Project, tmp_path: Path) -> None:
    """The plan names its resource set; SLURM's environment goes over it (``bash FILE
    --mem=400M``); a build that fails keeps it in its lock, one that succeeds in its trace."""
    registry = {**DEFAULT_CONFIG["registry"]}
    registry[HALF] = {**registry[HALF], "resources": {"mem": "300M", "time": "10"}}
    project.configure(registry=registry)
    text = project.run("plan", "--slurm", axes.PARAM_FLAG, HALF, "--limit", "2").stdout
    script = tmp_path / "build.slurm"
    script.write_text(local_commands(text))
    (array,) = submissions(text)
    header = array.plan.read_text().splitlines()[0]
    assert header.endswith('\tresources={"cpus":1,"mem":"300M","time":"10"}'), header
    built, failing = plan_ids(array.plan)
    project.fault(PHASES[1], "raise", "boom", input=failing.split("_")[0])
    project.extra_env["SLURM_MEM_PER_NODE"] = "400"
    given = {"cpus": 1, "mem": "400M", "time": "10"}
    assert run_task(script, project, array, 0).returncode == 0
    engine = shown(project, built)["provenance"]["trace"]["engine"]
    assert engine == {"name": "slurm", "job": "7", "requested": given}
    assert run_task(script, project, array, 1).returncode == 1
    assert shown(project, failing)["trace"]["requested"] == given
    text = project.run("show", failing).stdout
    assert "  engine     slurm job 7, asked cpus=1 mem=400M time=10\n" in text, text
