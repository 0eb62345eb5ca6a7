"""Turning validated records into the documents the write path takes."""

from __future__ import annotations

from app.store.content import ContentStore
from app.write.changeset import Doc
from app.write.records import Record, bare_media_type, metadata_lists
from sitemaps.fixity import Fixity

__all__ = ["doc_from_record"]


def doc_from_record(record: Record, *, content_prefix: str, store: ContentStore) -> Doc:
    """A record whose URI is one of ours and whose sha-256 is in the store points at those
    bytes; any other record describes a document hosted elsewhere."""
    key = None
    if record.sha256 and record.uri.startswith(content_prefix) and store.exists(record.sha256):
        key = record.sha256
    return Doc(
        uri=record.uri,
        collection=record.collection,
        content_key=key,
        fixity=Fixity(record.length, bare_media_type(record.type), record.md5, record.sha1,
                      record.sha256),
        lastmod=record.lastmod,
        deleted=record.deleted,
        metadata=metadata_lists(record.metadata),
        links=[link.model_dump(exclude_none=True) for link in record.links]
        if record.links
        else None,
        oai_identifier=record.oai_identifier,
    )
