"""Following a schema editor into the virtual catalogue: the statements it collects and its
methods that create, change and drop tables, as they run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.backends.ddl_references import Columns, Statement, Table
from django.db.models import CheckConstraint, UniqueConstraint

from migration_ops.core.sql.catalogue import Catalogue, Constraints, make_entry, unquoted


class Follower:
    """Keeps a :class:`Catalogue` in step with what one schema editor collects."""

    def __init__(
        self,
        catalogue: Catalogue,
        editor: BaseDatabaseSchemaEditor,
        live: Callable[[], set[str]],
    ) -> None:
        self.catalogue = catalogue
        self.editor = editor
        self.live = live

    def _follow(self, table: str) -> Constraints | None:
        return self.catalogue.follow(table, self.live())

    # ------------------------------------------------------------------ statements

    def executed(self, sql: Any) -> None:
        if not isinstance(sql, Statement):
            return
        parts = sql.parts
        table_ref = parts.get("table")
        if not isinstance(table_ref, Table):
            return
        table = table_ref.table
        template = " ".join(sql.template.split()).upper()
        catalogue = self.catalogue
        if self._follow(table) is None:
            return
        if "RENAME" in template and "old_name" in parts:
            catalogue.rename(table, unquoted(parts["old_name"]), unquoted(parts["new_name"]))
        elif template.startswith(("DROP", "SET CONSTRAINTS")) or " DROP " in template:
            if "PRIMARY KEY" in template:
                catalogue.drop_primary_key(table)
            elif "name" in parts:
                catalogue.drop(table, unquoted(parts["name"]))
        elif "name" in parts and ("CREATE" in template or "ADD CONSTRAINT" in template):
            columns_ref = parts.get("columns", parts.get("column"))
            columns = list(columns_ref.columns) if isinstance(columns_ref, Columns) else None
            name = unquoted(parts["name"])
            uncertain = columns is None  # an expression index: columns unknown
            columns = columns or []
            if "FOREIGN KEY" in template:
                to_table, to_column = parts["to_table"], parts["to_column"]
                fk = (to_table.table, next(iter(to_column.columns)))
                catalogue.add(table, name, make_entry(columns, foreign_key=fk, uncertain=uncertain))
            elif "PRIMARY KEY" in template:
                mysql = catalogue.vendor == "mysql"
                catalogue.drop_primary_key(table)
                catalogue.add(
                    table,
                    "PRIMARY" if mysql else name,
                    make_entry(columns, primary_key=True, unique=True, index=mysql),
                )
            elif "CHECK" in template:
                catalogue.add(table, name, make_entry(columns, check=True, uncertain=uncertain))
            elif "INDEX" in template:
                unique = "UNIQUE" in template
                catalogue.add(
                    table, name, make_entry(columns, unique=unique, index=True, uncertain=uncertain)
                )
            elif "UNIQUE" in template:
                index = catalogue.vendor == "mysql"
                catalogue.add(
                    table, name, make_entry(columns, unique=True, index=index, uncertain=uncertain)
                )

    # ------------------------------------------------------------------ editor methods

    def _inline_field(self, model: Any, field: Any, params: dict[str, Any], *, added: bool) -> None:
        """What ``column_sql`` declares inline for ``field`` (of ``db_parameters``
        ``params``), and its inline foreign key."""
        catalogue, editor = self.catalogue, self.editor
        table = model._meta.db_table
        column = field.column
        if field.primary_key and added:
            catalogue.inline_primary_key(table, [column])
        elif field.unique and not field.primary_key:
            catalogue.inline_unique(table, column)
        if params["check"]:
            catalogue.inline_check(table, column)
        if not (field.remote_field and field.db_constraint):
            return
        inline = editor.sql_create_column_inline_fk if added else editor.sql_create_inline_fk
        if not inline or not editor.connection.features.supports_foreign_keys:
            return  # created later, by a statement of its own
        to = field.target_field
        fk = (to.model._meta.db_table, to.column)
        if "%(name)s" in inline:
            suffix = "_fk_%(to_table)s_%(to_column)s"
            name = unquoted(editor._fk_constraint_name(model, field, suffix))
            catalogue.add(table, name, make_entry([column], foreign_key=fk))
        else:  # SQLite's: a foreign key without a name of its own
            catalogue.add(
                table,
                catalogue.uncertain_name(),
                make_entry([column], foreign_key=fk, uncertain=True),
            )

    def create_model(self, original: Callable[..., Any], model: Any) -> Any:
        result = original(model)
        catalogue = self.catalogue
        table = model._meta.db_table
        catalogue.tables[table] = {}
        meta = model._meta
        pk = [f.column for f in meta.local_fields if f.primary_key and f.column]
        if pk:
            catalogue.inline_primary_key(table, pk)
        connection = self.editor.connection
        for f in meta.local_fields:
            if f.column is None:
                continue
            params = f.db_parameters(connection=connection)
            if params["type"] is not None:
                self._inline_field(model, f, params, added=False)
        for constraint in meta.constraints:
            if constraint.constraint_sql(model, self.editor) is None:
                continue  # created later, by a statement of its own
            columns = [meta.get_field(name).column for name in getattr(constraint, "fields", ())]
            if isinstance(constraint, UniqueConstraint):
                catalogue.add(
                    table,
                    constraint.name,
                    make_entry(columns, unique=True, index=catalogue.vendor == "mysql"),
                )
            elif isinstance(constraint, CheckConstraint):
                catalogue.add(table, constraint.name, make_entry(columns, check=True))
        return result

    def add_field(self, original: Callable[..., Any], model: Any, field: Any) -> Any:
        table = model._meta.db_table
        self._follow(table)
        result = original(model, field)
        if field.many_to_many or field.column is None:
            return result  # a table of its own (create_model), or no column
        params = field.db_parameters(connection=self.editor.connection)
        if params["type"] is None:
            return result
        if table in self.catalogue.tables:  # not rebuilt under another name meanwhile
            self._inline_field(model, field, params, added=True)
        return result

    def remove_field(self, original: Callable[..., Any], model: Any, field: Any) -> Any:
        table = model._meta.db_table
        self._follow(table)
        result = original(model, field)
        if not field.many_to_many and field.column:
            self.catalogue.drop_column(table, field.column)
        return result

    def alter_field(
        self, original: Callable[..., Any], model: Any, old: Any, new: Any, *args: Any, **kw: Any
    ) -> Any:
        table = model._meta.db_table
        self._follow(table)
        if new.remote_field is not None:
            # Foreign keys into a renamed or altered field are read on their own tables.
            for rel in model._meta.related_objects:
                if not rel.many_to_many:
                    self._follow(rel.related_model._meta.db_table)
        result = original(model, old, new, *args, **kw)
        if old.column and new.column and old.column != new.column:
            self.catalogue.rename_column(table, old.column, new.column)
        return result

    def delete_model(self, original: Callable[..., Any], model: Any, *args: Any, **kw: Any) -> Any:
        result = original(model, *args, **kw)
        self.catalogue.drop_table(model._meta.db_table)
        return result

    def alter_db_table(self, original: Callable[..., Any], model: Any, old: str, new: str) -> Any:
        self._follow(old)
        result = original(model, old, new)
        if old != new:
            self.catalogue.rename_table(old, new)
        return result

    def before(self, table: str) -> None:
        self._follow(table)


_FOLLOWED = (
    "create_model",
    "add_field",
    "remove_field",
    "alter_field",
    "delete_model",
    "alter_db_table",
)
# Editor methods that change a table's constraints through statements only: the table is
# followed (read from the database first) before they run.
_TOUCHING = (
    "alter_unique_together",
    "alter_index_together",
    "add_index",
    "remove_index",
    "rename_index",
    "add_constraint",
    "remove_constraint",
)


@contextmanager
def following(
    catalogue: Catalogue, editor: BaseDatabaseSchemaEditor, live: Callable[[], set[str]]
) -> Iterator[None]:
    """Follow what ``editor`` collects into ``catalogue`` while the block runs."""
    follower = Follower(catalogue, editor, live)
    execute = editor.execute

    def traced_execute(sql: Any, params: Any = ()) -> Any:
        result = execute(sql, params)
        follower.executed(sql)
        return result

    def hook(name: str) -> Callable[..., Any]:
        original = getattr(editor, name)
        handler = getattr(follower, name)
        return lambda *args, **kwargs: handler(original, *args, **kwargs)

    def touching(name: str) -> Callable[..., Any]:
        original = getattr(editor, name)

        def run(model: Any, *args: Any, **kwargs: Any) -> Any:
            follower.before(model._meta.db_table)
            return original(model, *args, **kwargs)

        return run

    constraint_names = editor._constraint_names

    def traced_constraint_names(model: Any, *args: Any, **kwargs: Any) -> list[str]:
        names = constraint_names(model, *args, **kwargs)
        table = model._meta.db_table
        if catalogue.knows(table) and catalogue.uncertain(table, names):
            catalogue.uncertain_reads.append(table)
        return names

    editor.execute = traced_execute  # type: ignore[method-assign]
    editor._constraint_names = traced_constraint_names  # type: ignore[method-assign]
    for name in _FOLLOWED:
        setattr(editor, name, hook(name))
    for name in _TOUCHING:
        setattr(editor, name, touching(name))
    try:
        yield
    finally:
        for name in ("execute", "_constraint_names", *_FOLLOWED, *_TOUCHING):
            vars(editor).pop(name, None)
