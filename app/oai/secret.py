"""The key that signs resumption tokens: HEADWATER_SECRET_KEY, or a random key generated once into
the data folder (mode 0600), so every worker sharing that folder continues any harvest and a
restart keeps tokens valid (docs/rules.md §7).
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

from app.store.files import write_once

__all__ = ["secret_file", "load_secret"]


def secret_file(data_dir: Path) -> Path:
    return data_dir / "secret-key"


def load_secret(configured: str, data_dir: Path) -> bytes:
    """The signing key as bytes (a configured key of any length is hashed to 32 bytes)."""
    if configured:
        return hashlib.sha256(configured.encode()).digest()
    path = secret_file(data_dir)
    if not path.is_file():
        # when several workers start at once exactly one creates the file, the others read it
        write_once(path, secrets.token_hex(32) + "\n")
    value = path.read_text().strip()
    if not value:
        raise RuntimeError(f"{path} is empty: delete it to generate a new key")
    return hashlib.sha256(value.encode()).digest()
