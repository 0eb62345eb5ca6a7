from __future__ import annotations

from app.cli.check import resync_status


def test_first_status_line_is_read():
    out = ("Status:     NOT IN SYNC (same=0, to create=2, to update=0, to delete=0)\n"
           "Status:          SYNCED (same=0, created=2, updated=0, deleted=0)\n")
    assert resync_status(out) == "NOT IN SYNC (same=0, to create=2, to update=0, to delete=0)"
    assert resync_status("nothing") is None
