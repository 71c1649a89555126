"""Admin for the legal team: the catalog (sources, purposes, policy versions), subjects with their
consent state beside their ledger, the ledger itself, which is strictly read-only, and the witnesses its
checkpoints are pushed to. Importing the modules registers their pages."""

from consent.admin import catalog, ledger, witnesses
from consent.admin.catalog import OrganizationLedgerAdmin

__all__ = ["OrganizationLedgerAdmin", "catalog", "ledger", "witnesses"]
