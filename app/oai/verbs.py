"""One function per OAI-PMH verb: validated arguments in, the verb's XML element out, or an
`OAIError`. The route wraps the result in the envelope.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from app.oai import render, repository, tokens
from app.oai.arguments import Args, ErrorItem, OAIError
from app.oai.sets import parse_spec, set_name
from app.settings import Settings
from sitemaps import urls

__all__ = ["Context", "dispatch"]

_MIN = datetime(1, 1, 1, tzinfo=UTC)
_MAX = datetime.max.replace(tzinfo=UTC)
# Identify's earliestDatestamp while the repository holds no record yet
_EMPTY_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Context:
    settings: Settings
    key: bytes

    @property
    def repository_id(self) -> str:
        return self.settings.oai_repository_id


def _fail(code: str, message: str) -> OAIError:
    return OAIError(ErrorItem(code, message))


async def identify(conn: asyncpg.Connection, ctx: Context, args: Args) -> str:
    s = ctx.settings
    return render.identify(
        name=s.repository_name,
        base_url=urls.oai(s.base_url),
        earliest=await repository.earliest(conn) or _EMPTY_EARLIEST,
        admin_email=s.admin_email,
        repository_id=ctx.repository_id,
        sample_id=await repository.sample_identifier(conn, ctx.repository_id),
        source_description=urls.source_description(s.base_url),
    )


async def list_metadata_formats(conn: asyncpg.Connection, ctx: Context, args: Args) -> str:
    if args.identifier is not None:
        rec = await repository.get_record(conn, args.identifier, ctx.repository_id)
        if rec is None:
            raise _fail("idDoesNotExist", f"no item has the identifier {args.identifier!r}")
        if rec.deleted:
            # a deleted item keeps its header, but no format can disseminate its metadata
            raise _fail("noMetadataFormats", f"{args.identifier!r} is deleted: it has no metadata")
    return render.metadata_formats(render.FORMATS.values())


async def get_record(conn: asyncpg.Connection, ctx: Context, args: Args) -> str:
    assert args.identifier is not None and args.prefix is not None
    errors = []
    if args.prefix not in render.FORMATS:
        errors.append(ErrorItem("cannotDisseminateFormat",
                                f"{args.prefix!r} is not a metadata format of this repository"))
    rec = await repository.get_record(conn, args.identifier, ctx.repository_id)
    if rec is None:
        errors.append(ErrorItem("idDoesNotExist",
                                f"no item has the identifier {args.identifier!r}"))
    if errors:
        raise OAIError(*errors)
    assert rec is not None
    return f"<GetRecord>\n{render.record(rec, args.prefix)}</GetRecord>\n"


def _token_in(args: Args, ctx: Context, verb: str) -> tokens.Token:
    assert args.token is not None
    try:
        token = tokens.decode(args.token, ctx.key, now=int(time.time()))
    except tokens.BadToken as exc:
        raise _fail("badResumptionToken", str(exc)) from None
    if token.verb != verb:
        raise _fail("badResumptionToken", f"this resumptionToken continues a {token.verb} list")
    return token


def _expiry(ctx: Context) -> tuple[int, datetime]:
    when = datetime.now(UTC) + ctx.settings.oai_token_ttl
    return int(when.timestamp()), when


async def list_items(conn: asyncpg.Connection, ctx: Context, args: Args,
                     position: int | None = None) -> str:
    """ListRecords and ListIdentifiers: one keyset page."""
    verb = args.verb
    if args.token is not None:
        token = _token_in(args, ctx, verb)
        prefix, set_spec = token.prefix or "", token.set
        since = repository.from_micros(token.since) if token.since is not None else _MIN
        until = repository.from_micros(token.until) if token.until is not None else _MAX
        after_ts = repository.from_micros(token.after_ts or 0)
        after_id = token.after_id if token.after_id is not None else -1
        cursor, total = token.cursor, token.total
    else:
        prefix, set_spec = args.prefix or "", args.set
        since, until = args.since or _MIN, args.until or _MAX
        after_ts, after_id = since, -1  # (datestamp, id) > (since, -1) ⇔ datestamp ≥ since
        cursor, total = 0, None
    if prefix not in render.FORMATS:
        raise _fail("cannotDisseminateFormat",
                    f"{prefix!r} is not a metadata format of this repository")
    flt = repository.Filter()
    if set_spec is not None:
        spec = parse_spec(set_spec)
        flt = await repository.resolve_set(conn, spec) if spec else repository.Filter("none")
        if not flt.values:
            raise _fail("noRecordsMatch", f"no record is in the set {set_spec!r}")
    size = ctx.settings.oai_page_size
    result = await repository.page(conn, flt, after_ts=after_ts, after_id=after_id,
                                   until=until, size=size, repository_id=ctx.repository_id)
    if not result.records:
        raise _fail("noRecordsMatch", "no record matches the request")
    if args.token is None:  # first page: size the list once, then carry it in the token
        total = (len(result.records) if not result.more
                 else await repository.count(conn, flt, since=since, until=until,
                                             dated=since != _MIN or until != _MAX))
    token_xml = ""
    if result.more:
        expires, when = _expiry(ctx)
        nxt = tokens.Token(
            verb=verb, expires=expires, cursor=cursor + len(result.records), total=total,
            prefix=prefix, set=set_spec,
            since=repository.to_micros(since) if since != _MIN else None,
            until=repository.to_micros(until) if until != _MAX else None,
            after_ts=result.last_ts, after_id=result.last_id, position=position,
        )
        token_xml = render.resumption_token(tokens.encode(nxt, ctx.key), complete=total,
                                            cursor=cursor, expires=when)
    elif cursor > 0:
        token_xml = render.resumption_token(None, complete=total, cursor=cursor, expires=None)
    if verb == "ListIdentifiers":
        body = "".join(render.header(r) + "\n" for r in result.records)
    else:
        body = "".join(render.record(r, prefix) for r in result.records)
    return f"<{verb}>\n{body}{token_xml}</{verb}>\n"


async def list_sets(conn: asyncpg.Connection, ctx: Context, args: Args,
                    position: int | None = None) -> str:
    size = ctx.settings.oai_page_size
    if args.token is not None:
        token = _token_in(args, ctx, "ListSets")
        after, cursor, total = token.after_spec or "", token.cursor, token.total
    else:
        after, cursor, total = "", 0, None
    specs = await repository.sets_page(conn, after, size + 1)
    more = len(specs) > size
    specs = specs[:size]
    if not specs:
        if total is None:
            raise _fail("noSetHierarchy", "the repository holds no sets yet (it has no records)")
        raise _fail("badResumptionToken", "the list of sets changed; start again")
    if total is None:
        total = len(specs) if not more else await repository.sets_count(conn)
    token_xml = None
    if more:
        expires, when = _expiry(ctx)
        nxt = tokens.Token(verb="ListSets", expires=expires, cursor=cursor + len(specs),
                           total=total, after_spec=specs[-1], position=position)
        token_xml = render.resumption_token(tokens.encode(nxt, ctx.key), complete=total,
                                            cursor=cursor, expires=when)
    elif cursor > 0:
        token_xml = render.resumption_token(None, complete=total, cursor=cursor, expires=None)
    return render.sets_list(((s, set_name(s)) for s in specs), token_xml)


_VERBS = {
    "Identify": identify,
    "ListMetadataFormats": list_metadata_formats,
    "ListSets": list_sets,
    "ListIdentifiers": list_items,
    "ListRecords": list_items,
    "GetRecord": get_record,
}


async def dispatch(conn: asyncpg.Connection, ctx: Context, args: Args,
                   position: int | None = None) -> str:
    """Answer one request; `position`: the log position this response reads, carried in the
    resumption token it issues (docs/rules.md §1.8)."""
    if args.verb in ("ListIdentifiers", "ListRecords", "ListSets"):
        return await _VERBS[args.verb](conn, ctx, args, position)  # type: ignore[call-arg]
    return await _VERBS[args.verb](conn, ctx, args)


def token_position(pairs: list[tuple[str, str]], key: bytes) -> int | None:
    """The log position a request's resumption token was issued at, if it carries a valid one
    (an invalid token is answered by the verb itself)."""
    text = next((v for k, v in pairs if k == "resumptionToken"), None)
    if not text:
        return None
    try:
        return tokens.decode(text, key, now=int(time.time())).position
    except tokens.BadToken:
        return None


