"""Every published URL, built in one place so documents, routes and tests agree
(docs/rules.md §4)."""

from __future__ import annotations

__all__ = [
    "source_description", "capability_list", "resource_list", "change_list",
    "changelist_archive", "resource_dump", "change_dump", "notification_topic", "oai",
    "content_prefix",
]


def source_description(base: str) -> str:
    return f"{base}/.well-known/resourcesync"


def _rs(base: str, collection: str, name: str) -> str:
    return f"{base}/resourcesync/{collection}/{name}"


def capability_list(base: str, collection: str) -> str:
    return _rs(base, collection, "capabilitylist.xml")


def resource_list(base: str, collection: str) -> str:
    return _rs(base, collection, "resourcelist.xml")


def change_list(base: str, collection: str) -> str:
    return _rs(base, collection, "changelist.xml")


def changelist_archive(base: str, collection: str) -> str:
    return _rs(base, collection, "changelist-archive.xml")


def resource_dump(base: str, collection: str) -> str:
    return _rs(base, collection, "resourcedump.xml")


def change_dump(base: str, collection: str) -> str:
    return _rs(base, collection, "changedump.xml")


def notification_topic(base: str, collection: str) -> str:
    """The collection's change notification channel: distinct from its Change List's URI."""
    return _rs(base, collection, "notifications.xml")


def oai(base: str) -> str:
    return f"{base}/oai"


def content_prefix(base: str) -> str:
    return f"{base}/content/"
