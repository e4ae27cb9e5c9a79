"""One wrapper around a baked project, so no test repeats bake or subprocess plumbing."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cookiecutter.config import get_config

TEMPLATE = Path(__file__).resolve().parent.parent
# Folders that running a baked project (its tests, linters, uv) leaves behind.
RUN_LEFTOVERS = frozenset({"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", ".venv"})

# The questions cookiecutter asks, in order; "_" variables are derived or cookiecutter's own.
PUBLIC_VARIABLES = [
    name
    for name in json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))
    if not name.startswith("_")
]
# Where the post-gen hook records the public answers, as a cookiecutter config file.
ANSWERS_FILE = ".cookiecutter-answers.yaml"

Bake = Callable[..., "BakedProject"]

# Set by .ci/run once it has installed the engines: then a missing one fails instead of skipping.
REQUIRE_ENGINES = "PERM_TEMPLATE_REQUIRE_ENGINES"


def require_program(*names: str) -> None:
    """Skip, saying what is missing, unless every program is on PATH (fail if CI promised them)."""
    missing = [name for name in names if shutil.which(name) is None]
    if not missing:
        return
    reason = f"not installed here: {', '.join(missing)}"
    if os.environ.get(REQUIRE_ENGINES):
        pytest.fail(f"{reason}, though {REQUIRE_ENGINES} says CI installed them")
    pytest.skip(reason)


def run_command(
    args: Sequence[str | Path],
    cwd: Path,
    env: Mapping[str, str],
    *,
    ok: bool = True,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command as a user would; with ok, a non-zero exit fails showing its output."""
    result = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        timeout=600,
        check=False,
    )
    if ok:
        assert result.returncode == 0, (
            f"{' '.join(map(str, args))} exited {result.returncode}\n{_failed_tests(result.stdout)}"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
        )
    return result


def _failed_tests(stdout: str) -> str:
    """A baked suite's FAILED and ERROR summary lines, put first: a long verbose output is cut in
    the middle by whatever shows it (CI keeps its head and tail), where pytest lists them."""
    lines = [line for line in stdout.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    return "".join(f"{line}\n" for line in lines)


# The baked test that builds the project's own pipeline.py: it runs by default, so a pipeline that
# cannot build fails the suite.
PIPELINE_BUILD = "tests/test_pipeline_contract.py::test_the_cheapest_permutation_builds"


def built_own_pipeline(verbose_output: str) -> bool:
    """Whether a baked suite's ``pytest -v`` output shows PIPELINE_BUILD passed (under xdist, a
    worker's name comes first)."""
    lines = verbose_output.splitlines()
    return any(PIPELINE_BUILD in line and "PASSED" in line.split() for line in lines)


def baked_root(output: Path) -> Path:
    """The one project a bake wrote into its output folder."""
    (root,) = output.iterdir()
    return root


def recorded_answers(root: Path) -> dict[str, object]:
    """A project's answers file, read as cookiecutter reads a config file."""
    return dict(get_config(str(root / ANSWERS_FILE))["default_context"])


def walk(root: Path) -> Iterator[Path]:
    """Every file and folder under root, sorted, skipping caches that running a bake leaves."""
    for path in sorted(root.rglob("*")):
        if not RUN_LEFTOVERS.intersection(path.relative_to(root).parts):
            yield path


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under root with a file's bytes (None for a folder), to compare two trees."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes() if path.is_file() else None
        for path in walk(root)
    }


def copy_template(destination: Path) -> Path:
    """The template's files that git tracks or would track: what a clone of this commit holds."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=TEMPLATE,
        capture_output=True,
        check=True,
    )
    for name in filter(None, listing.stdout.decode().split("\0")):
        source = TEMPLATE / name
        if source.is_file():  # a tracked file deleted in the working tree is left out
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def change_machinery(template: Path) -> str:
    """Make a copy of the template newer: one more line in a builder module; that line."""
    line = "TEMPLATE_REVISION = 2  # a newer template's builder"
    module = template / "{{cookiecutter.project_slug}}/{{cookiecutter.package_name}}/builder/cli.py"
    module.write_text(module.read_text(encoding="utf-8") + line + "\n", encoding="utf-8")
    return line


def task_environment(folder: Path) -> tuple[str, ...]:
    """An array file's ``--setup`` and ``--python`` for a stand-in of a cluster's environment: the
    interpreter ``task-python`` is on PATH only once the first setup line has sourced an activate
    script (which reads an unset variable, as ``module`` does), and runs only once the second has
    set ``TASK_ENV``. A task that builds ran both, in order, then the interpreter they named."""
    bin_dir = folder / "task-env" / "bin"
    bin_dir.mkdir(parents=True)
    activate = folder / "task-env" / "activate"
    activate.write_text(f'PATH={shlex.quote(str(bin_dir))}:"$PATH"\n: "$TASK_ENV_NEVER_SET"\n')
    python = bin_dir / "task-python"
    python.write_text(
        '#!/bin/sh\n[ "${TASK_ENV:-}" = ready ] || exit 97\n'
        f'exec {shlex.quote(sys.executable)} "$@"\n'
    )
    python.chmod(0o755)
    setup = ("--setup", f"source {activate}", "--setup", "export TASK_ENV=ready")
    return (*setup, "--python", "task-python")


def commit_all(repo: Path, env: Mapping[str, str], message: str) -> str:
    """Commit every change in repo (made a git repo first if need be); the commit's hash."""
    if not (repo / ".git").exists():
        run_command(["git", "init", "-q", "-b", "main"], repo, env)
    run_command(["git", "add", "-A"], repo, env)
    run_command(["git", "commit", "-q", "-m", message], repo, env)
    return run_command(["git", "rev-parse", "HEAD"], repo, env).stdout.strip()


@dataclass(frozen=True)
class BakedProject:
    """A project cookiecutter baked, with the answers it was baked with."""

    root: Path
    context: Mapping[str, Any]
    env: Mapping[str, str]

    @property
    def package(self) -> str:
        return str(self.context["package_name"])

    @property
    def runner(self) -> str:
        return str(self.context["command_runner"])

    @property
    def extension(self) -> str:
        return str(self.context["__extension"])

    @property
    def kind(self) -> str:
        return str(self.context["__artifact_kind"])

    @property
    def param_values(self) -> list[str]:
        return [value.strip() for value in str(self.context["param_values"]).split(",")]

    @property
    def inputs(self) -> list[str]:
        """The demo inputs: one CSV file each in data/."""
        return sorted(path.stem for path in (self.root / "data").glob("*.csv"))

    @property
    def permutation_ids(self) -> list[str]:
        return [f"{inp}_{param}" for inp in self.inputs for param in self.param_values]

    def artifact(self, permutation_id: str) -> Path:
        """Where the builder puts a permutation's artifact by default."""
        return self.root / "output" / f"{permutation_id}.{self.extension}"

    def files(self) -> Iterator[Path]:
        """Every file of the bake, skipping caches that running it leaves behind."""
        return (path for path in walk(self.root) if path.is_file())

    def machinery(self) -> dict[str, bytes]:
        """The builder's files, by their path under ``<package>/builder``, with their bytes."""
        folder = self.root / self.package / "builder"
        return {
            path.relative_to(folder).as_posix(): path.read_bytes()
            for path in self.files()
            if folder in path.parents
        }

    def run(
        self, *args: str | Path, ok: bool = True, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the project root; with ok, a non-zero exit fails showing stderr."""
        return run_command(args, self.root, {**self.env, **(env or {})}, ok=ok)

    def python(
        self, *args: str | Path, ok: bool = True, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.run(sys.executable, *args, ok=ok, env=env)

    def builder(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        return self.python("-m", f"{self.package}.builder", *args, ok=ok)

    def suite(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The project's own tests, with pytest and only the plugin its test group adds (xdist,
        which its conftest turns on): this venv's other plugins stay out. Verbose, so that the
        output names each test that ran, and the xdist worker that ran it."""
        only_test_group = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
        return self.python("-m", "pytest", "-p", "xdist", "-v", *args, env=only_test_group)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``long`` first, the rest in their order: under pytest-xdist (scripts/test.sh
    hands out one test at a time) each long one starts at once on a worker of its own, instead of
    one that starts late ending the run minutes after the rest."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.fixture(scope="session")
def subprocess_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a user in a fresh shell with this venv's tools first on PATH."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["UV_NO_PROGRESS"] = "1"
    # scripts/venv.sh points every run at one cache; a bare pytest run gets its own.
    env.setdefault("UV_CACHE_DIR", str(tmp_path_factory.mktemp("uv-cache")))
    return env


@pytest.fixture
def cli_env(tmp_path: Path, subprocess_env: dict[str, str]) -> dict[str, str]:
    """A user's shell for the cookiecutter, cruft and git CLIs: no user config, a git identity."""
    home = tmp_path / "home"
    home.mkdir()
    env = {
        key: value
        for key, value in subprocess_env.items()
        if not key.startswith("GIT_") and key not in {"COOKIECUTTER_CONFIG", "FORCE_COLOR"}
    }
    identity = {"NAME": "Template Tests", "EMAIL": "template-tests@example.invalid"}
    env.update(
        {
            f"GIT_{who}_{what}": value
            for who in ("AUTHOR", "COMMITTER")
            for what, value in identity.items()
        }
    )
    # HOME keeps cookiecutter's replay files and user config out of the real home.
    env.update(HOME=str(home), GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", COLUMNS="80")
    return env


@pytest.fixture
def output_dir(tmp_path: Path) -> Path:
    """Where pytest-cookies' `cookies` fixture puts its bakes (one subfolder each)."""
    return tmp_path / "cookies"


@pytest.fixture
def bake(cookies: Any, subprocess_env: dict[str, str]) -> Bake:
    """Bake the template with some answers; fail the test unless the bake succeeds."""

    def _bake(**answers: str) -> BakedProject:
        result = cookies.bake(extra_context=answers, template=str(TEMPLATE))
        assert result.exit_code == 0, f"bake failed with {answers}: {result.exception!r}"
        return BakedProject(result.project_path, result.context, subprocess_env)

    return _bake
