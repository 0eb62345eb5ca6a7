"""`headwater dumps build`: the builder run once from the command line, with a progress bar."""

from __future__ import annotations

import asyncio

from app.dumps.builder import Builder, BuildResult, DumpError
from app.settings import Settings
from app.store.content import ContentStore

__all__ = ["RichProgress", "run_build"]


class RichProgress:
    """The builder's progress as a `rich` bar (bytes written to packages)."""

    def __init__(self, bar: object):
        self.bar, self.task = bar, None

    def start(self, description: str, total: int | None) -> None:
        if self.task is not None:
            self.bar.update(self.task, visible=False)
        self.task = self.bar.add_task(description, total=total)  # type: ignore[attr-defined]

    def advance(self, nbytes: int) -> None:
        if self.task is not None:
            self.bar.advance(self.task, nbytes)


async def _build(settings: Settings, dsn: str, collection: str | None, force: bool,
                 progress: RichProgress) -> list[BuildResult]:
    from app.db.connect import create_pool

    pool = await create_pool(dsn, min_size=1, max_size=3)
    try:
        builder = Builder(pool, settings, ContentStore(settings.content_dir), progress, dsn=dsn)
        if collection:
            return await builder.build_collection(collection, force=force)
        return await builder.build_all(force=force)
    finally:
        await pool.close()


def run_build(settings: Settings, dsn: str, collection: str | None, force: bool) -> int:
    """Build, print one line per result; exit status 0, or 1 when a build failed."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
               TransferSpeedColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console) as bar:
            results = asyncio.run(_build(settings, dsn, collection, force, RichProgress(bar)))
    except DumpError as exc:
        console.print(f"[red]{exc}[/red]")
        return 1
    for r in results:
        page = f" page {r.page}" if r.page is not None else ""
        if r.outcome == "withheld":
            print(f"{r.collection} {r.kind}{page}: withheld, {r.missing} entries have no bytes "
                  "here (hosted elsewhere; see headwater ingest --blobs)")
            continue
        missing = f", {r.missing} files missing from the store (left out)" if r.missing else ""
        print(f"{r.collection} {r.kind}{page}: {r.outcome}, {r.packages} packages, "
              f"{r.bytes} bytes{missing}")
    # files gone from the store fail the command; withheld dumps are a known state, not a failure
    return 1 if any(r.missing and r.outcome != "withheld" for r in results) else 0
