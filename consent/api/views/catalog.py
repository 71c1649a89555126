"""The catalog: sources, purposes and policy versions."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from consent import selectors, services
from consent.api import serializers as s
from consent.models import Purpose, Source
from core.api.pagination import PAGINATION_PARAMETERS, envelope, keyset_response, list_operation
from core.api.schema import api_operation
from core.api.views import OrganizationApi
from core.problems import InvalidInput, NotFound

# ------------------------------------------------------------------------------------------------
# Catalog
# ------------------------------------------------------------------------------------------------


class SourceListCreateApi(OrganizationApi):
    required_scopes = {"GET": "consent:read", "POST": "consent:write"}

    @list_operation(
        scope="consent:read",
        summary="List sources",
        operation_id="sources_list",
        description="By key, in the envelope every list shares.",
        parameters=PAGINATION_PARAMETERS,
        responses={200: envelope(s.SourceSerializer, "PaginatedSourceList")},
        problems={422: "Bad `limit` or `after`."},
    )
    def get(self, request: Request) -> Response:
        return keyset_response(
            request,
            selectors.source_list(organization=self.organization),
            organization=self.organization,
            kind="sources",
            order=("key",),
            render=lambda rows: list(s.SourceSerializer(rows, many=True).data),
        )

    @api_operation(
        scope="consent:write",
        summary="Register a source",
        request=s.SourceInputSerializer,
        responses={201: s.SourceSerializer},
        problems={409: "A source with this key exists.", 422: "Invalid fields."},
    )
    def post(self, request: Request) -> Response:
        data = self.validated(s.SourceInputSerializer, request.data)
        source = services.source_create(organization=self.organization, actor=self.client.actor, **data)
        return Response(s.SourceSerializer(source).data, status=status.HTTP_201_CREATED)


class SourceDetailApi(OrganizationApi):
    required_scopes = {
        "GET": "consent:read",
        "PATCH": "consent:write",
        "PUT": "consent:write",
        "DELETE": "consent:write",
    }

    def source_or_404(self, key: str) -> Source:
        source = selectors.source_by_key(organization=self.organization, key=key)
        if source is None:
            raise NotFound("No source with this key in your organization.")
        return source

    @api_operation(
        scope="consent:read",
        summary="One source",
        responses={200: s.SourceSerializer},
        problems={404: "No such source."},
    )
    def get(self, request: Request, key: str) -> Response:
        return Response(s.SourceSerializer(self.source_or_404(key)).data)

    @api_operation(
        scope="consent:write",
        summary="Replace a source's details (the key never changes)",
        request=s.SourceInputSerializer,
        responses={200: s.SourceSerializer},
        problems={404: "No such source.", 409: "Built-in source.", 422: "Invalid fields."},
    )
    def put(self, request: Request, key: str) -> Response:
        return self._update(request, key, partial=False)

    @api_operation(
        scope="consent:write",
        summary="Change a source's details (the key never changes)",
        request=s.SourceInputSerializer,
        responses={200: s.SourceSerializer},
        problems={404: "No such source.", 409: "Built-in source.", 422: "Invalid fields."},
    )
    def patch(self, request: Request, key: str) -> Response:
        return self._update(request, key, partial=True)

    def _update(self, request: Request, key: str, *, partial: bool) -> Response:
        source = self.source_or_404(key)
        data = self.validated(s.SourceInputSerializer, request.data, partial=partial)
        if "key" in data and data["key"] != source.key:
            raise InvalidInput("A source's key never changes.", errors=[{"pointer": "/key", "detail": "immutable"}])
        source = services.source_update(source=source, actor=self.client.actor, **data)
        return Response(s.SourceSerializer(source).data)

    @api_operation(
        scope="consent:write",
        summary="Retire a source (kept for the ledger; refuses new events)",
        responses={200: s.SourceSerializer},
        problems={404: "No such source.", 409: "Built-in source."},
    )
    def delete(self, request: Request, key: str) -> Response:
        source = services.source_retire(source=self.source_or_404(key), actor=self.client.actor)
        return Response(s.SourceSerializer(source).data)


def _purpose_data(purposes: list[Purpose], many: bool) -> Any:
    current = selectors.current_policy_versions(purposes=purposes, at=timezone.now())
    serializer = s.PurposeSerializer(
        purposes if many else purposes[0], many=many, context={"current_versions": current}
    )
    return serializer.data


class PurposeListCreateApi(OrganizationApi):
    required_scopes = {"GET": "consent:read", "POST": "consent:write"}

    @api_operation(
        scope="consent:read",
        summary="List purposes",
        operation_id="purposes_list",
        responses={200: s.PurposeSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        return Response(_purpose_data(list(selectors.purpose_list(organization=self.organization)), many=True))

    @api_operation(
        scope="consent:write",
        summary="Create a purpose",
        request=s.PurposeInputSerializer,
        responses={201: s.PurposeSerializer},
        problems={409: "A purpose with this key exists.", 422: "Invalid fields."},
    )
    def post(self, request: Request) -> Response:
        data = self.validated(s.PurposeInputSerializer, request.data)
        purpose = services.purpose_create(organization=self.organization, actor=self.client.actor, **data)
        return Response(_purpose_data([purpose], many=False), status=status.HTTP_201_CREATED)


class PurposeScopedApi(OrganizationApi):
    def purpose_or_404(self, key: str) -> Purpose:
        purpose = selectors.purpose_by_key(organization=self.organization, key=key)
        if purpose is None:
            raise NotFound("No purpose with this key in your organization.")
        return purpose


class PurposeDetailApi(PurposeScopedApi):
    required_scopes = {"GET": "consent:read", "PATCH": "consent:write", "PUT": "consent:write"}

    @api_operation(
        scope="consent:read",
        summary="One purpose",
        responses={200: s.PurposeSerializer},
        problems={404: "No such purpose."},
    )
    def get(self, request: Request, key: str) -> Response:
        return Response(_purpose_data([self.purpose_or_404(key)], many=False))

    @api_operation(
        scope="consent:write",
        summary="Replace a purpose's details (the key never changes)",
        request=s.PurposeInputSerializer,
        responses={200: s.PurposeSerializer},
        problems={404: "No such purpose.", 422: "Invalid fields."},
    )
    def put(self, request: Request, key: str) -> Response:
        return self._update(request, key, partial=False)

    @api_operation(
        scope="consent:write",
        summary="Change a purpose's details (the key never changes)",
        request=s.PurposeInputSerializer,
        responses={200: s.PurposeSerializer},
        problems={404: "No such purpose.", 422: "Invalid fields."},
    )
    def patch(self, request: Request, key: str) -> Response:
        return self._update(request, key, partial=True)

    def _update(self, request: Request, key: str, *, partial: bool) -> Response:
        purpose = self.purpose_or_404(key)
        data = self.validated(s.PurposeInputSerializer, request.data, partial=partial)
        if "key" in data and data["key"] != purpose.key:
            raise InvalidInput("A purpose's key never changes.", errors=[{"pointer": "/key", "detail": "immutable"}])
        purpose = services.purpose_update(purpose=purpose, actor=self.client.actor, **data)
        return Response(_purpose_data([purpose], many=False))


class PolicyVersionListCreateApi(PurposeScopedApi):
    required_scopes = {"GET": "consent:read", "POST": "consent:write"}

    @api_operation(
        scope="consent:read",
        summary="A purpose's policy versions",
        responses={200: s.PolicyVersionSerializer(many=True)},
        problems={404: "No such purpose."},
    )
    def get(self, request: Request, key: str) -> Response:
        purpose = self.purpose_or_404(key)
        return Response(s.PolicyVersionSerializer(selectors.policy_version_list(purpose=purpose), many=True).data)

    @api_operation(
        scope="consent:write",
        summary="Publish a policy version of a purpose",
        description="A version with `is_material: true` makes grants under earlier versions read `stale` "
        "once it takes effect.",
        request=s.PolicyVersionInputSerializer,
        responses={201: s.PolicyVersionSerializer},
        problems={404: "No such purpose.", 409: "This version label exists.", 422: "Invalid fields."},
    )
    def post(self, request: Request, key: str) -> Response:
        purpose = self.purpose_or_404(key)
        data = self.validated(s.PolicyVersionInputSerializer, request.data)
        version = services.policy_version_create(purpose=purpose, actor=self.client.actor, **data)
        return Response(s.PolicyVersionSerializer(version).data, status=status.HTTP_201_CREATED)
