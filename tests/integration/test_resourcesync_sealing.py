"""Quiet collections get sealed pages without a write: the web process's sealer closes open
Change List pages older than HEADWATER_SEAL_AFTER."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx

from app.main import create_app
from app.read.sealer import interval_for
from app.settings import load_settings
from tests.conftest import PAGE_SIZE, TOKEN
from tests.integration.test_resourcesync_support import NS, locs, records, top_md, validate


def test_sealer_interval():
    assert interval_for(timedelta(hours=24)) == 60
    assert interval_for(timedelta(seconds=2)) == 1


async def test_background_sealer_closes_quiet_pages(database_url, data_dir):
    settings = load_settings(database_url=database_url, data_dir=data_dir, write_tokens=[TOKEN],
                             page_size=PAGE_SIZE, base_url="http://127.0.0.1:8000",
                             seal_after="1s")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=settings.base_url) as c:
            r = await c.post("/ingest", json=records(3, collection="quiet"),
                             headers={"Authorization": f"Bearer {TOKEN}"})
            assert r.status_code == 200
            for _ in range(50):
                await asyncio.sleep(0.2)
                top = validate((await c.get("/resourcesync/quiet/changelist.xml")).content)
                assert "until" not in top_md(top)  # the top-level document never closes
                if top.tag == f"{{{NS['sm']}}}sitemapindex":
                    assert "until" in top.find("sm:sitemap/rs:md", NS).attrib
                    break
            else:
                raise AssertionError("the open page was never sealed")
            cap = validate((await c.get("/resourcesync/quiet/capabilitylist.xml")).content)
            assert f"{settings.base_url}/resourcesync/quiet/changelist-archive.xml" in locs(cap)
            page = await c.get("/resourcesync/quiet/changelist/0.xml")
            assert page.headers["cache-control"].endswith("immutable")
            assert len(validate(page.content).findall("sm:url", NS)) == 3
