"""Ingest records (docs/rules.md §3): parsing and validation, pure and I/O-free.

A batch is a JSON array or NDJSON; every record is checked before anything is written, and each
problem is reported with a JSON Pointer into the request (`/3/md5`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
)

from sitemaps.format import w3c
from sitemaps.names import COLLECTION_PATTERN

__all__ = ["FieldError", "InvalidBatch", "Record", "Description", "parse_batch",
           "parse_description", "bare_media_type", "metadata_lists", "has_forbidden_text",
           "media_type_error", "FORBIDDEN_TEXT"]

DC_ELEMENTS = (
    "title", "creator", "subject", "description", "publisher", "contributor", "date", "type",
    "format", "identifier", "source", "language", "relation", "coverage", "rights",
)
DcName = Literal[
    "title", "creator", "subject", "description", "publisher", "contributor", "date", "type",
    "format", "identifier", "source", "language", "relation", "coverage", "rights",
]

# PostgreSQL text cannot hold NUL and XML 1.0 cannot carry C0 controls other than tab, LF, CR,
# nor U+FFFE and U+FFFF (DEL is discouraged): refuse them here rather than fail at the database
# or publish ill-formed XML. Lone surrogates never get this far: orjson refuses them while
# parsing. The refusal is part of each field's pattern, so pydantic-core checks it in its own
# regex engine: a Python validator per string cost more than the rest of the validation.
_CTL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x{FFFE}\x{FFFF}"  # for use inside a character class
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\ud800-\udfff]")
FORBIDDEN_TEXT = "control characters, U+FFFE and U+FFFF are not allowed (XML 1.0)"
_CLEAN = rf"^[^{_CTL}]*$"

Hex32 = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{32}$", to_lower=True)]
Hex40 = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{40}$", to_lower=True)]
Hex64 = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$", to_lower=True)]
HttpUri = Annotated[
    str,
    StringConstraints(
        max_length=2048,
        pattern=rf"^[hH][tT][tT][pP][sS]?://[^\s/?#@{_CTL}]+(?:[/?#][^\s{_CTL}]*)?$",
    ),
]
MediaType = Annotated[
    str,
    StringConstraints(
        max_length=255,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\s*"
        rf"(;[^\n{_CTL}]*)?$",
    ),
]
DcValue = Annotated[str, StringConstraints(max_length=65_536, pattern=_CLEAN)]
# How far ahead of this server's clock a lastmod may be (client clocks drift). The API passes
# HEADWATER_LASTMOD_SKEW as validation context; other callers get this default.
DEFAULT_LASTMOD_SKEW = 300.0


# rs:ln (ResourceSync 1.1 §7 and resourcesync.xsd): `rel` is a registered relation type
# (`[a-z][a-z0-9.-]*`) or an absolute URI; `href` any absolute URI (a mirror over another
# protocol, `gsiftp://…`, as in the spec's Example 24); `hash` the `alg:digest` tokens rs:md uses.
RelType = Annotated[str, StringConstraints(
    max_length=1024, pattern=rf"^(?:[a-z][a-z0-9.-]*|[A-Za-z][A-Za-z0-9+.-]*:[^\s{_CTL}]+)$")]
AnyUri = Annotated[str, StringConstraints(
    max_length=2048, pattern=rf"^[A-Za-z][A-Za-z0-9+.-]*:[^\s{_CTL}]+$")]
_HASH_TOKEN = rf"[a-z0-9][a-z0-9-]*:[^\s{_CTL}]+"
LinkHash = Annotated[str, StringConstraints(
    max_length=1024, pattern=rf"^{_HASH_TOKEN}(?: {_HASH_TOKEN})*$")]


class Link(BaseModel):
    """One `rs:ln` of a resource; stored as given (`modified` as a W3C UTC date-time) and
    published with its attributes in this order by every renderer."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    rel: RelType
    href: AnyUri
    type: MediaType | None = None
    length: Annotated[StrictInt, Field(ge=0, le=2**62)] | None = None
    hash: LinkHash | None = None
    modified: AwareDatetime | None = None
    pri: Annotated[StrictInt, Field(ge=1, le=999_999)] | None = None

    @field_serializer("modified")
    def _w3c(self, value: datetime | None) -> str | None:
        return None if value is None else w3c(value)


Metadata = dict[DcName, DcValue | list[DcValue]]
Links = Annotated[list[Link], Field(max_length=1000)]
OaiIdentifier = Annotated[
    str, StringConstraints(max_length=1024, pattern=rf"^[A-Za-z][A-Za-z0-9+.-]*:[^\s{_CTL}]+$")
]


class Record(BaseModel):
    """One document as a client describes it. Unknown keys are refused, so typos never pass."""

    model_config = ConfigDict(extra="forbid")

    uri: HttpUri
    collection: Annotated[str, StringConstraints(max_length=200, pattern=COLLECTION_PATTERN)]
    length: Annotated[StrictInt, Field(ge=0, le=2**62)] | None = None
    type: MediaType | None = None
    md5: Hex32 | None = None
    sha1: Hex40 | None = None
    sha256: Hex64 | None = None
    lastmod: AwareDatetime | None = None
    deleted: StrictBool = False
    metadata: Metadata | None = None
    links: Links | None = None
    oai_identifier: OaiIdentifier | None = None

    @field_validator("lastmod")
    @classmethod
    def _not_future(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        # A lastmod ahead of the clock would, once published, make a destination that keeps
        # the newest lastmod it saw skip every later change (docs/resourcesync.md). Within
        # the skew it is accepted and published capped at its change's datetime
        # (app/write/changeset.py).
        if value is None:
            return value
        context = info.context or {}
        skew = context.get("lastmod_skew", DEFAULT_LASTMOD_SKEW)
        now = context.get("now", time.time())
        if value.timestamp() > now + skew:
            raise ValueError(
                f"lastmod is later than the server's clock by more than {skew:g} s "
                "(HEADWATER_LASTMOD_SKEW)")
        return value


class Description(BaseModel):
    """What an upload may say about its bytes at once (the `Headwater-Description` header):
    the record keys that describe a resource rather than its bytes."""

    model_config = ConfigDict(extra="forbid")

    metadata: Metadata | None = None
    links: Links | None = None
    oai_identifier: OaiIdentifier | None = None


def metadata_lists(value: Mapping[Any, str | list[str]] | None) -> dict[str, list[str]] | None:
    """Dublin Core values as lists (`{"title": "x"}` → `{"title": ["x"]}`), as stored."""
    if value is None:
        return None
    return {k: [v] if isinstance(v, str) else v for k, v in value.items()}


@dataclass(frozen=True)
class FieldError:
    pointer: str
    detail: str


class InvalidBatch(Exception):
    """The batch cannot be accepted; `errors` point at each offending record and field."""

    def __init__(self, title: str, errors: list[FieldError]):
        super().__init__(title)
        self.title = title
        self.errors = errors


_records = TypeAdapter(list[Record])
_record = TypeAdapter(Record)
_MAX_REPORTED = 100


def _is_union_tag(part: int | str) -> bool:
    # pydantic names the union member that failed (`str`, `list[constrained-str]`): not a key
    return isinstance(part, str) and ("[" in part or part in ("str", "constrained-str"))


def _pointer(loc: tuple[int | str, ...]) -> str:
    # pydantic marks a bad dict key as `[key]`: the pointer names the key itself
    parts = [p for p in loc if p != "[key]" and not _is_union_tag(p)]
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _field_errors(exc: ValidationError, prefix: tuple[int | str, ...] = ()) -> list[FieldError]:
    out: list[FieldError] = []
    for err in exc.errors(include_url=False)[:_MAX_REPORTED]:
        loc = prefix + tuple(err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "string_pattern_mismatch":
            msg = f"invalid value for {loc[-1]}" if loc else "invalid value"
            if isinstance(err.get("input"), str) and _CONTROL.search(err["input"]):
                msg = FORBIDDEN_TEXT
        pointer = _pointer(loc)
        if any(e.pointer == pointer for e in out):
            continue  # one report per field, not one per union member tried
        out.append(FieldError(pointer, msg))
    return out


def parse_batch(body: bytes, *, ndjson: bool, max_records: int,
                lastmod_skew: float = DEFAULT_LASTMOD_SKEW) -> list[Record]:
    """Parse and validate a whole batch, or raise InvalidBatch naming every bad field.

    `lastmod_skew`: seconds a lastmod may be ahead of this server's clock."""
    context = {"lastmod_skew": lastmod_skew, "now": time.time()}
    if ndjson:
        items: list[Any] = []
        errors = []
        for index, line in enumerate(body.splitlines()):
            if not line.strip():
                continue
            try:
                items.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                errors.append(FieldError(f"/{len(items)}", f"line {index + 1}: {exc}"))
                items.append(None)
            if len(items) > max_records:
                raise InvalidBatch(f"more than {max_records} records in one request", [])
        if errors:
            raise InvalidBatch("malformed JSON", errors)
        records = []
        for index, item in enumerate(items):
            try:
                records.append(_record.validate_python(item, context=context))
            except ValidationError as exc:
                errors.extend(_field_errors(exc, (index,)))
                if len(errors) >= _MAX_REPORTED:
                    break
        if errors:
            raise InvalidBatch("invalid records", errors)
        return records
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidBatch("malformed JSON", [FieldError("", str(exc))]) from None
    if not isinstance(data, list):
        raise InvalidBatch("the body must be a JSON array of records",
                           [FieldError("", "not an array")])
    if len(data) > max_records:
        raise InvalidBatch(f"more than {max_records} records in one request", [])
    try:
        return _records.validate_python(data, context=context)
    except ValidationError as exc:
        raise InvalidBatch("invalid records", _field_errors(exc)) from None


def parse_description(value: str) -> tuple[Description, frozenset[str]]:
    """A `Headwater-Description` header value (a JSON object) → the description and the keys
    it gives (a key given as null clears that field; a key left out is kept). HTTP header
    values arrive as latin-1: UTF-8 sent raw is decoded back; JSON escapes work either way."""
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        raw = value.encode()
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidBatch("malformed JSON", [FieldError("", str(exc))]) from None
    if not isinstance(data, dict):
        raise InvalidBatch("the description must be a JSON object",
                           [FieldError("", "not an object")])
    try:
        found = Description.model_validate(data)
    except ValidationError as exc:
        raise InvalidBatch("invalid description", _field_errors(exc)) from None
    return found, frozenset(found.model_fields_set)


def has_forbidden_text(value: str) -> bool:
    """True when `value` holds a character XML 1.0 cannot carry (or NUL, or DEL)."""
    return _CONTROL.search(value) is not None


_media_type = TypeAdapter(MediaType)


def media_type_error(value: str) -> str | None:
    """Why `value` is not a media type as ingest's `type` accepts it, or None when it is."""
    if has_forbidden_text(value):
        return FORBIDDEN_TEXT
    try:
        _media_type.validate_python(value)
    except ValidationError:
        return "expected a media type such as text/html or application/pdf; charset=…"
    return None


def bare_media_type(value: str | None) -> str | None:
    """`text/html; charset=utf-8` → `text/html` (docs/rules.md §3: parameters dropped)."""
    if value is None:
        return None
    return value.split(";", 1)[0].strip().lower() or None
