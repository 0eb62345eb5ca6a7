from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from app.write.records import (
    InvalidBatch,
    bare_media_type,
    metadata_lists,
    parse_batch,
    parse_description,
)

GOOD = {"uri": "https://example.org/a", "collection": "vc:a"}


def errors_of(body: bytes, ndjson: bool = False) -> list[tuple[str, str]]:
    with pytest.raises(InvalidBatch) as info:
        parse_batch(body, ndjson=ndjson, max_records=100)
    return [(e.pointer, e.detail) for e in info.value.errors]


def test_full_record_is_normalised():
    record = {
        **GOOD, "length": 3, "type": "text/html; charset=utf-8", "md5": "A" * 32,
        "sha1": "b" * 40, "sha256": "C" * 64, "lastmod": "2026-01-02T03:04:05+01:00",
        "metadata": {"title": "T", "creator": ["x", "y"]},
        "links": [{"rel": "describedby", "href": "https://example.org/a.xml"}],
        "oai_identifier": "oai:example.org:1",
    }
    [rec] = parse_batch(orjson.dumps([record]), ndjson=False, max_records=10)
    assert rec.md5 == "a" * 32 and rec.sha256 == "c" * 64
    assert rec.lastmod == datetime(2026, 1, 2, 2, 4, 5, tzinfo=UTC)
    assert metadata_lists(rec.metadata) == {"title": ["T"], "creator": ["x", "y"]}


def test_pointer_names_record_and_field():
    body = orjson.dumps([GOOD, GOOD, GOOD, {**GOOD, "md5": "abc"}])
    assert [p for p, _ in errors_of(body)] == ["/3/md5"]


@pytest.mark.parametrize(
    ("patch", "pointer"),
    [
        ({"uri": "ftp://example.org/a"}, "/0/uri"),
        ({"uri": "not a uri"}, "/0/uri"),
        ({"uri": "https://example.org/" + "x" * 2050}, "/0/uri"),
        ({"collection": "a/b"}, "/0/collection"),
        ({"length": -1}, "/0/length"),
        ({"length": "12"}, "/0/length"),
        ({"sha256": "0" * 63}, "/0/sha256"),
        ({"sha1": "z" * 40}, "/0/sha1"),
        ({"lastmod": "2026-01-02T03:04:05"}, "/0/lastmod"),
        ({"deleted": "yes"}, "/0/deleted"),
        ({"metadata": {"titel": "typo"}}, "/0/metadata/titel"),
        ({"change": "created"}, "/0/change"),
        ({"colection": "typo"}, "/0/colection"),
        ({"links": [{"rel": "x"}]}, "/0/links/0/href"),
        ({"type": "nonsense"}, "/0/type"),
    ],
)
def test_each_bad_field_is_named(patch, pointer):
    pointers = [p for p, _ in errors_of(orjson.dumps([{**GOOD, **patch}]))]
    assert pointer in pointers


def test_unknown_key_is_reported_as_such():
    assert ("/0/change", "unknown key") in errors_of(orjson.dumps([{**GOOD, "change": "x"}]))


def test_missing_required_field():
    assert "/0/collection" in [p for p, _ in errors_of(b'[{"uri": "https://e.org/x"}]')]


def test_far_future_lastmod_is_refused():
    when = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    assert "/0/lastmod" in [p for p, _ in errors_of(orjson.dumps([{**GOOD, "lastmod": when}]))]


def test_a_lastmod_ahead_by_more_than_the_skew_is_refused():
    ahead = orjson.dumps([GOOD, {**GOOD, "lastmod": (datetime.now(UTC) + timedelta(hours=12))
                                 .isoformat()}])
    with pytest.raises(InvalidBatch) as info:
        parse_batch(ahead, ndjson=False, max_records=10, lastmod_skew=300)
    [err] = info.value.errors
    assert err.pointer == "/1/lastmod" and "HEADWATER_LASTMOD_SKEW" in err.detail
    minute = orjson.dumps([{**GOOD, "lastmod": (datetime.now(UTC) + timedelta(seconds=60))
                            .isoformat()}])
    assert parse_batch(minute, ndjson=False, max_records=10, lastmod_skew=300)
    with pytest.raises(InvalidBatch):
        parse_batch(minute, ndjson=False, max_records=10, lastmod_skew=0)
    with pytest.raises(InvalidBatch) as info:  # NDJSON too
        parse_batch(orjson.dumps(orjson.loads(minute)[0]), ndjson=True, max_records=10,
                    lastmod_skew=0)
    assert [e.pointer for e in info.value.errors] == ["/0/lastmod"]


def test_an_upload_description_names_what_it_gives():
    found, given = parse_description('{"metadata": {"title": "T"}, "oai_identifier": null}')
    assert found.metadata == {"title": "T"} and given == {"metadata", "oai_identifier"}
    utf8 = '{"metadata": {"title": "Ünïcode"}}'.encode().decode("latin-1")  # as a header
    assert parse_description(utf8)[0].metadata == {"title": "Ünïcode"}
    with pytest.raises(InvalidBatch) as info:
        parse_description('{"metadata": {"titel": "T"}, "md5": "x"}')
    assert [e.pointer for e in info.value.errors] == ["/metadata/titel", "/md5"]
    with pytest.raises(InvalidBatch):
        parse_description("[1]")


def test_malformed_json():
    with pytest.raises(InvalidBatch, match="malformed JSON"):
        parse_batch(b"[{", ndjson=False, max_records=10)


def test_body_must_be_an_array():
    with pytest.raises(InvalidBatch):
        parse_batch(orjson.dumps(GOOD), ndjson=False, max_records=10)


def test_ndjson_pointer_is_the_line_index():
    body = b"\n".join([orjson.dumps(GOOD), orjson.dumps({**GOOD, "length": -5})])
    assert [p for p, _ in errors_of(body, ndjson=True)] == ["/1/length"]


def test_ndjson_bad_line():
    body = orjson.dumps(GOOD) + b"\n{oops\n"
    assert errors_of(body, ndjson=True)[0][0] == "/1"


def test_batch_limit():
    with pytest.raises(InvalidBatch, match="more than 2"):
        parse_batch(orjson.dumps([GOOD] * 3), ndjson=False, max_records=2)


def test_bare_media_type():
    assert bare_media_type("Application/LD+JSON; profile=x") == "application/ld+json"
    assert bare_media_type(None) is None
