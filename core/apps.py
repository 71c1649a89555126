from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Organizations and access"

    def ready(self) -> None:
        from core import checks  # noqa: F401  (registers the "provenant" system checks)
        from core.staff_roles import sync_staff_roles_after_migrate

        post_migrate.connect(sync_staff_roles_after_migrate, dispatch_uid="core-staff-roles")
