"""The answers the template supports, shared by every test that bakes them."""

from __future__ import annotations

import pytest

# Axis names whose plurals are irregular and hold underscores.
IRREGULAR_PLURALS = {"input_axis": "data_batch", "param_axis": "fit_category"}

SUPPORTED = [
    pytest.param({}, id="defaults"),
    pytest.param({"input_axis": "dataset", "param_axis": "model"}, id="dataset-x-model"),
    pytest.param({"param_values": "tiny,huge"}, id="two-params"),
    pytest.param({"param_values": " a1 , b.2,c-3 ,D_4"}, id="four-params-spaced"),
    pytest.param(IRREGULAR_PLURALS, id="irregular-plurals"),
    pytest.param({"artifact_extension": ".sqlite"}, id="ext-dot-sqlite"),
    pytest.param({"artifact_extension": "sqlite3"}, id="ext-sqlite3"),
    pytest.param({"artifact_extension": "json"}, id="ext-json"),
    pytest.param({"artifact_extension": "jsonl"}, id="ext-jsonl"),
    pytest.param({"artifact_extension": "csv"}, id="ext-csv"),
    pytest.param({"artifact_extension": "parquet"}, id="ext-parquet"),
    pytest.param({"command_runner": "python"}, id="runner-python"),
    pytest.param(
        {"project_name": "Dr. O'Brien's \"Weather\" Models & Co!", "command_runner": "python"},
        id="punctuated-name",
    ),
]

# Bakes that run their own test suite. The machinery's tests build the test pipeline, so what
# they can meet differs by the artifact kind (progress inside a SQLite artifact or in a file
# beside it) and by axis names (underscores become dashes in flags). Two bakes run the whole
# suite: MACHINERY_BAKES (the defaults: SQLite) in test_baked_e2e.py, as a user with plain pip
# runs it, and SWAPPED_ANSWERS (CSV with irregular axis names: two supported answers in one bake)
# in test_swapped_pipeline.py, its demo replaced by a pipeline unlike it, so that one run proves
# the file kind, the axis names and that the suite never needs the demo. The others run what
# differs with their answers: the contract of their own pipeline.py (its cheapest permutation
# built for real) and ctx.write_table for their kind. Every bake still runs its CLI end to end.
MACHINERY_BAKES = {"defaults"}
SWAPPED_ANSWERS = {**IRREGULAR_PLURALS, "artifact_extension": "csv"}
OWN_SUITE_BAKES = {
    *MACHINERY_BAKES,
    *("four-params-spaced", "ext-json", "ext-jsonl", "ext-csv", "ext-parquet", "punctuated-name"),
}
OWN_SUITE = [param for param in SUPPORTED if param.id in OWN_SUITE_BAKES]

# Every question answered, none with its default: how scripts and CI bake without prompts.
EVERY_ANSWER = {
    "project_name": "Weather Models",
    "project_slug": "wx-trends",
    "package_name": "wx_trends",
    "description": 'Fits "trends" per station \\ model.',
    "input_axis": "station",
    "input_axis_plural": "stations",
    "param_axis": "model",
    "param_axis_plural": "model_sizes",
    "param_values": "small,base,large",
    "artifact_extension": "jsonl",
    "command_runner": "python",
}
