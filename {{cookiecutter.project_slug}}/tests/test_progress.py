"""`build` over many permutations reports its progress on stderr: plain lines, or a live line."""

from __future__ import annotations

import re

import pytest
from conftest import BUILD_ONE, ESCAPE, INPUTS, PARAMS, PHASES, Project

from {{ cookiecutter.package_name }}.builder import axes

BUILD_ALL = ("build", "--output-folder", "output")
TOTAL = len(INPUTS) * len(PARAMS)
FAILING = f"{INPUTS[1]}_{PARAMS[0]}"
CLEAR_LINE = "\r\x1b[K"
# [3/9] medium_half built in 0.2s; 3 built, 1 failed, 0:01 elapsed, ETA 0:02
PLAIN = re.compile(
    r"\[(\d+)/(\d+)\] (\S+) (built in|failed after) \d+\.\ds; "
    r"(.*), (\d+:\d\d) elapsed(?:, ETA (\d+):(\d\d))?"
)


def slow_with_one_failure(project: Project) -> None:
    """Each build takes a measurable time; one fails."""
    project.fault(PHASES[0], "sleep", 0.1)
    project.fault(PHASES[1], "raise", "injected", input=INPUTS[1], param=PARAMS[0])


@pytest.mark.parametrize(("jobs", "verbose"), [("1", False), ("2", True)], ids=["1", "2-verbose"])
def test_without_a_terminal_a_plain_line_per_permutation(
    project: Project, jobs: str, verbose: bool
) -> None:
    slow_with_one_failure(project)
    flags = ("--jobs", jobs, *(["--verbose"] if verbose else []))
    stderr = project.run(*BUILD_ALL, *flags, code=1).stderr
    assert "\r" not in stderr and "\x1b" not in stderr
    for inp in INPUTS:  # each phase's lines only with --verbose
        for param in PARAMS:
            started = f"{inp}_{param}: phase 1/{len(PHASES)} {PHASES[0]}: started\n"
            assert (started in stderr) is verbose
    lines = [PLAIN.fullmatch(line) for line in stderr.splitlines()]
    progress = [line for line in lines if line]
    assert [(int(m[1]), int(m[2])) for m in progress] == [(k, TOTAL) for k in range(1, TOTAL + 1)]
    assert {m[3] for m in progress} == {f"{i}_{p}" for i in INPUTS for p in PARAMS}
    assert [m[3] for m in progress if m[4] == "failed after"] == [FAILING]
    assert progress[-1][5] == f"{TOTAL - 1} built, 1 failed"
    # An ETA from the first build on, none once all are done. The costs say the last builds are
    # 100 times the work of the first, but each takes about as long: as that is measured, the
    # ETA falls (not always at each step: 2 workers may finish the cheapest builds out of order).
    etas = [int(m[7]) * 60 + int(m[8]) for m in progress[:-1]]
    assert len(etas) == TOTAL - 1 and progress[-1][7] is None
    assert max(etas[len(etas) // 2 :]) < etas[0], etas
    assert re.search(rf"^summary: {TOTAL - 1} built, 1 failed in \d+:\d\d$", stderr, re.M)
    assert f"error: {FAILING} phase 2/{len(PHASES)}" in stderr


def test_quiet_shows_only_errors_and_the_summary(project: Project) -> None:
    project.fault(PHASES[1], "raise", "injected", input=INPUTS[1], param=PARAMS[0])
    stderr = project.run(*BUILD_ALL, "--quiet", code=1).stderr
    assert not PLAIN.search(stderr) and "started" not in stderr
    *errors, summary = stderr.splitlines()
    assert summary.startswith(f"summary: {TOTAL - 1} built, 1 failed in ")
    assert errors and all("failed" in line for line in errors), stderr
    assert project.run(*BUILD_ONE, "--force", "--quiet").stderr == ""


def visible_lines(terminal: str) -> list[str]:
    """What stays on each line of the terminal: the text after the last clearing of the line."""
    return [ESCAPE.sub("", line.split(CLEAR_LINE)[-1]) for line in terminal.split("\n")]


@pytest.mark.parametrize("no_color", [False, True], ids=["colour", "NO_COLOR"])
def test_on_a_terminal_one_live_line_is_redrawn_below_the_finished(
    project: Project, no_color: bool
) -> None:
    slow_with_one_failure(project)
    terminal = project.in_terminal(*BUILD_ALL, code=1, **({"NO_COLOR": "1"} if no_color else {}))
    live = re.findall(rf"(\[\d+/{TOTAL}\] [^\r\n]* elapsed[^\r\n]*)\r", terminal)
    assert len(live) > TOTAL  # drawn at the start, after each build, and as the clock runs
    assert all(len(line) < 80 for line in live)
    assert ("\x1b[32mbuilt\x1b[0m" in terminal) is not no_color
    assert bool(ESCAPE.search(terminal)) is not no_color
    lines = visible_lines(terminal)
    finished = [line for line in lines if re.fullmatch(r"\[\d+/\d+\] \S+ (built|failed) .*s", line)]
    assert len(finished) == TOTAL
    assert not any("elapsed" in line for line in lines)  # the live line is gone at the end
    assert any(line.startswith("summary: ") for line in lines)


def test_on_a_terminal_phase_lines_take_the_live_lines_place(project: Project) -> None:
    project.fault(PHASES[0], "sleep", 0.05)
    terminal = project.in_terminal(*BUILD_ALL, "--verbose", "--jobs", "2")
    lines = visible_lines(terminal)
    phase_lines = [line for line in lines if re.fullmatch(r"\S+: phase \d/\d \w+: .*", line)]
    assert len(phase_lines) == TOTAL * 2 * len(PHASES)  # each whole, on its own line
    assert not any("elapsed" in line for line in lines)


def test_a_dumb_terminal_gets_plain_lines(project: Project) -> None:
    terminal = project.in_terminal(*BUILD_ALL, TERM="dumb")
    assert "\r" not in terminal and "\x1b" not in terminal
    assert len(PLAIN.findall(terminal)) == TOTAL


def test_quiet_keeps_a_permutation_built_meanwhile_out_of_the_errors(project: Project) -> None:
    """Another builder finishes a permutation that this build had selected: skipped, no error."""
    rows = project.config["inputs"]
    cheapest, dearest = min(rows, key=rows.get), max(rows, key=rows.get)
    other = project.block_in_phase(PHASES[1], input=dearest)
    this = project.block_in_phase(PHASES[0], input=cheapest)
    pinned = (axes.INPUT_FLAG, dearest, axes.PARAM_FLAG, PARAMS[-1])
    first = project.start(*BUILD_ALL, *pinned)
    other.wait_until_reached(first)
    everything = project.start(*BUILD_ALL, "--quiet")  # selects the pinned one, still missing
    this.wait_until_reached(everything)
    other.open()
    project.finish(first)
    this.open()
    stderr = project.finish(everything).stderr
    assert len(stderr.splitlines()) == 1, stderr
    assert stderr.startswith(f"summary: {TOTAL - 1} built, 1 skipped in ")
    assert project.artifact(f"{dearest}_{PARAMS[-1]}").is_file()
