"""Process-wide state kept while a collection runs: swappable lookups, the garbage collector,
SQLite's foreign-key checking and table rebuilds, the exception classes and verbose names of
rendered models."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.db import NotSupportedError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field
from django.db.models import base as model_base
from django.db.models import options as model_options
from django.db.models.base import ModelBase


@contextmanager
def swappable_names_cached() -> Iterator[None]:
    """Keep the global registry's swappable-setting lookups while collecting.

    Every relation field's ``deconstruct`` asks the global registry which setting may swap
    its target; Django caches that with ``functools.cache`` on the method, which every
    state registry's ``clear_cache`` empties for all registries, so each lookup scans all
    installed models again. Settings and installed models do not change during the call.
    """
    name = "get_swappable_settings_name"
    if name in vars(global_apps):  # already done (a nested or concurrent call)
        yield
        return
    method = Apps.get_swappable_settings_name
    memo: dict[str, str | None] = {}

    def lookup(to_string: str) -> str | None:
        try:
            return memo[to_string]
        except KeyError:
            found = memo[to_string] = method(global_apps, to_string)
            return found

    def cache_clear() -> None:  # the global registry changed after all
        memo.clear()
        method.cache_clear()

    lookup.cache_clear = cache_clear  # type: ignore[attr-defined]
    setattr(global_apps, name, lookup)
    try:
        yield
    finally:
        if vars(global_apps).get(name) is lookup:
            delattr(global_apps, name)


@contextmanager
def older_objects_frozen() -> Iterator[None]:
    """Keep the objects that exist when the collection starts out of the cyclic garbage
    collector's way until it ends.

    Rendering makes much cyclic garbage (model classes), so the collector runs often, and
    each of its full collections walks every object of the process: the migration loader
    and the whole history's operations, more with a longer history, which made the time
    grow faster than the history. Those objects outlive the call; any of them that does
    become garbage is collected after it.
    """
    if not gc.isenabled() or gc.get_freeze_count():
        yield  # the collector is someone else's business here
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextmanager
def _replaced(owner: Any, name: str, make: Callable[[Any], Any]) -> Iterator[None]:
    """``owner.name`` replaced by ``make(original)`` while the block runs; left as it is
    where a nested or concurrent collection replaced it already."""
    original = getattr(owner, name)
    if getattr(original, "_migration_ops_replacement", False):
        yield
        return
    replacement = make(original)
    replacement._migration_ops_replacement = True
    setattr(owner, name, replacement)
    try:
        yield
    finally:
        setattr(owner, name, original)


def verbose_names_cached() -> AbstractContextManager[None]:
    """Derive each model class name's default verbose name once while collecting.

    ``Options.contribute_to_class`` turns every model class's name into its verbose name
    with a regular expression; collection renders the same few hundred names again and
    again (a fiftieth of a collection on SQLite). The function is pure.
    """

    def make(original: Callable[[str], str]) -> Callable[[str], str]:
        memo: dict[str, str] = {}

        def camel_case_to_spaces(value: str) -> str:
            try:
                return memo[value]
            except KeyError:
                found = memo[value] = original(value)
                return found

        return camel_case_to_spaces

    return _replaced(model_options, "camel_case_to_spaces", make)


@contextmanager
def constraint_checking_off_once(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """On SQLite, turn foreign-key checking off once for the whole collection.

    Each SQLite schema editor turns it off on entry, and on exit runs ``PRAGMA
    foreign_key_check`` over the whole database and turns it back on: five queries per
    migration, the check reading every foreign key's rows of a large database, while an
    editor that collects SQL changes nothing. The refusal inside a transaction stays.
    """
    if connection.vendor != "sqlite":
        yield
        return
    # Set and deleted through getattr/setattr/delattr, which django.db.connection forwards.
    if getattr(connection, "_migration_ops_checking_off", False):  # a nested call
        yield
        return
    if not connection.disable_constraint_checking():
        connection.enable_constraint_checking()
        raise NotSupportedError(
            "SQLite schema editor cannot be used while foreign key constraint checks are "
            "enabled: collect the SQL outside any transaction."
        )
    stand_ins = {
        "_migration_ops_checking_off": True,
        "disable_constraint_checking": lambda: True,
        "enable_constraint_checking": lambda: None,
        "check_constraints": lambda table_names=None: None,
    }
    for name, value in stand_ins.items():
        setattr(connection, name, value)
    try:
        yield
    finally:
        for name in stand_ins:
            delattr(connection, name)
        connection.enable_constraint_checking()


def state_model_exceptions_shared() -> AbstractContextManager[None]:
    """Give every rendering of a model in a state registry the same ``DoesNotExist`` and
    ``MultipleObjectsReturned`` classes while collecting.

    ``ModelBase`` creates both exception classes for every model class, a tenth of the
    cost of a render; collection renders each model again after each operation on it, and
    nothing raises or catches those exceptions (no ``RunPython`` runs). Models of the
    global registry, created meanwhile by another thread, keep their own.
    """

    def make(original: Callable[..., type]) -> Callable[..., type]:
        shared: dict[tuple[object, ...], type] = {}

        def subclass_exception(
            name: str, bases: tuple[type, ...], module: str, attached_to: type
        ) -> type:
            if attached_to._meta.apps is global_apps:
                return original(name, bases, module, attached_to)
            key = (name, bases, module, attached_to.__qualname__)
            found = shared.get(key)
            if found is None:
                found = shared[key] = original(name, bases, module, attached_to)
            return found

        return subclass_exception

    return _replaced(model_base, "subclass_exception", make)


@contextmanager
def sqlite_rebuild_stand_in_skipped(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """Skip the model SQLite's ``_remake_table`` builds only for self-references to
    resolve to, where the table has none, while collecting.

    Every table rebuild builds two model classes: a copy of the model under its own name,
    "solely for foreign key reference resolution purposes" (Django's comment) and never
    used otherwise, then the ``new__`` model whose table it creates. Without a
    self-referential field nothing resolves to the first one; building it was a seventh
    of a collection on SQLite.
    """
    if connection.vendor != "sqlite":
        yield
        return
    # Subclasses (SpatiaLite's) reach Django's through super().
    from django.db.backends.sqlite3.schema import DatabaseSchemaEditor

    code = DatabaseSchemaEditor._remake_table.__code__
    original = ModelBase.__dict__["__new__"]
    if getattr(original, "stand_in_skipped", False):  # a nested or concurrent call
        yield
        return

    def new(cls: type, name: str, bases: tuple[type, ...], attrs: dict[str, Any], **kw: Any) -> Any:
        caller = sys._getframe(1)
        if caller.f_code is code and _unused_stand_in(caller.f_locals.get("model"), attrs):
            return None  # _remake_table drops it
        return original.__func__(cls, name, bases, attrs, **kw)

    new.stand_in_skipped = True  # type: ignore[attr-defined]
    ModelBase.__new__ = staticmethod(new)  # type: ignore[assignment]
    try:
        yield
    finally:
        ModelBase.__new__ = original  # type: ignore[assignment]


def _unused_stand_in(model: Any, attrs: dict[str, Any]) -> bool:
    """Whether ``attrs`` is the body of ``_remake_table``'s first model (the rebuilt
    model's own table, not ``new__``) and no field of it refers to a model lazily (the
    self-references ``_remake_table`` clones)."""
    meta = attrs.get("Meta")
    if model is None or meta is None or getattr(meta, "db_table", None) != model._meta.db_table:
        return False
    return not any(
        isinstance(value, Field)
        and value.remote_field is not None
        and isinstance(value.remote_field.model, str)
        for value in attrs.values()
    )
