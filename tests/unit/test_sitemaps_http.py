from __future__ import annotations

from starlette.requests import Request

from app.read.responses import accepts_gzip, etag_token


def _request(accept_encoding: str | None) -> Request:
    headers = [] if accept_encoding is None else [(b"accept-encoding", accept_encoding.encode())]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


def test_gzip_negotiation():
    assert accepts_gzip(_request("gzip, deflate, br"))
    assert accepts_gzip(_request("br;q=1.0, gzip;q=0.5"))
    assert not accepts_gzip(_request("gzip;q=0"))
    assert not accepts_gzip(_request("identity"))
    assert not accepts_gzip(_request(None))


def test_etag_tokens_depend_on_every_part():
    a = etag_token("resourcelist", "db", "http://h", "vc", 41)
    assert a == etag_token("resourcelist", "db", "http://h", "vc", 41)
    assert a != etag_token("resourcelist", "db", "http://h", "vc", 42)
    assert a != etag_token("resourcelist", "db", "http://h2", "vc", 41)
    assert len(a) == 32 and a.isalnum()
