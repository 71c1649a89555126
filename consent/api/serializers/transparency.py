"""The transparency log's answers (issue #12): its head and RFC 9162 proofs, hashes in standard base64."""

from __future__ import annotations

from rest_framework import serializers

from consent.models import LedgerVerificationJob

B64_HASH = "A SHA-256 hash, standard base64 (44 characters)"


class LedgerLogHeadOutputSerializer(serializers.Serializer):
    tree_size = serializers.IntegerField(help_text="Leaves in the log: consent events sequenced so far")
    root_hash = serializers.CharField(help_text=f"RFC 9162 Merkle tree hash of those leaves. {B64_HASH}")
    sequenced_at = serializers.DateTimeField(allow_null=True, help_text="The last sequencing run; null before one")


class InclusionProofOutputSerializer(serializers.Serializer):
    event_id = serializers.CharField()
    leaf_index = serializers.IntegerField(help_text="The event's position in the log, from 0, in commit order")
    leaf_hash = serializers.CharField(help_text=f"SHA-256(0x00 || the event's 32-byte hash). {B64_HASH}")
    tree_size = serializers.IntegerField()
    root_hash = serializers.CharField(help_text=f"The root of the tree of tree_size. {B64_HASH}")
    proof = serializers.ListField(child=serializers.CharField(), help_text="RFC 9162 §2.1.3.1 inclusion path")


class ConsistencyProofOutputSerializer(serializers.Serializer):
    from_ = serializers.IntegerField(label="from")
    to = serializers.IntegerField()
    from_root_hash = serializers.CharField(help_text=B64_HASH)
    to_root_hash = serializers.CharField(help_text=B64_HASH)
    proof = serializers.ListField(child=serializers.CharField(), help_text="RFC 9162 §2.1.4.1 consistency proof")

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class VerificationResultOutputSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    verified_at = serializers.DateTimeField()
    subjects_checked = serializers.IntegerField()
    events_checked = serializers.IntegerField()
    ledger_root = serializers.CharField()
    first_break = serializers.JSONField(allow_null=True)


class VerificationJobInputSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(
        choices=["incremental", "full"],
        default="incremental",
        help_text="incremental: only what came after the last valid verification (a full one when there is none); "
        "full: everything",
    )


class VerificationJobOutputSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="ULID")
    mode = serializers.ChoiceField(choices=["incremental", "full"])
    status = serializers.ChoiceField(choices=["queued", "running", "done", "failed"])
    events_total = serializers.IntegerField(help_text="Events in the ledger when the job was asked for")
    events_checked = serializers.IntegerField()
    progress = serializers.FloatField(help_text="0 to 1")
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(allow_null=True, help_text="The failure's kind when status is failed")
    result = VerificationResultOutputSerializer(allow_null=True, help_text="The verification run, once done")


def verification_job_representation(job: LedgerVerificationJob) -> dict[str, object]:
    run = job.run
    total = max(job.events_total, 1)
    return {
        "id": job.public_id,
        "mode": job.mode,
        "status": job.status,
        "events_total": job.events_total,
        "events_checked": job.events_checked,
        "progress": 1.0 if job.status == "done" else min(job.events_checked / total, 0.99),
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "error": job.error or None,
        "result": None
        if run is None
        else {
            "valid": run.is_valid,
            "verified_at": run.verified_at,
            "subjects_checked": run.subjects_checked,
            "events_checked": run.events_checked,
            "ledger_root": run.ledger_root,
            "first_break": run.first_break,
        },
    }
