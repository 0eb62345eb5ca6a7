"""Bearer tokens for writes and admin actions. Reading is public (docs/rules.md §1.7)."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request

from app.http.problems import HTTPProblem
from app.store.files import write_once

__all__ = ["require_writer", "Writer", "token_file", "ensure_token_file", "known_tokens",
           "named_tokens"]


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


def named_tokens(configured: list[str], data_dir: Path) -> list[tuple[str, bytes]]:
    """(name, token) pairs. An entry `name:token` names its token (the name recorded with
    purges and retirements); a plain entry is named `token-N` by its place in the list, and
    the generated token file's token `write-token`."""
    out: list[tuple[str, bytes]] = []
    for i, entry in enumerate(configured, start=1):
        name, sep, token = entry.partition(":")
        if not sep:
            name, token = f"token-{i}", entry
        if token:
            out.append((name or f"token-{i}", token.encode()))
    if not configured and token_file(data_dir).is_file():
        out.append(("write-token", token_file(data_dir).read_text().strip().encode()))
    return out


def known_tokens(configured: list[str], data_dir: Path) -> list[bytes]:
    return [token for _, token in named_tokens(configured, data_dir)]


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
    ok, name = False, ""
    names = getattr(request.app.state, "token_names", None) or {}
    for known in request.app.state.write_tokens:
        match = hmac.compare_digest(given, known)
        ok |= match
        if match:
            name = names.get(known, "")
    if not ok:
        raise HTTPProblem(403, "forbidden", "the bearer token is not a write token")
    request.state.token_name = name


Writer = Annotated[None, Depends(require_writer)]
