"""`/oai`: the OAI-PMH 2.0 endpoint, GET and POST (form-encoded) alike. Protocol errors are
HTTP 200 with `<error code=…>` (docs/rules.md §7), never RFC 9457 problems.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.oai import render, repository
from app.oai.arguments import OAIError, parse
from app.oai.secret import load_secret
from app.oai.verbs import Context, dispatch, token_position
from app.read.reader import Reader
from sitemaps import urls

router = APIRouter(tags=["oai-pmh"])

_MEDIA_TYPE = "text/xml; charset=utf-8"


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


@router.post("/oai", response_class=Response)
async def oai_post(request: Request) -> Response:
    """OAI-PMH request with the arguments form-encoded in the body."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return await _answer(request, parse_qsl(body, keep_blank_values=True))
