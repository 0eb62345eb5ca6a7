"""The `headwater` command: everything an operator runs."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import signal
import sys
from pathlib import Path

import typer

from app.cli import lifecycle
from app.cli.common import settings_or_exit
from app.settings import Settings, SettingsError

__all__ = ["main", "cli"]

cli = typer.Typer(help="Headwater: a ResourceSync Source server.", no_args_is_help=True,
                  add_completion=False)
db_cli = typer.Typer(help="Database administration.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")


def _database_url(settings: Settings, *, stop_at_exit: bool = True) -> str:
    """DATABASE_URL, else the embedded cluster in the data folder (started if needed)."""
    from app.db.database import database_url

    url = database_url(settings, stop_at_exit=stop_at_exit)
    os.environ["DATABASE_URL"] = url  # worker processes inherit it
    return url


def _migrated_database(settings: Settings, *, stop_at_exit: bool = True) -> str:
    """The database URL with every migration applied, so each command works on a fresh data
    folder; a page size other than the stored one stops the command (exit 2)."""
    from app.db.database import migrate_database
    from app.db.migrate import StartRefused

    dsn = _database_url(settings, stop_at_exit=stop_at_exit)
    try:
        asyncio.run(migrate_database(dsn, page_size=settings.page_size))
    except StartRefused as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from None
    return dsn


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations.

    Example: DATABASE_URL=postgresql://localhost/headwater headwater db upgrade
    """
    from app.db.database import migrate_database
    from app.db.migrate import StartRefused

    settings = settings_or_exit()
    try:
        applied = asyncio.run(migrate_database(_database_url(settings),
                                               page_size=settings.page_size))
    except StartRefused as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from None
    names = [f"{m.version}_{m.name}" for m in applied]
    typer.echo("applied: " + ", ".join(names) if names else "database is current")


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


@cli.command()
def serve(
    host: str = typer.Option(None, help="Interface to listen on (HEADWATER_HOST)."),
    port: int = typer.Option(None, help="Port (HEADWATER_PORT)."),
    workers: int = typer.Option(None, help="uvicorn worker processes (HEADWATER_WORKERS)."),
) -> None:
    """Migrate, then serve the API (embedded PostgreSQL unless DATABASE_URL is set).

    Example: HEADWATER_PORT=8123 HEADWATER_DATA_DIR=/tmp/x headwater serve
    """
    import uvicorn

    from app.http.auth import ensure_token_file

    if host:
        os.environ["HEADWATER_HOST"] = host
    if port:
        os.environ["HEADWATER_PORT"] = str(port)
    settings = settings_or_exit()
    _migrated_database(settings)
    if not settings.write_tokens:
        token, created = ensure_token_file(settings.data_dir)
        if created:
            typer.secho(f"write token (kept in {settings.data_dir}/write-token, printed this "
                        f"once): {token}", err=True, fg="green")
        else:
            typer.secho(f"write token: the one in {settings.data_dir}/write-token", err=True)
    typer.secho(f"serving {settings.base_url} on {settings.host}:{settings.port}", err=True)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it under the handler it found:
    # with the default one the process dies without running atexit, leaving the embedded
    # cluster running. Exiting instead lets the cluster stop, so the folder can be reused.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    count = workers or settings.workers
    if count > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # each worker counts its own requests: prometheus-client's multiprocess mode merges
        # them through files, so any worker's /metrics shows the whole service
        metrics_dir = settings.data_dir / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    uvicorn.run(
        "app.main:create_app", factory=True, host=settings.host, port=settings.port,
        workers=count, log_level=settings.log_level.lower(),
        proxy_headers=True, timeout_graceful_shutdown=10,
        # connection-level limits (app/http/limits.py does request-level back-pressure with 429)
        timeout_keep_alive=settings.timeout_keep_alive,
        h11_max_incomplete_event_size=settings.max_header_size,
        limit_concurrency=settings.limit_concurrency or None, backlog=settings.backlog,
    )


@cli.command()
def ingest(
    files: list[str] = typer.Argument(..., help="JSON Lines ('-' for stdin, .gz as gzip)."),
    collection: str = typer.Option(..., help="Collection the resources are published in."),
    batch_size: int = typer.Option(5_000, help="Records per transaction."),
    max_file_count: int = typer.Option(200, help="Refuse larger filesets (too-many-files)."),
    max_total_size: int = typer.Option(64 * 1024**3, help="Refuse larger filesets (bytes)."),
    restart: bool = typer.Option(False, help="Ignore checkpoints: read every file from the top."),
    blobs: str = typer.Option(
        None, help="The crawler's blob folder (DIR/<sha1[0:2]>/<sha1[2:4]>/<sha1>): copy each "
                   "file's bytes into the content store, so dumps can hold it."),
) -> None:
    """Load crawler ingest results (single-file and fileset results) into a collection.

    Each committed batch is checkpointed: re-running on the same file resumes after it.
    With --blobs, each file whose sha-1 is in the blob folder gets its bytes stored (checked
    against the result's digests and size); the others stay hosted elsewhere.
    Example: headwater ingest --collection serials:harvest_2026_11 results.jsonl.gz
    Example: headwater ingest --collection serials:x --blobs /srv/blobs results.jsonl.gz
    """
    import time

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from app.db.connect import connect
    from app.write.loader.results import Limits
    from app.write.loader.run import load_files
    from sitemaps.names import is_collection_name

    if not is_collection_name(collection):
        typer.secho(f"invalid collection name {collection!r}", fg="red", err=True)
        raise typer.Exit(2)
    if blobs is not None and not os.path.isdir(blobs):
        typer.secho(f"--blobs {blobs!r} is not a folder", fg="red", err=True)
        raise typer.Exit(2)
    settings = settings_or_exit()
    dsn = _migrated_database(settings)
    total = sum(os.path.getsize(f) for f in files if f != "-" and os.path.exists(f))
    console = Console(stderr=True)
    started = time.monotonic()
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[rate]}"),
               TimeElapsedColumn())

    async def run():
        conn = await connect(dsn)
        try:
            with Progress(*columns, console=console, transient=False) as bar:
                task = bar.add_task("loading", total=total or None, rate="")

                def progress(lines: int, nbytes: int) -> None:
                    rate = lines / max(time.monotonic() - started, 1e-6)
                    bar.update(task, completed=nbytes, rate=f"{lines} records, {rate:,.0f}/s")

                return await load_files(
                    conn, files, collection=collection, data_dir=settings.data_dir,
                    base_url=settings.base_url, page_size=settings.page_size,
                    seal_after=settings.seal_after,
                    limits=Limits(max_file_count, max_total_size), batch_size=batch_size,
                    resume=not restart, progress=progress,
                    blobs=Path(blobs) if blobs is not None else None,
                    content_dir=settings.content_dir,
                )
        finally:
            await conn.close()

    summary = asyncio.run(run())
    elapsed = time.monotonic() - started
    typer.echo(f"lines read: {summary.lines} in {elapsed:.1f}s "
               f"({summary.lines / max(elapsed, 1e-6):,.0f}/s)")
    typer.echo(f"loaded: {summary.loaded} results → {summary.resources} resources "
               f"({summary.changed} changes, {summary.unchanged} unchanged)")
    if summary.resumed:
        typer.echo(f"resumed: {summary.resumed} lines already committed by an earlier run")
    for reason, count in sorted(summary.skipped.items()):
        typer.echo(f"skipped {reason}: {count}")
    if blobs is not None:
        typer.echo(f"bytes: {summary.blobs_copied} copied from {blobs}, {summary.blobs_stored} "
                   f"already stored, {summary.blobs_missing} without a blob (hosted elsewhere)")
    typer.echo(f"rejected: {len(summary.rejected)}")
    for name, line, reason in summary.rejected[:50]:
        typer.echo(f"  {name}:{line}: {reason}")
    raise typer.Exit(1 if summary.rejected else 0)


@cli.command()
def check(
    base_url: str = typer.Option(None, "--base-url", help="Source to check (HEADWATER_BASE_URL)."),
    collection: str = typer.Option(None, help="Collection to sync (default: the first one)."),
    oai_limit: int = typer.Option(100_000, help="Stop the OAI-PMH pass after this many ids."),
) -> None:
    """Verify a running source: resync baseline + hash check + audit, and an OAI-PMH pass.

    Example: headwater check --base-url https://archive.example.org --collection demo
    """
    from rich.console import Console
    from rich.table import Table

    from app.cli.check import run_checks

    if importlib.util.find_spec("resync") is None or importlib.util.find_spec("sickle") is None:
        typer.secho("headwater check runs the resync client and sickle: "
                    "pip install 'headwater[check]'", fg="red", err=True)
        raise typer.Exit(2)

    base = base_url or settings_or_exit().base_url
    console = Console(stderr=True)
    with console.status("checking") as status:
        steps = run_checks(base, collection, oai_limit=oai_limit,
                           progress=lambda name: status.update(f"checking: {name}"))
    table = Table(title=f"headwater check {base}")
    for column in ("step", "result", "detail", "seconds"):
        table.add_column(column)
    for step in steps:
        table.add_row(step.name, "PASS" if step.ok else "FAIL", step.detail, f"{step.seconds:.1f}")
    Console().print(table)
    ok = bool(steps) and all(step.ok for step in steps)
    typer.echo("check: PASS" if ok else "check: FAIL")
    raise typer.Exit(0 if ok else 1)


@cli.command()
def notifier() -> None:
    """Deliver change notifications to the configured hubs until SIGINT/SIGTERM.

    For HEADWATER_NOTIFIER=external; several may run: one per hub is active, the others wait.
    Example: HEADWATER_HUB_URL=https://hub.example.org/ headwater notifier
    """
    from app.logs import configure_logging

    settings = settings_or_exit()
    configure_logging(settings.log_level)
    if not settings.hub_url:
        typer.secho("notifier off: no HEADWATER_HUB_URL", err=True)
        raise typer.Exit(0)
    # with no DATABASE_URL, share the web process's embedded cluster and leave it running
    dsn = _migrated_database(settings, stop_at_exit=False)
    asyncio.run(_notify_until_signalled(settings, dsn))


async def _notify_until_signalled(settings: Settings, dsn: str) -> None:
    import logging

    from app.db.connect import connect
    from notifier import Notifier

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    config = settings.notifier_config()
    log = logging.getLogger("notifier")
    log.info("notifier on: %s mode, hubs %s", config.mode,
             ", ".join(hub.name for hub in config.hub_list()))
    await Notifier(config, lambda: connect(dsn)).run(stop)
    log.info("notifier stopped")


dumps_cli = typer.Typer(help="Resource Dumps and Change Dumps.", no_args_is_help=True)
cli.add_typer(dumps_cli, name="dumps")


@dumps_cli.command("build")
def dumps_build(
    collection: str = typer.Option(None, help="Only this collection (default: every one)."),
    force: bool = typer.Option(False, help="Rebuild the Resource Dump even if unchanged."),
) -> None:
    """Pack sealed Change List pages not yet packed and rebuild changed Resource Dumps.

    Example: headwater dumps build --collection serials
    """
    from app.dumps.progress import run_build

    settings = settings_or_exit()
    raise typer.Exit(run_build(settings, _migrated_database(settings), collection, force))


lifecycle.register(cli)


def main() -> None:
    try:
        cli()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        sys.exit(2)
