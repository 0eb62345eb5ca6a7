from __future__ import annotations

import os
import time

from app.store.content import ContentStore


def test_prepare_removes_only_stale_leftovers(tmp_path):
    store = ContentStore(tmp_path / "content")
    store.prepare()
    old = store.tmp / "killed-upload.part"
    young = store.tmp / "in-flight.part"
    old.write_bytes(b"half")
    young.write_bytes(b"half")
    an_hour_ago = time.time() - 7200
    os.utime(old, (an_hour_ago, an_hour_ago))
    assert store.prepare() == [old]
    assert not old.exists() and young.exists()
