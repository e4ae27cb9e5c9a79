"""The answers this builder was baked with; the builder machinery reads every name from here."""

from __future__ import annotations

PROJECT_NAME = {{ cookiecutter.project_name | tojson }}
PACKAGE = {{ cookiecutter.package_name | tojson }}
DESCRIPTION = {{ cookiecutter.description | tojson }}

# The first axis: its values are discovered at run time by pipeline.discover_inputs().
INPUT_AXIS = {{ cookiecutter.input_axis | tojson }}
# The second axis: its values are the keys of pipeline.PARAM_REGISTRY.
PARAM_AXIS = {{ cookiecutter.param_axis | tojson }}

# The plurals name the list subcommands: list-<plural>, with '_' written '-'.
INPUT_AXIS_PLURAL = {{ cookiecutter.input_axis_plural | tojson }}
PARAM_AXIS_PLURAL = {{ cookiecutter.param_axis_plural | tojson }}

# Each artifact is <output folder>/<permutation_id>.<ARTIFACT_EXTENSION>.
ARTIFACT_EXTENSION = {{ cookiecutter.__extension | tojson }}

# Prefix of the self-commands that `manifest --commands` prints.
COMMAND_RUNNER = {{ cookiecutter.command_runner | tojson }}

# Where `manifest` and `build` look when --output-folder is not given, relative to the project root.
DEFAULT_OUTPUT_FOLDER = "output"
