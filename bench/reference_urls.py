"""Bench-only URLconf: every product route, plus ``GET /bench/reference/<pk>``, a minimal DRF endpoint doing
one primary-key lookup of an Organization. It is served by the same gunicorn, settings and middleware as the
product routes, so a benchmark can state its figures as ratios to it (issue #16)."""

from __future__ import annotations

from typing import Any

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import handler400, handler403, handler404, handler500
from config.urls import urlpatterns as product_urlpatterns
from core.models import Organization

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


class ReferenceView(APIView):
    """One primary-key lookup, no authentication, no throttling: the floor of a DRF request here."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    def get(self, request: Request, pk: int) -> Response:
        organization = Organization.objects.only("id", "slug").get(pk=pk)
        return Response({"id": organization.pk, "slug": organization.slug})


urlpatterns = [path("bench/reference/<int:pk>", ReferenceView.as_view(), name="bench-reference"), *product_urlpatterns]
