"""Old home of the connector code: now ``dsar.connector_calls`` (HTTP) and ``dsar.services`` (writes)."""

from dsar.connector_calls import call_connectors  # temporary alias for provenance tests; removed after the merge
from dsar.services import connector_create  # temporary alias for provenance tests; removed after the merge

__all__ = ["call_connectors", "connector_create"]
