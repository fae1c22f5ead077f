from __future__ import annotations

import pytest
from django.core.checks import Error, Warning
from django.test import override_settings

from migration_ops.checks import check_settings


def test_default_settings_pass():
    assert check_settings() == []


@override_settings(MIGRATION_OPS=["scheduler_*"])
def test_setting_must_be_a_dict():
    [message] = check_settings()
    assert isinstance(message, Error)
    assert message.id == "migration_ops.E001"
    assert message.msg == "MIGRATION_OPS should be a dict, not list."


@override_settings(MIGRATION_OPS={"IGNORED_TABLE": ["x"]})
def test_unknown_key():
    [message] = check_settings()
    assert message.id == "migration_ops.E001"
    assert message.msg == "MIGRATION_OPS has an unknown key 'IGNORED_TABLE'."
    assert message.hint == (
        "Known keys: IGNORED_TABLES, LONG_LOCK_BYTES, LONG_LOCK_ROWS, REHEARSAL_DATABASE_NAME."
    )


@pytest.mark.parametrize("value", ["", 5])
def test_rehearsal_database_name_must_be_a_name(value):
    with override_settings(MIGRATION_OPS={"REHEARSAL_DATABASE_NAME": value}):
        [message] = check_settings()
    assert message.id == "migration_ops.E001"
    assert message.msg == (
        "MIGRATION_OPS['REHEARSAL_DATABASE_NAME'] should be a database name (a file on "
        f"SQLite), not {value!r}."
    )


@pytest.mark.parametrize("value", ["scheduler_*", [1]])
def test_ignored_tables_must_be_strings(value):
    with override_settings(MIGRATION_OPS={"IGNORED_TABLES": value}):
        [message] = check_settings()
    assert message.id == "migration_ops.E001"


@override_settings(MIGRATION_OPS={"IGNORED_TABLES": ["library_*"]})
def test_pattern_matching_a_model_table_warns():
    messages = check_settings()
    assert [(type(m), m.id, m.msg) for m in messages] == [
        (
            Warning,
            "migration_ops.W001",
            "MIGRATION_OPS['IGNORED_TABLES'] matches 'library_author', the table of "
            "library.Author.",
        ),
        (
            Warning,
            "migration_ops.W001",
            "MIGRATION_OPS['IGNORED_TABLES'] matches 'library_book', the table of library.Book.",
        ),
    ]


@pytest.mark.parametrize("value", [-1, "10", 1.5, True])
def test_long_lock_thresholds_must_be_whole_numbers(value):
    with override_settings(MIGRATION_OPS={"LONG_LOCK_ROWS": value}):
        [message] = check_settings()
    assert message.id == "migration_ops.E001"
    assert (
        message.msg
        == f"MIGRATION_OPS['LONG_LOCK_ROWS'] should be a whole number >= 0, not {value!r}."
    )
    assert message.hint == "The default is 1000000."


def test_thresholds_read_through_conf():
    from migration_ops.conf import conf

    assert (conf.LONG_LOCK_ROWS, conf.LONG_LOCK_BYTES) == (1_000_000, 1024**3)
    with override_settings(MIGRATION_OPS={"LONG_LOCK_ROWS": 5, "LONG_LOCK_BYTES": 0}):
        assert (conf.LONG_LOCK_ROWS, conf.LONG_LOCK_BYTES) == (5, 0)
