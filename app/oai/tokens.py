"""Stateless resumption tokens: the keyset of the last record sent, the request's filters, the
cursor, `completeListSize` (counted once, on the first page) and an expiry, HMAC-signed.

Any worker holding the key can continue any harvest, and a restart loses nothing. The signature
covers every byte, so a token can't be forged to steer a query; a tampered, truncated or
expired token is refused (→ badResumptionToken). Pure: the key and the clock are passed in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import asdict, dataclass

import orjson

__all__ = ["Token", "BadToken", "encode", "decode"]

_VERSION = 1
_MAC_BYTES = 16  # 128-bit tag: forging is out of reach, the token stays short


class BadToken(ValueError):
    """The token is not one this repository issued, or it expired."""


@dataclass(frozen=True)
class Token:
    verb: str  # ListRecords | ListIdentifiers | ListSets
    expires: int  # unix seconds
    cursor: int  # records sent before the page this token asks for
    total: int | None = None  # completeListSize; None: not known cheaply, left out
    prefix: str | None = None
    set: str | None = None
    since: int | None = None  # `from`, unix micro-seconds, inclusive
    until: int | None = None  # `until`, unix micro-seconds, exclusive (end of that second/day)
    after_ts: int | None = None  # keyset: the last record's datestamp (unix micro-seconds) …
    after_id: int | None = None  # … and id
    after_spec: str | None = None  # ListSets keyset: the last setSpec sent
    position: int | None = None  # log position the issuing response read (never go back)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest()[:_MAC_BYTES]


def encode(token: Token, key: bytes) -> str:
    fields = {k: v for k, v in asdict(token).items() if v is not None}
    body = orjson.dumps([_VERSION, fields])
    return _b64(body) + "." + _b64(_mac(key, body))


def decode(text: str, key: bytes, *, now: int) -> Token:
    try:
        body_text, _, mac_text = text.partition(".")
        body, mac = _unb64(body_text), _unb64(mac_text)
    except (ValueError, UnicodeError):
        raise BadToken("the resumptionToken is not valid") from None
    if not mac or not hmac.compare_digest(mac, _mac(key, body)):
        raise BadToken("the resumptionToken is not valid")
    try:
        version, fields = orjson.loads(body)
        if version != _VERSION:
            raise BadToken("the resumptionToken is from another version")
        token = Token(**fields)
    except (TypeError, ValueError) as exc:
        raise BadToken("the resumptionToken is not valid") from exc
    if token.expires < now:
        raise BadToken("the resumptionToken has expired; start the harvest again")
    return token
