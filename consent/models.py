"""Sources, purposes, policy versions, subjects, the append-only consent ledger and its projection."""

from __future__ import annotations

import uuid

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from consent.enums import (
    Action,
    CollectionMethod,
    ConsentStatus,
    GpcChannel,
    ImportFormat,
    ImportStatus,
    LawfulBasis,
    SourceKind,
    SuppressionKind,
    VerificationJobStatus,
    WitnessPushStatus,
)
from consent.ledger import GENESIS_HASH
from core.models import Organization

key_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9._:-]{0,62}[a-z0-9])?$",
    "Lowercase letters, digits, '.', '_', ':' and '-'; at most 64 characters.",
)


class Source(models.Model):
    """Where personal data and consent come from. ``key`` is the source identifier carried everywhere."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sources")
    key = models.CharField(max_length=64, validators=[key_validator])
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=SourceKind.choices)
    vendor_name = models.CharField(max_length=200, blank=True)
    collection_point = models.CharField(
        max_length=500, blank=True, help_text="URL of the form or app screen, or a description."
    )
    lawful_basis = models.CharField(max_length=30, choices=LawfulBasis.choices, default=LawfulBasis.CONSENT)
    dpa_reference = models.CharField("DPA reference", max_length=200, blank=True)
    dpa_date = models.DateField("DPA date", null=True, blank=True)
    is_builtin = models.BooleanField(default=False, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]
        constraints = [models.UniqueConstraint(fields=["organization", "key"], name="source_key_unique")]

    def __str__(self) -> str:
        return self.key


class Purpose(models.Model):
    """A purpose of processing that consent is asked for."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="purposes")
    key = models.CharField(max_length=64, validators=[key_validator])
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    legal_basis = models.CharField(max_length=30, choices=LawfulBasis.choices, default=LawfulBasis.CONSENT)
    dpv_purpose_iri = models.URLField("DPV purpose IRI", max_length=300, blank=True)
    dpv_legal_basis_iri = models.URLField("DPV legal basis IRI", max_length=300, blank=True)
    is_sale_or_sharing = models.BooleanField(default=False)
    is_targeted_advertising = models.BooleanField(default=False)
    is_sensitive = models.BooleanField(default=False)
    validity = models.CharField(
        max_length=40, blank=True, help_text="ISO 8601 duration a grant stays valid, e.g. P6M; empty: no expiry."
    )
    retention = models.CharField(
        max_length=300,
        blank=True,
        help_text="How long the data is kept, as the privacy center tells people (GDPR Art. 13(2)(a)).",
    )
    recipient_categories = models.TextField(
        blank=True,
        help_text="Categories of recipients, one per line (GDPR Art. 13(1)(e)), shown in the privacy center.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]
        constraints = [models.UniqueConstraint(fields=["organization", "key"], name="purpose_key_unique")]

    def __str__(self) -> str:
        return self.key

    @property
    def recipient_category_list(self) -> list[str]:
        return [line.strip() for line in self.recipient_categories.splitlines() if line.strip()]


class PolicyVersion(models.Model):
    """A version of the notice shown for a purpose, pinned by the SHA-256 of its text."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="policy_versions")
    version = models.CharField(max_length=64)
    notice_sha256 = models.CharField(
        "notice SHA-256", max_length=64, validators=[RegexValidator(r"^[0-9a-f]{64}$", "64 lowercase hex digits.")]
    )
    notice_url = models.URLField(max_length=500, blank=True)
    notice_text = models.TextField(
        blank=True,
        help_text="The notice itself, shown in the privacy center; its UTF-8 bytes must hash to the notice SHA-256.",
    )
    effective_at = models.DateTimeField()
    is_material = models.BooleanField(
        default=False, help_text="A material change makes grants under earlier versions stale."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["purpose", "effective_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["purpose", "version"], name="policy_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose.key}@{self.version}"


class Subject(models.Model):
    """A person (or a pseudonymous device/profile) of one organization.

    ``uuid`` is what the ledger hashes, never the external id or any PII. The email is sealed with
    the subject's own data key; ``wrapped_data_key`` is that key wrapped by the master key and is
    set to NULL on erasure (crypto-shredding). ``ledger_length`` and ``ledger_head_hash`` are the
    tip of the subject's hash chain; the row is locked while an event is appended.
    """

    # Not indexed alone: the unique key (organization, external_id) leads with it. Alone, it was the index a stale
    # planner estimate picked for each key lookup, reading the whole organization (see consent 0023).
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="subjects", db_index=False)
    external_id = models.CharField(max_length=255)
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email_sealed = models.TextField(blank=True, editable=False)
    email_index = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    wrapped_data_key = models.BinaryField(null=True, editable=False)
    data_key_destroyed_at = models.DateTimeField(null=True, blank=True, editable=False)
    jurisdiction = models.CharField(max_length=6, blank=True, editable=False, help_text="Last reported")
    ledger_length = models.BigIntegerField(default=0, editable=False)
    ledger_head_hash = models.CharField(max_length=64, default=GENESIS_HASH, editable=False)
    state_inconsistent_since = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Set when ledger verification found a consent state that is not what the subject's events give; "
        "stamping refuses to decide for the subject until the state is rebuilt from the ledger.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["external_id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "external_id"], name="subject_external_id_unique")
        ]
        permissions = [
            ("reveal_subject_contact", "Can reveal a subject's contact data (each reveal is audited)"),
            ("rebuild_consent_state", "Can rebuild a subject's consent state from its ledger (audited)"),
        ]

    def __str__(self) -> str:
        return self.external_id

    @property
    def is_erased(self) -> bool:
        return self.data_key_destroyed_at is not None


class ConsentEvent(models.Model):
    """One append-only ledger entry. A database trigger refuses UPDATE and DELETE.

    ``hash`` is SHA-256 over the canonical form of the fields (see ``consent.ledger``) and
    ``prev_hash``, the hash of the subject's previous event (chain order ``chain_index``).
    ``id`` is the server sequence used to break ordering ties.
    """

    event_id = models.CharField(max_length=26, unique=True, editable=False)
    # Not indexed alone: every access path leads with organization_id in a composite key (issue #16).
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+", db_index=False)
    # Not indexed alone: event_subject_purpose_time leads with it.
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="events", db_index=False)
    chain_index = models.BigIntegerField()
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(max_length=12, choices=Action.choices)
    supersedes = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField()
    valid_until = models.DateTimeField(null=True, blank=True)
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="events")
    collection_method = models.CharField(max_length=20, choices=CollectionMethod.choices)
    policy_version = models.ForeignKey(
        PolicyVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    jurisdiction = models.CharField(max_length=6)
    gpc = models.BooleanField(default=False)
    explicit_confirmation = models.BooleanField(
        default=False, help_text="The client marked this grant as the person's explicit confirmation."
    )
    lifts_gpc_opt_out = models.BooleanField(
        default=False,
        help_text="Decided when recorded: this grant overrides an earlier GPC opt-out (explicit "
        "confirmation, a jurisdiction that allows it, a known person).",
    )
    evidence_sealed = models.TextField(blank=True)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001 (NULL: no key; unique when set)
    request_digest = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["subject_id", "chain_index"]
        constraints = [
            # Led by the organization, the key a distributed database (Citus) shards by (issue #16).
            models.UniqueConstraint(
                fields=["organization", "subject", "chain_index"], name="event_chain_position_unique"
            ),
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="event_idempotency_key_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["subject", "purpose", "occurred_at"], name="event_subject_purpose_time"),
            models.Index(fields=["organization", "recorded_at"], name="event_org_recorded"),
            # Covers the compliance report's events per purpose and day (an index-only scan).
            models.Index(
                fields=["organization", "occurred_at"], include=["purpose", "action"], name="event_org_occurred_cover"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} {self.action}"


class ConsentState(models.Model):
    """Current consent per (subject, purpose), folded from the ledger in the event's transaction.

    Time-dependent statuses (``expired`` once ``valid_until`` passes, ``stale`` after a material
    policy change) are applied when read, so the row is never wrong between sweeps.
    ``last_*`` is the ordering key of the last event folded in: an event that sorts before it
    triggers a replay of the pair's history instead of an incremental step.
    """

    # No foreign-key constraints (db_constraint=False): a state is derived from the ledger, which keeps its own
    # constraints to the same rows, and is checked against the ledger by the integrity check, which finds a state
    # whose events are not the ones its ledger folds to. Their checks ran at every commit, one query per key of every
    # written state (a quarter of PostgreSQL's time in a bulk import), and each locked the event row it named,
    # rewriting that row's page (issue #17). on_delete=PROTECT still guards deletes made through Django.
    # Not indexed alone: the unique key (organization, subject, purpose) leads with it.
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="consent_states", db_constraint=False)
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="consent_states", db_constraint=False)
    status = models.CharField(max_length=12, choices=ConsentStatus.choices)
    since = models.DateTimeField()
    valid_until = models.DateTimeField(null=True, blank=True)
    # Not indexed: nothing looks states up by their events (events are append-only, never deleted), and every write
    # moves a state's events, so each index here was one more entry per write (issue #16).
    event = models.ForeignKey(
        ConsentEvent, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    basis_event = models.ForeignKey(
        ConsentEvent, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="+", db_constraint=False)
    policy_version = models.ForeignKey(
        PolicyVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    jurisdiction = models.CharField(max_length=6)
    gpc = models.BooleanField(default=False)
    gpc_conflict = models.BooleanField(
        default=False, help_text="A GPC opt-out overrode an opt-in that was in force (CCPA regs §7025(c)(3))."
    )
    last_occurred_at = models.DateTimeField()
    last_rank = models.SmallIntegerField()
    last_seq = models.BigIntegerField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # Led by the organization, the key a distributed database (Citus) shards by (issue #16).
            models.UniqueConstraint(fields=["organization", "subject", "purpose"], name="consent_state_unique"),
        ]
        indexes = [
            models.Index(fields=["organization", "status", "valid_until"], name="state_expiry_sweep"),
            # The compliance report: provenance per subject (index-only, in subject order) and GPC conflicts.
            models.Index(
                fields=["organization", "subject"], include=["source", "policy_version"], name="state_org_subject_cover"
            ),
            models.Index(fields=["organization"], condition=Q(gpc_conflict=True), name="state_gpc_conflict"),
        ]

    def __str__(self) -> str:
        return f"{self.subject_id}/{self.purpose_id}: {self.status}"


class LedgerVerificationRun(models.Model):
    """The outcome of one ledger verification, kept for reports and audits."""

    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="ledger_verifications"
    )
    verified_at = models.DateTimeField(default=timezone.now, db_index=True)
    triggered_by = models.CharField(max_length=200)
    is_valid = models.BooleanField()
    subjects_checked = models.BigIntegerField()
    events_checked = models.BigIntegerField()
    ledger_root = models.CharField(max_length=64)
    first_break = models.JSONField(null=True, blank=True)
    mode = models.CharField(max_length=12, default="full", help_text="full, or incremental from the last valid run")
    log_size = models.BigIntegerField(
        null=True, blank=True, help_text="The transparency log's size this run vouches for (one organization)"
    )
    log_root = models.CharField(max_length=64, blank=True, help_text="The log's root at that size (hex)")

    class Meta:
        ordering = ["-verified_at"]

    def __str__(self) -> str:
        return f"{'valid' if self.is_valid else 'BROKEN'} at {self.verified_at:%Y-%m-%d %H:%M}"


class SubjectLink(models.Model):
    """Two subjects known to be the same person (a device or cookie id and an account, say).
    Linked subjects form a cluster to which a GPC signal applies as a whole (CCPA regs §7025(c)(1))."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="+")
    linked_subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subject", "linked_subject"], name="subject_link_unique"),
            models.CheckConstraint(
                condition=models.Q(subject__lt=models.F("linked_subject")), name="subject_link_ordered"
            ),
        ]
        indexes = [models.Index(fields=["linked_subject"], name="subject_link_reverse")]

    def __str__(self) -> str:
        return f"{self.subject_id} <-> {self.linked_subject_id}"


class GpcSignalReceipt(models.Model):
    """Evidence that a Global Privacy Control signal was received for a subject, and what was done.

    One row per subject: the first and latest receipt (refreshed at most hourly), whether it was
    honored and whether a law required it."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    subject = models.OneToOneField(Subject, on_delete=models.PROTECT, related_name="gpc_receipt")
    first_received_at = models.DateTimeField()
    last_received_at = models.DateTimeField()
    channel = models.CharField(max_length=12, choices=GpcChannel.choices)
    raw_value = models.CharField(max_length=64, blank=True)
    jurisdiction = models.CharField(max_length=6, blank=True)
    is_honored = models.BooleanField(default=False)
    honored_at = models.DateTimeField(null=True, blank=True)
    is_legally_required = models.BooleanField(default=False)
    purposes_opted_out = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = "GPC signal receipt"
        indexes = [models.Index(fields=["organization", "is_honored"], name="gpc_receipt_honored")]

    def __str__(self) -> str:
        return f"GPC for subject {self.subject_id}: {'honored' if self.is_honored else 'received'}"


class SuppressedIdentifier(models.Model):
    """A person erased on request must not be imported again: a keyed HMAC (blind index, keyed per
    organization) of one of their identifiers (external id or email), never the identifier itself, and of its
    skeleton (``core.identifiers.identifier_skeleton``: the same for every invisible-character or homoglyph
    variant). New events naming either are refused. Rows kept before the skeleton existed have none: only
    hashes were stored, so it can't be computed for them."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=SuppressionKind.choices)
    identifier_index = models.CharField(max_length=64)
    skeleton_index = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "kind", "identifier_index"], name="suppressed_identifier_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.kind}"


class LedgerLeaf(models.Model):
    """A consent event's place in its organization's transparency log (issue #12): the ``leaf_index``-th leaf,
    assigned by the sequencer in commit order. ``leaf_hash`` is RFC 9162's leaf hash over the event's hash (the
    32 bytes, not their hex). Append-only in the database, like the events."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    leaf_index = models.BigIntegerField()
    event = models.OneToOneField(ConsentEvent, on_delete=models.PROTECT, related_name="ledger_leaf")
    leaf_hash = models.CharField(max_length=64)
    sequenced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organization_id", "leaf_index"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "leaf_index"], name="ledger_leaf_position_unique"),
            models.CheckConstraint(condition=Q(leaf_index__gte=0), name="ledger_leaf_index_non_negative"),
        ]

    def __str__(self) -> str:
        return f"leaf {self.leaf_index} of organization {self.organization_id}"


class LedgerTreeNode(models.Model):
    """The hash of a perfect subtree of an organization's log: 2**``level`` leaves from ``index`` * 2**level
    (level 0 is a leaf hash). Written once, when its last leaf is sequenced; every root and proof is computed from
    O(log² n) of them (``consent.merkle``). Append-only in the database."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "level", "index"], name="ledger_tree_node_unique"),
        ]

    def __str__(self) -> str:
        return f"node ({self.level}, {self.index}) of organization {self.organization_id}"


class LedgerLogHead(models.Model):
    """Where an organization's log stands: its size and root after the last sequencing run, and the ledger feed
    position that run read up to. ``tree_size`` only grows (a database trigger refuses anything else)."""

    organization = models.OneToOneField(
        Organization, on_delete=models.PROTECT, primary_key=True, related_name="ledger_log_head"
    )
    tree_size = models.BigIntegerField(default=0)
    root_hash = models.CharField(max_length=64)
    feed_position = models.TextField(blank=True, help_text="PostgreSQL snapshot the last run read up to")
    sequenced_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"log of organization {self.organization_id}: {self.tree_size} leaves"


class LedgerCheckpoint(models.Model):
    """A signed checkpoint of an organization's log: the C2SP ``signed-note`` text exactly as signed and served
    (``consent.checkpoints``), with its size and root for lookups. Kept for ever; append-only in the database."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    tree_size = models.BigIntegerField()
    root_hash = models.CharField(max_length=64)
    note = models.TextField()
    key_name = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organization_id", "-tree_size"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "tree_size"], name="ledger_checkpoint_size_unique"),
        ]

    def __str__(self) -> str:
        return f"checkpoint {self.tree_size} of organization {self.organization_id}"


class LedgerWitness(models.Model):
    """An HTTP endpoint outside our systems that receives every signed checkpoint of an organization's log (an
    auditor, a recipient, any service that keeps them), so a copy lives where our database can't reach."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    url = models.URLField(max_length=2000, help_text="https URL that receives each checkpoint as a text/plain POST")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name_plural = "ledger witnesses"
        ordering = ["organization_id", "name"]
        constraints = [models.UniqueConstraint(fields=["organization", "url"], name="ledger_witness_url_unique")]

    def __str__(self) -> str:
        return self.name


class LedgerWitnessPush(models.Model):
    """One checkpoint sent to one witness: retried with backoff until the witness answers 2xx."""

    witness = models.ForeignKey(LedgerWitness, on_delete=models.PROTECT, related_name="pushes")
    checkpoint = models.ForeignKey(LedgerCheckpoint, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=12, choices=WitnessPushStatus.choices, default=WitnessPushStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-checkpoint_id"]
        constraints = [
            models.UniqueConstraint(fields=["witness", "checkpoint"], name="ledger_witness_push_unique"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="witness_push_due")]

    def __str__(self) -> str:
        return f"checkpoint {self.checkpoint_id} to {self.witness_id}: {self.status}"


class LedgerVerificationJob(models.Model):
    """A full ledger verification asked for through the API and run by a worker, never inside a web request:
    its progress while it runs, then the verification run it kept (issue #12)."""

    public_id = models.CharField(max_length=26, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    requested_by = models.CharField(max_length=200)
    mode = models.CharField(max_length=12, default="incremental", help_text="incremental (the default) or full")
    status = models.CharField(
        max_length=8, choices=VerificationJobStatus.choices, default=VerificationJobStatus.QUEUED, db_index=True
    )
    events_total = models.BigIntegerField(default=0)
    events_checked = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    run = models.ForeignKey(LedgerVerificationRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    error = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.public_id}: {self.status}"


class PreferenceLink(models.Model):
    """A magic link a person asked for in the privacy center to manage their consent (issue #13).

    The link carries only ``public_id``, signed (``consent.preference_links``); the email it was sent to is kept
    sealed under the row's own data key (bound to the row) with its blind index, to find the person's subjects and
    seal the email onto a new one. Single use: the confirming POST sets ``confirmed_at`` (compare-and-set), later
    opens are refused. Rows past their expiry are deleted by ``consent.services.preference_links_purge``."""

    public_id = models.CharField(max_length=26, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    email_index = models.CharField(max_length=64, editable=False)
    email_sealed = models.TextField(editable=False)
    wrapped_data_key = models.BinaryField(editable=False)
    language = models.CharField(max_length=10, default="en", editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(editable=False)
    confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="preference_link_expiry")]

    def __str__(self) -> str:
        return f"preference link {self.public_id}"


class EvidenceDocument(models.Model):
    """A document the legal team kept as an event's evidence (a scanned letter, a call note), kept apart from the
    ledger row so that reading the ledger (the API, the admin, every verification) never carries it.

    The event's evidence, which the hash chain covers, names the document's SHA-256, size, type and filename; the
    content is here, sealed under the subject's data key (so erasing the subject shreds it) and bound to the event
    (``evidence-document:<event_id>``). A reader checks the content against the digest the chain covers."""

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="+")
    event_id = models.CharField(max_length=26, unique=True, editable=False)
    sha256 = models.CharField(max_length=64, editable=False)
    content_sealed = models.TextField(editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    def __str__(self) -> str:
        return f"document of {self.event_id}"


class ConsentImport(models.Model):
    """A bulk import of consent history from a CSV or NDJSON file (issue #17), one per (organization, file
    SHA-256): running the same file again resumes it. Its rows are split into ``partitions`` by subject (each
    subject's rows in one, in file order), imported side by side; each partition's progress is its
    :class:`ConsentImportPartition` row, written in each batch's transaction, so an interrupted import continues
    after each partition's last committed batch and records nothing twice. ``lines_done``: every line up to it is
    done (the least of the partitions'). An upload through the API is kept sealed (``content_sealed``) until its
    worker has finished with it."""

    public_id = models.CharField(max_length=26, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    sha256 = models.CharField(max_length=64, editable=False)
    file_format = models.CharField(max_length=8, choices=ImportFormat.choices)
    requested_by = models.CharField(max_length=200)
    status = models.CharField(max_length=8, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    lines_done = models.BigIntegerField(default=0)
    partitions = models.PositiveSmallIntegerField(default=1)
    rows_read = models.BigIntegerField(default=0)
    rows_recorded = models.BigIntegerField(default=0)
    rows_rejected = models.BigIntegerField(default=0)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001 (NULL: no key)
    request_digest = models.CharField(max_length=64, blank=True)
    wrapped_data_key = models.BinaryField(null=True, blank=True, editable=False)
    content_sealed = models.TextField(blank=True, editable=False)
    error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "sha256"], name="consent_import_file_unique"),
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="consent_import_idempotency_key_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id}: {self.status}"


class ConsentImportPartition(models.Model):
    """One partition of an import (the rows of the subjects that hash to ``number``): the last file line of its
    last committed batch. A run holds this row's lock while it writes a batch of the partition, so two runs of
    one file never import the same rows at once."""

    consent_import = models.ForeignKey(ConsentImport, on_delete=models.CASCADE, related_name="partition_progress")
    number = models.PositiveSmallIntegerField()
    lines_done = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["consent_import", "number"]
        constraints = [
            models.UniqueConstraint(fields=["consent_import", "number"], name="consent_import_partition_unique")
        ]

    def __str__(self) -> str:
        return f"partition {self.number}: line {self.lines_done}"


class ConsentImportRejection(models.Model):
    """A row an import left out: its file line, the field (a JSON pointer, "" for the whole row) and why, in the
    words the API uses for the same fault."""

    consent_import = models.ForeignKey(ConsentImport, on_delete=models.CASCADE, related_name="rejections")
    line = models.BigIntegerField()
    pointer = models.CharField(max_length=100, blank=True)
    problem_type = models.CharField(max_length=100, help_text="The problem's stable type URI, as the API answers it.")
    detail = models.TextField()

    class Meta:
        ordering = ["line", "id"]
        indexes = [models.Index(fields=["consent_import", "line"], name="consent_import_rejection_line")]

    def __str__(self) -> str:
        return f"line {self.line}: {self.detail}"
