"""Scope checks: each API view names the scope every method needs."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, permissions
from rest_framework.request import Request

from core.authentication import ApiClient


class InsufficientScope(exceptions.PermissionDenied):
    def __init__(self, scope: str) -> None:
        super().__init__(f"This operation needs the scope '{scope}'.")
        self.required_scope = scope


class HasScope(permissions.BasePermission):
    """Views declare ``required_scopes = {"GET": "consent:read", "POST": "consent:write"}``.

    A method the view does not list is refused, so a new method is never open by accident.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        client = request.user
        if not isinstance(client, ApiClient):
            raise exceptions.NotAuthenticated("Send 'Authorization: Bearer <api key>'.")
        scopes: dict[str, str] = getattr(view, "required_scopes", {})
        method = "GET" if request.method == "HEAD" else (request.method or "")
        scope = scopes.get(method)
        if scope is None:
            if request.method == "OPTIONS":
                return True
            raise exceptions.MethodNotAllowed(method)
        if not client.api_key.has_scope(scope):
            raise InsufficientScope(scope)
        return True
