"""`headwater check`: verify a running deployment with the clients destinations really use.

Runs the reference ResourceSync client (`resync-sync`, as its own process) for a baseline sync
and an audit of one collection into a scratch folder, checks the hashes it cannot check itself
(its `--hash` option is a no-op), and walks OAI-PMH ListIdentifiers with `sickle`. Each step
is a pass or a fail with a reason; the command exits non-zero if any step failed.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from lxml import etree

__all__ = ["Step", "run_checks", "resync_status"]

SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
RS = "{http://www.openarchives.org/rs/terms/}"


@dataclass
class Step:
    name: str
    ok: bool
    detail: str
    seconds: float = 0.0


def resync_status(output: str) -> str | None:
    """The first `Status:` line of a resync-sync run (its last one is known to be wrong)."""
    match = re.search(r"Status:\s+(.+)", output)
    return match.group(1).strip() if match else None


def _resync(args: list[str], cwd: Path, timeout: float) -> tuple[str, str | None]:
    exe = Path(sys.executable).with_name("resync-sync")
    proc = subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)
    out = proc.stdout + proc.stderr
    # resync exits 0 on fatal errors: read what it says instead
    if proc.returncode != 0 or "FatalError" in out or "Traceback" in out:
        return out, None
    return out, resync_status(out)


def _collections(client: httpx.Client, base: str) -> list[str]:
    r = client.get(f"{base}/.well-known/resourcesync")
    r.raise_for_status()
    root = etree.fromstring(r.content)
    return [loc.text or "" for loc in root.iter(f"{SM}loc")]


def _resource_list_urls(
    client: httpx.Client, url: str
) -> list[tuple[str, str | None, str | None]]:
    """(loc, md5, sha-256) of every entry, following an index to its parts."""
    root = etree.fromstring(client.get(url).content)
    if root.tag == f"{SM}sitemapindex":
        out = []
        for loc in root.iter(f"{SM}loc"):
            out.extend(_resource_list_urls(client, loc.text or ""))
        return out
    entries = []
    for url_el in root.iter(f"{SM}url"):
        md = url_el.find(f"{RS}md")
        tokens = (md.get("hash", "") if md is not None else "").split()
        hashes = dict(t.split(":", 1) for t in tokens if ":" in t)
        loc = url_el.findtext(f"{SM}loc") or ""
        entries.append((loc, hashes.get("md5"), hashes.get("sha-256")))
    return entries


def run_checks(
    base: str,
    collection: str | None,
    *,
    timeout: float = 600,
    oai_limit: int = 100_000,
    progress: Callable[[str], None] = lambda _: None,
) -> list[Step]:
    base = base.rstrip("/")
    steps: list[Step] = []

    def timed(name: str, fn: Callable[[], tuple[bool, str]]) -> bool:
        progress(name)
        start = time.monotonic()
        try:
            ok, detail = fn()
        except Exception as exc:  # a check reports every failure rather than crashing
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        steps.append(Step(name, ok, detail, time.monotonic() - start))
        return ok

    with httpx.Client(timeout=60, follow_redirects=False) as client, \
            tempfile.TemporaryDirectory(prefix="headwater-check-") as scratch:
        work = Path(scratch)
        dest = work / "dest"
        caps: list[str] = []

        def discover() -> tuple[bool, str]:
            caps.extend(_collections(client, base))
            return bool(caps), f"{len(caps)} capability list(s) in the Source Description"

        if not timed("discovery", discover):
            return steps
        if collection:
            cap = f"{base}/resourcesync/{collection}/capabilitylist.xml"
        else:
            cap = caps[0]
        if cap not in caps:
            steps.append(Step("discovery", False, f"{cap} is not in the Source Description"))
            return steps
        resource_list = cap.replace("capabilitylist.xml", "resourcelist.xml")

        def baseline() -> tuple[bool, str]:
            out, status = _resync(["--baseline", "--delete", "--capabilitylist", cap, base,
                                   str(dest)], work, timeout)
            if status is None:
                return False, out.strip().splitlines()[-1] if out.strip() else "no output"
            return status.startswith(("SYNCED", "IN SYNC", "NOT IN SYNC")), status

        def hashes() -> tuple[bool, str]:
            entries = _resource_list_urls(client, resource_list)
            bad = []
            for loc, md5, sha256 in entries:
                if not loc.startswith(base):
                    continue
                local = dest / loc[len(base):].lstrip("/")
                if not local.is_file():
                    bad.append(f"missing {loc}")
                    continue
                data = local.read_bytes()
                if md5 and hashlib.md5(data).hexdigest() != md5:
                    bad.append(f"md5 mismatch {loc}")
                if sha256 and hashlib.sha256(data).hexdigest() != sha256:
                    bad.append(f"sha-256 mismatch {loc}")
            detail = f"{len(entries)} entries checked" if not bad else "; ".join(bad[:5])
            return not bad, detail

        def audit() -> tuple[bool, str]:
            out, status = _resync(["--audit", "--capabilitylist", cap, base, str(dest)], work,
                                  timeout)
            if status is None:
                return False, out.strip().splitlines()[-1] if out.strip() else "no output"
            return status.startswith("IN SYNC"), status

        def oai() -> tuple[bool, str]:
            from sickle import Sickle
            from sickle.oaiexceptions import NoRecordsMatch

            harvester = Sickle(f"{base}/oai", max_retries=2, timeout=60)
            seen = 0
            try:
                for _ in harvester.ListIdentifiers(metadataPrefix="oai_dc", ignore_deleted=False):
                    seen += 1
                    if seen >= oai_limit:
                        break
            except NoRecordsMatch:
                pass
            limit = " (limit reached)" if seen >= oai_limit else ""
            return True, f"{seen} identifiers listed{limit}"

        if timed("resync baseline", baseline):
            timed("published hashes match downloaded bytes", hashes)
            timed("resync audit", audit)
        timed("OAI-PMH ListIdentifiers", oai)
    return steps
