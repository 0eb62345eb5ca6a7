"""`python -m notifier`: the notifier as its own process (same as `headwater notifier`)."""

from __future__ import annotations

import asyncio
import sys

from app.logs import configure_logging
from app.settings import SettingsError, load_settings
from notifier.service import run_standalone


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    if settings.database_url:
        dsn = settings.database_url
    else:
        from app.db.embedded import start_embedded

        dsn = start_embedded(settings.data_dir, stop_at_exit=False)
    return asyncio.run(run_standalone(settings, dsn))


if __name__ == "__main__":
    sys.exit(main())
