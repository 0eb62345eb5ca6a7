"""`headwater purge`, `gc`, `backup`, `restore`, `retire` (docs/operations.md, "Lifecycle")."""

from __future__ import annotations

import asyncio
import getpass
from pathlib import Path
from typing import Any

import typer

from app.cli.common import settings_or_exit
from app.settings import Settings

__all__ = ["register"]


def _operator() -> str:
    """The name a command-line purge or retirement is recorded under."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli"


async def _with_pool(settings: Settings, work: Any) -> Any:
    from app.db.connect import create_pool
    from app.db.database import open_database

    pool = await create_pool(await open_database(settings), min_size=1, max_size=4)
    try:
        return await work(pool)
    finally:
        await pool.close()


def purge(
    uris: list[str] = typer.Argument(..., help="The published URIs to take down."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded, and given with the 410)."),
) -> None:
    """Take resources down for good: bytes of every version out of the store and dumps.

    A `deleted` change is appended, the bytes leave the content store and every dump package
    (rebuilt), and GET answers 410 with the reason.

    Example: headwater purge https://archive.example.org/content/demo/a.pdf --reason "DMCA 12"
    """
    from app.lifecycle.purge import PurgeError
    from app.lifecycle.purge import purge as do_purge
    from app.store.content import ContentStore

    settings = settings_or_exit()
    store = ContentStore(settings.content_dir)
    try:
        report = asyncio.run(_with_pool(settings, lambda pool: do_purge(
            pool, settings, store, uris, reason=reason, token_name=_operator())))
    except PurgeError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"purged {len(report.uris)} URI(s): {report.deleted} deleted change(s), "
               f"{report.files_removed} file(s) / {report.bytes_removed} bytes removed, "
               f"{report.kept_shared} kept (a live resource shares them), "
               f"{report.packages_rebuilt} dump build(s) rebuilt")


def gc() -> None:
    """Remove store files no resource version names, older than HEADWATER_GC_GRACE.

    Example: HEADWATER_GC_GRACE=2h headwater gc
    """
    from app.lifecycle.gc import collect
    from app.store.content import ContentStore

    settings = settings_or_exit()
    store = ContentStore(settings.content_dir)

    async def work(pool: Any) -> Any:
        async with pool.acquire() as conn:
            return await collect(conn, store, grace=settings.gc_grace.total_seconds())

    report = asyncio.run(_with_pool(settings, work))
    typer.echo(f"gc: {report.files_freed} file(s), {report.bytes_freed} bytes freed "
               f"({report.scanned} old enough to consider, {report.partials_freed} partial "
               "upload(s) removed)")


def retire(
    collection: str = typer.Argument(..., help="The collection (its descendants too)."),
    reason: str = typer.Option("retired", "--reason", help="Why (recorded)."),
) -> None:
    """Retire a collection: a `deleted` change for each resource, its Change Lists kept.

    Descendants included; the collection is marked retired (docs/operations.md).

    Example: headwater retire serials:harvest_2019 --reason "superseded"
    """
    from app.lifecycle.retire import RetireError
    from app.lifecycle.retire import retire as do_retire

    settings = settings_or_exit()

    async def work(pool: Any) -> Any:
        async with pool.acquire() as conn:
            return await do_retire(conn, settings, collection, reason=reason,
                                   token_name=_operator())

    try:
        report = asyncio.run(_with_pool(settings, work))
    except RetireError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"retired {collection} ({report.collections} collection(s)): "
               f"{report.deleted} deleted change(s)")


class _Bar:
    def __init__(self, bar: Any):
        self.bar, self.task = bar, None

    def start(self, description: str, total: int | None) -> None:
        if self.task is not None:
            self.bar.update(self.task, completed=self.bar.tasks[self.task].total or 0)
        self.task = self.bar.add_task(description, total=total)

    def advance(self, nbytes: int) -> None:
        if self.task is not None:
            self.bar.advance(self.task, nbytes)


def _progress() -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                    TimeElapsedColumn(), console=Console(stderr=True))


def backup(folder: Path = typer.Argument(..., help="An empty or new folder.")) -> None:
    """Back up the database and the content store consistently, while the service runs.

    Example: headwater backup /backups/headwater-2026-12-03
    """
    from app.db.database import open_database
    from app.lifecycle.backup import BackupError
    from app.lifecycle.backup import backup as do_backup

    settings = settings_or_exit()

    async def run() -> Any:
        dsn = await open_database(settings)
        with _progress() as bar:
            return await do_backup(settings, dsn, folder, _Bar(bar))

    try:
        info = asyncio.run(run())
    except BackupError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"backup at log position {info.position}: {info.files} file(s), "
               f"{info.bytes} bytes, {info.packages} dump package(s) in {folder}")


def restore(folder: Path = typer.Argument(..., help="A folder `headwater backup` wrote.")) -> None:
    """Restore a backup into an empty database and a fresh data folder.

    Example: HEADWATER_DATA_DIR=/srv/headwater-new headwater restore /backups/headwater-2026-12-03
    """
    from app.db.database import database_url, migrate_database
    from app.lifecycle.backup import BackupError
    from app.lifecycle.backup import restore as do_restore

    settings = settings_or_exit()

    async def run() -> Any:
        dsn = database_url(settings, stop_at_exit=True)
        with _progress() as bar:
            info = await do_restore(settings, dsn, folder, _Bar(bar))
        await migrate_database(dsn, page_size=settings.page_size)
        return info

    try:
        info = asyncio.run(run())
    except BackupError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"restored the backup at log position {info.position} into "
               f"{settings.data_dir}")


def register(cli: typer.Typer) -> None:
    for command in (purge, gc, backup, restore, retire):
        cli.command()(command)
