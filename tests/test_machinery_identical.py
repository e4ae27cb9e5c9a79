"""The builder machinery is the same bytes in every bake, so it can be updated as a drop-in."""

from __future__ import annotations

from pathlib import Path

from conftest import Bake, BakedProject


def machinery(project: BakedProject) -> dict[str, bytes]:
    folder = project.root / project.package / "builder"
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in project.files()
        if folder in path.parents
    }


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
    files = machinery(default)
    assert files, f"no machinery under {Path(default.package, 'builder')}"
    assert machinery(other) == files
