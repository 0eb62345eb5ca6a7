"""Bearer tokens for writes and admin actions. Reading is public (docs/rules.md §1.7)."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request

from app.http.problems import HTTPProblem
from app.store.files import write_once

__all__ = ["require_writer", "Writer", "token_file", "ensure_token_file", "known_tokens"]


def token_file(data_dir: Path) -> Path:
    return data_dir / "write-token"


def ensure_token_file(data_dir: Path) -> tuple[str, bool]:
    """The write token used when HEADWATER_WRITE_TOKENS is unset, and whether it was created
    just now: `serve` prints it that once only, never on a later start (container logs are
    read by more people than the token is meant for)."""
    path = token_file(data_dir)
    if path.is_file():
        return path.read_text().strip(), False
    # atomic and durable: a crash or a second worker never leaves an empty or partial token;
    # the worker that lost the race reads the winner's and reports it as created too (both
    # started from nothing; the token shows up once per fresh data folder)
    token = secrets.token_urlsafe(32) + "\n"
    return write_once(path, token).strip(), True


def known_tokens(configured: list[str], data_dir: Path) -> list[bytes]:
    tokens = list(configured)
    if not tokens and token_file(data_dir).is_file():
        tokens.append(token_file(data_dir).read_text().strip())
    return [t.encode() for t in tokens if t]


async def require_writer(request: Request) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPProblem(
            401, "authentication required", "send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": 'Bearer realm="headwater"'},
        )
    given = token.strip().encode()
    # compare_digest against every token, without stopping early: constant time per request
    ok = False
    for known in request.app.state.write_tokens:
        ok |= hmac.compare_digest(given, known)
    if not ok:
        raise HTTPProblem(403, "forbidden", "the bearer token is not a write token")


Writer = Annotated[None, Depends(require_writer)]
