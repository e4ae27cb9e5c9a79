"""Names that follow from the two axes chosen at bake time: entry keys, flags, subcommands."""

from __future__ import annotations

from .. import settings


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


INPUT_AXIS = settings.INPUT_AXIS
PARAM_AXIS = settings.PARAM_AXIS

# Entry keys and argparse destinations: input_id / param_name, or dataset_id / model_name.
INPUT_KEY = f"{INPUT_AXIS}_id"
PARAM_KEY = f"{PARAM_AXIS}_name"

INPUT_FLAG = _flag(INPUT_KEY)
PARAM_FLAG = _flag(PARAM_KEY)

LIST_INPUTS = "list-" + settings.INPUT_AXIS_PLURAL.replace("_", "-")
LIST_PARAMS = "list-" + settings.PARAM_AXIS_PLURAL.replace("_", "-")
