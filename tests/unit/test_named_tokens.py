"""Write tokens carry names (`name:token`); plain entries keep working, named by position."""

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
