from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from config import metrics as domain_metrics
from consent.api.views import GpcWellKnownView
from core.api.docs import api_docs
from core.health import healthz, readyz
from core.metrics import metrics_view
from provenance.api.views import JwksView, OrganizationJwksView, StampSchemaView

domain_metrics.register()

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("core.api.urls")),
    path("api/v1/", include("consent.api.urls")),
    path("api/v1/", include("provenance.api.urls")),
    path("api/v1/", include("dsar.api.urls")),
    path("api/v1/", include("reports.api.urls")),
    path("reports/", include("reports.pages.urls")),
    path("privacy/", include("dsar.pages.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", api_docs, name="swagger-ui"),
    path("healthz", healthz, name="health"),
    path("readyz", readyz, name="ready"),
    path("metrics", metrics_view, name="metrics"),
    path(".well-known/gpc.json", GpcWellKnownView.as_view(), name="gpc-well-known"),
    path(".well-known/jwks.json", JwksView.as_view(), name="jwks"),
    path(".well-known/jwks/<slug:issuer>.json", OrganizationJwksView.as_view(), name="organization-jwks"),
    path("schemas/privacy-stamp-1.json", StampSchemaView.as_view(), name="privacy-stamp-schema"),
]

handler400 = "core.problems.handler400"
handler403 = "core.problems.handler403"
handler404 = "core.problems.handler404"
handler500 = "core.problems.handler500"
