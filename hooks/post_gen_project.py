"""Tell the user what to run next in the freshly baked project."""

from __future__ import annotations

import json
import sys

# Rendered by cookiecutter as a JSON string: the answers are data, never pasted into code.
ANSWERS: dict[str, object] = json.loads(r"""{{ cookiecutter | tojson }}""")


# The baked pyproject.toml keeps pytest in a "test" dependency group, which uv installs on request.
TEST_RUNNERS = {"uv run": "uv run --group test -m pytest", "python": "python -m pytest"}


def next_steps(slug: str, package: str, runner: str) -> list[str]:
    builder = f"{runner} -m {package}.builder"
    return [
        f"cd {slug}",
        f"{builder} manifest",
        f"{builder} build --output-folder output",
        TEST_RUNNERS[runner],
    ]


def writer_note(package: str, extension: str) -> str:
    return (
        f"note: .{extension} has no standard-library writer; implement write_artifact"
        f" in {package}/pipeline.py before building."
    )


def main() -> int:
    package = str(ANSWERS["package_name"])
    steps = next_steps(str(ANSWERS["project_slug"]), package, str(ANSWERS["command_runner"]))
    print("Next steps:", *(f"  {step}" for step in steps), sep="\n", file=sys.stderr)
    if ANSWERS["__artifact_kind"] == "other":
        print(writer_note(package, str(ANSWERS["__extension"])), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
