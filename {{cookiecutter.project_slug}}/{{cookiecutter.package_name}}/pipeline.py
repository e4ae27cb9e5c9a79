"""Fits a polynomial trend to each weather station's daily temperatures: one artifact per pair.

This is the pipeline's own module, the only one to edit. The builder machinery in builder/ calls
what is here and nothing else:
- discover_inputs(): the {{ cookiecutter.input_axis }} ids, discovered at run time;
- estimate_cost(): what one {{ cookiecutter.input_axis }} costs to build, so the cheapest go first;
- PARAM_REGISTRY: the {{ cookiecutter.param_axis }} names and their settings;
- PHASES: the build phases, run in order, each recorded when it completes;
- input_files() and FINGERPRINT (optional): the files each artifact records in its provenance,
  and how `manifest --stale` tells whether they changed since.
- resources (optional): what a build asks a cluster for in the array files of
  `plan --slurm` (and --sge, --pbs, --lsf); see the comment above PARAM_REGISTRY.
- exclude() (optional): the pairs that do not apply, each with its reason: never built.
- GATHERS (optional): aggregates over the done artifacts, built after them (a leaderboard here).
- IGNORE_LIBRARIES (optional): libraries whose version changes make nothing stale ("*": all).
Import heavy libraries inside your phases: every builder command imports this module. Each build
records the code it runs, function by function, so an edit makes stale only the artifacts whose
builds ran what changed (docs/provenance.md).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .builder.building.context import BuildContext

# One CSV (day,temperature) per weather station; each file's stem is its {{ cookiecutter.input_axis }} id.
INPUT_FOLDER = Path(__file__).resolve().parent.parent / "data"
INPUT_SUFFIX = ".csv"

# The unit of estimate_cost(), shown in the manifest's labels.
COST_UNIT = "bytes"

# Name -> settings. "cost" orders the manifest after the input's own cost (cheapest first); the
# rest is for the phases: here the polynomial's degree, and "model", a key of FITTERS (default
# "polynomial"). An entry may also say what
# its builds ask a cluster for: "resources": {"mem": "4G", "time": "1:00:00", "cpus": 2} (keys
# cpus, mem, time, partition, gpus). To decide per pair instead, define
# `def resources(input_id: str, param_name: str, cost: float) -> dict[str, Any]`; its answer goes
# over the entry's. Neither makes an artifact stale; `plan --slurm --mem 8G` goes over both.
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


def exclude(input_id: str, param_name: str) -> str | None:
    """Why a pair does not apply, or None: a polynomial needs more days than its degree."""
    degree = PARAM_REGISTRY[param_name].get("degree", 0)
    days = days_recorded(input_id)
    if days > degree:
        return None
    return f"a degree-{degree} fit needs {degree + 1} days; {input_id} has {days}"


@functools.cache
def days_recorded(input_id: str) -> int:
    """The days in an input's CSV (a line each, after the header), counted once per command
    however many pairs ask: exclude() runs for every pair in every command."""
    with open(input_path(input_id), "rb") as handle:
        return sum(1 for _ in handle) - 1


# How input files are fingerprinted in each artifact's provenance: "stat" (size and mtime: free,
# but a copy or checkout that changes mtimes makes artifacts stale) or "content" (sha256: reads
# every input file once per run of `build` or `manifest --stale`).
FINGERPRINT = "stat"


def input_files(input_id: str) -> list[Path]:
    """The files an input's artifacts are built from: a change to one makes them stale."""
    return [input_path(input_id)]


# --- the build phases, run in this order; each returns a short summary for the info log ---


def load_samples(ctx: BuildContext) -> str:
    """Parse the station's rows into samples.json, kept in the staging folder for later phases."""
    samples = read_samples(input_path(ctx.input_id))
    ctx.write_json("samples.json", samples)
    return f"{len(samples)} rows"


def fit_model(ctx: BuildContext) -> str:
    """Fit the parameter's model (a key of FITTERS) into model.json."""
    fit = FITTERS[ctx.params.get("model", "polynomial")]
    model = fit(ctx.read_json("samples.json"), ctx.params)
    ctx.write_json("model.json", model)
    return f"degree {model['degree']}"


def write_artifact(ctx: BuildContext) -> str:
    """The artifact: each day's temperature, the model's prediction and the residual.

    ctx.write_table stores rows in a SQLite, CSV, JSON, JSON Lines or Parquet (with pyarrow)
    artifact; for another format, write ctx.artifact_path with that format's library, imported
    here.
    """
    rows = predictions(ctx.read_json("samples.json"), ctx.read_json("model.json"))
    ctx.write_table(["day", "temperature", "predicted", "residual"], rows, name="predictions")
    return f"rmse {metrics(rows)['rmse']:.3f}"


PHASES = [load_samples, fit_model, write_artifact]


def leaderboard(ctx: BuildContext) -> str:
    """Every fit's rmse, ranked within its station: read from the done artifacts (ctx.members)."""
    scores = []
    for member in ctx.members:
        columns, rows = ctx.read_table(member.path, name="predictions")
        residual = columns.index("residual")
        errors = [float(row[residual]) for row in rows]
        rmse = (sum(error * error for error in errors) / len(errors)) ** 0.5
        scores.append((member.input_id, member.param_name, round(rmse, 4)))
    scores.sort(key=lambda score: (score[0], score[2]))
    ranked = [
        (*score, 1 + sum(other[0] == score[0] for other in scores[:place]))
        for place, score in enumerate(scores)
    ]
    ctx.write_table(["input", "param", "rmse", "rank"], ranked, name="leaderboard")
    return f"{len(ranked)} fits ranked"


# Aggregates over the done artifacts, each built after them by `build`: "over" is "all" (one for
# the matrix), "{{ cookiecutter.input_axis }}" (one per {{ cookiecutter.input_axis }}) or "{{ cookiecutter.param_axis }}" (one per {{ cookiecutter.param_axis }}).
GATHERS = {"leaderboard": {"over": "all", "function": leaderboard}}


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


def fit_polynomial(samples: list[tuple[int, float]], params: dict[str, Any]) -> dict[str, Any]:
    """Least-squares polynomial in the day scaled to [-1, 1], keeping the fit well-conditioned."""
    degree = params["degree"]
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


# Model name -> the function that fits it: a build depends only on the entry its parameter reads,
# so a model added here (with its function and registry entries) makes no other artifact stale.
FITTERS = {"polynomial": fit_polynomial}


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
