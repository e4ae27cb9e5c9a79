"""The template's own code (hooks and tests) is lint-, format- and type-clean."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import TEMPLATE

CHECKS = [
    pytest.param(["ruff", "check", "."], id="ruff-check"),
    pytest.param(["ruff", "format", "--check", "."], id="ruff-format"),
    pytest.param(["mypy"], id="mypy"),
]


@pytest.mark.parametrize("command", CHECKS)
def test_template_code_is_clean(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", *command], cwd=TEMPLATE, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
