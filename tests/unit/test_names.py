from __future__ import annotations

import pytest

from sitemaps.names import BadPath, ancestors, content_path, is_collection_name


@pytest.mark.parametrize("name", ["a", "serials:harvest_2026_11", "vc:a", "x.y-z:1:2:3:4:5:6:7"])
def test_valid_collection_names(name):
    assert is_collection_name(name)


@pytest.mark.parametrize(
    "name", ["", "a/b", "a%b", "a::b", ":a", "a:", "a b", "1:2:3:4:5:6:7:8:9", "x" * 201, "é"]
)
def test_invalid_collection_names(name):
    assert not is_collection_name(name)


def test_ancestors_leaf_first():
    assert ancestors("a:b:c") == ["a:b:c", "a:b", "a"]


@pytest.mark.parametrize(
    ("raw", "published"),
    [
        ("report.pdf", "report.pdf"),
        ("dir/sub/file.txt", "dir/sub/file.txt"),
        ("a%20b", "a%20b"),
        ("a b", "a%20b"),
        ("%c3%a9t%C3%A9", "%C3%A9t%C3%A9"),
        ("é", "%C3%A9"),
        ("a&b<c>", "a%26b%3Cc%3E"),
        ("tilde~ok", "tilde~ok"),
        ("%41", "A"),
    ],
)
def test_content_path_is_encoded_once(raw, published):
    assert content_path(raw) == published


@pytest.mark.parametrize(
    "raw", ["..", "a/../b", "%2e%2e/x", "a/./b", "a//b", "a/", "a%2Fb", "a%2fb", "a%00b",
            "a\\b", "a%5Cb", "%ff%fe", ""]
)
def test_content_path_refuses_escapes(raw):
    with pytest.raises(BadPath):
        content_path(raw)
