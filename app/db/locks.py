"""Every advisory lock key the service takes, in one place, so no two uses can collide.

Keys spell their purpose in ASCII. The notifier (its own package, which never imports `app`)
derives one 64-bit key per hub from a sha-256 of `headwater-notifier:<hub>` (`notifier/leader.py`):
a hash that cannot equal these small constants by design of their range.
"""

from __future__ import annotations

__all__ = ["APPEND_LOCK", "MIGRATIONS_LOCK", "DUMP_LOCK", "STORE_LOCK"]

# The change log's append lock (transaction level): every write path takes it before reading the
# state it diffs against, so positions, datetimes and commits come in one order
# (docs/design.md, "Ordering"). OAI-PMH probes it (shared, non-blocking) for its responseDate.
APPEND_LOCK = 0x4857_4C4F_47  # "HWLOG"

# Session level: one process migrates while the others wait.
MIGRATIONS_LOCK = 0x4857_4D49_4752  # "HWMIGR"

# Session level, with the collection id as second key: one dump builder per collection.
DUMP_LOCK = 0x4857_4450  # "HWDP"

# Session level. Exclusive: a purge or a garbage collection pass removing files from the content
# store. Shared: a backup copying the store, so no byte its database snapshot names disappears
# before it is copied (docs/operations.md, "Backup and restore").
STORE_LOCK = 0x4857_5354_4F52  # "HWSTOR"
