"""Helpers shared by the dump tests (no tests here): putting bytes into the store quickly and
checking a package the way a destination would."""

from __future__ import annotations

import hashlib
import io
import zipfile
from functools import cache
from pathlib import Path

import xmlschema
from lxml import etree

from tests.conftest import schema_path

NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
      "rs": "http://www.openarchives.org/rs/terms/"}
BASE = "http://127.0.0.1:8000"


@cache
def _schema(path: str) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(path)


def validate(body: bytes) -> etree._Element:
    _schema(str(schema_path("resourcesync-documents.xsd"))).validate(body)
    return etree.fromstring(body)


def put_bytes(data_dir: Path, data: bytes) -> str:
    """Write bytes into the content store layout directly (as a bulk load would)."""
    key = hashlib.sha256(data).hexdigest()
    path = data_dir / "content" / key[:2] / key[2:4] / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return key


def local_record(data_dir: Path, collection: str, name: str, data: bytes,
                 base: str = BASE, **extra: object) -> dict[str, object]:
    """An ingest record pointing at bytes now in the store: a local resource."""
    key = put_bytes(data_dir, data)
    return {"uri": f"{base}/content/{collection}/{name}", "collection": collection,
            "sha256": key, "md5": hashlib.md5(data).hexdigest(), "length": len(data),
            "type": "text/plain", **extra}


def entries(root: etree._Element) -> list[dict[str, str | None]]:
    out = []
    for url in root.findall("sm:url", NS):
        md = url.find("rs:md", NS)
        lastmod = url.find("sm:lastmod", NS)
        out.append({"loc": url.findtext("sm:loc", namespaces=NS),
                    "lastmod": lastmod.text if lastmod is not None else None,
                    **dict(md.attrib)})
    return out


def check_package(data: bytes, capability: str) -> tuple[etree._Element, dict[str, bytes]]:
    """Open a package and check it against its manifest: manifest.xml at the top level and
    schema-valid, one entry per file with matching length and sha-256 (md5 too if given),
    leading '/' in manifest paths and none in ZIP names, no file missing or extra.
    Returns the manifest root and {manifest path: bytes}."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
        names = z.namelist()
        assert "manifest.xml" in names, names
        assert len(names) == len(set(names)), "duplicate ZIP entries"
        folders = {n.rsplit("/", 1)[0] for n in names if "/" in n}
        folders |= {f.rsplit("/", i)[0] for f in folders for i in range(1, f.count("/") + 1)}
        assert not folders & set(names), f"a file is also a folder: {folders & set(names)}"
        manifest = z.read("manifest.xml")
        root = validate(manifest)
        md = root.find("rs:md", NS)
        assert md.get("capability") == capability
        ups = [ln.get("href") for ln in root.findall("rs:ln", NS) if ln.get("rel") == "up"]
        assert ups and ups[0].endswith("/capabilitylist.xml")
        files: dict[str, bytes] = {}
        for e in entries(root):
            if e.get("change") == "deleted":
                assert "path" not in e and "hash" not in e
                continue
            path = e["path"]
            assert path and path.startswith("/") and not path.endswith("/")
            body = z.read(path[1:])
            assert path not in files, f"{path} listed twice"
            files[path] = body
            assert int(e["length"]) == len(body)
            hashes = dict(h.split(":", 1) for h in e["hash"].split())
            assert hashes["sha-256"] == hashlib.sha256(body).hexdigest()
            for name, algorithm in (("md5", "md5"), ("sha-1", "sha1")):
                if name in hashes:  # any other digest given must match too
                    assert hashes[name] == hashlib.new(algorithm, body).hexdigest()
        members = {n for n in names if n != "manifest.xml"}
        assert all(not n.startswith("/") for n in names)
        assert members == {p[1:] for p in files}, "files missing from or extra to the manifest"
    return root, files
