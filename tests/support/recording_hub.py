"""A minimal hub that records what it receives: for tests, the benchmark, and for trying the
notifier by hand (`python -m tests.support.recording_hub 8099` prints each request).

A plain asyncio HTTP/1.1 server in its own thread: it reads exactly `Content-Length` bytes (no
chunked bodies accepted, as docs/rules.md §6 promises hubs), answers `status` (204 by default) and
keeps (arrival time, method, path, headers, body) for each request. Stopping and starting it
on the same port plays a hub that goes down and comes back.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from dataclasses import dataclass, field

__all__ = ["Received", "RecordingHub"]

_REASONS = {200: "OK", 202: "Accepted", 204: "No Content", 400: "Bad Request",
            500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass(frozen=True)
class Received:
    at: float  # time.time() when the body was complete
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class RecordingHub:
    port: int
    status: int = 204
    keep_bodies: bool = True
    delay: float = 0.0  # seconds before answering: a slow hub
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self.lock = threading.Lock()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hub"

    def start(self) -> RecordingHub:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._server = self._loop.run_until_complete(asyncio.start_server(
                self._handle, "127.0.0.1", self.port, reuse_address=True))
            ready.set()
            self._loop.run_forever()
            self._loop.close()

        self._thread = threading.Thread(target=run, name=f"hub-{self.port}", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        """Down, like a crashed hub: stop listening and drop every open connection."""
        if self._loop and self._thread:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = self._thread = None

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                if "chunked" in headers.get("transfer-encoding", ""):
                    status, body = 411, b""  # Length Required: we read Content-Length bytes
                else:
                    body = await reader.readexactly(int(headers.get("content-length", "0")))
                    status = self.status
                    if self.delay:
                        await asyncio.sleep(self.delay)
                with self.lock:
                    self.received.append(Received(time.time(), method, path, headers,
                                                  body if self.keep_bodies else b""))
                reason = _REASONS.get(status, "Status")
                writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\n\r\n"
                             .encode())
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client went away, or the hub is going down
        finally:
            self._writers.discard(writer)
            writer.close()


def _serve(argv: list[str]) -> None:
    """`python -m tests.support.recording_hub PORT [LOG [stamps]]`: answer 204 to everything; with
    LOG, write one line per request when it stops (SIGTERM/SIGINT): arrival time, the topic,
    body bytes and, with `stamps`, every `datetime="…"` in the body (for latency)."""
    import re
    import signal

    port = int(argv[0]) if argv else 8099
    log = argv[1] if len(argv) > 1 else None
    hub = RecordingHub(port, keep_bodies=argv[2:3] == ["stamps"]).start()
    print(f"recording hub at {hub.url}", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    seen = 0
    while not done.wait(0.5):
        if not log:
            for r in hub.snapshot()[seen:]:
                print(r.method, r.path, r.headers.get("link"), len(r.body), "bytes", flush=True)
            seen = len(hub.snapshot())
    hub.stop()
    if log:
        stamp = re.compile(rb'datetime="([^"]+)"')
        with open(log, "w") as out:
            for r in hub.snapshot():
                topic = r.headers.get("link", "").split(">")[0].lstrip("<")
                stamps = " ".join(s.decode() for s in stamp.findall(r.body))
                size = r.headers.get("content-length", "0")
                out.write(f"{r.at:.6f}\t{topic}\t{size}\t{stamps}\n")


if __name__ == "__main__":
    _serve(sys.argv[1:])
