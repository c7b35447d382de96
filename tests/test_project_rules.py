"""The dbt project held to dbt-project-evaluator's rules (the package cannot be fetched here)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from spotiflow.settings import Settings
from tests.support.helpers import PROJECT_DIR, demo_artifacts, query

LAYERS = {
    "staging": re.compile(
        r"^models/staging/(?P<source>[a-z0-9_]+)/stg_(?P=source)__[a-z0-9_]+\.sql$"
    ),
    "intermediate": re.compile(r"^models/intermediate/int_[a-z0-9_]+\.sql$"),
    "marts": re.compile(r"^models/marts/(fct|dim)_[a-z0-9_]+\.sql$"),
}
PRIMARY_KEY_TESTS = {"unique", "unique_combination_of_columns"}


@pytest.fixture(scope="module")
def manifest(demo_settings: Settings) -> dict:
    return json.loads((demo_artifacts(demo_settings) / "manifest.json").read_text("utf-8"))


def _models(manifest: dict) -> list[dict]:
    return [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]


def _layer(model: dict) -> str:
    return Path(model["original_file_path"]).parts[1]


def test_every_model_sits_in_its_layer_folder_with_its_layer_name(manifest: dict) -> None:
    for model in _models(manifest):
        layer = _layer(model)
        assert layer in LAYERS, f"{model['name']} is outside staging/intermediate/marts"
        assert LAYERS[layer].match(model["original_file_path"]), model["original_file_path"]


def test_each_source_is_read_by_exactly_one_staging_model(manifest: dict) -> None:
    readers: dict[str, list[str]] = {source: [] for source in manifest["sources"]}
    for model in _models(manifest):
        for parent in model["depends_on"]["nodes"]:
            if parent.startswith("source."):
                readers[parent].append(model["name"])
                assert _layer(model) == "staging", f"{model['name']} reads source {parent}"
    for source, models in readers.items():
        assert len(models) == 1, f"{source} is read by {models or 'no model'}"


def test_staging_models_read_only_sources(manifest: dict) -> None:
    for model in _models(manifest):
        if _layer(model) == "staging":
            assert all(p.startswith("source.") for p in model["depends_on"]["nodes"]), model["name"]
            assert model["config"]["materialized"] == "view"


def test_every_model_has_a_primary_key_test(manifest: dict) -> None:
    tested = set()
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or "test_metadata" not in node:
            continue
        if node["test_metadata"]["name"] in PRIMARY_KEY_TESTS:
            tested.update((node.get("attached_node") and [node["attached_node"]]) or [])
    untested = [m["name"] for m in _models(manifest) if m["unique_id"] not in tested]
    assert untested == []


def test_every_model_and_column_is_described(manifest: dict, demo_settings: Settings) -> None:
    relations = query(
        demo_settings,
        "select table_schema, table_name, column_name from information_schema.columns",
    )
    built: dict[tuple[str, str], set[str]] = {}
    for schema, table, column in relations:
        built.setdefault((schema, table), set()).add(column)
    for model in _models(manifest):
        assert model["description"].strip(), f"{model['name']} has no description"
        documented = {name for name, c in model["columns"].items() if c["description"].strip()}
        actual = built[(model["schema"], model["alias"])]
        assert actual <= documented, f"{model['name']}: undescribed {sorted(actual - documented)}"
        assert set(model["columns"]) <= actual, f"{model['name']}: documents absent columns"


def test_marts_enforce_contracts_and_live_in_schema_marts(manifest: dict) -> None:
    for model in _models(manifest):
        if _layer(model) == "marts":
            assert model["config"]["contract"]["enforced"], model["name"]
            assert model["schema"] == "marts"
            assert model["config"]["materialized"] in {"table", "incremental"}


def test_marts_are_public_and_owned_the_rest_protected(manifest: dict) -> None:
    # What the evaluator asks of exposures' parents: the marts are public, in a group with an
    # owner; staging and intermediate stay the project's own.
    [group] = manifest["groups"].values()
    assert group["owner"]["name"] and group["owner"]["email"]
    for model in _models(manifest):
        if _layer(model) == "marts":
            assert (model["access"], model["group"]) == ("public", group["name"]), model["name"]
        else:
            assert (model["access"], model["group"]) == ("protected", None), model["name"]
    for exposure in manifest["exposures"].values():
        for parent in exposure["depends_on"]["nodes"]:
            assert manifest["nodes"][parent]["access"] == "public", parent


def test_formulas_live_in_macros_not_in_models() -> None:
    # The score weights and vibe thresholds appear nowhere in model SQL: only macros hold them.
    for path in (PROJECT_DIR / "models").rglob("*.sql"):
        sql = path.read_text(encoding="utf-8")
        assert not re.search(r"/\s*3\b|0\.25|0\.75|Feeling Great", sql), path


def test_unit_test_names_fit_postgresql_identifiers(manifest: dict) -> None:
    """dbt names a unit test's relations after it, and PostgreSQL cuts identifiers at 63
    bytes: a longer name fails the unit test on PostgreSQL only."""
    too_long = [name for test in manifest["unit_tests"].values() if len(name := test["name"]) > 63]
    assert too_long == []
