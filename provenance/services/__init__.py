"""Writes of the provenance app: import the submodule (``provenance.services.stamping`` etc.); this package has
no face."""

# temporary alias for reports and other apps' tests; removed after the merge
from provenance.services.recipients import recipient_create as recipient_create
