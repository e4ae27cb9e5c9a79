"""One wrapper around a baked project, so no test repeats bake or subprocess plumbing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

TEMPLATE = Path(__file__).resolve().parent.parent
# Folders that running a baked project (its tests, linters, uv) leaves behind.
RUN_LEFTOVERS = frozenset({"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", ".venv"})

Bake = Callable[..., "BakedProject"]


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
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not RUN_LEFTOVERS.intersection(path.relative_to(self.root).parts):
                yield path

    def run(
        self, *args: str | Path, ok: bool = True, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the project root; with ok, a non-zero exit fails showing stderr."""
        result = subprocess.run(
            [str(arg) for arg in args],
            cwd=self.root,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=600,
            check=False,
        )
        if ok:
            assert result.returncode == 0, (
                f"{' '.join(map(str, args))} exited {result.returncode}\n"
                f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
            )
        return result

    def python(
        self, *args: str | Path, ok: bool = True, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.run(sys.executable, *args, ok=ok, env=env)

    def builder(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        return self.python("-m", f"{self.package}.builder", *args, ok=ok)


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
