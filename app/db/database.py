"""Finding the database and bringing it to the current schema: the one way every entry point
(the web app, each command, the tests) gets a database it can use.
"""

from __future__ import annotations

from app.db import migrate
from app.db.connect import connect
from app.db.embedded import start_embedded
from app.settings import Settings

__all__ = ["database_url", "migrate_database", "open_database"]


def database_url(settings: Settings, *, stop_at_exit: bool = False) -> str:
    """DATABASE_URL, else the embedded cluster in the data folder (started if needed). With
    `stop_at_exit`, an embedded cluster this process started stops when it exits."""
    if settings.database_url:
        return settings.database_url
    return start_embedded(settings.data_dir, stop_at_exit=stop_at_exit)


async def migrate_database(dsn: str, *, page_size: int) -> list[migrate.Migration]:
    """Apply what is pending; raises migrate.StartRefused (another page size, a server older
    than PostgreSQL 14) before changing anything."""
    conn = await connect(dsn)
    try:
        return await migrate.upgrade(conn, page_size=page_size)
    finally:
        await conn.close()


async def open_database(settings: Settings, *, stop_at_exit: bool = False) -> str:
    """The URL of the configured database, migrated to the current schema."""
    dsn = database_url(settings, stop_at_exit=stop_at_exit)
    await migrate_database(dsn, page_size=settings.page_size)
    return dsn
