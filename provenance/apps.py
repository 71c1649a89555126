from django.apps import AppConfig


class ProvenanceConfig(AppConfig):
    name = "provenance"
    verbose_name = "Provenance and stamps"

    def ready(self) -> None:
        from provenance.custody import register_key_custody

        register_key_custody()
