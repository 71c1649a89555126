"""Imports of consent history (issue #17): the row parser the command and the worker share (the API's own
serializer, so a row is refused in the same words as the same event sent to ``POST /api/v1/consent-events``),
and ``POST /api/v1/imports`` with its progress and its report of the rows left out."""

from __future__ import annotations

import hashlib
from typing import Any, cast

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiRequest
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from consent import selectors, services
from consent.api.bulk_input import plain_event
from consent.api.serializers import ConsentEventInputSerializer, event_input
from consent.enums import ImportFormat, ImportStatus
from consent.models import ConsentImport, ConsentImportRejection
from consent.services import ConsentEventInput
from core.api.schema import IDEMPOTENCY_HEADER, api_operation
from core.api.views import OrganizationApi
from core.problems import InvalidInput, NotFound, validation_errors

REPORT_MAX_LIMIT = 500


class ImportRowParser:
    """Rows' API bodies as events, validated as the API validates them: a plainly valid row by the bulk endpoint's
    fast path (``consent.api.bulk_input``, which accepts only what the serializer accepts), any other by the API's
    serializer, so a row is refused as the API refuses the same body, with pointers under the row's line. One
    serializer validates every row: DRF deep-copies a serializer's fields for each instance."""

    def __init__(self) -> None:
        self.serializer = ConsentEventInputSerializer()

    def __call__(self, body: dict[str, Any], pointer: str, idempotency_key: str) -> ConsentEventInput:
        plain = plain_event(body, pointer=pointer, idempotency_key=idempotency_key)
        if plain is not None:
            return plain
        try:
            data = self.serializer.run_validation(body)
        except ValidationError as exc:
            raise InvalidInput(
                "One or more fields are invalid; see errors.", errors=validation_errors(exc.detail, pointer)
            ) from exc
        return event_input(data, raw=body, pointer=pointer, idempotency_key=idempotency_key)


def parse_import_row(body: dict[str, Any], pointer: str, idempotency_key: str) -> ConsentEventInput:
    """One row, parsed as :class:`ImportRowParser` does (for a single row; a file uses one parser for all)."""
    return ImportRowParser()(body, pointer, idempotency_key)


def rejection_representation(rejection: ConsentImportRejection) -> dict[str, Any]:
    return {
        "line": rejection.line,
        "pointer": rejection.pointer,
        "type": rejection.problem_type,
        "detail": rejection.detail,
    }


def import_representation(job: ConsentImport) -> dict[str, Any]:
    return {
        "id": job.public_id,
        "status": job.status,
        "format": job.file_format,
        "sha256": job.sha256,
        "rows_read": job.rows_read,
        "rows_recorded": job.rows_recorded,
        "rows_rejected": job.rows_rejected,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "error": job.error or None,
        "report": f"/api/v1/imports/{job.public_id}/report",
    }


class ImportOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.ChoiceField(choices=ImportStatus.choices)
    format = serializers.ChoiceField(choices=ImportFormat.choices)
    sha256 = serializers.CharField()
    rows_read = serializers.IntegerField()
    rows_recorded = serializers.IntegerField()
    rows_rejected = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    report = serializers.CharField(help_text="Path of the rows left out.")


class ImportRejectionSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="Line of the file (CSV: the header is line 1).")
    pointer = serializers.CharField(help_text="The field at fault (JSON pointer in the event body), or empty.")
    type = serializers.URLField(help_text="The problem type the API answers for the same fault.")
    detail = serializers.CharField()


class ImportReportSerializer(serializers.Serializer):
    results = ImportRejectionSerializer(many=True)
    next = serializers.URLField(allow_null=True)
    cursor = serializers.CharField(allow_null=True)


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The CSV or NDJSON file (columns: README, 'Importing consent history').")
    format = serializers.ChoiceField(
        choices=ImportFormat.choices, required=False, help_text="Default: from the file name's extension."
    )


class CsvBodyParser(BaseParser):
    media_type = "text/csv"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        return {"content": stream.read() if stream is not None else b"", "format": ImportFormat.CSV}


class NdjsonBodyParser(BaseParser):
    media_type = "application/x-ndjson"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        return {"content": stream.read() if stream is not None else b"", "format": ImportFormat.NDJSON}


def _upload(request: Request) -> tuple[bytes, str]:
    """The file and its format, from a multipart upload or a CSV / NDJSON body."""
    data = cast(dict[str, Any], request.data)
    if isinstance(data.get("content"), bytes):
        return data["content"], data["format"]
    serializer = ImportUploadSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    upload = serializer.validated_data["file"]
    declared = serializer.validated_data.get("format")
    name = upload.name or ""
    if declared is None:
        lowered = name.lower()
        if lowered.endswith(".csv"):
            declared = ImportFormat.CSV
        elif lowered.endswith((".ndjson", ".jsonl")):
            declared = ImportFormat.NDJSON
        else:
            raise InvalidInput(
                "Cannot tell the file's format: name it .csv or .ndjson, or send `format`.",
                errors=[{"pointer": "/format", "detail": "required when the file name has no .csv or .ndjson"}],
            )
    return upload.read(), declared


class ImportCreateApi(OrganizationApi):
    required_scopes = {"POST": "consent:write"}
    parser_classes = [MultiPartParser, CsvBodyParser, NdjsonBodyParser]

    @api_operation(
        scope="consent:write",
        summary="Import consent history from a CSV or NDJSON file, in the background",
        description="The file (multipart `file`, or the body itself as `text/csv` or `application/x-ndjson`) has "
        "the columns of README 'Importing consent history', the fields of `POST /api/v1/consent-events`. At most "
        "`PROVENANT_MAX_BODY_BYTES` (4 MiB by default, some 15,000 events); larger files go through "
        "`manage.py import_consents`. A worker records the rows under the API's rules, batch by batch, and lists "
        "the rows it leaves out with the API's reasons; poll the `Location` for progress. The same file again "
        "answers the same import (200); an `Idempotency-Key` reused with another file answers 409.",
        request={
            "multipart/form-data": ImportUploadSerializer,
            "text/csv": OpenApiRequest(OpenApiTypes.STR),
            "application/x-ndjson": OpenApiRequest(OpenApiTypes.STR),
        },
        parameters=[IDEMPOTENCY_HEADER],
        responses={202: ImportOutputSerializer, 200: ImportOutputSerializer},
        problems={
            409: "Idempotency key reused with another file (`idempotency-key-reused`).",
            413: "File larger than PROVENANT_MAX_BODY_BYTES (`payload-too-large`).",
            415: "Not multipart, CSV or NDJSON (`unsupported-media-type`).",
            422: "No file, an empty or non-UTF-8 file, an unknown format, a bad Idempotency-Key (`validation-error`).",
        },
    )
    def post(self, request: Request) -> Response:
        header_key = request.headers.get("Idempotency-Key")
        if header_key is not None and not (0 < len(header_key) <= 255):
            raise InvalidInput("Idempotency-Key must be 1-255 characters.")
        content, file_format = _upload(request)
        if not content.strip():
            raise InvalidInput("The file is empty.", errors=[{"pointer": "/file", "detail": "empty"}])
        sha256 = hashlib.sha256(content).hexdigest()
        created = services.consent_import_create(
            organization=self.organization,
            sha256=sha256,
            file_format=file_format,
            actor=self.client.actor,
            content=content,
            idempotency_key=header_key,
            digest=services.request_digest_of_file(sha256, file_format),
        )
        response = Response(import_representation(created.job), status=202 if created.created else 200)
        response["Location"] = f"/api/v1/imports/{created.job.public_id}"
        if not created.created and header_key is not None:
            response["Idempotent-Replayed"] = "true"
        return response


class ImportDetailApi(OrganizationApi):
    required_scopes = {"GET": "consent:read"}

    @api_operation(
        scope="consent:read",
        summary="An import's progress: rows read, recorded and left out, and its status",
        responses={200: ImportOutputSerializer},
        problems={404: "No such import in your organization."},
    )
    def get(self, request: Request, import_id: str) -> Response:
        job = selectors.consent_import_by_id(organization=self.organization, public_id=import_id)
        if job is None:
            raise NotFound("No import with this id in your organization.")
        return Response(import_representation(job))


class ImportReportApi(OrganizationApi):
    required_scopes = {"GET": "consent:read"}

    @api_operation(
        scope="consent:read",
        summary="The rows an import left out: line, field and the API's reason",
        description="In file order, `limit` (at most 500, default 100) at a time; pass `cursor` back as `after`.",
        parameters=[
            OpenApiParameter(
                "limit", {"type": "integer", "minimum": 1, "maximum": REPORT_MAX_LIMIT}, description="Default 100"
            ),
            OpenApiParameter("after", OpenApiTypes.STR, description="The `cursor` of the previous page"),
        ],
        responses={200: ImportReportSerializer},
        problems={404: "No such import in your organization.", 422: "Bad `limit` or `after`."},
    )
    def get(self, request: Request, import_id: str) -> Response:
        limit = _int_param(request.query_params.get("limit"), "limit", default=100, low=1, high=REPORT_MAX_LIMIT)
        raw_after = request.query_params.get("after")
        job = selectors.consent_import_by_id(organization=self.organization, public_id=import_id)
        if job is None:
            raise NotFound("No import with this id in your organization.")
        after = _report_cursor(job, raw_after)
        rows = selectors.consent_import_rejections(consent_import=job, after=after, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        cursor = f"{rows[-1].line}.{rows[-1].pk}" if more else None
        next_url = request.build_absolute_uri(f"{request.path}?after={cursor}&limit={limit}") if cursor else None
        response = Response(
            {"results": [rejection_representation(r) for r in rows], "next": next_url, "cursor": cursor}
        )
        if next_url:
            response["Link"] = f'<{next_url}>; rel="next"'
        return response


def _report_cursor(job: ConsentImport, value: str | None) -> tuple[int, int] | None:
    """A report cursor: ``<line>.<id>`` of the last row seen (an id alone, as cursors were before, is placed by its
    line); anything else, or a row not of this import, is refused."""
    if value is None:
        return None
    line_text, dot, pk_text = value.partition(".")
    if not dot:
        line_text, pk_text = "", value
    numbers = [pk_text] if not dot else [line_text, pk_text]
    if not all(n.isascii() and n.isdecimal() and len(n) <= 18 for n in numbers):
        raise InvalidInput(
            "'after' must be the cursor of the previous page.", errors=[{"pointer": "?after", "detail": "not a cursor"}]
        )
    if dot:
        return int(line_text), int(pk_text)
    position = selectors.consent_import_rejection_position(consent_import=job, pk=int(pk_text))
    if position is None:
        raise InvalidInput(
            "'after' must be the cursor of the previous page.", errors=[{"pointer": "?after", "detail": "unknown row"}]
        )
    return position


def _int_param(value: str | None, name: str, *, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    if not (value.isascii() and value.isdecimal() and len(value) <= 9) or not (low <= int(value) <= high):
        raise InvalidInput(
            f"'{name}' must be an integer from {low} to {high}.",
            errors=[{"pointer": f"?{name}", "detail": f"expected {low}-{high}"}],
        )
    return int(value)
