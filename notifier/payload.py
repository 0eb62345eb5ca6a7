"""Change notifications as bytes: pure, rows in, bytes out (ResourceSync Change Notification
1.0.1 §3). Entries are Change List entries built from `sitemaps/format.py`, so a notification
and the Change List describe a change with the same text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sitemaps.entries import ChangeRow, change_url
from sitemaps.fixity import NO_FIXITY, Fixity
from sitemaps.format import URLSET_CLOSE, urlset_open
from sitemaps.names import ancestors

# a field named `datetime` (the spec's attribute) needs another name for its type
Timestamp = datetime

__all__ = ["Change", "group_by_channel", "change_entry", "notification", "link_header",
           "first_from"]

CAPABILITY = "change-notification"


@dataclass(frozen=True, slots=True)
class Change:
    """One row of the change log, as notified (the resource as it was at that change)."""

    position: int
    collection: str  # the leaf collection
    uri: str
    change: str
    datetime: Timestamp
    lastmod: Timestamp | None = None
    fixity: Fixity = NO_FIXITY
    xml: str | None = None  # the entry as PostgreSQL pre-rendered it (`changes.url_xml`)

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> Change:
        """From a row of the change log queries (`notifier/sql/notifier.sql`)."""
        return cls(r["position"], r["collection"], r["uri"], r["change"], r["datetime"],
                   r["lastmod"], Fixity(r["length"], r["type"], r["md5"], r["sha1"],
                                        r["sha256"]), r["xml"])


def group_by_channel(changes: Iterable[Change]) -> dict[str, list[Change]]:
    """Channel name → its changes in log order. A change belongs to its leaf collection's
    channel and to every ancestor's (a parent's channel carries its children's changes)."""
    out: dict[str, list[Change]] = {}
    channels: dict[str, list[list[Change]]] = {}  # per leaf: its channels' lists
    for change in changes:
        lists = channels.get(change.collection)
        if lists is None:
            lists = channels[change.collection] = [
                out.setdefault(name, []) for name in ancestors(change.collection)]
        for entries in lists:
            entries.append(change)
    return out


def change_entry(change: Change) -> str:
    """A Change List `<url>`: change and datetime always; lastmod and fixity unless deleted.
    The pre-rendered fragment when there is one (the same bytes, rendered once at write time:
    formatting dominates a batch's cost otherwise)."""
    if change.xml is not None:
        return change.xml
    return change_url(ChangeRow(change.uri, change.change, change.datetime, change.lastmod,
                                change.fixity))


def notification(*, up: str, from_: datetime, until: datetime,
                 entries: Sequence[Change]) -> bytes:
    """One `urlset` change notification: `rs:ln rel="up"` to the channel's Capability List,
    `rs:md capability="change-notification" from until`, then the entries in log order."""
    head = urlset_open({"capability": CAPABILITY, "from": from_, "until": until}, [("up", up)])
    return "".join([head, *map(change_entry, entries), URLSET_CLOSE]).encode("utf-8")


def first_from(created_at: datetime, first_change: datetime) -> datetime:
    """`from` of a channel's first notification: the collection's creation time, which is
    never after its first change; kept strictly before it so the interval (from, until]
    visibly holds that change even if clocks disagree."""
    return min(created_at, first_change - timedelta(microseconds=1))


def link_header(topic: str, hubs: Iterable[str]) -> str:
    """`Link: <topic>; rel="self", <hub>; rel="hub"` (WebSub discovery, spec §4.1)."""
    return ", ".join([f'<{topic}>; rel="self"', *(f'<{hub}>; rel="hub"' for hub in hubs)])
