"""A bare HTTP/1.1 exchange over a socket: the request target goes out byte for byte, with no
client-side normalisation of `..`, `%2e` or backslashes (httpx would tidy some of them)."""

from __future__ import annotations

import socket
from dataclasses import dataclass


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def exchange(port: int, method: str, target: str | bytes, *, headers: dict[str, str] | None = None,
             body: bytes = b"", timeout: float = 30) -> RawResponse:
    target_bytes = target if isinstance(target, bytes) else target.encode("latin-1")
    lines = [method.encode() + b" " + target_bytes + b" HTTP/1.1", b"Host: 127.0.0.1",
             b"Connection: close", f"Content-Length: {len(body)}".encode()]
    lines += [f"{k}: {v}".encode() for k, v in (headers or {}).items()]
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    if not data:
        return RawResponse(0, {}, b"")  # the server closed without answering (bad request line)
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    return RawResponse(int(status_line.split()[1]), parsed, rest)
