"""Change notification payloads: spec shape, schema-valid, channels per ancestor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import xmlschema
from lxml import etree

from notifier.payload import Change, first_from, group_by_channel, link_header, notification
from sitemaps.fixity import Fixity
from tests.conftest import schema_path

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
      "rs": "http://www.openarchives.org/rs/terms/"}


def change(i: int, collection: str = "a:b", kind: str = "created") -> Change:
    return Change(i, collection, f"https://example.org/r?id={i}&x=<{i}>", kind,
                  T0 + timedelta(seconds=i), lastmod=T0,
                  fixity=Fixity(10 + i, "text/html", md5="0" * 32, sha256="f" * 64))


def test_channels_are_the_leaf_and_every_ancestor_in_log_order() -> None:
    rows = [change(1, "a:b"), change(2, "a:c"), change(3, "a:b:d"), change(4, "z")]
    groups = group_by_channel(rows)
    assert {k: [c.position for c in v] for k, v in groups.items()} == {
        "a:b": [1, 3], "a": [1, 2, 3], "a:c": [2], "a:b:d": [3], "z": [4]}


def test_notification_matches_the_spec_and_the_schema() -> None:
    entries = [change(1), change(2, kind="deleted")]
    body = notification(up="http://s/resourcesync/a:b/capabilitylist.xml",
                        from_=T0, until=T0 + timedelta(seconds=2), entries=entries)
    schema = xmlschema.XMLSchema(str(schema_path("resourcesync-documents.xsd")))
    schema.validate(body)
    root = etree.fromstring(body)
    assert root.tag == f"{{{NS['sm']}}}urlset"
    md = root.find("rs:md", NS)
    assert md.attrib == {"capability": "change-notification",
                         "from": "2026-11-26T10:00:00.000000Z",
                         "until": "2026-11-26T10:00:02.000000Z"}
    assert root.find("rs:ln", NS).attrib == {
        "rel": "up", "href": "http://s/resourcesync/a:b/capabilitylist.xml"}
    urls = root.findall("sm:url", NS)
    assert [u.findtext("sm:loc", namespaces=NS) for u in urls] == [c.uri for c in entries]
    created = urls[0].find("rs:md", NS).attrib
    assert created == {"change": "created", "datetime": "2026-11-26T10:00:01.000000Z",
                       "hash": f"md5:{'0' * 32} sha-256:{'f' * 64}", "length": "11",
                       "type": "text/html"}
    assert urls[0].findtext("sm:lastmod", namespaces=NS) == "2026-11-26T10:00:00.000000Z"
    # a deletion carries no lastmod and no fixity
    assert urls[1].find("rs:md", NS).attrib == {"change": "deleted",
                                                "datetime": "2026-11-26T10:00:02.000000Z"}
    assert urls[1].find("sm:lastmod", NS) is None


def test_first_from_is_strictly_before_the_first_change() -> None:
    assert first_from(T0, T0 + timedelta(seconds=1)) == T0
    assert first_from(T0 + timedelta(seconds=5), T0) == T0 - timedelta(microseconds=1)


def test_link_header_names_self_and_each_hub() -> None:
    assert link_header("http://t", ["http://h1", "http://h2"]) == \
        '<http://t>; rel="self", <http://h1>; rel="hub", <http://h2>; rel="hub"'
