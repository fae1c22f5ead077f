"""Narrowing: when altering a column's type may lose or refuse values."""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field

# Integer types by width, for narrowing checks.
_INT_WIDTH = {
    "SmallIntegerField": 2,
    "PositiveSmallIntegerField": 2,
    "SmallAutoField": 2,
    "IntegerField": 4,
    "PositiveIntegerField": 4,
    "AutoField": 4,
    "BigIntegerField": 8,
    "PositiveBigIntegerField": 8,
    "BigAutoField": 8,
}
# Type changes known not to lose values (internal types, from -> to).
_WIDENING = {
    ("CharField", "TextField"),
    ("SlugField", "TextField"),
    ("SlugField", "CharField"),
    ("DateField", "DateTimeField"),
}


def column_type(f: Field, connection: BaseDatabaseWrapper) -> str | None:
    if f.is_relation:
        return None  # needs the rendered target; compared through deconstruct instead
    try:
        return f.db_type(connection)
    except Exception:  # a third-party field that needs a model
        return None


def narrowing_reason(old: Field, new: Field, connection: BaseDatabaseWrapper) -> str | None:
    """Why altering ``old`` into ``new`` may lose values, or None."""
    if old.is_relation or new.is_relation:
        return None
    old_type, new_type = column_type(old, connection), column_type(new, connection)
    if old_type == new_type:
        return None
    old_kind, new_kind = old.get_internal_type(), new.get_internal_type()
    old_len, new_len = getattr(old, "max_length", None), getattr(new, "max_length", None)
    if old_len is not None and new_len is not None and new_len < old_len:
        return f"shrinks it from {old_type} to {new_type}: longer values are cut or fail"
    if old_len is None and new_len is not None and old_kind == "TextField":
        return f"shrinks it from {old_type} to {new_type}: longer values are cut or fail"
    if old_kind == new_kind == "DecimalField":
        if new.max_digits < old.max_digits or new.decimal_places < old.decimal_places:
            return f"shrinks it from {old_type} to {new_type}: digits are lost or values fail"
        return None
    if old_kind in _INT_WIDTH and new_kind in _INT_WIDTH:
        if _INT_WIDTH[new_kind] < _INT_WIDTH[old_kind]:
            return f"shrinks it from {old_type} to {new_type}: large values fail"
        return None
    if old_kind == new_kind or (old_kind, new_kind) in _WIDENING:
        return None
    if old_len is not None and new_len is not None and new_len >= old_len:
        return None  # same kind of bounded text, wider
    return (
        f"changes its type from {old_type} to {new_type}: values that do not convert are "
        f"lost or fail"
    )
