"""The pure parts of the OAI-PMH provider: argument rules, tokens, set specs, escaping."""

from __future__ import annotations

import os
import stat
import threading
from datetime import UTC, datetime

import pytest

from app.oai import tokens
from app.oai.arguments import OAIError, parse
from app.oai.render import Record, oai_dc
from app.oai.secret import load_secret
from app.oai.sets import domain_leaf, mime_leaf, parse_spec, record_specs
from sitemaps.format import esc

KEY = b"k" * 32


def codes(pairs):
    with pytest.raises(OAIError) as caught:
        parse(pairs)
    return [e.code for e in caught.value.errors], caught.value.echo


def test_verb_rules():
    assert codes([]) == (["badVerb"], False)
    assert codes([("verb", "ListRecords"), ("verb", "ListRecords")]) == (["badVerb"], False)
    assert codes([("verb", "listrecords")]) == (["badVerb"], False)


def test_argument_rules():
    lr = [("verb", "ListRecords"), ("metadataPrefix", "oai_dc")]
    assert codes(lr + [("set", "a"), ("set", "b")]) == (["badArgument"], False)
    assert codes(lr + [("from", "")]) == (["badArgument"], False)
    assert codes(lr + [("from", "2026-02-30")]) == (["badArgument"], False)
    assert codes(lr + [("until", "2026-01-01T00:00Z")]) == (["badArgument"], False)
    assert codes([("verb", "ListSets"), ("resumptionToken", "x"), ("metadataPrefix", "a")]) \
        == (["badArgument"], False)


def test_until_is_the_end_of_its_second_or_day():
    lr = [("verb", "ListRecords"), ("metadataPrefix", "oai_dc")]
    args = parse(lr + [("from", "2026-01-01T10:00:00Z"), ("until", "2026-01-01T10:00:00Z")])
    assert args.since == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert args.until == datetime(2026, 1, 1, 10, 0, 1, tzinfo=UTC)
    args = parse(lr + [("until", "9999-12-31")])
    assert args.until.year == 9999


def test_token_round_trip_and_tampering():
    token = tokens.Token(verb="ListRecords", expires=2_000_000_000, cursor=500, total=1234,
                         prefix="oai_dc", set="collection:a", after_ts=123, after_id=9)
    text_ = tokens.encode(token, KEY)
    assert tokens.decode(text_, KEY, now=1_900_000_000) == token
    assert "collection" not in text_ or "." in text_  # opaque enough, always signed
    with pytest.raises(tokens.BadToken):
        tokens.decode(text_, KEY, now=2_000_000_001)  # expired
    with pytest.raises(tokens.BadToken):
        tokens.decode(text_, b"x" * 32, now=0)  # another key
    for i in range(0, len(text_), 7):
        changed = text_[:i] + ("A" if text_[i] != "A" else "B") + text_[i + 1:]
        with pytest.raises(tokens.BadToken):
            tokens.decode(changed, KEY, now=0)


def test_set_specs():
    assert domain_leaf("https://www.webarchiv.cz:443/x") == "cz:webarchiv:www"
    assert mime_leaf("application/atom+xml") == "application:atom-xml"
    assert mime_leaf("text/html; charset=utf-8") == "text:html"
    assert parse_spec("collection:serials:harvest_2026_11").path == "serials:harvest_2026_11"
    assert parse_spec("collection:") is None and parse_spec("other:x") is None
    assert parse_spec("domain:cz::x") is None
    assert record_specs("a:b", None, "text:html") == ["collection:a:b", "mime:text:html"]


def test_text_escapes_and_drops_forbidden_characters():
    assert esc('a<b>&"\x00\x0b\ufffe') == 'a&lt;b&gt;&amp;&quot;'


def test_oai_dc_puts_the_uri_first_once():
    rec = Record(identifier="oai:x.org:1", datestamp=datetime.now(UTC), deleted=False, specs=[],
                 uri="https://e.org/1",
                 metadata={"identifier": ["https://e.org/1", "urn:x"], "title": "T"})
    xml = oai_dc(rec)
    assert xml.count("<dc:identifier>") == 2
    assert xml.index("<dc:title>") < xml.index("<dc:identifier>https://e.org/1")


def test_secret_is_generated_once_and_shared(tmp_path):
    keys: list[bytes] = []
    threads = [threading.Thread(target=lambda: keys.append(load_secret("", tmp_path)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and len(set(keys)) == 1 and len(keys[0]) == 32
    assert stat.S_IMODE(os.stat(tmp_path / "secret-key").st_mode) == 0o600
    assert load_secret("configured", tmp_path) != keys[0]
