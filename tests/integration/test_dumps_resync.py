"""The reference client library (`resync` 2.0.1) reads our Resource Dump, Change Dump and
Resource Dump Manifest, and what it reads agrees with the packages' bytes."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import timedelta

import pytest
from resync import ChangeDump, ResourceDump, ResourceDumpManifest

from app.dumps.builder import Builder
from app.write.writer import seal_stale_pages
from tests.conftest import PAGE_SIZE
from tests.integration.test_dumps_support import BASE, local_record

pytestmark = pytest.mark.asyncio


async def test_resync_parses_dumps_and_manifests(app, client, auth, db, data_dir):
    recs = [local_record(data_dir, "rs", f"{i}.txt", f"content {i}".encode()) for i in range(6)]
    assert (await client.post("/ingest", json=recs, headers=auth)).status_code == 200
    await seal_stale_pages(db, page_size=PAGE_SIZE, seal_after=timedelta(0))
    settings = app.state.settings.model_copy(update={"package_max_files": 4})
    await Builder(app.state.pool, settings, app.state.store).build_collection("rs")

    rd = ResourceDump()
    rd.parse(str_data=(await client.get("/resourcesync/rs/resourcedump.xml")).text)
    assert rd.capability == "resourcedump" and rd.md_at
    packages = list(rd)
    assert len(packages) == 2
    seen = {}
    for p in packages:
        body = (await client.get(p.uri.removeprefix(BASE))).content
        assert p.length == len(body) and p.sha256 == hashlib.sha256(body).hexdigest()
        assert p.mime_type == "application/zip"
        manifest = zipfile.ZipFile(io.BytesIO(body)).read("manifest.xml")
        rdm = ResourceDumpManifest()
        rdm.parse(str_data=manifest.decode())
        assert rdm.capability == "resourcedump-manifest"
        for r in rdm:
            data = zipfile.ZipFile(io.BytesIO(body)).read(r.path.lstrip("/"))
            assert r.length == len(data) and r.sha256 == hashlib.sha256(data).hexdigest()
            seen[r.uri] = data
    assert seen == {rec["uri"]: f"content {i}".encode() for i, rec in enumerate(recs)}

    cd = ChangeDump()
    cd.parse(str_data=(await client.get("/resourcesync/rs/changedump.xml")).text)
    assert cd.capability == "changedump"
    listed = list(cd)
    assert len(listed) == 2 and all(p.mime_type == "application/zip" for p in listed)
