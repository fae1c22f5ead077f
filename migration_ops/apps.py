from django.apps import AppConfig
from django.core import checks


class MigrationOpsConfig(AppConfig):
    name = "migration_ops"
    verbose_name = "Migration operations"

    def ready(self) -> None:
        from migration_ops.checks import check_references_to_removed_apps, check_settings

        checks.register(check_settings)
        checks.register(check_references_to_removed_apps)
