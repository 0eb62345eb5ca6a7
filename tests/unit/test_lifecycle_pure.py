"""Pure parts of the lifecycle work: token names (`name:token`, plain entries named by place),
the manifest search a purge uses to find packages."""

from __future__ import annotations

from pathlib import Path

from app.http.auth import known_tokens, named_tokens


def test_named_and_plain_entries(tmp_path: Path) -> None:
    assert named_tokens(["legal:abc", "plain", ":xyz"], tmp_path) == [
        ("legal", b"abc"), ("token-2", b"plain"), ("token-3", b"xyz")]
    assert known_tokens(["legal:abc", "plain"], tmp_path) == [b"abc", b"plain"]


def test_generated_token_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "write-token").write_text("generated\n")
    assert named_tokens([], tmp_path) == [("write-token", b"generated")]
    assert named_tokens(["only:this"], tmp_path) == [("only", b"this")]


def test_manifest_search_finds_a_needle_across_chunks(tmp_path: Path) -> None:
    from app.lifecycle.packages import _mentions

    path = tmp_path / "m.xml"
    path.write_bytes(b"x" * 10 + b"sha-256:abc" + b"y" * 10)
    assert _mentions(path, [b"sha-256:abc"], chunk=4)
    assert _mentions(path, [b"nope", b"sha-256:abc"], chunk=15)
    assert not _mentions(path, [b"sha-256:abd"], chunk=4)
    assert not _mentions(tmp_path / "missing.xml", [b"x"])
