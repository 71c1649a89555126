from django.apps import AppConfig


class ProvenanceConfig(AppConfig):
    name = "provenance"
    verbose_name = "Provenance and stamps"

    def ready(self) -> None:
        from core.signals import organization_created
        from provenance.custody import register_key_custody
        from provenance.services.keys import provision_signing_key

        register_key_custody()
        # A new organization gets its signing key when it is created, so no GET (a receipt, a certificate,
        # the JWKS) ever has to make one.
        organization_created.connect(provision_signing_key, dispatch_uid="provenance-signing-key")
