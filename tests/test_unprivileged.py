"""The baked tests an ordinary user must run (root reads and writes any folder), run as one.

CI runs as root, where such a test skips (an unreadable output folder) or takes root's way (a
read-only bind mount instead of a folder's mode): here the bake's tests marked ``unprivileged`` run
under ``runuser`` as the user ``.ci/run`` made for the purpose (named by
``PERM_TEMPLATE_UNPRIVILEGED_USER``; ``nobody`` outside CI), and must all pass, none skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REQUIRE_ENGINES, Bake, require_program, run_command

pytestmark = pytest.mark.slow

USER_VARIABLE = "PERM_TEMPLATE_UNPRIVILEGED_USER"


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder another user may enter (pytest's own are root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="perm-template-unprivileged-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def interpreter_for(runuser: str, user: str, env: dict[str, str]) -> str:
    """A Python that ``user`` may run and that imports pytest and xdist (this one's site-packages
    on its path): this interpreter, or the system's when this one lies where the user may not go
    (a pyenv under /root)."""
    system = "/usr/local/bin:/usr/bin:/bin"
    candidates = [sys.executable, *(shutil.which(n, path=system) for n in ("python3", "python"))]
    for python in dict.fromkeys(c for c in candidates if c):
        probe = [runuser, "-u", user, "--", python, "-c", "import pytest, xdist"]
        if subprocess.run(probe, env=env, capture_output=True, check=False).returncode == 0:
            return python
    problem = f"no Python that {user} may run imports pytest and xdist"
    if os.environ.get(REQUIRE_ENGINES):
        pytest.fail(f"{problem}; CI must run these tests as an ordinary user")
    pytest.skip(problem)


def test_tests_for_an_ordinary_user_run_as_one(bake: Bake, shared_folder: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("not root: the bake's own suite runs these as this user already")
    require_program("runuser")
    runuser = str(shutil.which("runuser"))
    user = os.environ.get(USER_VARIABLE, "nobody")
    project = shared_folder / "project"
    shutil.copytree(bake().root, project)
    shutil.chown(project, user)
    for path in project.rglob("*"):
        shutil.chown(path, user)
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "PYTHONPATH": sysconfig.get_paths()["purelib"],
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # only xdist, which the bake's addopts ask for
        "HOME": str(project),
    }
    python = interpreter_for(runuser, user, env)
    pytest_args = ["-m", "pytest", "-p", "xdist", "-n", "0", "-q", "-rs", "-m", "unprivileged"]
    result = run_command([runuser, "-u", user, "--", python, *pytest_args], project, env, ok=False)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0 and summary.startswith("3 passed"), result.stdout + result.stderr
    assert "skipped" not in summary, result.stdout
