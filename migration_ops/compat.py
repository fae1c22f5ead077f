"""Every difference between the Django versions this package supports (5.2, 6.0, 6.1).

Each helper is named after what differs and says in a short comment which Django version
changed it and, where there is one, the ticket. Code elsewhere calls these helpers, or tests a
feature, and never compares ``django.VERSION``.
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper


def sqlite_can_drop_column(connection: BaseDatabaseWrapper) -> bool:
    """Whether SQLite's schema editor drops a plain column with ``ALTER TABLE ... DROP COLUMN``
    instead of remaking the table."""
    # Django 6.1 removed DatabaseFeatures.can_alter_table_drop_column: its minimum SQLite
    # (3.37) always can (6.1 release notes).
    return getattr(connection.features, "can_alter_table_drop_column", True)
