from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = "Consent ledger"

    def ready(self) -> None:
        from consent.custody import register_consent_custody
        from consent.dashboard import consent_dashboard_panel
        from consent.ledger_guard import ensure_ledger_guard
        from core.dashboard import register_panel

        register_consent_custody()

        # SQLite drops a table's triggers when a migration rebuilds it: put them back every time.
        post_migrate.connect(ensure_ledger_guard, sender=self, dispatch_uid="consent-ledger-guard")

        # The admin index's dashboard (core renders the panel without importing this app).
        register_panel("consent", consent_dashboard_panel, order=30)
