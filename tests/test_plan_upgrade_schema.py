"""Real ``plan_upgrade --format json`` documents validated against the shipped JSON Schema."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from django.core.management import call_command
from django.db import connection
from jsonschema import Draft202012Validator

from migration_ops.core.diff import KINDS
from migration_ops.core.operations import Risk
from tests.utils import run_command

SCHEMA = json.loads(
    resources.files("migration_ops").joinpath("schemas/plan_upgrade.schema.json").read_text()
)


def validated(*args: str, **options: object) -> dict:
    out, err, code = run_command("plan_upgrade", *args, format="json", **options)
    assert code in (0, 1), err
    document = json.loads(out)
    errors = [e.message for e in Draft202012Validator(SCHEMA).iter_errors(document)]
    assert errors == []
    return document


def test_schema_is_a_valid_json_schema():
    Draft202012Validator.check_schema(SCHEMA)


def test_schema_enums_follow_the_code():
    assert SCHEMA["$defs"]["risk_class"]["enum"] == [risk.value for risk in Risk]
    drift = SCHEMA["properties"]["findings"]["items"]["allOf"][0]["then"]["properties"]
    assert drift["detail"]["properties"]["difference"]["enum"] == list(KINDS)


@pytest.mark.django_db(databases=["default", "other"])
def test_clean_database():
    assert validated()["findings"] == []


@pytest.mark.django_db(databases=["default", "other"])
def test_backward_plan_with_risks_and_rollback():
    document = validated("legacy", "zero")
    assert document["risk_classes"]
    assert document["migrations"][-1]["operations"][0]["risks"]


@pytest.mark.django_db(databases=["default", "other"], transaction=True)
def test_pending_plan_with_sql_rollback_and_findings():
    quote = connection.ops.quote_name
    call_command("migrate", "shop", "0001", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {quote('shop_archive')} (id integer PRIMARY KEY)")
        cursor.execute(f"ALTER TABLE {quote('library_author')} ADD COLUMN {quote('x')} date NULL")
    try:
        document = validated("--sql")
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {quote('shop_archive')}")
            cursor.execute(f"ALTER TABLE {quote('library_author')} DROP COLUMN {quote('x')}")
        call_command("migrate", verbosity=0)
    assert [m["name"] for m in document["migrations"]] == ["0002_order_customer"]
    assert document["migrations"][0]["sql"]
    assert document["rollback"][0]["command"] == "migrate shop 0001_initial"
    assert sorted(f["kind"] for f in document["findings"]) == ["orphan-table", "schema-drift"]


@pytest.mark.django_db(databases=["default", "other"], transaction=True)
def test_unowned_object_finding():
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE VIEW {quote('author_names')} AS SELECT name FROM library_author")
    try:
        document = validated()
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP VIEW {quote('author_names')}")
    assert [(f["kind"], f["subject"], f["detail"]) for f in document["findings"]] == [
        ("unowned-object", "author_names", {"object": "author_names", "object_kind": "view"})
    ]


def test_schema_knows_every_object_kind():
    from migration_ops.core.schema import OBJECT_NOUNS

    unowned = SCHEMA["properties"]["findings"]["items"]["allOf"][1]["then"]["properties"]
    assert unowned["detail"]["properties"]["object_kind"]["enum"] == list(OBJECT_NOUNS)
