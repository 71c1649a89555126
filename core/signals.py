"""Signals core sends so that the apps above it provision their own rows without core importing them."""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside organization_create's transaction, after the row and its audit entry: (organization, actor).
# A receiver that fails rolls the creation back, so an organization never exists half-provisioned.
organization_created = Signal()
