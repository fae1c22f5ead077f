"""Field copies for rendering (``core/sql/field_copies.py``): a copy of a pristine clone is
what ``Field.__deepcopy__`` gives, for every field of the test project's states."""

from __future__ import annotations

import copy

from django.apps import apps
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
        assert _attributes(ours, {"remote_field"}) == _attributes(djangos, {"remote_field"})
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
