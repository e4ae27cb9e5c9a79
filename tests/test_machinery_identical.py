"""The builder machinery is the same bytes in every bake, so it can be updated as a drop-in."""

from __future__ import annotations

from pathlib import Path

from conftest import Bake


def test_builder_package_is_byte_identical(bake: Bake) -> None:
    default = bake()
    other = bake(
        project_name="Weather Models",
        description='Models "x" \\ y',
        input_axis="dataset",
        param_axis="model",
        param_values="tiny,huge",
        artifact_extension=".json",
        command_runner="python",
    )

    assert default.package != other.package
    files = default.machinery()
    assert files, f"no machinery under {Path(default.package, 'builder')}"
    assert other.machinery() == files
