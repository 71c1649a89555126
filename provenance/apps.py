from django.apps import AppConfig


class ProvenanceConfig(AppConfig):
    name = "provenance"
    verbose_name = "Provenance and stamps"

    def ready(self) -> None:
        from consent.selectors import register_checkpoint_keys
        from consent.services import register_checkpoint_signer
        from provenance.checkpoint_signing import checkpoint_key, checkpoint_verifier_keys
        from provenance.custody import register_key_custody

        register_key_custody()
        register_checkpoint_signer(checkpoint_key)
        register_checkpoint_keys(checkpoint_verifier_keys)
