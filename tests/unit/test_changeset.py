from __future__ import annotations

from datetime import UTC, datetime

from app.write.changeset import Doc, Row, plan_batch

U = "https://example.org/a"


def kinds(plan):
    return [(c.change, c.collection) for c in plan.changes]


def test_new_uri_is_created():
    plan = plan_batch({}, [Doc(U, "c", md5="1" * 32)])
    assert kinds(plan) == [("created", "c")]
    assert plan.rows[U].moved


def test_identical_record_appends_nothing():
    row = Row(uri=U, collection="c", id=1, md5="1" * 32, lastmod=datetime(2026, 1, 1, tzinfo=UTC))
    plan = plan_batch({U: row}, [Doc(U, "c", md5="1" * 32)])
    assert plan.changes == [] and plan.unchanged == 1


def test_given_lastmod_counts_only_when_it_differs():
    when = datetime(2026, 1, 1, tzinfo=UTC)
    row = Row(uri=U, collection="c", id=1, lastmod=when)
    assert plan_batch({U: row}, [Doc(U, "c", lastmod=when)]).changes == []
    row = Row(uri=U, collection="c", id=1, lastmod=when)
    later = datetime(2026, 1, 2, tzinfo=UTC)
    assert kinds(plan_batch({U: row}, [Doc(U, "c", lastmod=later)])) == [("updated", "c")]


def test_changed_fixity_is_an_update():
    row = Row(uri=U, collection="c", id=1, md5="1" * 32)
    assert kinds(plan_batch({U: row}, [Doc(U, "c", md5="2" * 32)])) == [("updated", "c")]


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
    docs = [Doc(U, "c", md5="1" * 32), Doc(U, "c", md5="2" * 32), Doc(U, "c", md5="2" * 32)]
    plan = plan_batch({}, docs)
    assert kinds(plan) == [("created", "c"), ("updated", "c")]
    assert plan.unchanged == 1
    assert plan.changes[0].snapshot.md5 == "1" * 32
    assert plan.rows[U].last_change == 1
