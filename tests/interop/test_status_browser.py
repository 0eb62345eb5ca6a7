"""The status page in a real headless Chromium (Debian's): no console errors, real numbers."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import TOKEN, require_binary

pytestmark = pytest.mark.interop


def test_status_page_in_chromium(live_server, tmp_path):
    chromium = require_binary("chromium", "chromium")
    from playwright.sync_api import sync_playwright

    batch = [{"uri": f"https://example.org/x/{i}", "collection": "web:crawl", "type": "text/html"}
             for i in range(7)]
    r = httpx.post(live_server.url + "/ingest", json=batch,
                   headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200

    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        page = browser.new_page()
        page.on("console",
                lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("requestfailed", lambda req: problems.append(f"failed: {req.url}"))
        response = page.goto(live_server.url + "/")
        assert response is not None and response.status == 200
        page.wait_for_load_state("networkidle")
        assert page.text_content("tr[data-collection='web:crawl'] td.resources") == "7"
        assert page.text_content("tr[data-collection='web'] td.resources") == "7"
        assert page.text_content("#log-position") == "7"
        assert page.text_content("#changes-24h") == "7"
        # the stylesheet loaded under the CSP (bars are drawn with a fill from it)
        fill = page.eval_on_selector("#change-rate rect", "r => getComputedStyle(r).fill")
        assert fill == "rgb(47, 129, 247)"
        page.screenshot(path=str(tmp_path / "status.png"))
        browser.close()
    assert problems == []
