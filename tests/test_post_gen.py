"""After a bake the user is told what to run next, and those commands work."""

from __future__ import annotations

import re

import pytest
from conftest import Bake


def next_steps(stderr: str) -> list[str]:
    lines = stderr.partition("Next steps:\n")[2].splitlines()
    return [line.strip() for line in lines if line.startswith("  ")]


@pytest.mark.slow
@pytest.mark.parametrize("runner", ["uv run", "python"])
def test_next_steps_run_in_a_shell(
    bake: Bake, capfd: pytest.CaptureFixture[str], runner: str
) -> None:
    project = bake(command_runner=runner)
    steps = next_steps(capfd.readouterr().err)

    assert steps[0] == f"cd {project.root.name}"
    assert steps[1] == f"{runner} -m {project.package}.builder manifest"
    script = "\n".join([f"cd {project.root.parent}", *steps])
    # The test step runs the suite's contract tests only: the whole suite runs elsewhere.
    quick = {"PYTEST_ADDOPTS": "tests/test_pipeline_contract.py"}
    project.run("bash", "-euo", "pipefail", "-c", script, env=quick)
    assert all(project.artifact(pid).is_file() for pid in project.permutation_ids)


@pytest.mark.parametrize("runner", ["uv run", "python"])
def test_next_steps_are_the_readme_quick_start(
    bake: Bake, capfd: pytest.CaptureFixture[str], runner: str
) -> None:
    """The message and the README print the same commands, so a user meets one way to run."""
    project = bake(command_runner=runner)
    steps = next_steps(capfd.readouterr().err)
    readme = (project.root / "README.md").read_text(encoding="utf-8")
    quick_start = re.search(r"```bash\n(.*?)```", readme, re.S)
    assert quick_start is not None
    commands = [line for line in quick_start[1].splitlines() if not line.startswith("#")]

    assert steps[1:] == commands
