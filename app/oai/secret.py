"""The key that signs resumption tokens: HEADWATER_SECRET_KEY, or a random key generated once into
the data folder (mode 0600), so every worker sharing that folder continues any harvest and a
restart keeps tokens valid (docs/rules.md §7).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

__all__ = ["secret_file", "load_secret"]


def secret_file(data_dir: Path) -> Path:
    return data_dir / "secret-key"


def load_secret(configured: str, data_dir: Path) -> bytes:
    """The signing key as bytes (a configured key of any length is hashed to 32 bytes)."""
    if configured:
        return hashlib.sha256(configured.encode()).digest()
    path = secret_file(data_dir)
    if not path.is_file():
        data_dir.mkdir(parents=True, exist_ok=True)
        fresh = secrets.token_hex(32)
        # O_EXCL: when several workers start at once exactly one creates the file, the others
        # read it; the temp name keeps a half-written key from ever being read
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(fresh + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, path)  # fails if another worker won the race: use theirs
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    value = path.read_text().strip()
    if not value:
        raise RuntimeError(f"{path} is empty: delete it to generate a new key")
    return hashlib.sha256(value.encode()).digest()
