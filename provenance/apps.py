from django.apps import AppConfig


class ProvenanceConfig(AppConfig):
    name = "provenance"
    verbose_name = "Provenance and stamps"

    def ready(self) -> None:
        from consent.selectors import register_checkpoint_keys
        from consent.services import register_checkpoint_signer
        from core.dashboard import register_panel
        from core.signals import organization_created
        from provenance.checkpoint_signing import checkpoint_key, checkpoint_verifier_keys
        from provenance.custody import register_key_custody
        from provenance.dashboard import provenance_dashboard_panel
        from provenance.services.keys import provision_signing_key

        register_key_custody()
        # The ledger's checkpoints are signed, and verified, with the organization's stamp keys.
        register_checkpoint_signer(checkpoint_key)
        register_checkpoint_keys(checkpoint_verifier_keys)
        # A new organization gets its signing key when it is created, so no GET (a receipt, a certificate,
        # the JWKS) ever has to make one.
        organization_created.connect(provision_signing_key, dispatch_uid="provenance-signing-key")

        # The admin index's dashboard (core renders the panel without importing this app).
        register_panel("provenance", provenance_dashboard_panel, order=20)
