"""Dumps cover what they promise (ResourceSync 1.1 §11, §13.2; docs/dumps.md): a collection
holding resources hosted elsewhere gets no Resource Dump nor Change Dump — not built, not in its
Capability List, a 404 that says why, a line on the status page — until `headwater ingest
--blobs` brings their bytes in from the crawler's blob folder; then every resource is packed."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from lxml import html

from app.dumps.builder import Builder
from app.write.loader.run import load_files
from app.write.writer import seal_stale_pages
from tests.conftest import PAGE_SIZE, ROOT
from tests.integration.test_dumps_support import NS, check_package, entries, validate

BASE = "http://127.0.0.1:8000"
FILES = {f"paper{i}": f"%PDF-1.4 paper {i}\n".encode() * (i + 3) for i in range(3)}


def result(name: str, data: bytes) -> dict:
    """A sandcrawler single-file ingest result for `data`."""
    return {"hit": True, "status": "success",
            "request": {"base_url": f"https://doi.example/10.5555/{name}", "ingest_type": "pdf"},
            "terminal": {"terminal_url": f"https://journal.example/{name}.pdf",
                         "terminal_dt": "20261101103045", "terminal_status_code": 200},
            "file_meta": {"size_bytes": len(data), "md5hex": hashlib.md5(data).hexdigest(),
                          "sha1hex": hashlib.sha1(data).hexdigest(),
                          "sha256hex": hashlib.sha256(data).hexdigest(),
                          "mimetype": "application/pdf"}}


def blob_folder(root: Path, files: dict[str, bytes], *, suffix: str = "") -> Path:
    """sandcrawler's layout: DIR/<sha1[0:2]>/<sha1[2:4]>/<sha1>."""
    for data in files.values():
        sha1 = hashlib.sha1(data).hexdigest()
        path = root / sha1[0:2] / sha1[2:4] / (sha1 + suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def results_file(tmp_path: Path, files: dict[str, bytes]) -> Path:
    path = tmp_path / "results.jsonl"
    path.write_bytes(b"".join(orjson.dumps(result(n, d)) + b"\n" for n, d in files.items()))
    return path


async def load(db, data_dir, path, *, collection="crawl", **kw):
    return await load_files(db, [str(path)], collection=collection, data_dir=data_dir,
                            base_url=BASE, page_size=PAGE_SIZE,
                            seal_after=timedelta(hours=24), resume=False, **kw)


async def build(app, collection: str):
    builder = Builder(app.state.pool, app.state.settings, app.state.store)
    return {(r.kind, r.page): r for r in await builder.build_collection(collection)}


async def capabilities(client, collection: str) -> set[str]:
    root = validate((await client.get(f"/resourcesync/{collection}/capabilitylist.xml")).content)
    return {md.get("capability") for md in root.findall("sm:url/rs:md", NS)}


async def withheld_rows(client) -> dict[tuple[str, str], int]:
    doc = html.fromstring((await client.get("/")).text)
    return {(tr.get("data-collection"), tr.get("data-kind")): int(tr.find_class("missing")[0].text)
            for tr in doc.xpath("//table[@id='dumps-withheld']//tr[@data-collection]")}


async def test_no_dump_is_offered_while_resources_are_hosted_elsewhere(
        app, client, db, data_dir, tmp_path):
    path = results_file(tmp_path, FILES)
    summary = await load(db, data_dir, path)
    assert summary.resources == 3
    await seal_stale_pages(db, page_size=PAGE_SIZE, seal_after=timedelta(0))

    built = await build(app, "crawl")
    assert built[("resourcedump", None)].outcome == "withheld"
    assert built[("resourcedump", None)].missing == 3
    assert built[("changedump", 0)].outcome == "withheld"
    assert built[("changedump", 0)].packages == 0
    assert not {"resourcedump", "changedump"} & await capabilities(client, "crawl")
    for doc in ("resourcedump.xml", "changedump.xml"):
        r = await client.get(f"/resourcesync/crawl/{doc}")
        assert r.status_code == 404
        assert "hosted elsewhere" in r.json()["detail"]
        assert "--blobs" in r.json()["detail"]
    assert await withheld_rows(client) == {("crawl", "changedump"): 3,
                                           ("crawl", "resourcedump"): 3}
    assert not list((data_dir / "dumps").rglob("*.zip"))  # nothing packed for nothing

    # the bytes come in from the crawler's blob folder: the Resource Dump holds every resource
    blobs = blob_folder(tmp_path / "blobs", FILES)
    summary = await load(db, data_dir, path, blobs=blobs)
    assert (summary.blobs_copied, summary.blobs_missing, summary.changed) == (3, 0, 3)
    built = await build(app, "crawl")
    assert built[("resourcedump", None)].outcome == "built"
    assert "resourcedump" in await capabilities(client, "crawl")
    root = validate((await client.get("/resourcesync/crawl/resourcedump.xml")).content)
    [package_loc] = [e["loc"] for e in entries(root)]
    package = (await client.get(package_loc.removeprefix(BASE))).content
    manifest, files = check_package(package, "resourcedump-manifest")
    listed = {e["loc"]: files[e["path"]] for e in entries(manifest)}
    assert listed == {f"https://journal.example/{n}.pdf": d for n, d in FILES.items()}
    # the Resource List still points where the crawl found them
    rl = validate((await client.get("/resourcesync/crawl/resourcelist.xml")).content)
    assert sorted(e["loc"] for e in entries(rl)) == sorted(listed)
    # the Change List's first page still holds three changes without bytes: no Change Dump
    assert "changedump" not in await capabilities(client, "crawl")
    assert await withheld_rows(client) == {("crawl", "changedump"): 3}

    # once the page of the updates (with bytes) seals, the Change Dump starts there
    await seal_stale_pages(db, page_size=PAGE_SIZE, seal_after=timedelta(0))
    built = await build(app, "crawl")
    assert built[("changedump", 1)].outcome == "built"
    assert "changedump" in await capabilities(client, "crawl")
    root = validate((await client.get("/resourcesync/crawl/changedump.xml")).content)
    page1_from = (await db.fetchval(
        "SELECT from_time FROM dump_builds WHERE kind = 'changedump' AND page = 1"))
    from sitemaps.format import w3c
    assert root.find("rs:md", NS).get("from") == w3c(page1_from)
    [listed] = entries(root)
    assert listed["from"] == w3c(page1_from)
    manifest, files = check_package((await client.get(listed["loc"].removeprefix(BASE))).content,
                                    "changedump-manifest")
    assert [e["change"] for e in entries(manifest)] == ["updated"] * 3
    assert sorted(files.values()) == sorted(FILES.values())
    assert await withheld_rows(client) == {("crawl", "changedump"): 3}


async def test_loaded_with_blobs_from_the_start_every_dump_is_complete(
        app, client, db, data_dir, tmp_path):
    blobs = blob_folder(tmp_path / "blobs", FILES, suffix=".pdf")  # an extension is found too
    summary = await load(db, data_dir, results_file(tmp_path, FILES), blobs=blobs)
    assert summary.blobs_copied == 3
    await seal_stale_pages(db, page_size=PAGE_SIZE, seal_after=timedelta(0))
    built = await build(app, "crawl")
    assert built[("changedump", 0)].outcome == "built"
    assert built[("resourcedump", None)].outcome == "built"
    assert {"resourcedump", "changedump"} <= await capabilities(client, "crawl")
    root = validate((await client.get("/resourcesync/crawl/changedump.xml")).content)
    [loc] = [e["loc"] for e in entries(root)]
    manifest, files = check_package((await client.get(loc.removeprefix(BASE))).content,
                                    "changedump-manifest")
    assert sorted(files.values()) == sorted(FILES.values())
    assert [e["change"] for e in entries(manifest)] == ["created"] * 3
    assert await withheld_rows(client) == {}


async def test_a_blob_that_does_not_match_its_record_is_refused(db, data_dir, tmp_path):
    blobs = tmp_path / "blobs"
    good = dict(list(FILES.items())[:1])
    blob_folder(blobs, good)
    bad_data = b"not the paper"
    bad = result("bad", FILES["paper1"])  # its sha1 names a blob holding other bytes
    sha1 = bad["file_meta"]["sha1hex"]
    (blobs / sha1[0:2] / sha1[2:4]).mkdir(parents=True)
    (blobs / sha1[0:2] / sha1[2:4] / sha1).write_bytes(bad_data)
    lines = [result(n, d) for n, d in good.items()] + [bad, result("none", FILES["paper2"])]
    path = tmp_path / "r.jsonl"
    path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    summary = await load(db, data_dir, path, blobs=blobs)
    assert (summary.blobs_copied, summary.blobs_missing) == (1, 1)
    [(_, line, reason)] = summary.rejected
    assert line == 2 and "does not match" in reason and "sha-1" in reason
    rows = {r["uri"]: r["content_key"] for r in await db.fetch(
        "SELECT uri, content_key FROM resources")}
    assert rows == {"https://journal.example/paper0.pdf":
                    hashlib.sha256(FILES["paper0"]).hexdigest(),
                    "https://journal.example/none.pdf": None}


def test_ingest_blobs_option(database_url, data_dir, tmp_path):
    blobs = blob_folder(tmp_path / "blobs", FILES)
    path = results_file(tmp_path, FILES)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HEADWATER_") and k != "DATABASE_URL"}
    env.update({"DATABASE_URL": database_url, "HEADWATER_DATA_DIR": str(data_dir),
                "HEADWATER_PAGE_SIZE": str(PAGE_SIZE)})
    exe = str(Path(sys.executable).with_name("headwater"))
    run = subprocess.run([exe, "ingest", "--collection", "crawl", "--blobs", str(blobs),
                          str(path)], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert f"bytes: 3 copied from {blobs}, 0 already stored, 0 without a blob" in run.stdout
    for data in FILES.values():
        key = hashlib.sha256(data).hexdigest()
        assert (data_dir / "content" / key[:2] / key[2:4] / key).read_bytes() == data
    missing = subprocess.run([exe, "ingest", "--collection", "crawl", "--blobs",
                              str(tmp_path / "nope"), str(path)], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "is not a folder" in missing.stderr


@pytest.mark.parametrize("suffix", ["", ".pdf"])
def test_blob_folder_layout(tmp_path, suffix):
    from app.write.loader.blobs import BlobFolder

    data = b"x"
    blob_folder(tmp_path, {"x": data}, suffix=suffix)
    sha1 = hashlib.sha1(data).hexdigest()
    assert BlobFolder(tmp_path).find(sha1) == tmp_path / sha1[:2] / sha1[2:4] / (sha1 + suffix)
    assert BlobFolder(tmp_path).find("0" * 40) is None
    assert BlobFolder(tmp_path).find("../" + sha1) is None
