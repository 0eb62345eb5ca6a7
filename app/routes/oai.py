"""`/oai`: the OAI-PMH 2.0 endpoint, GET and POST (form-encoded) alike. Protocol errors are
HTTP 200 with `<error code=…>` (docs/rules.md §7), never RFC 9457 problems.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.http.bodies import read_limited
from app.oai import render, repository
from app.oai.arguments import OAIError, parse
from app.oai.secret import load_secret
from app.oai.verbs import Context, dispatch, token_position
from app.read.reader import Reader
from sitemaps import urls

router = APIRouter(tags=["oai-pmh"])

_MEDIA_TYPE = "text/xml; charset=utf-8"

# An OAI-PMH request is a handful of short arguments (the longest a resumption token): a form
# body above this is not a harvester's, and is refused with 413 before it is read further.
MAX_FORM_BODY = 64 * 1024

_ARGUMENT = {"type": "string"}
_FORM_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "verb": {"type": "string", "enum": [
                            "Identify", "ListMetadataFormats", "ListSets", "ListIdentifiers",
                            "ListRecords", "GetRecord"]},
                        "identifier": _ARGUMENT, "metadataPrefix": _ARGUMENT, "from": _ARGUMENT,
                        "until": _ARGUMENT, "set": _ARGUMENT, "resumptionToken": _ARGUMENT,
                    },
                    "required": ["verb"],
                }
            }
        },
    }
}


def _context(request: Request) -> Context:
    state = request.app.state
    ctx = getattr(state, "oai_context", None)
    if ctx is None:
        settings = state.settings
        ctx = Context(settings, load_secret(settings.secret_key, settings.data_dir))
        state.oai_context = ctx
    return ctx


async def _answer(request: Request, pairs: list[tuple[str, str]]) -> Response:
    ctx = _context(request)
    base = urls.oai(ctx.settings.base_url)
    reader: Reader = request.app.state.reader
    at = token_position(pairs, ctx.key)
    async with reader.connection(at=at) as conn:
        now, position = await repository.clock(conn)
        try:
            args = parse(pairs)
            body = await dispatch(conn, ctx, args, position)
            xml = render.envelope_start(now, base, args.echo, args.verb) + body \
                + render.envelope_end()
        except OAIError as exc:
            verb = next((v for k, v in pairs if k == "verb"), None)
            echo = [(k, v) for k, v in pairs if k != "verb"] if exc.echo else None
            xml = render.error_response(now, base, exc.errors, echo, verb)
    return Response(xml.encode("utf-8"), media_type=_MEDIA_TYPE)


@router.get("/oai", response_class=Response)
async def oai_get(request: Request) -> Response:
    """OAI-PMH request with the arguments in the query string."""
    return await _answer(request, parse_qsl(request.url.query, keep_blank_values=True))


@router.post("/oai", response_class=Response, openapi_extra=_FORM_BODY)
async def oai_post(request: Request) -> Response:
    """OAI-PMH request with the arguments form-encoded in the body.

    The body is read first, bounded (MAX_FORM_BODY, 413) and timed (the whole of it within
    HEADWATER_BODY_READ_TIMEOUT, else 408); only then is a document slot taken (503 +
    Retry-After when none is free, OAI-PMH 2.0 §3.1.2.2), so a slow or huge body never holds
    one."""
    within = request.app.state.settings.body_read_timeout.total_seconds()
    raw = await read_limited(request, MAX_FORM_BODY, within=within)
    pairs = parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
    async with request.app.state.budgets.slot("document", status=503):
        return await _answer(request, pairs)
