from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.write.changeset import (
    DESCRIPTION,
    Contradicts,
    Doc,
    Row,
    plan_batch,
    published_lastmod,
)
from sitemaps.fixity import Fixity

U = "https://example.org/a"


def kinds(plan):
    return [(c.change, c.collection) for c in plan.changes]


def test_new_uri_is_created():
    plan = plan_batch({}, [Doc(U, "c", fixity=Fixity(md5="1" * 32))])
    assert kinds(plan) == [("created", "c")]
    assert plan.rows[U].moved


def test_identical_record_appends_nothing():
    row = Row(uri=U, collection="c", id=1, lastmod=datetime(2026, 1, 1, tzinfo=UTC),
              fixity=Fixity(md5="1" * 32))
    plan = plan_batch({U: row}, [Doc(U, "c", fixity=Fixity(md5="1" * 32))])
    assert plan.changes == [] and plan.unchanged == 1


def test_given_lastmod_counts_only_when_it_differs():
    when = datetime(2026, 1, 1, tzinfo=UTC)
    row = Row(uri=U, collection="c", id=1, lastmod=when)
    assert plan_batch({U: row}, [Doc(U, "c", lastmod=when)]).changes == []
    row = Row(uri=U, collection="c", id=1, lastmod=when)
    later = datetime(2026, 1, 2, tzinfo=UTC)
    assert kinds(plan_batch({U: row}, [Doc(U, "c", lastmod=later)])) == [("updated", "c")]


def test_changed_fixity_is_an_update():
    row = Row(uri=U, collection="c", id=1, fixity=Fixity(md5="1" * 32))
    doc = Doc(U, "c", fixity=Fixity(md5="2" * 32))
    assert kinds(plan_batch({U: row}, [doc])) == [("updated", "c")]


def test_delete_then_recreate():
    row = Row(uri=U, collection="c", id=1)
    plan = plan_batch({U: row}, [Doc(U, "c", deleted=True), Doc(U, "c")])
    assert kinds(plan) == [("deleted", "c"), ("created", "c")]


def test_deleting_unknown_or_deleted_is_unchanged():
    row = Row(uri=U, collection="c", id=1, deleted=True)
    docs = [Doc(U, "c", deleted=True), Doc("https://e.org/x", "c", deleted=True)]
    plan = plan_batch({U: row}, docs)
    assert plan.changes == [] and plan.unchanged == 2


def test_move_is_delete_in_old_and_create_in_new():
    row = Row(uri=U, collection="old", id=1)
    plan = plan_batch({U: row}, [Doc(U, "new")])
    assert kinds(plan) == [("deleted", "old"), ("created", "new")]
    assert plan.rows[U].collection == "new" and plan.rows[U].moved


def test_same_uri_twice_in_a_batch_folds_in_order():
    docs = [Doc(U, "c", fixity=Fixity(md5="1" * 32)), Doc(U, "c", fixity=Fixity(md5="2" * 32)),
            Doc(U, "c", fixity=Fixity(md5="2" * 32))]
    plan = plan_batch({}, docs)
    assert kinds(plan) == [("created", "c"), ("updated", "c")]
    assert plan.unchanged == 1
    assert plan.changes[0].snapshot.fixity.md5 == "1" * 32
    assert plan.rows[U].last_change == 1


# ---- bytes stored here belong to their URI (docs/rules.md §3)

KEY = "a" * 64
STORED = dict(content_key=KEY, fixity=Fixity(5, "text/plain", "1" * 32, "2" * 40, KEY))


def stored_row(**extra):
    return Row(uri=U, collection="c", id=1, lastmod=datetime(2026, 1, 1, tzinfo=UTC),
               **{**STORED, **extra})


def test_a_record_describing_stored_bytes_keeps_them():
    doc = Doc(U, "c", metadata={"title": ["T"]}, links=[{"rel": "license", "href": U}])
    plan = plan_batch({U: stored_row()}, [doc])
    assert kinds(plan) == [("updated", "c")]
    row = plan.rows[U]
    assert (row.content_key, row.fixity) == (KEY, STORED["fixity"])
    assert row.metadata == {"title": ["T"]}
    assert plan.changes[0].snapshot.content_key == KEY  # the change carries the fixity too


def test_a_record_agreeing_with_stored_bytes_may_repeat_them_and_set_the_type():
    doc = Doc(U, "c", fixity=Fixity(length=5, type="text/markdown", md5="1" * 32, sha256=KEY))
    row = plan_batch({U: stored_row()}, [doc]).rows[U]
    assert row.content_key == KEY and row.fixity.type == "text/markdown"


def test_a_record_contradicting_stored_bytes_is_refused_with_each_field():
    ok = Doc("https://example.org/b", "c")
    bad = Doc(U, "c", fixity=Fixity(length=6, md5="9" * 32, sha1="2" * 40))
    with pytest.raises(Contradicts) as info:
        plan_batch({U: stored_row()}, [ok, bad])
    assert [(c.index, c.field) for c in info.value.found] == [(1, "length"), (1, "md5")]


def test_a_record_naming_other_stored_bytes_replaces_them():
    other = "b" * 64
    doc = Doc(U, "c", content_key=other, fixity=Fixity(sha256=other))
    row = plan_batch({U: stored_row()}, [doc]).rows[U]
    assert row.content_key == other and row.fixity.md5 is None


def test_deleting_drops_the_bytes_and_a_later_record_does_not_revive_them():
    plan = plan_batch({U: stored_row()}, [Doc(U, "c", deleted=True),
                                          Doc(U, "c", fixity=Fixity(md5="3" * 32))])
    assert kinds(plan) == [("deleted", "c"), ("created", "c")]
    assert plan.rows[U].content_key is None and plan.rows[U].fixity.md5 == "3" * 32


def test_moving_stored_bytes_keeps_them():
    plan = plan_batch({U: stored_row()}, [Doc(U, "d")])
    assert kinds(plan) == [("deleted", "c"), ("created", "d")]
    assert plan.rows[U].content_key == KEY


def test_identical_description_of_stored_bytes_appends_nothing():
    row = stored_row(metadata={"title": ["T"]})
    plan = plan_batch({U: row}, [Doc(U, "c", metadata={"title": ["T"]})])
    assert plan.changes == [] and plan.unchanged == 1


def test_a_new_upload_keeps_the_description_it_does_not_replace():
    row = stored_row(metadata={"title": ["T"]}, links=[{"rel": "x", "href": U}],
                     oai_identifier="oai:old:1")
    new = Doc(U, "c", content_key="b" * 64, keep=DESCRIPTION,
              fixity=Fixity(length=7, sha256="b" * 64))
    got = plan_batch({U: row}, [new]).rows[U]
    assert got.content_key == "b" * 64 and got.fixity.length == 7
    assert (got.metadata, got.links, got.oai_identifier) == (
        {"title": ["T"]}, [{"rel": "x", "href": U}], "oai:old:1")
    row = stored_row(metadata={"title": ["T"]}, oai_identifier="oai:old:1")
    new = Doc(U, "c", content_key="b" * 64, metadata={"title": ["U"]},
              keep=DESCRIPTION - {"metadata"})
    got = plan_batch({U: row}, [new]).rows[U]
    assert got.metadata == {"title": ["U"]} and got.oai_identifier == "oai:old:1"


def test_a_lastmod_is_never_published_after_its_change():
    when = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert published_lastmod(None, when) == when
    assert published_lastmod(when - timedelta(hours=1), when) == when - timedelta(hours=1)
    assert published_lastmod(when + timedelta(seconds=1), when) == when
