"""Fresh field clones for rendering model states, made once and copied after."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.migrations import operations as ops
from django.db.migrations.state import ModelState, ProjectState, StateApps
from django.db.models import Field
from django.utils.functional import cached_property

from migration_ops.core.states import (
    ModelKey,
)

# Modules of the field classes whose copy (``Field.__deepcopy__``: the attributes, and a
# relation object of its own) of a fresh clone is as good as a fresh clone: Django's own,
# which keep no other state of their own that rendering changes (an ``ArrayField``'s base
# field would be shared, a custom field might keep anything).
_COPYABLE_FIELD_MODULES = frozenset(
    {
        "django.db.models.fields",
        "django.db.models.fields.files",
        "django.db.models.fields.json",
        "django.db.models.fields.proxy",
        "django.db.models.fields.related",
    }
)


class FieldCopies:
    """Fresh unbound clones of model-state fields, for rendering.

    ``ModelState.render`` clones every field (``deconstruct`` and ``__init__``), most of
    the cost of a render. Fields in model states are never bound, and a changed field is
    mostly a new object, so each is cloned once, and later renders get copies of that
    pristine clone, with the creation counter ``__init__`` would have given them (SQLite's
    table rebuilds order columns by it). A clone, not a copy of the state's field: the
    operations' field objects are shared by every loader of the process, and whatever set
    attributes on them (a ``name`` kept by ``set_attributes_from_name``, a cached related
    model) would carry into the render. The few operations that change fields in place
    make their clones forgotten (see ``KEEPS_FIELDS``).
    """

    def __init__(self) -> None:
        # id(field) -> (field, its pristine clone); the field is held so the id stays its.
        self._templates: dict[int, tuple[Field, Field]] = {}

    def forget(self, model_states: Iterable[ModelState] | None) -> None:
        """Drop the clones of these model states' fields (all, for None): they may have
        been changed in place."""
        if model_states is None:
            self._templates.clear()
            return
        for model_state in model_states:
            for f in model_state.fields.values():
                self._templates.pop(id(f), None)

    def fresh(self, field: Field) -> Field:
        entry = self._templates.get(id(field))
        if entry is None:
            if type(field).__module__ not in _COPYABLE_FIELD_MODULES:
                return field.clone()
            entry = self._templates[id(field)] = (field, field.clone())
        copy = _field_copy(entry[1])
        if copy.auto_created:  # as Field.__init__ counts
            copy.creation_counter = Field.auto_creation_counter
            Field.auto_creation_counter -= 1
        else:
            copy.creation_counter = Field.creation_counter
            Field.creation_counter += 1
        return copy

    def renderable(self, model_state: ModelState) -> ModelState:
        """A twin of ``model_state`` whose ``render`` takes its fields from here."""
        twin = object.__new__(ModelState)
        twin.__dict__.update(model_state.__dict__)
        twin.fields = {name: _FieldCopy(self, f) for name, f in model_state.fields.items()}
        return twin


def _field_copy(field: Field) -> Field:
    """``field.__deepcopy__({})`` without the ``copy`` module's dispatch: the field's own
    ``__copy__``, and its relation object copied as ``copy.copy`` does one without
    ``__copy__`` (a new object given its ``__getstate__``)."""
    copy = field.__copy__()
    relation = field.remote_field
    if relation:
        twin = object.__new__(type(relation))
        twin.__dict__.update(relation.__getstate__())
        if getattr(relation, "field", None) is field:
            twin.field = copy
        copy.remote_field = twin
    return copy


# Operations whose state changes replace fields rather than change them in place.
# ``RenameField`` rewrites the ``to_field`` of the fields pointing at the renamed one;
# ``SeparateDatabaseAndState`` and operations from elsewhere may do anything.
KEEPS_FIELDS = frozenset(
    {
        ops.CreateModel,
        ops.DeleteModel,
        ops.RenameModel,
        ops.AlterModelTable,
        ops.AlterModelTableComment,
        ops.AlterUniqueTogether,
        ops.AlterIndexTogether,
        ops.AlterOrderWithRespectTo,
        ops.AlterModelOptions,
        ops.AlterModelManagers,
        ops.AddIndex,
        ops.RemoveIndex,
        ops.RenameIndex,
        ops.AddConstraint,
        ops.RemoveConstraint,
        ops.AddField,
        ops.RemoveField,
        ops.AlterField,
        ops.RunSQL,
        ops.RunPython,
    }
)


class _FieldCopy:
    """Stands for a field in a model state given to ``ModelState.render``, which only
    calls ``clone()`` on its fields."""

    __slots__ = ("copies", "field")

    def __init__(self, copies: FieldCopies, field: Field) -> None:
        self.copies = copies
        self.field = field

    def clone(self) -> Field:
        return self.copies.fresh(self.field)


class Snapshot(ProjectState):
    """A small state of the plan, rendered with :class:`FieldCopies` when first used."""

    def __init__(
        self, models: dict[ModelKey, ModelState], real_apps: set[str], copies: FieldCopies
    ) -> None:
        super().__init__(models=models, real_apps=real_apps)
        self.copies = copies

    @cached_property
    def apps(self) -> StateApps:  # type: ignore[override]
        copies = self.copies
        return StateApps(
            self.real_apps, {key: copies.renderable(m) for key, m in self.models.items()}
        )
