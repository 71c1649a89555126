"""Bench-only settings: the product's settings with the reference endpoint added to its URLs
(bench/reference_urls.py). Selected by the benchmarks through DJANGO_SETTINGS_MODULE; never used by the product."""

from config.settings.base import *  # noqa: F403

ROOT_URLCONF = "bench.reference_urls"
