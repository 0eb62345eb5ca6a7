"""Validating an OAI-PMH request's arguments (spec §3.1, §4): pure, no I/O.

`parse(pairs)` takes the arguments as (name, value) pairs, in order and with repeats (so a
repeated argument can be refused), and returns an `Args` or raises `OAIError`. badVerb and
badArgument responses carry no `request` attributes; every other error echoes the arguments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

__all__ = ["Args", "OAIError", "ErrorItem", "parse", "VERBS", "parse_date"]


@dataclass(frozen=True)
class ErrorItem:
    code: str
    message: str


class OAIError(Exception):
    """One or more protocol errors; `echo` says whether `request` echoes the arguments."""

    def __init__(self, *errors: ErrorItem, echo: bool = True):
        super().__init__("; ".join(f"{e.code}: {e.message}" for e in errors))
        self.errors = errors
        self.echo = echo


def _error(code: str, message: str) -> OAIError:
    return OAIError(ErrorItem(code, message), echo=code not in ("badVerb", "badArgument"))


# verb → (required, optional); resumptionToken is exclusive where allowed.
VERBS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "Identify": (frozenset(), frozenset()),
    "ListMetadataFormats": (frozenset(), frozenset({"identifier"})),
    "ListSets": (frozenset(), frozenset({"resumptionToken"})),
    "ListIdentifiers": (frozenset({"metadataPrefix"}),
                        frozenset({"from", "until", "set", "resumptionToken"})),
    "ListRecords": (frozenset({"metadataPrefix"}),
                    frozenset({"from", "until", "set", "resumptionToken"})),
    "GetRecord": (frozenset({"identifier", "metadataPrefix"}), frozenset()),
}

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_SECOND = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_MAX = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Args:
    verb: str
    echo: tuple[tuple[str, str], ...]  # the arguments, for the `request` element
    identifier: str | None = None
    prefix: str | None = None
    set: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive: the end of the `until` second or day
    token: str | None = None
    values: dict[str, str] = field(default_factory=dict)


def parse_date(name: str, value: str) -> tuple[datetime, str]:
    """A `from`/`until` value at day or second granularity → (start of it, granularity)."""
    try:
        if _SECOND.fullmatch(value):
            return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC), "second"
        if _DAY.fullmatch(value):
            return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC), "day"
    except ValueError:
        pass
    raise _error("badArgument", f"{name}={value!r} is not a date YYYY-MM-DD or a date-time "
                 "YYYY-MM-DDThh:mm:ssZ (the repository's granularity is seconds)")


def _end_of(start: datetime, granularity: str) -> datetime:
    step = timedelta(days=1) if granularity == "day" else timedelta(seconds=1)
    return start + step if _MAX - start > step else _MAX


def parse(pairs: list[tuple[str, str]]) -> Args:
    verbs = [v for k, v in pairs if k == "verb"]
    if not verbs:
        raise _error("badVerb", "the verb argument is missing")
    if len(verbs) > 1:
        raise _error("badVerb", "the verb argument is repeated")
    verb = verbs[0]
    if verb not in VERBS:
        raise _error("badVerb", f"{verb!r} is not an OAI-PMH verb")
    required, optional = VERBS[verb]
    values: dict[str, str] = {}
    for name, value in pairs:
        if name == "verb":
            continue
        if name not in required and name not in optional:
            raise _error("badArgument", f"{name!r} is not an argument of {verb}")
        if name in values:
            raise _error("badArgument", f"the argument {name!r} is repeated")
        values[name] = value
    echo = tuple((k, v) for k, v in pairs if k != "verb")
    if "resumptionToken" in values:
        others = sorted(set(values) - {"resumptionToken"})
        if others:
            raise _error("badArgument",
                         f"resumptionToken is exclusive; remove {', '.join(others)}")
        return Args(verb, echo, token=values["resumptionToken"], values=values)
    missing = sorted(required - set(values))
    if missing:
        raise _error("badArgument", f"{verb} requires {', '.join(missing)}")
    for name, value in values.items():
        if not value.strip():
            raise _error("badArgument", f"the argument {name!r} is empty")
    since = until = None
    if "from" in values:
        since, g_from = parse_date("from", values["from"])
    if "until" in values:
        start, g_until = parse_date("until", values["until"])
        until = _end_of(start, g_until)
    if since is not None and until is not None:
        if g_from != g_until:
            raise _error("badArgument", "from and until must have the same granularity")
        if since >= until:
            raise _error("badArgument", "from is later than until")
    return Args(
        verb, echo,
        identifier=values.get("identifier"),
        prefix=values.get("metadataPrefix"),
        set=values.get("set"),
        since=since,
        until=until,
        values=values,
    )
