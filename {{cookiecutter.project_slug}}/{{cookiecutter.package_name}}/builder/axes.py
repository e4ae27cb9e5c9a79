"""Names that follow from the two axes chosen at bake time: entry keys, flags, subcommands."""

from __future__ import annotations

from .. import settings


def _plural(word: str) -> str:
    """English plural good enough for an axis name: dataset -> datasets, class -> classes."""
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        return word[:-1] + "ies"
    return word + "s"


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


INPUT_AXIS = settings.INPUT_AXIS
PARAM_AXIS = settings.PARAM_AXIS

# Entry keys and argparse destinations: input_id / param_name, or dataset_id / model_name.
INPUT_KEY = f"{INPUT_AXIS}_id"
PARAM_KEY = f"{PARAM_AXIS}_name"

INPUT_FLAG = _flag(INPUT_KEY)
PARAM_FLAG = _flag(PARAM_KEY)

LIST_INPUTS = "list-" + _plural(INPUT_AXIS).replace("_", "-")
LIST_PARAMS = "list-" + _plural(PARAM_AXIS).replace("_", "-")
