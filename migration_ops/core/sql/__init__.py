"""The SQL of a whole ``migrate`` plan in one pass, identical to ``sqlmigrate``'s.

``sqlmigrate`` and ``MigrationLoader.collect_sql`` render the whole project state and keep
it rendered while the plan advances; re-rendering models is most of their time. Here one
*unrendered* state advances through the plan (``state_forwards`` only reloads models when
``apps`` is cached, and it never is), and each operation gets two small states, before and
after it, rendered with just the models its SQL reads:

- in full: the models it touches; when it alters or renames a field, the models pointing
  at that field (or at the primary key, when it is that), further back through
  primary-key or unique relations; when it renames a model, all models pointing at it;
  their bases and explicit through models;
- as *stubs* (their table, primary key and the fields foreign keys name): the models
  those point at, transitively through the stubs' own keys.

As Django does, the state after an operation is rendered as a clone of the state before
it with the changed models rendered again (unchanged stubs are kept), and a rendering of
an earlier state after an operation serves as a later state before one when none of its
models changed since. SQLite's table rebuilds order columns by the fields' creation, so
there the order of rendering follows Django's (see ``reproduce``). Renders copy a clone of
each field made once, rather than clone every field again (:mod:`.field_copies`).

The schema editor is one per migration, as with ``sqlmigrate``: its deferred statements
(foreign keys, indexes) come out at the end of the migration, in :attr:`MigrationSQL.deferred`.

Some SQL needs the live schema: with ``collect_sql=True`` the schema editor still reads
constraint and sequence names from the database (``_constraint_names`` when removing a
``unique_together``/``index_together``, dropping a foreign key column, renaming or
altering a foreign key or a field with constraints, and for the M2M column of a renamed
model; MySQL's ``_create_missing_fk_index``; PostgreSQL's sequence lookups when a field
leaves or joins ``AutoField``). Those reads are watched: when the table read does not
exist in the database, or an earlier operation of the plan changes it first, what the
database says is not what the operation will find, and the operation's SQL is reported
unavailable instead of wrong. An operation whose SQL cannot be produced at all (Django
raises) is reported the same way; the rest of the plan goes on.
"""

from migration_ops.core.sql.collector import Reproduce, collect_plan_sql
from migration_ops.core.sql.results import CANNOT_BE_SQL, NO_OP, MigrationSQL, OperationSQL

__all__ = [
    "CANNOT_BE_SQL",
    "NO_OP",
    "MigrationSQL",
    "OperationSQL",
    "Reproduce",
    "collect_plan_sql",
]
