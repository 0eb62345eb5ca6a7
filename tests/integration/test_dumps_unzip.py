"""Packages open with Info-ZIP's `unzip` (Debian `unzip`), not only Python's zipfile: tested
archive, files extracted under their manifest paths with the manifest's sizes and digests."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from app.dumps.builder import Builder
from tests.conftest import require_binary
from tests.integration.test_dumps_support import NS, entries, local_record, validate

pytestmark = pytest.mark.asyncio


async def test_unzip_tests_and_extracts_a_package(app, client, auth, data_dir, tmp_path: Path):
    unzip = require_binary("unzip", "unzip")
    recs = [local_record(data_dir, "uz", f"d{i % 3}/f{i}.txt", f"file {i}\n".encode() * 50)
            for i in range(12)]
    assert (await client.post("/ingest", json=recs, headers=auth)).status_code == 200
    await Builder(app.state.pool, app.state.settings, app.state.store).build_collection("uz")
    loc = validate((await client.get("/resourcesync/uz/resourcedump.xml")).content) \
        .findtext("sm:url/sm:loc", namespaces=NS)
    package = tmp_path / "p.zip"
    package.write_bytes((await client.get(loc.removeprefix("http://127.0.0.1:8000"))).content)

    tested = subprocess.run([unzip, "-t", str(package)], capture_output=True, text=True)
    assert tested.returncode == 0 and "No errors detected" in tested.stdout, tested.stdout
    out = tmp_path / "out"
    subprocess.run([unzip, "-q", str(package), "-d", str(out)], check=True)
    manifest = validate((out / "manifest.xml").read_bytes())
    listed = entries(manifest)
    assert len(listed) == 12
    for e in listed:
        body = (out / e["path"].lstrip("/")).read_bytes()
        assert len(body) == int(e["length"])
        assert e["hash"] == f"sha-256:{hashlib.sha256(body).hexdigest()}"
    extracted = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert extracted == {"manifest.xml"} | {e["path"][1:] for e in listed}
