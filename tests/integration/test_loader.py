"""`headwater ingest`: the bulk loader on the shipped sample, limits, resume, rejects."""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import orjson

from app.store.content import ContentStore
from app.write.changeset import Doc
from app.write.loader.results import Limits, interpret
from app.write.loader.run import checkpoint_path, load_files
from app.write.writer import write_batch
from tests.conftest import ROOT

SAMPLE = ROOT / "tests" / "data" / "sample-ingest.jsonl"


async def load(db, data_dir, files, **kw):
    return await load_files(db, [str(f) for f in files], collection=kw.pop("collection", "demo"),
                            data_dir=data_dir, base_url="http://127.0.0.1:8000", page_size=1000,
                            seal_after=timedelta(hours=24), **kw)


async def test_sample_counts_by_outcome(db, data_dir):
    s = await load(db, data_dir, [SAMPLE])
    assert s.lines == 32 and s.loaded == 22 and s.resources == 25
    assert dict(s.skipped) == {"no-pdf-link": 5, "terminal-bad-status": 4, "too-many-files": 1}
    assert s.rejected == []
    assert await db.fetchval("SELECT count(*) FROM resources") == 25
    fileset = await db.fetchrow(
        "SELECT links, metadata FROM resources WHERE uri = 'https://zenodo.example.org/record/7777'")
    assert [link["rel"] for link in fileset["links"]] == ["item"] * 3
    member = await db.fetchrow("SELECT links, length, md5 FROM resources "
                               "WHERE uri LIKE 'https://zenodo.example.org/record/7777/files/data/readme.txt%'")
    assert member["links"] == [{"rel": "collection", "href": "https://zenodo.example.org/record/7777"}]
    assert member["length"] > 0 and len(member["md5"]) == 32


async def test_rerun_resumes_and_changes_nothing(db, data_dir):
    await load(db, data_dir, [SAMPLE])
    changes = await db.fetchval("SELECT count(*) FROM changes")
    s = await load(db, data_dir, [SAMPLE])
    assert s.resumed == 32 and s.loaded == 0
    s = await load(db, data_dir, [SAMPLE], resume=False)
    assert s.loaded == 22 and s.changed == 0 and s.unchanged == 25
    assert await db.fetchval("SELECT count(*) FROM changes") == changes


async def test_gzip_and_limits(db, data_dir, tmp_path):
    gz = tmp_path / "sample.jsonl.gz"
    gz.write_bytes(gzip.compress(SAMPLE.read_bytes()))
    s = await load(db, data_dir, [gz], limits=Limits(max_file_count=2, max_total_size=10**9))
    assert s.skipped["too-many-files"] == 2
    s2 = await load(db, data_dir, [gz], limits=Limits(max_total_size=100), resume=False)
    assert s2.skipped["too-large-size"] == 1


async def test_bad_lines_are_rejected_with_line_numbers(db, data_dir, tmp_path):
    good = SAMPLE.read_text().splitlines()[0]
    bad_hash = orjson.loads(good)
    bad_hash["file_meta"]["md5hex"] = "xyz"
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([good, "{not json", orjson.dumps(bad_hash).decode(), "[1]"]) + "\n")
    s = await load(db, data_dir, [path])
    assert [(line, reason.split(":")[0]) for _, line, reason in s.rejected] == [
        (2, "malformed JSON"), (3, "md5"), (4, "a line must hold a JSON object")]
    assert s.loaded == 1


async def test_a_line_contradicting_stored_bytes_is_rejected_not_the_load(db, data_dir,
                                                                          tmp_path):
    store = ContentStore(data_dir / "content")

    async def chunks():
        yield b"%PDF stored here"

    stored = await store.put_stream(chunks(), max_bytes=1 << 20)
    ours = "http://127.0.0.1:8000/content/demo/stored.pdf"
    await write_batch(db, [Doc(uri=ours, collection="demo", content_key=stored.key,
                               fixity=stored.fixity)],
                      page_size=1000, seal_after=timedelta(hours=24))
    good = orjson.loads(SAMPLE.read_bytes().splitlines()[0])
    clash = orjson.loads(SAMPLE.read_bytes().splitlines()[0])
    clash["terminal"]["terminal_url"] = ours  # other bytes than the ones stored for it
    f = tmp_path / "clash.jsonl"
    f.write_bytes(orjson.dumps(good) + b"\n" + orjson.dumps(clash) + b"\n")
    s = await load(db, data_dir, [f])
    assert [(line, why.split(" ", 1)[0]) for _, line, why in s.rejected] == [(2, "length")]
    assert s.loaded == 1 and s.changed == 1
    row = await db.fetchrow("SELECT content_key, md5 FROM resources WHERE uri = $1", ours)
    assert tuple(row) == (stored.key, stored.fixity.md5)


def test_interpret_single_file_prefers_terminal_url():
    line = orjson.loads(SAMPLE.read_text().splitlines()[0])
    out = interpret(line, "c", Limits())
    assert out.records[0]["uri"] == line["terminal"]["terminal_url"]
    assert out.records[0]["lastmod"].endswith("+00:00")
    # requested URL → terminal URL is `cite-as` (RFC 8574), not `via` (ResourceSync §14.8)
    assert line["request"]["base_url"] != line["terminal"]["terminal_url"]
    assert out.records[0]["links"] == [{"rel": "cite-as", "href": line["request"]["base_url"]}]


def _cli(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    exe = Path(sys.executable).with_name("headwater")
    return subprocess.Popen([str(exe), "ingest", *args], env=env, cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


async def test_kill_mid_load_then_resume(db, database_url, data_dir, tmp_path):
    # 20,000 single-file results in batches of 500: killed part-way, then resumed
    lines = []
    for i in range(20_000):
        lines.append(orjson.dumps({
            "status": "success", "request": {"base_url": f"https://e.org/{i}"},
            "terminal": {"terminal_url": f"https://e.org/{i}.pdf"},
            "file_meta": {"size_bytes": i, "md5hex": f"{i:032x}", "mimetype": "application/pdf"},
        }).decode())
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(lines) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    env.update({"DATABASE_URL": database_url, "HEADWATER_DATA_DIR": str(data_dir),
                "HEADWATER_PAGE_SIZE": "1000"})
    proc = _cli("--collection", "big", "--batch-size", "500", str(path), env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not checkpoint_path(data_dir, path).is_file():
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()  # reaps it and closes its pipes
    committed = await db.fetchval("SELECT count(*) FROM resources")
    assert committed % 500 == 0 and 0 < committed < 20_000  # whole batches only
    proc = _cli("--collection", "big", "--batch-size", "500", str(path), env=env)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "resumed:" in out
    assert await db.fetchval("SELECT count(*) FROM resources") == 20_000
    assert await db.fetchval("SELECT count(*) FROM changes") == 20_000
    assert shutil.which("true")


def test_make_demo_on_a_fresh_data_folder(tmp_path):
    """`make demo`'s command on an empty data folder: embedded PostgreSQL, migrated, loaded."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HEADWATER_") and k != "DATABASE_URL"}
    env["HEADWATER_DATA_DIR"] = str(tmp_path / "data")
    exe = Path(sys.executable).with_name("headwater")
    proc = subprocess.run([str(exe), "ingest", "--collection", "demo", str(SAMPLE)], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "loaded: 22 results → 25 resources" in proc.stdout


async def test_lines_with_wrong_types_or_forbidden_characters_are_rejected_alone(
    db, data_dir, tmp_path
):
    """A field of the wrong JSON type, or text XML 1.0 forbids, rejects its own line (with its
    number); the lines around it load."""
    good = orjson.loads(SAMPLE.read_text().splitlines()[0])
    terminal_str = {**good, "terminal": "x"}
    fileset = {"status": "success", "platform_base_url": "https://example.org/set",
               "manifest": [{"path": "a", "size": "12", "terminal_url": "https://example.org/a"}]}
    nonchar = {**good, "terminal": {**good["terminal"],
                                    "terminal_url": "https://example.org/a\uffffb"}}
    request_str = {**good, "request": "x"}
    path = tmp_path / "types.jsonl"
    lines = [terminal_str, fileset, nonchar, request_str, good]
    path.write_bytes(b"\n".join(orjson.dumps(x) for x in lines) + b"\n")
    s = await load(db, data_dir, [path])
    assert [line for _, line, _ in s.rejected] == [1, 2, 3, 4], s.rejected
    assert "U+FFFF" in s.rejected[2][2] or "uri" in s.rejected[2][2]
    assert s.loaded == 1


async def test_an_endless_gzip_line_is_read_no_further_than_the_limit(
    db, data_dir, tmp_path, monkeypatch
):
    import app.write.loader.run as run

    monkeypatch.setattr(run, "MAX_LINE", 10_000)
    good = SAMPLE.read_text().splitlines()[0].encode()
    gz = tmp_path / "long.jsonl.gz"
    gz.write_bytes(gzip.compress(b"a" * 5_000_000 + b"\n" + good + b"\n" + b"b" * 50_000))
    s = await load(db, data_dir, [gz])
    assert [(line, reason) for _, line, reason in s.rejected] == [
        (1, "line longer than 10000 bytes"), (3, "line longer than 10000 bytes")]
    assert s.loaded == 1
