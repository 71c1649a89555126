"""Development secrets: generated once per checkout under var/, never committed."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path


def development_secret(var_dir: Path, name: str, *, kind: str = "token") -> str:
    """Return the secret ``name`` from ``var_dir/secrets``, creating it on first use.

    Used only when the matching environment variable is unset, so that ``make run`` works on a
    fresh clone without a secret ever being written into the repository.
    """
    directory = Path(var_dir) / "secrets"
    path = directory / name
    if path.exists():
        return path.read_text().strip()
    directory.mkdir(parents=True, exist_ok=True)
    value = base64.b64encode(os.urandom(32)).decode() if kind == "aes256" else secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)
    return value
