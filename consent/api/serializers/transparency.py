"""The transparency log's answers (issue #12): its head and RFC 9162 proofs, hashes in standard base64."""

from __future__ import annotations

from rest_framework import serializers

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
