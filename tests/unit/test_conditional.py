from __future__ import annotations

from datetime import UTC, datetime

from app.http.conditional import http_date, not_modified

WHEN = datetime(2026, 11, 26, 10, 0, 0, 123456, tzinfo=UTC)


def test_if_none_match():
    assert not_modified({"if-none-match": '"abc"'}, '"abc"', WHEN)
    assert not_modified({"if-none-match": 'W/"abc", "x"'}, '"abc"', WHEN)
    assert not_modified({"if-none-match": "*"}, '"abc"', WHEN)
    assert not not_modified({"if-none-match": '"zzz"'}, '"abc"', WHEN)


def test_if_none_match_wins_over_if_modified_since():
    headers = {"if-none-match": '"zzz"', "if-modified-since": http_date(WHEN)}
    assert not not_modified(headers, '"abc"', WHEN)


def test_if_modified_since():
    assert not_modified({"if-modified-since": http_date(WHEN)}, '"a"', WHEN)
    assert not not_modified({"if-modified-since": "Wed, 25 Nov 2026 10:00:00 GMT"}, '"a"', WHEN)
    assert not not_modified({"if-modified-since": "garbage"}, '"a"', WHEN)


def test_no_validators():
    assert not not_modified({}, '"a"', WHEN)
