"""Writes of the provenance app: import the submodule (``provenance.services.stamping`` etc.); this package has
no face."""
