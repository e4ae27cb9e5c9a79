"""Record the answers in the baked project and tell the user what to run next."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

# Rendered by cookiecutter as a JSON string: the answers are data, never pasted into code.
ANSWERS: dict[str, object] = json.loads(r"""{{ cookiecutter | tojson }}""")

# A cookiecutter config file: `cookiecutter <template> --no-input --config-file <it>` bakes again.
ANSWERS_FILE = ".cookiecutter-answers.yaml"
ANSWERS_HEADER = f"""\
# The answers this project was baked with, as a cookiecutter config file. Bake it again with:
#   cookiecutter <template> --no-input --config-file {ANSWERS_FILE}
# No paths and no template version here: .cruft.json, when cruft made the project, records those.
"""
# Characters a YAML reader refuses or folds (DEL, C1 controls with NEL, the Unicode line breaks):
# JSON leaves them raw when it keeps non-ASCII text as is, so they are escaped as \uXXXX.
YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufffe\uffff]")

# The baked pyproject.toml keeps pytest and pytest-xdist in a "test" dependency group, which uv
# installs on request.
# The baked README's quick start prints the same commands (tests/test_post_gen.py holds them equal).
TEST_RUNNERS = {"uv run": "uv run --group test -m pytest", "python": "python -m pytest"}


def yaml_value(value: object) -> str:
    """JSON is YAML's flow style: its escapes are YAML's, and non-ASCII text stays readable."""
    dumped = json.dumps(value, ensure_ascii=False)
    return YAML_UNSAFE.sub(lambda match: f"\\u{ord(match[0]):04x}", dumped)


def answers_config(answers: dict[str, object]) -> str:
    """The public answers; private ones are derived again, and cookiecutter's own are paths."""
    lines = [
        f"  {name}: {yaml_value(value)}"
        for name, value in answers.items()
        if not name.startswith("_")
    ]
    return "\n".join([ANSWERS_HEADER + "default_context:", *lines]) + "\n"


def next_steps(slug: str, package: str, runner: str) -> list[str]:
    builder = f"{runner} -m {package}.builder"
    return [
        f"cd {slug}",
        f"{builder} manifest",
        f"{builder} build --output-folder output",
        TEST_RUNNERS[runner],
    ]


def main() -> int:
    # cookiecutter runs this hook in the baked project's root.
    Path(ANSWERS_FILE).write_text(answers_config(ANSWERS), encoding="utf-8", newline="\n")
    package = str(ANSWERS["package_name"])
    steps = next_steps(str(ANSWERS["project_slug"]), package, str(ANSWERS["command_runner"]))
    print("Next steps:", *(f"  {step}" for step in steps), sep="\n", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
