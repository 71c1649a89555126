"""The organization's legal contacts (who the deadline digest and the overdue escalation go to): list, add, read,
change and remove, each write audited. Reading needs ``dsar:read``; every change ``dsar:configure``."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.fields import StrictCharField
from core.api.schema import StrictSerializer, api_operation
from core.api.views import OrganizationApi
from core.problems import NotFound
from dsar import selectors, services
from dsar.enums import LegalContactReceives
from dsar.models import DsarLegalContact

# What replacing or changing a contact may answer besides 200.
CHANGE_PROBLEMS = {
    400: "Malformed JSON.",
    404: "No such legal contact in your organization.",
    409: "Another legal contact of the organization has this email address.",
    422: "Invalid fields (`validation-error`).",
}


class LegalContactSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id", help_text="The contact's id (ULID)")
    email = serializers.EmailField()
    name = serializers.CharField(help_text="May be empty")
    receives = serializers.ChoiceField(
        choices=LegalContactReceives.choices,
        help_text="digest: the daily digest of requests due within 7 days and overdue; escalation: the mail sent "
        "when a request becomes overdue; both",
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class LegalContactInputSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    name = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    receives = serializers.ChoiceField(
        choices=LegalContactReceives.choices, required=False, default=LegalContactReceives.BOTH
    )


class LegalContactPatchSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254, required=False)
    name = StrictCharField(max_length=200, required=False, allow_blank=True)
    receives = serializers.ChoiceField(choices=LegalContactReceives.choices, required=False)


def _data(contact: DsarLegalContact) -> Any:
    return LegalContactSerializer(contact).data


_NO_CONTACT = "No legal contact with this id in your organization."


class LegalContactListCreateApi(OrganizationApi):
    required_scopes = {"GET": "dsar:read", "POST": "dsar:configure"}

    @api_operation(
        scope="dsar:read",
        summary="List the organization's legal contacts",
        description="Who the deadline sweep writes to. With none receiving a kind of mail, that mail goes to the "
        "staff holding the DSAR-operator role for the organization and to the deployment's administrators.",
        operation_id="legal_contacts_list",
        responses={200: LegalContactSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        contacts = selectors.legal_contact_list(organization=self.organization)
        return Response(LegalContactSerializer(contacts, many=True).data)

    @api_operation(
        scope="dsar:configure",
        summary="Add a legal contact",
        description="Audited. `receives` defaults to `both`.",
        request=LegalContactInputSerializer,
        responses={201: LegalContactSerializer},
        problems={
            400: "Malformed JSON.",
            409: "This email address is already one of the organization's legal contacts (`conflict`).",
            422: "Invalid fields (`validation-error`).",
        },
    )
    def post(self, request: Request) -> Response:
        data = self.validated(LegalContactInputSerializer, request.data)
        contact = services.legal_contact_create(organization=self.organization, actor=self.client.actor, **data)
        response = Response(_data(contact), status=status.HTTP_201_CREATED)
        response["Location"] = f"/api/v1/legal-contacts/{contact.public_id}"
        return response


class LegalContactDetailApi(OrganizationApi):
    required_scopes = {
        "GET": "dsar:read",
        "PUT": "dsar:configure",
        "PATCH": "dsar:configure",
        "DELETE": "dsar:configure",
    }

    def contact_or_404(self, contact_id: str) -> DsarLegalContact:
        contact = selectors.legal_contact_by_public_id(organization=self.organization, public_id=contact_id)
        if contact is None:
            raise NotFound(_NO_CONTACT)
        return contact

    @api_operation(
        scope="dsar:read",
        summary="One legal contact",
        responses={200: LegalContactSerializer},
        problems={404: "No such legal contact in your organization."},
    )
    def get(self, request: Request, contact_id: str) -> Response:
        return Response(_data(self.contact_or_404(contact_id)))

    @api_operation(
        scope="dsar:configure",
        summary="Replace a legal contact",
        description="Audited. Omitted `name` and `receives` take their defaults (empty, `both`).",
        request=LegalContactInputSerializer,
        responses={200: LegalContactSerializer},
        problems=CHANGE_PROBLEMS,
    )
    def put(self, request: Request, contact_id: str) -> Response:
        contact = self.contact_or_404(contact_id)
        data = self.validated(LegalContactInputSerializer, request.data)
        return Response(_data(services.legal_contact_update(contact=contact, actor=self.client.actor, **data)))

    @api_operation(
        scope="dsar:configure",
        summary="Change a legal contact",
        description="Audited. Only the fields given change.",
        request=LegalContactPatchSerializer,
        responses={200: LegalContactSerializer},
        problems=CHANGE_PROBLEMS,
    )
    def patch(self, request: Request, contact_id: str) -> Response:
        contact = self.contact_or_404(contact_id)
        data = self.validated(LegalContactPatchSerializer, request.data)
        return Response(_data(services.legal_contact_update(contact=contact, actor=self.client.actor, **data)))

    @api_operation(
        scope="dsar:configure",
        summary="Remove a legal contact",
        description="Audited. Answers the removed contact. With none left, deadline mail goes to the DSAR "
        "operators and the administrators, and the admin shows a banner until a contact is added.",
        responses={200: LegalContactSerializer},
        problems={404: "No such legal contact in your organization."},
    )
    def delete(self, request: Request, contact_id: str) -> Response:
        contact = self.contact_or_404(contact_id)
        body = _data(contact)
        services.legal_contact_delete(contact=contact, actor=self.client.actor)
        return Response(body)
