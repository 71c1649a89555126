"""Serializers built once per class and thread, and reused (issue #16). DRF deep-copies a serializer's declared
fields for every new instance (each field re-initialised from its arguments), which on the hot endpoints cost
more than the validation or the representation itself. Same fields, same errors, same output; for serializers
that keep no state of their own besides DRF's (initial data, errors, results) and take no context."""

from __future__ import annotations

import threading
from typing import Any

from rest_framework.serializers import Serializer

_prebuilt = threading.local()


def _instance(serializer_class: type[Serializer]) -> Serializer:
    instances: dict[type[Serializer], Serializer] = _prebuilt.__dict__.setdefault("instances", {})
    serializer = instances.get(serializer_class)
    if serializer is None:
        serializer = instances[serializer_class] = serializer_class()
    return serializer


def prebuilt_validated(serializer_class: type[Serializer], data: Any) -> Any:
    """``serializer_class(data=data)``'s validated data, raising its ValidationError."""
    serializer = _instance(serializer_class)
    serializer.initial_data = data
    try:
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data
    finally:
        for attribute in ("_validated_data", "_errors", "_data"):
            serializer.__dict__.pop(attribute, None)
        del serializer.initial_data  # nothing of the request stays behind


def prebuilt_representation(serializer_class: type[Serializer], value: Any) -> dict[str, Any]:
    """``serializer_class(value).data`` as a plain dict."""
    return dict(_instance(serializer_class).to_representation(value))
