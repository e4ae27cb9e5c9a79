"""The private variables cookiecutter.json derives from the answers render as intended."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import TEMPLATE
from cookiecutter.generate import generate_context
from cookiecutter.prompt import prompt_for_config


def rendered(**answers: str) -> dict[str, Any]:
    context = generate_context(str(TEMPLATE / "cookiecutter.json"), extra_context=answers)
    return dict(prompt_for_config(context, no_input=True))


@pytest.mark.parametrize(
    ("answer", "extension", "kind"),
    [
        pytest.param("db", "db", "sqlite", id="db"),
        pytest.param(".sqlite", "sqlite", "sqlite", id="dot-sqlite"),
        pytest.param(" .SQLite3 ", "SQLite3", "sqlite", id="padded-mixed-case"),
        pytest.param("db3", "db3", "sqlite", id="db3"),
        pytest.param("json", "json", "json", id="json"),
        pytest.param(".jsonl", "jsonl", "jsonl", id="dot-jsonl"),
        pytest.param("CSV", "CSV", "csv", id="upper-csv"),
        pytest.param("parquet", "parquet", "parquet", id="parquet"),
        pytest.param("npz", "npz", "other", id="no-writer"),
        pytest.param(".json.gz", "json.gz", "other", id="compound"),
        pytest.param("..db", ".db", "other", id="only-one-dot-stripped"),
    ],
)
def test_extension_and_kind(answer: str, extension: str, kind: str) -> None:
    context = rendered(artifact_extension=answer)
    assert (context["__extension"], context["__artifact_kind"]) == (extension, kind)


@pytest.mark.parametrize(
    ("project_name", "slug", "package"),
    [
        pytest.param("Perm Builder", "perm-builder", "perm_builder", id="default"),
        pytest.param(
            "Dr. O'Brien's Models!", "dr-o-brien-s-models", "dr_o_brien_s_models", id="punct"
        ),
        pytest.param("Café Crème 2", "cafe-creme-2", "cafe_creme_2", id="accents"),
    ],
)
def test_names_derive_from_the_project_name(project_name: str, slug: str, package: str) -> None:
    context = rendered(project_name=project_name)
    assert (context["project_slug"], context["package_name"]) == (slug, package)


@pytest.mark.parametrize(
    ("axis", "plural"),
    [
        pytest.param("input", "inputs", id="s"),
        pytest.param("batch", "batches", id="ch"),
        pytest.param("data_box", "data_boxes", id="x"),
        pytest.param("category", "categories", id="consonant-y"),
        pytest.param("day", "days", id="vowel-y"),
        pytest.param("species", "specieses", id="irregular-is-the-user-s-to-state"),
    ],
)
def test_each_plural_defaults_to_the_regular_plural_of_its_axis(axis: str, plural: str) -> None:
    context = rendered(input_axis=axis, param_axis=f"{axis}2")
    assert (context["input_axis_plural"], context["param_axis_plural"]) == (plural, f"{axis}2s")


def test_a_stated_plural_replaces_the_default() -> None:
    context = rendered(input_axis="species", input_axis_plural="species")
    assert context["input_axis_plural"] == "species"
