"""`POST /ingest`: a batch of records, one transaction, all or nothing (docs/rules.md §3)."""

from __future__ import annotations

import asyncpg
from fastapi import APIRouter, Request

from app.http.auth import Writer
from app.http.bodies import read_limited
from app.http.deps import Config, Store, db
from app.http.problems import HTTPProblem
from app.write.changeset import Contradicts
from app.write.record_docs import doc_from_record
from app.write.records import InvalidBatch, parse_batch
from app.write.writer import write_batch

router = APIRouter(tags=["ingest"])

_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    }
}


@router.post("/ingest", openapi_extra=_BODY_DOC)
async def ingest(
    request: Request, _: Writer, settings: Config, store: Store
) -> dict[str, int]:
    """Write a batch of document records (JSON array, or NDJSON with
    `Content-Type: application/x-ndjson`). A single bad record rejects the whole batch."""
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    ndjson = ctype in ("application/x-ndjson", "application/jsonl", "application/jsonlines")
    if not ndjson and ctype not in ("application/json", ""):
        raise HTTPProblem(415, "unsupported media type",
                          "send application/json or application/x-ndjson")
    body = await read_limited(request, settings.max_body)
    try:
        records = parse_batch(body, ndjson=ndjson, max_records=settings.max_batch,
                              lastmod_skew=settings.lastmod_skew.total_seconds())
    except InvalidBatch as exc:
        status = 413 if not exc.errors and "more than" in exc.title else 422
        raise HTTPProblem(
            status, exc.title,
            errors=[{"pointer": e.pointer, "detail": e.detail} for e in exc.errors],
        ) from None
    prefix = f"{settings.base_url}/content/"
    docs = [doc_from_record(r, content_prefix=prefix, store=store) for r in records]
    try:
        async with db(request) as conn:  # taken once the body is read and checked
            result = await write_batch(
                conn, docs, page_size=settings.page_size, seal_after=settings.seal_after
            )
    except Contradicts as exc:
        raise HTTPProblem(
            409, "records contradict stored bytes",
            "a record for a URI whose bytes are stored here keeps them; its length and hashes, "
            "when given, must be theirs",
            errors=[{"pointer": f"/{c.index}/{c.field}", "detail": c.detail} for c in exc.found],
        ) from None
    except asyncpg.UniqueViolationError as exc:
        raise HTTPProblem(
            422, "conflicting records",
            "an oai_identifier is already used by another resource",
            errors=[{"pointer": "", "detail": exc.detail or str(exc)}],
        ) from None
    return {"received": result.received, "changed": result.changed,
            "unchanged": result.unchanged}
