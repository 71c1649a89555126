"""``Authorization: Bearer <api key>`` for the REST API."""

from __future__ import annotations

from dataclasses import dataclass

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from core import api_key_cache
from core.db import ensure_database
from core.models import ApiKey, Organization
from core.selectors import api_key_digest, api_key_for_secret
from core.services import api_key_mark_used


@dataclass(frozen=True)
class ApiClient:
    """The caller behind an API key; stands in for ``request.user`` on API requests."""

    api_key: ApiKey

    @property
    def organization(self) -> Organization:
        return self.api_key.organization

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def actor(self) -> str:
        return f"api_key:{self.api_key.prefix}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "bearer"

    def authenticate(self, request: Request) -> tuple[ApiClient, ApiKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != self.keyword or not secret.strip():
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <api key>'.")
        secret = secret.strip()
        api_key = api_key_cache.cached(api_key_digest(secret)) if len(secret) <= 200 else None
        if api_key is not None:
            # Served from the cache (revocation honoured within PROVENANT_API_KEY_CACHE_SECONDS): the database
            # must still be there, as when every request read the key (an outage answers 503, not a half).
            ensure_database()
        else:
            api_key = api_key_for_secret(secret)
            if api_key is None:
                raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
            api_key_cache.remember(api_key)
        api_key_mark_used(api_key=api_key)
        return ApiClient(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="provenant"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "core.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "Provenant API key"}
