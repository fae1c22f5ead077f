"""Field copies for rendering (``core/sql/field_copies.py``): a copy of a pristine clone is
what ``Field.__deepcopy__`` gives, for every field of the test project's states."""

from __future__ import annotations

import copy

from django.apps import apps
from django.db.migrations import operations as ops
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState

from migration_ops.core.sql.field_copies import FieldCopies, _field_copy


def _fields():
    state = ProjectState.from_apps(apps)
    return [f for model_state in state.models.values() for f in model_state.fields.values()]


def test_a_copy_is_what_deepcopy_gives():
    fields = [f.clone() for f in _fields()]
    relations = [f for f in fields if f.remote_field]
    assert len(relations) > 10 and any(f.many_to_many for f in relations)
    for field in fields:
        ours, djangos = _field_copy(field), copy.deepcopy(field)
        assert type(ours) is type(djangos)
        assert ours is not field
        leave_out = {"remote_field", "related_model"}
        assert _attributes(ours, leave_out) == _attributes(djangos, leave_out)
        if field.remote_field:
            assert ours.remote_field is not field.remote_field
            assert type(ours.remote_field) is type(djangos.remote_field)
            assert ours.remote_field.field is ours
            assert {k: v for k, v in vars(ours.remote_field).items() if k != "field"} == {
                k: v for k, v in vars(djangos.remote_field).items() if k != "field"
            }


def test_fresh_copies_count_as_new_fields():
    field = next(f for f in _fields() if not f.auto_created)
    copies = FieldCopies()
    first, second = copies.fresh(field), copies.fresh(field)
    assert first is not second and first.creation_counter < second.creation_counter


def _attributes(field, leave_out):
    # A rename in the history leaves a tuple where __init__ keeps the list it was given.
    return {
        k: tuple(v) if isinstance(v, list) else v
        for k, v in vars(field).items()
        if k not in leave_out
    }


def _migration_fields():
    """The fields of the project's migration files, as its states hold them."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    loader.project_state()  # what building the states caches on them
    fields = []
    for migration in loader.disk_migrations.values():
        for operation in migration.operations:
            if isinstance(operation, ops.CreateModel):
                fields += [f for _, f in operation.fields]
            elif isinstance(operation, (ops.AddField, ops.AlterField)):
                fields.append(operation.field)
    return fields


def test_a_copy_of_a_state_field_is_what_a_clone_gives():
    """Templates are copies of the state's own fields, not clones: the same attributes as
    ``deconstruct`` and ``__init__`` give, but a lazy reference's case, and no related
    model cached (a state's field may have cached it as a string, which a render must
    resolve)."""
    fields = [
        f for f in _migration_fields() if type(f).__module__.startswith("django.db.models.fields")
    ]
    assert len(fields) > 50
    cased = 0
    for field in fields:
        ours, clone = _field_copy(field), field.clone()
        assert "related_model" not in vars(ours)
        leave_out = {"creation_counter", "remote_field"}
        assert _attributes(ours, leave_out) == _attributes(clone, leave_out)
        if field.remote_field:
            leave_out = {"field"}
            mine = _attributes(ours.remote_field, leave_out)
            theirs = _attributes(clone.remote_field, leave_out)
            if mine["model"] != theirs["model"]:
                assert mine["model"].lower() == theirs["model"].lower()
                mine["model"] = theirs["model"]
                cased += 1
            assert mine == theirs
    assert cased  # the one difference shows up (contrib.auth's "auth.Permission")
    # Not vacuous: building the states cached some fields' related models, as strings.
    assert any(isinstance(vars(f).get("related_model"), str) for f in fields)
