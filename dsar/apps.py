from django.apps import AppConfig


class DsarConfig(AppConfig):
    name = "dsar"
    verbose_name = "DSAR"

    def ready(self) -> None:
        from core.dashboard import register_panel
        from core.key_custody import (
            BlindIndexColumn,
            WrappedKeyColumn,
            register_blind_index_column,
            register_wrapped_key_column,
        )
        from dsar import checks  # noqa: F401  (registers the DSAR settings checks)
        from dsar.dashboard import dsar_dashboard_panel
        from dsar.models import Connector, DataSubjectRequest, DsarExport
        from dsar.seal_contexts import CONNECTOR_SECRET_PURPOSE, DATA_KEY_PURPOSE
        from dsar.selectors import requester_email_reindexed

        # Every wrapped key DSAR stores, bound to (table, public id, purpose): rewrap_keys re-wraps and binds them
        # (keys written before the binding are accepted until then) and refuses one copied to another row.
        for column in (
            WrappedKeyColumn(DataSubjectRequest, "wrapped_data_key", DATA_KEY_PURPOSE, owner_field="public_id"),
            WrappedKeyColumn(DsarExport, "wrapped_data_key", DATA_KEY_PURPOSE, owner_field="public_id"),
            WrappedKeyColumn(
                Connector, "secret_sealed", CONNECTOR_SECRET_PURPOSE, owner_field="public_id", encoding="base64"
            ),
        ):
            register_wrapped_key_column(column)

        # The admin index's dashboard (core renders the panel without importing this app).
        register_panel("dsar", dsar_dashboard_panel, order=10)

        # The requester email's blind index: re-keyed with the others, and filled for requests filed before it
        # was kept (the migration cannot: it would have to open each sealed address).
        register_blind_index_column(
            BlindIndexColumn(DataSubjectRequest, ("requester_email_index",), recompute=requester_email_reindexed)
        )
