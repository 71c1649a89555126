"""Secrets of a development install, kept in files under var/ (mode 0600) and generated on first use.

Used only where the matching environment variable is unset (settings) or for the demo's logins, so that
``make run`` works on a fresh clone without a secret ever being written into the repository.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable
from pathlib import Path


def _read_or_create(path: Path, generate: Callable[[], str]) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def development_secret(var_dir: Path, name: str, *, kind: str = "token") -> str:
    """The secret ``name`` in ``var_dir/secrets``: 32 random bytes in base64 (``kind="aes256"``) or a token."""

    def generate() -> str:
        return base64.b64encode(os.urandom(32)).decode() if kind == "aes256" else secrets.token_urlsafe(48)

    return _read_or_create(Path(var_dir) / "secrets" / name, generate)


def read_or_create_secret(path: Path, nbytes: int = 12) -> str:
    """The secret kept in ``path``, a URL-safe token of ``nbytes`` random bytes generated on first use."""
    return _read_or_create(path, lambda: secrets.token_urlsafe(nbytes))
