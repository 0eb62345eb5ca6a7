"""Pure parts of dumps: package budgets, member paths, request parsing, manifest XML."""

from __future__ import annotations

import io
import zipfile
import zlib
from datetime import UTC, datetime

import pytest
import xmlschema

from app.dumps import manifest as mf
from app.dumps import ondemand
from app.dumps.plan import (
    PACKAGE_NAME,
    PACKAGE_OVERHEAD,
    Budget,
    change_path,
    member_overhead,
    resource_path,
)
from app.dumps.zipping import Member, zip_chunks
from app.http.problems import HTTPProblem
from sitemaps.fixity import Fixity
from tests.conftest import schema_path

PREFIX = "http://h/content/"
H = "http://host.example/"
T = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def test_budget_bounds_files_and_bytes_and_admits_an_oversized_file_alone():
    b = Budget(max_bytes=10_000, max_files=3)
    assert all(b.admit(10, "/a", 50) for _ in range(3))
    assert not b.admit(10, "/a", 50)  # a fourth file
    b.reset()
    assert b.admit(1_000_000, "/big", 50)  # too big, but first: alone in its package
    assert not b.admit(1, "/a", 50)
    b.reset()
    room = 10_000 - PACKAGE_OVERHEAD - member_overhead("/x") - 10
    assert b.admit(room, "/x", 10)
    assert not b.admit(0, None, 1)  # even a deletion entry must fit the byte budget
    b = Budget(max_bytes=10_000, max_files=1)
    assert b.admit(1, "/a", 10) and b.admit(None, None, 10)  # deletions are not files


@pytest.mark.parametrize("uri,path", [
    (PREFIX + "vc:a/dir/x.txt", "/resources/vc:a/dir/x.txt"),
    (PREFIX + "vc/%C3%A9t%C3%A9.html", "/resources/vc/%C3%A9t%C3%A9.html"),
    (PREFIX + "vc/../etc", "/other/7"),
    (PREFIX + "vc//x", "/other/7"),
    (PREFIX + "vc/x?y=1", "/other/7"),
    ("https://elsewhere.example/a", "/other/7"),
])
def test_resource_paths_are_safe_and_unique(uri, path):
    assert resource_path(uri, PREFIX, 7) == path


def test_change_paths_keep_each_version_apart():
    assert change_path(PREFIX + "vc/doc.txt", 12) == "/changes/12/doc.txt"
    assert change_path(PREFIX + "vc/doc.txt", 13) != change_path(PREFIX + "vc/doc.txt", 12)
    assert change_path("https://h/a/..", 3) == "/changes/3/content"
    assert PACKAGE_NAME.match("rd-12-0") and PACKAGE_NAME.match("cd-3-1")
    assert not PACKAGE_NAME.match("../x") and not PACKAGE_NAME.match("rd-1")


def test_requests_are_parsed_strictly():
    req = ondemand.parse_request({"from": "2026-11-26T10:00:00Z",
                                  "until": "2026-11-26T11:00:00+01:00"})
    assert isinstance(req, ondemand.WindowRequest) and req.until == req.from_
    assert ondemand.parse_request({"uris": ["a", "a", "b"]}).uris == ["a", "b"]
    for bad in [{}, {"uris": "a"}, {"from": "2026-11-26"}, {"from": "2026-11-26T10:00:00"},
                {"from": "2026-11-26T10:00:00Z", "until": "2026-11-25T10:00:00Z"}, {"x": 1}]:
        with pytest.raises(HTTPProblem) as exc:
            ondemand.parse_request(bad)
        assert exc.value.status == 422


def _schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(schema_path("resourcesync-documents.xsd")))


def test_manifests_and_dump_documents_are_schema_valid():
    schema = _schema()
    up = H + "resourcesync/vc/capabilitylist.xml"
    rd = (mf.resourcedump_manifest_head(at=T, up=up)
          + mf.resource_manifest_entry(mf.FileEntry(
              H + "x", T, "/resources/x", Fixity(3, "text/plain", "a" * 32, sha256="b" * 64)))
          + mf.URLSET_CLOSE)
    schema.validate(rd)
    assert 'path="/resources/x"' in rd and 'hash="md5:' + "a" * 32 + " sha-256:" in rd
    cd = (mf.changedump_manifest_head(from_=T, until=T, up=up)
          + mf.change_manifest_entry(mf.ChangeEntry(H + "x", "deleted", T))
          + mf.change_manifest_entry(mf.ChangeEntry(
              H + "x", "created", T, T, "/changes/1/x",
              Fixity(3, "text/plain", "a" * 32, sha256="b" * 64)))
          + mf.URLSET_CLOSE)
    schema.validate(cd)
    pkg = mf.PackageEntry(H + "p.zip", H + "p.manifest.xml", 10, "c" * 64, T, at=T)
    doc = mf.resourcedump_head(at=T, completed=T, up=up) + mf.package_entry(pkg) + mf.URLSET_CLOSE
    schema.validate(doc)
    assert 'rel="contents"' in doc and "hosted elsewhere" in doc
    schema.validate(mf.dump_index("changedump", up=up, children=[H + "0.xml"], from_=T))


def test_zip_members_from_bytes_are_stored_and_readable():
    data = b"x" * 10
    z = b"".join(zip_chunks([Member("a/b.txt", data, len(data), zlib.crc32(data))]))
    with zipfile.ZipFile(io.BytesIO(z)) as f:
        assert f.read("a/b.txt") == data
        assert f.getinfo("a/b.txt").compress_type == zipfile.ZIP_STORED
