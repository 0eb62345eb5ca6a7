"""On-demand dumps (`POST /resourcesync/{collection}/dump`) against clients that are slow or
leave: the first byte does not wait for the files to be read, a client that leaves stops the
reading, and a request body trickled in holds no dump slot and is cut off as a whole.

Reading is observed from outside, as the server process's `read_chars` (bytes returned by
read(2), page cache included), not by timing.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import psutil
import pytest

from tests.conftest import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}
FILES, SIZE = 8, 8 * 1024 * 1024  # 64 MiB in all

pytestmark = pytest.mark.slow


def _dump_request(port: int, collection: str, body: bytes) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"POST /resourcesync/{collection}/dump HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                 .encode() + body)
    return sock


def _read_chars(pid: int) -> int:
    return psutil.Process(pid).io_counters().read_chars


def test_first_byte_comes_before_the_files_are_read_and_a_leaving_client_stops_it(
    live_server_factory
):
    server = live_server_factory(HEADWATER_SEND_TIMEOUT="600s")
    uris = []
    for i in range(FILES):
        data = bytes([i]) * SIZE
        r = httpx.put(f"{server.url}/content/odc/f{i}.bin", content=data, headers=AUTH,
                      timeout=60)
        assert r.status_code == 201, r.text
        uris.append(r.json()["uri"])
    pid = server.proc.pid  # type: ignore[union-attr]
    time.sleep(0.5)
    before = _read_chars(pid)
    sock = _dump_request(server.port, "odc", json.dumps({"uris": uris}).encode())
    sock.settimeout(30)
    received = b""
    while b"\r\n\r\n" not in received or len(received.partition(b"\r\n\r\n")[2]) < 4:
        chunk = sock.recv(4096)
        assert chunk, received[:300]
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert body.split(b"\r\n", 1)[-1].startswith(b"PK") or b"PK" in body[:16]
    at_first_byte = _read_chars(pid) - before
    # the whole 64 MiB was read (and CRC'd) before the first byte on the old code
    assert at_first_byte < FILES * SIZE / 2, f"{at_first_byte / 2**20:.1f} MiB read first"
    sock.close()  # the client leaves
    time.sleep(3)
    after_leaving = _read_chars(pid) - before
    assert after_leaving < FILES * SIZE / 2, (
        f"{after_leaving / 2**20:.1f} MiB read for a client that left")
    # and the server still answers a whole dump to the next client
    whole = httpx.post(f"{server.url}/resourcesync/odc/dump", json={"uris": uris[:2]},
                       timeout=60)
    assert whole.status_code == 200 and whole.content.startswith(b"PK")


def test_a_trickled_body_holds_no_dump_slot_and_is_cut_off_as_a_whole(live_server_factory):
    server = live_server_factory(HEADWATER_BODY_READ_TIMEOUT="3s",
                                 HEADWATER_DUMP_CONCURRENCY="1")
    r = httpx.put(f"{server.url}/content/odt/a.txt", content=b"a", headers=AUTH)
    assert r.status_code == 201
    uri = r.json()["uri"]
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.sendall(b"POST /resourcesync/odt/dump HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n")
    stop = threading.Event()

    def trickle() -> None:  # one byte a second: each within the per-chunk timeout
        while not stop.is_set():
            try:
                sock.sendall(b" ")
            except OSError:
                return
            time.sleep(1)

    sender = threading.Thread(target=trickle, daemon=True)
    sender.start()
    started = time.monotonic()
    try:
        time.sleep(0.5)
        other = httpx.post(f"{server.url}/resourcesync/odt/dump", json={"uris": [uri]},
                           timeout=10)
        assert other.status_code == 200, other.text  # the only slot was free
        answer = b""
        while not answer.endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert time.monotonic() - started < 20  # cut off as a whole, not per chunk
    finally:
        stop.set()
        sock.close()
        sender.join(5)
