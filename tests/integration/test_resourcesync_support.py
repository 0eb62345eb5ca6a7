"""Helpers shared by the ResourceSync document tests (no tests here)."""

from __future__ import annotations

import shutil
import tempfile
from functools import cache
from pathlib import Path

import xmlschema
from lxml import etree

from tests.conftest import schema_path

NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
      "rs": "http://www.openarchives.org/rs/terms/"}
W3C = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$"


@cache
def _schema(folder: str) -> xmlschema.XMLSchema:
    # The 1.1 schema's `type` pattern is narrower than RFC 6838 (docs/resourcesync.md): relax
    # that one pattern, in a temporary copy, so `+` and `.` media types pass.
    work = Path(tempfile.mkdtemp(prefix="hw-xsd-"))
    for f in Path(folder).glob("*.xsd"):
        shutil.copy(f, work / f.name)
    rs = work / "resourcesync.xsd"
    text = rs.read_text()
    assert r'value="[\w-]+/[\w-]+"' in text
    rs.write_text(text.replace(r'value="[\w-]+/[\w-]+"', r'value="[\w.+-]+/[\w.+-]+"'))
    return xmlschema.XMLSchema(str(work / "resourcesync-documents.xsd"))


def schema() -> xmlschema.XMLSchema:
    return _schema(str(schema_path("resourcesync-documents.xsd").parent))


def plain_schema(name: str) -> xmlschema.XMLSchema:
    """sitemaps.org's own schema (sitemap.xsd / siteindex.xsd), for the plain sitemap."""
    return xmlschema.XMLSchema(str(schema_path(name)))


def validate(body: bytes) -> etree._Element:
    schema().validate(body)
    return etree.fromstring(body)


def locs(root: etree._Element) -> list[str]:
    found = root.findall("sm:url/sm:loc", NS) + root.findall("sm:sitemap/sm:loc", NS)
    return [e.text for e in found]


def top_md(root: etree._Element) -> dict[str, str]:
    return dict(root.find("rs:md", NS).attrib)


def links(root: etree._Element) -> dict[str, str]:
    return {e.get("rel"): e.get("href") for e in root.findall("rs:ln", NS)}


def records(n: int, *, collection: str, start: int = 0, base: str = "http://127.0.0.1:8000",
            **extra: object) -> list[dict[str, object]]:
    return [{"uri": f"{base}/r/{collection}/{i}", "collection": collection,
             "md5": f"{i:032x}", "sha256": f"{i:064x}", "length": i, "type": "text/plain",
             **extra} for i in range(start, start + n)]
