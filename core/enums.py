"""The core vocabulary: what the audit log can say happened. No models, no queries.

Every ``audit_log`` call names one of these; the admin shows the label. A new kind of change adds its member
here (dotted ``<object>.<what happened>``), so the list of everything the log can hold is in one place.
"""

from __future__ import annotations

from django.db.models import TextChoices


class AuditAction(TextChoices):
    # organizations and keys (core)
    ORGANIZATION_CREATED = "organization.created", "Organization created"
    ORGANIZATION_GPC_SETTINGS_CHANGED = "organization.gpc_settings_changed", "GPC settings changed"
    API_KEY_CREATED = "api_key.created", "API key created"
    API_KEY_REVOKED = "api_key.revoked", "API key revoked"
    PRIVACY_CENTER_BRANDING_CHANGED = "privacy_center.branding_changed", "Privacy center branding changed"
    # the consent catalog and subjects (consent)
    SOURCE_CREATED = "source.created", "Source registered"
    SOURCE_UPDATED = "source.updated", "Source changed"
    SOURCE_RETIRED = "source.retired", "Source retired"
    PURPOSE_CREATED = "purpose.created", "Purpose created"
    PURPOSE_UPDATED = "purpose.updated", "Purpose changed"
    POLICY_VERSION_CREATED = "policy_version.created", "Notice version published"
    SUBJECT_LINKED = "subject.linked", "Subjects linked"
    SUBJECT_ERASED = "subject.erased", "Subject erased (crypto-shredded)"
    SUBJECT_SUPPRESSED = "subject.suppressed", "Identifiers suppressed after erasure"
    CONSENT_STATE_REBUILT = "subject.consent_state_rebuilt", "Consent state rebuilt from the ledger"
    SUBJECT_CONTACT_REVEALED = "subject.contact_revealed", "Subject's contact data revealed to staff"
    CONSENT_RECORDED_BY_STAFF = "consent.recorded_by_staff", "Consent fact recorded by staff (a letter or call)"
    LEDGER_VERIFIED = "ledger.verified", "Ledger verified and the result recorded"
    LEDGER_WITNESS_CREATED = "ledger_witness.created", "Ledger witness registered"
    LEDGER_WITNESS_UPDATED = "ledger_witness.updated", "Ledger witness changed"
    # recipients, signing keys, deliveries, notices and alerts (provenance)
    RECIPIENT_CREATED = "recipient.created", "Recipient registered"
    RECIPIENT_UPDATED = "recipient.updated", "Recipient changed"
    RECIPIENT_WEBHOOK_SECRET_ROTATED = "recipient.webhook_secret_rotated", "Webhook secret rotated"
    SIGNING_KEY_ROTATED = "signing_key.rotated", "Signing key rotated"
    SIGNING_KEY_RETIRED = "signing_key.retired", "Signing key retired"
    SIGNING_KEY_REVOKED = "signing_key.revoked", "Signing key revoked (left the JWKS)"
    DELIVERY_CREATED = "delivery.created", "Delivery accepted"
    DELIVERY_DELIVERED = "delivery.delivered", "Delivery delivered"
    DELIVERY_BLOCKED = "delivery.blocked", "Delivery blocked (no consent)"
    DELIVERY_DEAD = "delivery.dead", "Delivery dead-lettered"
    DELIVERY_REPLAYED = "delivery.replayed", "Dead delivery replayed"
    CONSENT_NOTICE_REPLAYED = "consent_notice.replayed", "Dead consent notice replayed"
    EVIDENCE_PACK_PRODUCED = "subject.evidence_pack_produced", "Evidence pack produced (evidence decrypted)"
    PROVENANCE_ALERT_OPENED = "provenance_alert.opened", "Provenance alert opened"
    PROVENANCE_ALERT_ACKNOWLEDGED = "provenance_alert.acknowledged", "Provenance alert acknowledged"
    PROVENANCE_ALERT_RESOLVED = "provenance_alert.resolved", "Provenance alert resolved"
    # data-subject requests (dsar)
    DSAR_RECEIVED = "dsar.received", "Request received"
    DSAR_TRANSITIONED = "dsar.transitioned", "Request status changed"
    DSAR_VERIFIED = "dsar.verified", "Requester's identity verified"
    DSAR_EXTENDED = "dsar.extended", "Deadline extended"
    DSAR_ASSIGNED = "dsar.assigned", "Request assigned"
    DSAR_FULFILMENT_STARTED = "dsar.fulfilment_started", "Fulfilment started"
    DSAR_FULFILMENT_STEP_DONE = "dsar.fulfilment_step_done", "Fulfilment step done"
    DSAR_DEADLINE_SWEEP = "dsar.deadline_sweep", "Deadline reminders and escalation sent"
    DSAR_EXPORT_DOWNLOADED = "dsar.export_downloaded", "Export downloaded"
    DSAR_EXPORT_PURGED = "dsar.export_purged", "Export deleted after its retention period"
    DSAR_EXPORT_SHREDDED = "dsar.export_shredded", "Export crypto-shredded with its erased subject"
    DSAR_EXPORT_LINK_ISSUED = "dsar.export_link_issued", "Export download link signed"
    DSAR_REQUESTER_CONTACT_REVEALED = "dsar.requester_contact_revealed", "Requester's contact data revealed to staff"
    DSAR_ERASURE_APPROVED = "dsar.erasure_approved", "Erasure approved after review"
    DSAR_ERASURE_CANCELLED = "dsar.erasure_cancelled", "Erasure cancelled before it ran"
    DSAR_DEADLINE_SETTINGS_CHANGED = "dsar.deadline_settings_changed", "Deadline calendar and time zone changed"
    DSAR_CONNECTOR_CREATED = "dsar.connector_created", "Connector registered"
    DSAR_CONNECTOR_SECRET_ROTATED = "dsar.connector_secret_rotated", "Connector secret rotated"
    DSAR_MESSAGE_SENT = "dsar.message_sent", "Message sent to the requester"
    DSAR_MESSAGE_TEMPLATE_CHANGED = "dsar.message_template_changed", "Message template overridden or edited"
    DSAR_MESSAGE_TEMPLATE_RESET = "dsar.message_template_reset", "Message template reset to the default"
    # client users of the compliance reports (reports)
    CLIENT_USER_CREATED = "client_user.created", "Client user created"
    CLIENT_USER_DEACTIVATED = "client_user.deactivated", "Client user deactivated"
    CLIENT_MEMBERSHIP_CREATED = "client_membership.created", "Client membership created"
