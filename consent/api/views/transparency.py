"""The transparency log (issue #12): its head, and RFC 9162 inclusion and consistency proofs that anyone holding
an earlier root can check without trusting us or our database."""

from __future__ import annotations

import base64

from django.conf import settings
from django.http import HttpResponseBase, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from consent import selectors, services
from consent.api.serializers.transparency import (
    ConsistencyProofOutputSerializer,
    InclusionProofOutputSerializer,
    LedgerLogHeadOutputSerializer,
    VerificationJobInputSerializer,
    VerificationJobOutputSerializer,
    verification_job_representation,
)
from consent.api.views.base import ConsentApi
from consent.merkle import EMPTY_ROOT
from consent.models import ConsentEvent, LedgerLeaf
from core.api.renderers import NdjsonRenderer, PlainTextRenderer
from core.api.schema import api_operation
from core.problems import Conflict, InvalidInput, NotFound


class NotYetSequenced(Conflict):
    slug = "not-yet-sequenced"
    title = "The event is not in the log yet"


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _size_param(request: Request, name: str, *, required: bool) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        if required:
            raise InvalidInput(f"{name} is required.", errors=[{"pointer": f"?{name}", "detail": "required"}])
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise InvalidInput(
            f"{name} must be a non-negative integer.", errors=[{"pointer": f"?{name}", "detail": "an integer >= 0"}]
        )
    return int(raw)


def _range_problem(exc: selectors.LogRangeError, pointer: str) -> InvalidInput:
    return InvalidInput(str(exc), errors=[{"pointer": pointer, "detail": str(exc)}])


class LedgerLogApi(ConsentApi):
    required_scopes = {"GET": "consent:read"}

    @api_operation(
        scope="consent:read",
        summary="Your organization's transparency log: size and root",
        description="Every consent event becomes a leaf of one append-only Merkle tree per organization, in "
        f"commit order, within about {settings.PROVENANT_LEDGER_SEQUENCE_SECONDS} s of its commit (RFC 9162 "
        "hashing). Keep a root; later, a consistency proof shows the log only grew since.",
        responses={200: LedgerLogHeadOutputSerializer},
    )
    def get(self, request: Request) -> Response:
        head = selectors.log_head(self.organization)
        body = {
            "tree_size": head.tree_size if head else 0,
            "root_hash": _b64(bytes.fromhex(head.root_hash)) if head else _b64(EMPTY_ROOT),
            "sequenced_at": head.sequenced_at if head else None,
        }
        return Response(LedgerLogHeadOutputSerializer(body).data)


class LedgerCheckpointApi(ConsentApi):
    required_scopes = {"GET": "consent:read"}
    renderer_classes = [PlainTextRenderer, JSONRenderer]

    @api_operation(
        scope="consent:read",
        summary="A signed checkpoint of your organization's log (C2SP tlog-checkpoint, signed-note)",
        description="The latest checkpoint, or the one of `tree_size`: the log's origin, size and base64 root "
        "hash, signed with the organization's Ed25519 key (`— <key name> <base64(key hash || signature)>`). "
        "Keep it outside our systems; any later checkpoint must be consistent with it "
        "(GET /ledger/proofs/consistency).",
        parameters=[
            OpenApiParameter("tree_size", {"type": "integer", "minimum": 0}, description="Default: the latest")
        ],
        responses={(200, "text/plain"): OpenApiTypes.STR},
        problems={404: "No checkpoint (of that size) yet.", 422: "A malformed tree_size."},
    )
    def get(self, request: Request) -> Response:
        tree_size = _size_param(request, "tree_size", required=False)
        checkpoint = selectors.ledger_checkpoint_at(self.organization, tree_size)
        if checkpoint is None:
            raise NotFound("No signed checkpoint of this log" + (f" at size {tree_size}." if tree_size else " yet."))
        return Response(checkpoint.note, content_type="text/plain; charset=utf-8")


class LedgerExportApi(ConsentApi):
    required_scopes = {"GET": "consent:read"}
    renderer_classes = [NdjsonRenderer, JSONRenderer]

    @api_operation(
        scope="consent:read",
        summary="The ledger as NDJSON, for an offline audit",
        description="Streamed: a header line (`format`, `log`, `tree_size`, base64 `root_hash`), then one line per "
        "leaf in order: `leaf_index` and the event's canonical fields with `prev_hash` and `hash` (sealed values "
        "stay ciphertext). `consent/ledger_audit.py` (standard library and `cryptography`) checks it against "
        "checkpoints you kept and the JWKS. Default: the log's current size; `tree_size` for a prefix.",
        parameters=[
            OpenApiParameter("tree_size", {"type": "integer", "minimum": 0}, description="Default: the log's size")
        ],
        responses={(200, "application/x-ndjson"): OpenApiTypes.STR},
        problems={404: "An unknown `format`.", 422: "tree_size beyond the log or malformed."},
    )
    def get(self, request: Request) -> HttpResponseBase:
        tree_size = _size_param(request, "tree_size", required=False)
        head = selectors.log_head(self.organization)
        size = head.tree_size if head else 0
        if tree_size is not None and tree_size > size:
            raise InvalidInput(
                f"tree_size {tree_size} is beyond the log's {size} leaves.",
                errors=[{"pointer": "?tree_size", "detail": f"at most {size}"}],
            )
        size = size if tree_size is None else tree_size
        root = selectors.tree_root(self.organization, size).hex()
        lines = selectors.ledger_export_lines(
            self.organization, origin=services.ledger_origin(self.organization), tree_size=size, root_hash=root
        )
        response = StreamingHttpResponse(lines, content_type="application/x-ndjson")
        response["Content-Disposition"] = f'attachment; filename="ledger-{self.organization.slug}-{size}.ndjson"'
        response["Cache-Control"] = "private, no-store"
        return response


class LedgerInclusionProofApi(ConsentApi):
    required_scopes = {"GET": "consent:read"}

    @api_operation(
        scope="consent:read",
        summary="Inclusion proof: an event is in the log",
        description="The event's leaf and the RFC 9162 inclusion path to the root of the tree of `tree_size` "
        "(default: the log's size). Verify with any RFC 9162 implementation.",
        parameters=[
            OpenApiParameter("event_id", {"type": "string", "minLength": 1}, required=True),
            OpenApiParameter(
                "tree_size", {"type": "integer", "minimum": 0}, description="Default: the log's current size"
            ),
        ],
        responses={200: InclusionProofOutputSerializer},
        problems={
            404: "No such event in your organization.",
            409: "The event is not sequenced yet (`not-yet-sequenced`); retry after `Retry-After` seconds.",
            422: "tree_size beyond the log or not covering the event; a missing or malformed parameter.",
        },
    )
    def get(self, request: Request) -> Response:
        event_id = request.query_params.get("event_id") or ""
        if not event_id:
            raise InvalidInput("event_id is required.", errors=[{"pointer": "?event_id", "detail": "required"}])
        tree_size = _size_param(request, "tree_size", required=False)
        try:
            proof = selectors.inclusion_proof(self.organization, event_id=event_id, tree_size=tree_size)
        except ConsentEvent.DoesNotExist as exc:
            raise NotFound("No consent event with this id in your organization.") from exc
        except LedgerLeaf.DoesNotExist as exc:
            raise NotYetSequenced(
                "The event is committed but not yet in the log; the sequencer runs every "
                f"{settings.PROVENANT_LEDGER_SEQUENCE_SECONDS} s.",
                retry_after=settings.PROVENANT_LEDGER_SEQUENCE_SECONDS,
            ) from exc
        except selectors.LogRangeError as exc:
            raise _range_problem(exc, "?tree_size") from exc
        return Response(InclusionProofOutputSerializer(proof.to_dict()).data)


class LedgerConsistencyProofApi(ConsentApi):
    required_scopes = {"GET": "consent:read"}

    @api_operation(
        scope="consent:read",
        summary="Consistency proof: the log only grew",
        description="The RFC 9162 proof that the tree of `to` (default: the log's size) extends the tree of "
        "`from`: nothing in the first `from` leaves was changed, removed or reordered. Check it against a root "
        "you kept.",
        parameters=[
            OpenApiParameter(
                "from", {"type": "integer", "minimum": 1}, required=True, description="The older tree size, >= 1"
            ),
            OpenApiParameter("to", OpenApiTypes.INT, description="The newer tree size; default: the log's size"),
        ],
        responses={200: ConsistencyProofOutputSerializer},
        problems={422: "from or to outside 1..the log's size, from > to, or a malformed parameter."},
    )
    def get(self, request: Request) -> Response:
        old_size = _size_param(request, "from", required=True)
        new_size = _size_param(request, "to", required=False)
        assert old_size is not None
        try:
            proof = selectors.consistency_proof(self.organization, old_size=old_size, new_size=new_size)
        except selectors.LogRangeError as exc:
            raise _range_problem(exc, "?from" if "from" in str(exc) else "?to") from exc
        return Response(ConsistencyProofOutputSerializer(proof.to_dict()).data)


class LedgerVerificationJobsApi(ConsentApi):
    required_scopes = {"POST": "consent:write"}

    @api_operation(
        scope="consent:write",
        summary="Verify the ledger in the background",
        description="Queues a verification (chains, log, checkpoints, projection) that a worker runs: by default "
        "incremental, only what came after the last valid verification (a full one when there is none), or "
        "`full`; "
        "poll the `Location` for its progress and, once done, the verification run it kept. Use this for a "
        "large ledger: it never runs inside a web request.",
        request=VerificationJobInputSerializer,
        responses={202: VerificationJobOutputSerializer},
        problems={422: "An unknown mode, or a body that is not a JSON object (no body: the defaults)."},
    )
    def post(self, request: Request) -> Response:
        # No body parses as an empty mapping; a JSON `null`, list or scalar is refused, as the schema says.
        data = self.validated(VerificationJobInputSerializer, request.data)
        job = services.verification_job_create(
            organization=self.organization, actor=self.client.actor, mode=data["mode"]
        )
        response = Response(verification_job_representation(job), status=202)
        response["Location"] = f"/api/v1/ledger/verifications/{job.public_id}"
        return response


class LedgerVerificationJobApi(ConsentApi):
    required_scopes = {"GET": "consent:read"}

    @api_operation(
        scope="consent:read",
        summary="A background ledger verification: progress, then result",
        responses={200: VerificationJobOutputSerializer},
        problems={404: "No such verification job in your organization."},
    )
    def get(self, request: Request, job_id: str) -> Response:
        job = selectors.verification_job(self.organization, public_id=job_id)
        if job is None:
            raise NotFound("No verification job with this id in your organization.")
        return Response(verification_job_representation(job))
