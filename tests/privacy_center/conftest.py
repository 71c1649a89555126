"""Fixtures of the privacy-center tests: throttles start from zero in every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.throttling import throttle_reset


@pytest.fixture(autouse=True)
def fresh_throttles() -> Iterator[None]:
    throttle_reset()
    yield
    throttle_reset()
