"""What is left to do after a removal, which the command cannot do itself."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from migration_ops.services.removal.wording import quoted

if TYPE_CHECKING:
    from migration_ops.core.references import Reference
    from migration_ops.services.removal.plan import AppToRemove


def left_to_do(
    apps: Iterable[AppToRemove], references: Iterable[Reference] = ()
) -> tuple[str, ...]:
    """What the command cannot do: settings, code that refers to the apps, packages."""
    out = []
    references = tuple(references)
    for app in apps:
        if app.installed:
            out.append(f"Remove {app.installed_apps_entry!r} from INSTALLED_APPS.")
        out += [
            f"Remove what refers to '{r.package}' at {r.location}: {r.text}."
            for r in references
            if r.package == app.package
        ]
        if app.distributions and app.distribution_shared_with:
            out.append(
                f"Keep the distribution {', '.join(app.distributions)} installed: it also "
                f"provides {quoted(app.distribution_shared_with)}."
            )
        elif app.distributions:
            out.append(f"Uninstall its distribution: pip uninstall {' '.join(app.distributions)}")
        elif app.module is not None:
            where = f" ({app.module_path})" if app.module_path else ""
            out.append(
                f"'{app.package or app.module}' is part of this project, not an installed "
                "distribution: "
                f"delete its code{where} once nothing imports it."
            )
    return tuple(out)
