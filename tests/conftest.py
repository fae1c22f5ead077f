from __future__ import annotations

import pytest
from django.db import connections


def pytest_report_header(config: pytest.Config) -> list[str]:
    from django.conf import settings

    return [
        f"migration_ops databases: {alias}={db['ENGINE'].rsplit('.', 1)[-1]}"
        for alias, db in settings.DATABASES.items()
    ]


@pytest.fixture
def vendor() -> str:
    return connections["default"].vendor


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many kill points each fault-injection run covered (tests/faults.py)."""
    from tests.faults import SUMMARY

    if SUMMARY:
        terminalreporter.section("fault injection")
        for line in SUMMARY:
            terminalreporter.write_line(line)
