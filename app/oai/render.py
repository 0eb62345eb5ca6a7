"""OAI-PMH 2.0 responses as UTF-8 XML text: pure, rows in, strings out.

Careful string building rather than a tree: a 500-record page is mostly escaping and dates, and
joining pre-escaped pieces is several times faster than building elements (docs/benchmarks.md).
Every value passes `esc()`/`esc()`, which escape markup and drop the characters XML 1.0
forbids. Tests validate each kind of response against OAI-PMH.xsd (and oai_dc.xsd, the sitemaps
and ResourceSync schemas for the containers).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.oai.arguments import ErrorItem
from sitemaps.entries import ResourceRow, resource_url
from sitemaps.fixity import NO_FIXITY, Fixity
from sitemaps.format import esc, md_element

__all__ = [
    "datestamp", "envelope_start", "envelope_end", "error_response",
    "identify", "metadata_formats", "sets_list", "header", "record", "oai_dc", "rs_view",
    "resumption_token", "Format", "FORMATS", "Record",
]

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
RS_NS = "http://www.openarchives.org/rs/terms/"

DC_ELEMENTS = ("title", "creator", "subject", "description", "publisher", "contributor", "date",
               "type", "format", "identifier", "source", "language", "relation", "coverage",
               "rights")
_DC_TAGS = {e: (f"<dc:{e}>", f"</dc:{e}>") for e in DC_ELEMENTS}


def datestamp(value: datetime) -> str:
    """The repository's granularity: seconds, UTC."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Format:
    prefix: str
    schema: str
    namespace: str


FORMATS: dict[str, Format] = {
    "oai_dc": Format("oai_dc", "http://www.openarchives.org/OAI/2.0/oai_dc.xsd",
                     "http://www.openarchives.org/OAI/2.0/oai_dc/"),
    # The ResourceSync view of the resource: a sitemaps.org <urlset> holding its one <url> with
    # rs:md (hashes, length, type) and rs:ln, as in a Resource List
    "rs": Format("rs", "http://www.sitemaps.org/schemas/sitemap/0.9/sitemap.xsd", SITEMAP_NS),
}


def envelope_start(response_date: datetime, base_url: str,
                   echo: Sequence[tuple[str, str]] | None, verb: str | None) -> str:
    """XML declaration, root, responseDate and request. `echo=None`: no attributes."""
    attrs = ""
    if echo is not None and verb is not None:
        attrs = f' verb="{esc(verb)}"' + "".join(f' {k}="{esc(v)}"' for k, v in echo)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<OAI-PMH xmlns="{OAI_NS}" xmlns:xsi="{XSI_NS}" xsi:schemaLocation="{OAI_NS} '
        'http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">\n'
        f"<responseDate>{datestamp(response_date)}</responseDate>\n"
        f"<request{attrs}>{esc(base_url)}</request>\n"
    )


def envelope_end() -> str:
    return "</OAI-PMH>\n"


def error_response(response_date: datetime, base_url: str, errors: Iterable[ErrorItem],
                   echo: Sequence[tuple[str, str]] | None, verb: str | None) -> str:
    body = "".join(f'<error code="{esc(e.code)}">{esc(e.message)}</error>\n' for e in errors)
    return envelope_start(response_date, base_url, echo, verb) + body + envelope_end()


_REPOSITORY_ID = re.compile(r"[a-zA-Z][a-zA-Z0-9\-]*(\.[a-zA-Z][a-zA-Z0-9\-]*)+")


def identify(*, name: str, base_url: str, earliest: datetime, admin_email: str,
             repository_id: str, sample_id: str, source_description: str) -> str:
    parts = [
        "<Identify>",
        f"<repositoryName>{esc(name)}</repositoryName>",
        f"<baseURL>{esc(base_url)}</baseURL>",
        "<protocolVersion>2.0</protocolVersion>",
        f"<adminEmail>{esc(admin_email)}</adminEmail>",
        f"<earliestDatestamp>{datestamp(earliest)}</earliestDatestamp>",
        "<deletedRecord>persistent</deletedRecord>",
        "<granularity>YYYY-MM-DDThh:mm:ssZ</granularity>",
    ]
    if _REPOSITORY_ID.fullmatch(repository_id):
        ns = "http://www.openarchives.org/OAI/2.0/oai-identifier"
        parts.append(
            f'<description><oai-identifier xmlns="{ns}" xsi:schemaLocation="{ns} '
            'http://www.openarchives.org/OAI/2.0/oai-identifier.xsd">'
            "<scheme>oai</scheme>"
            f"<repositoryIdentifier>{esc(repository_id)}</repositoryIdentifier>"
            "<delimiter>:</delimiter>"
            f"<sampleIdentifier>{esc(sample_id)}</sampleIdentifier>"
            "</oai-identifier></description>"
        )
    # The successor protocol: a ResourceSync-style pointer (sitemaps.org urlset, rs: terms) to
    # the Source Description, so a harvester that reads Identify can find it
    parts.append(
        f'<description><urlset xmlns="{SITEMAP_NS}" xmlns:rs="{RS_NS}" '
        f'xsi:schemaLocation="{SITEMAP_NS} http://www.sitemaps.org/schemas/sitemap/0.9/sitemap.xsd">'
        f'<rs:ln rel="resourcesync" href="{esc(source_description)}"/>'
        # every ResourceSync urlset carries its rs:md (ResourceSync 1.1 §7); this one lists the
        # Source Description, so it is one of the `description` kind
        '<rs:md capability="description"/>'
        f"<url><loc>{esc(source_description)}</loc>"
        '<rs:md capability="description"/></url></urlset></description>'
    )
    parts.append("</Identify>\n")
    return "".join(parts)


def metadata_formats(formats: Iterable[Format]) -> str:
    items = "".join(
        f"<metadataFormat><metadataPrefix>{esc(f.prefix)}</metadataPrefix>"
        f"<schema>{esc(f.schema)}</schema>"
        f"<metadataNamespace>{esc(f.namespace)}</metadataNamespace></metadataFormat>\n"
        for f in formats
    )
    return f"<ListMetadataFormats>\n{items}</ListMetadataFormats>\n"


def sets_list(sets: Iterable[tuple[str, str]], token: str | None) -> str:
    items = "".join(
        f"<set><setSpec>{esc(spec)}</setSpec><setName>{esc(name)}</setName></set>\n"
        for spec, name in sets
    )
    return f"<ListSets>\n{items}{token or ''}</ListSets>\n"


@dataclass(frozen=True)
class Record:
    """One record as the repository reads it."""

    identifier: str
    datestamp: datetime
    deleted: bool
    specs: Sequence[str]
    uri: str
    lastmod: datetime | None = None
    fixity: Fixity = NO_FIXITY
    metadata: Mapping[str, Any] | None = None
    links: Sequence[Mapping[str, Any]] | None = None


def header(rec: Record) -> str:
    status = ' status="deleted"' if rec.deleted else ""
    specs = "".join(f"<setSpec>{esc(s)}</setSpec>" for s in rec.specs)
    return (f"<header{status}><identifier>{esc(rec.identifier)}</identifier>"
            f"<datestamp>{datestamp(rec.datestamp)}</datestamp>{specs}</header>")


def _values(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v is not None]
    return [str(value)]


def oai_dc(rec: Record) -> str:
    """Dublin Core from the stored metadata; dc:identifier always carries the resource URI."""
    meta = rec.metadata or {}
    out = ['<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
           'xmlns:dc="http://purl.org/dc/elements/1.1/" '
           'xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/oai_dc/ '
           'http://www.openarchives.org/OAI/2.0/oai_dc.xsd">']
    for element in DC_ELEMENTS:
        if element == "identifier":
            values = [rec.uri] + [v for v in _values(meta.get(element)) if v != rec.uri]
        elif element in meta:
            values = _values(meta[element])
        else:
            continue
        open_, close = _DC_TAGS[element]
        out.extend(open_ + esc(v) + close for v in values)
    out.append("</oai_dc:dc>")
    return "".join(out)


def rs_view(rec: Record) -> str:
    """The resource as a Resource List shows it (the same `<url>` entry, from the same
    builder): where to fetch it and how to check it. The urlset carries its mandatory rs:md
    (ResourceSync 1.1 §7): a one-entry Resource List as of the record's datestamp, the
    datetime of the newest change it reflects."""
    entry = resource_url(ResourceRow(rec.uri, rec.lastmod, rec.fixity, rec.links or ()))
    return (f'<urlset xmlns="{SITEMAP_NS}" xmlns:rs="{RS_NS}" '
            f'xsi:schemaLocation="{SITEMAP_NS} '
            'http://www.sitemaps.org/schemas/sitemap/0.9/sitemap.xsd">'
            f'{md_element(capability="resourcelist", at=rec.datestamp)}'
            f"{entry.rstrip()}</urlset>")


_RENDERERS = {"oai_dc": oai_dc, "rs": rs_view}


def record(rec: Record, prefix: str) -> str:
    """A full record: header, and metadata unless the record is deleted."""
    if rec.deleted:
        return f"<record>{header(rec)}</record>\n"
    return f"<record>{header(rec)}<metadata>{_RENDERERS[prefix](rec)}</metadata></record>\n"


def resumption_token(token: str | None, *, complete: int | None, cursor: int,
                     expires: datetime | None) -> str:
    """`token=None` closes the list: an empty element with the attributes. `complete=None`
    leaves completeListSize out (optional in OAI-PMH §3.5)."""
    when = f' expirationDate="{datestamp(expires)}"' if token and expires else ""
    size = f' completeListSize="{complete}"' if complete is not None else ""
    attrs = f'{size} cursor="{cursor}"{when}'
    if token is None:
        return f"<resumptionToken{attrs}/>\n"
    return f"<resumptionToken{attrs}>{esc(token)}</resumptionToken>\n"
