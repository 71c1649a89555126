"""Admin for the legal team: the catalog (sources, purposes, policy versions), subjects with their
consent state beside their ledger, and the ledger itself, which is strictly read-only. Importing the
modules registers their pages."""

from consent.admin import catalog, ledger
from consent.admin.catalog import OrganizationLedgerAdmin

__all__ = ["OrganizationLedgerAdmin", "catalog", "ledger"]
