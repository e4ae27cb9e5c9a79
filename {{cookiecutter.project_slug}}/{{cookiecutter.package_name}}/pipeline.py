"""Fits a polynomial trend to each weather station's daily temperatures: one artifact per pair.

This is the pipeline's own module, the only one to edit. The builder machinery in builder/ calls
what is here and nothing else:
- discover_inputs(): the {{ cookiecutter.input_axis }} ids, discovered at run time;
- estimate_cost(): what one {{ cookiecutter.input_axis }} costs to build, so the cheapest go first;
- PARAM_REGISTRY: the {{ cookiecutter.param_axis }} names and their settings;
- PHASES: the build phases, run in order, each recorded when it completes;
- input_files() and FINGERPRINT (optional): the files each artifact records in its provenance,
  and how `manifest --stale` tells whether they changed since.
Keep module level light: `manifest` and `list-*` import this module on every run, so heavy
imports belong inside the phase functions.
"""

from __future__ import annotations

import os
from pathlib import Path

# typing.TYPE_CHECKING without importing typing (4 ms on every `manifest`): names for annotations.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .builder.context import BuildContext

# One CSV (day,temperature) per weather station; each file's stem is its {{ cookiecutter.input_axis }} id.
INPUT_FOLDER = Path(__file__).resolve().parent.parent / "data"
INPUT_SUFFIX = ".csv"

# The unit of estimate_cost(), shown in the manifest's labels.
COST_UNIT = "bytes"

# Name -> settings. "cost" orders the manifest after the input's own cost (cheapest first); the
# rest is for the phases: here the degree of the fitted polynomial.
PARAM_REGISTRY: dict[str, dict[str, Any]] = {
{%- for name in cookiecutter.param_values.split(",") %}
    {{ name.strip() | tojson }}: {"cost": {{ loop.index }}, "degree": {{ loop.index }}},
{%- endfor %}
}


def discover_inputs() -> list[str]:
    """The stems of the CSV files in INPUT_FOLDER, read afresh on every run."""
    with os.scandir(INPUT_FOLDER) as listing:
        names = [item.name for item in listing if item.is_file()]
    return sorted(name[: -len(INPUT_SUFFIX)] for name in names if name.endswith(INPUT_SUFFIX))


def estimate_cost(input_id: str) -> int:
    """The input's size in bytes: the build reads every row, so bigger files cost more."""
    return os.stat(input_path(input_id)).st_size


def input_path(input_id: str) -> Path:
    return INPUT_FOLDER / f"{input_id}{INPUT_SUFFIX}"


# How input files are fingerprinted in each artifact's provenance: "stat" (size and mtime: free,
# but a copy or checkout that changes mtimes makes artifacts stale) or "content" (sha256: reads
# every input file once per run of `build` or `manifest --stale`).
FINGERPRINT = "stat"


def input_files(input_id: str) -> list[Path]:
    """The files an input's artifacts are built from: a change to one makes them stale."""
    return [input_path(input_id)]


# --- the build phases, run in this order; each returns a short summary for the info log ---
{%- if cookiecutter.__artifact_kind == "sqlite" %}


def load_samples(ctx: BuildContext) -> str:
    """Copy the station's rows into the samples table."""
    samples = read_samples(input_path(ctx.input_id))
    ctx.db.execute("DROP TABLE IF EXISTS samples")
    ctx.db.execute("CREATE TABLE samples (day INTEGER PRIMARY KEY, temperature REAL NOT NULL)")
    ctx.db.executemany("INSERT INTO samples VALUES (?, ?)", samples)
    return f"{len(samples)} rows"


def fit_model(ctx: BuildContext) -> str:
    """Fit the polynomial of the parameter's degree and store its coefficients."""
    samples = ctx.db.execute("SELECT day, temperature FROM samples ORDER BY day").fetchall()
    model = fit_polynomial(samples, ctx.params["degree"])
    ctx.db.execute("DROP TABLE IF EXISTS model")
    ctx.db.execute("CREATE TABLE model (name TEXT PRIMARY KEY, value REAL NOT NULL)")
    ctx.db.executemany(
        "INSERT INTO model VALUES (?, ?)",
        [("day_min", model["day_min"]), ("day_max", model["day_max"])]
        + [(f"c{power}", value) for power, value in enumerate(model["coefficients"])],
    )
    return f"degree {model['degree']}"


def write_artifact(ctx: BuildContext) -> str:
    """Store each day's prediction and residual, and the fit's metrics."""
    samples = ctx.db.execute("SELECT day, temperature FROM samples ORDER BY day").fetchall()
    stored = dict(ctx.db.execute("SELECT name, value FROM model"))
    model = {
        "day_min": stored["day_min"],
        "day_max": stored["day_max"],
        "coefficients": [stored[f"c{p}"] for p in range(ctx.params["degree"] + 1)],
    }
    rows = predictions(samples, model)
    ctx.db.execute("DROP TABLE IF EXISTS predictions")
    ctx.db.execute(
        "CREATE TABLE predictions (day INTEGER PRIMARY KEY, temperature REAL, predicted REAL,"
        " residual REAL)"
    )
    ctx.db.executemany("INSERT INTO predictions VALUES (?, ?, ?, ?)", rows)
    scores = metrics(rows)
    ctx.db.execute("DROP TABLE IF EXISTS metrics")
    ctx.db.execute("CREATE TABLE metrics (name TEXT PRIMARY KEY, value REAL NOT NULL)")
    ctx.db.executemany("INSERT INTO metrics VALUES (?, ?)", sorted(scores.items()))
    return f"rmse {scores['rmse']:.3f}"
{%- else %}


def load_samples(ctx: BuildContext) -> str:
    """Parse the station's rows into samples.json in the staging dir."""
    samples = read_samples(input_path(ctx.input_id))
    ctx.write_json("samples.json", samples)
    return f"{len(samples)} rows"


def fit_model(ctx: BuildContext) -> str:
    """Fit the polynomial of the parameter's degree into model.json."""
    model = fit_polynomial(ctx.read_json("samples.json"), ctx.params["degree"])
    ctx.write_json("model.json", model)
    return f"degree {model['degree']}"
{%- if cookiecutter.__artifact_kind == "json" %}


def write_artifact(ctx: BuildContext) -> str:
    """One JSON document: the model, its metrics and each day's prediction."""
    model = ctx.read_json("model.json")
    rows = predictions(ctx.read_json("samples.json"), model)
    scores = metrics(rows)
    columns = ["day", "temperature", "predicted", "residual"]
    ctx.write_json(
        ctx.artifact_path,
        {
            "permutation": {
                "{{ cookiecutter.input_axis }}": ctx.input_id,
                "{{ cookiecutter.param_axis }}": ctx.param_name,
            },
            "fit": model,
            "metrics": scores,
            "predictions": [dict(zip(columns, row, strict=True)) for row in rows],
        },
    )
    return f"rmse {scores['rmse']:.3f}"
{%- elif cookiecutter.__artifact_kind == "jsonl" %}


def write_artifact(ctx: BuildContext) -> str:
    """JSON Lines: one object per day with its prediction and residual."""
    import json

    model = ctx.read_json("model.json")
    rows = predictions(ctx.read_json("samples.json"), model)
    columns = ["day", "temperature", "predicted", "residual"]
    lines = [json.dumps(dict(zip(columns, row, strict=True))) + "\n" for row in rows]
    ctx.write_text(ctx.artifact_path, "".join(lines))
    return f"rmse {metrics(rows)['rmse']:.3f}"
{%- elif cookiecutter.__artifact_kind == "csv" %}


def write_artifact(ctx: BuildContext) -> str:
    """CSV with a header: each day with its prediction and residual."""
    import csv
    import io

    model = ctx.read_json("model.json")
    rows = predictions(ctx.read_json("samples.json"), model)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["day", "temperature", "predicted", "residual"])
    writer.writerows(rows)
    ctx.write_text(ctx.artifact_path, text.getvalue())
    return f"rmse {metrics(rows)['rmse']:.3f}"
{%- else %}


def write_artifact(ctx: BuildContext) -> str:
    """Write ctx.artifact_path as a real .{{ cookiecutter.__extension }} file: yours to implement.

    The standard library has no .{{ cookiecutter.__extension }} writer, so this demo refuses to fake one. Read
    the fitted model with ctx.read_json("model.json") and the rows with
    predictions(ctx.read_json("samples.json"), model), then write them with the library your
    format needs (imported here, inside the phase, so that `manifest` stays fast).
    """
    raise NotImplementedError(
        "write_artifact in {{ cookiecutter.package_name }}/pipeline.py: no standard-library writer for"
        " .{{ cookiecutter.__extension }} artifacts; implement it with your format's library"
    )
{%- endif %}
{%- endif %}


PHASES = [load_samples, fit_model, write_artifact]


# --- the demo's arithmetic: plain Python, so the demo needs nothing installed ---


def read_samples(path: Path) -> list[tuple[int, float]]:
    """(day, temperature) rows of a station's CSV, with the line named when one is malformed."""
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        samples = []
        for row in reader:
            try:
                samples.append((int(row["day"]), float(row["temperature"])))
            except (KeyError, TypeError, ValueError) as error:
                raise ValueError(f"{path} line {reader.line_num}: {error}") from None
    return samples


def fit_polynomial(samples: list[tuple[int, float]], degree: int) -> dict[str, Any]:
    """Least-squares polynomial in the day scaled to [-1, 1], keeping the fit well-conditioned."""
    days = [day for day, _ in samples]
    day_min, day_max = min(days), max(days)
    scaled = [(_scale(day, day_min, day_max), value) for day, value in samples]
    size = degree + 1
    normal = [[sum(u ** (i + j) for u, _ in scaled) for j in range(size)] for i in range(size)]
    target = [sum(value * u**i for u, value in scaled) for i in range(size)]
    return {
        "degree": degree,
        "day_min": day_min,
        "day_max": day_max,
        "coefficients": _solve(normal, target, degree),
    }


def predictions(
    samples: list[tuple[int, float]], model: dict[str, Any]
) -> list[tuple[int, float, float, float]]:
    """(day, temperature, predicted, residual) for every sample."""
    rows = []
    for day, value in samples:
        u = _scale(day, model["day_min"], model["day_max"])
        predicted = sum(c * u**power for power, c in enumerate(model["coefficients"]))
        rows.append((day, value, round(predicted, 4), round(value - predicted, 4)))
    return rows


def metrics(rows: list[tuple[int, float, float, float]]) -> dict[str, float]:
    """Root-mean-square error and R squared of the fit."""
    mean = sum(value for _, value, _, _ in rows) / len(rows)
    residual_ss = sum(residual**2 for *_, residual in rows)
    total_ss = sum((value - mean) ** 2 for _, value, _, _ in rows) or 1.0
    return {"rmse": (residual_ss / len(rows)) ** 0.5, "r_squared": 1 - residual_ss / total_ss}


def _scale(day: float, day_min: float, day_max: float) -> float:
    return 0.0 if day_max == day_min else (2 * day - day_min - day_max) / (day_max - day_min)


def _solve(matrix: list[list[float]], vector: list[float], degree: int) -> list[float]:
    """Gaussian elimination with partial pivoting; refuses a degree the samples cannot determine."""
    size = len(vector)
    rows = [row[:] + [value] for row, value in zip(matrix, vector, strict=True)]
    for col in range(size):
        pivot = max(range(col, size), key=lambda r: abs(rows[r][col]))
        if abs(rows[pivot][col]) < 1e-12:
            raise ValueError(f"degree {degree} needs at least {degree + 1} distinct days")
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(col + 1, size):
            factor = rows[r][col] / rows[col][col]
            for c in range(col, size + 1):
                rows[r][c] -= factor * rows[col][c]
    solution = [0.0] * size
    for r in reversed(range(size)):
        known = sum(rows[r][c] * solution[c] for c in range(r + 1, size))
        solution[r] = (rows[r][size] - known) / rows[r][r]
    return solution
