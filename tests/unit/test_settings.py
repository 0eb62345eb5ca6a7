from __future__ import annotations

from datetime import timedelta

import pytest

from app.settings import SettingsError, load_settings, parse_duration


def test_defaults(monkeypatch):
    s = load_settings()
    assert s.base_url == "http://127.0.0.1:8000"
    assert s.page_size == 50_000
    assert s.seal_after == timedelta(hours=24)
    assert s.lastmod_skew == timedelta(minutes=5)
    assert s.oai_repository_id == "headwater.local"
    assert s.admin_email == "admin@headwater.local"


def test_environment(monkeypatch):
    monkeypatch.setenv("HEADWATER_PORT", "8123")
    a, b, c = "a" * 16, "b" * 20, "c" * 32
    monkeypatch.setenv("HEADWATER_WRITE_TOKENS", f"{a}, {b},,{c}")
    monkeypatch.setenv("HEADWATER_HUB_URL", "http://127.0.0.1:9/hub")
    monkeypatch.setenv("HEADWATER_SEAL_AFTER", "90m")
    monkeypatch.setenv("HEADWATER_LASTMOD_SKEW", "30s")
    s = load_settings()
    assert s.lastmod_skew == timedelta(seconds=30)
    assert s.base_url == "http://127.0.0.1:8123"
    assert s.write_tokens == [a, b, c]
    assert s.hub_url == ["http://127.0.0.1:9/hub"]
    assert s.seal_after == timedelta(minutes=90)


def test_env_file_is_read_and_environment_wins(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("HEADWATER_PORT=9001\nHEADWATER_REPOSITORY_NAME=FromFile\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HEADWATER_PORT", "9002")
    s = load_settings()
    assert s.port == 9002 and s.repository_name == "FromFile"


def test_base_url_with_prefix_and_dotted_host():
    s = load_settings(base_url="https://archive.example.org/rs/")
    assert s.base_url == "https://archive.example.org/rs"
    assert s.base_path == "/rs"
    assert s.oai_repository_id == "archive.example.org"


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("HEADWATER_PORT", "eighty"),
        ("HEADWATER_PAGE_SIZE", "60000"),
        ("HEADWATER_BASE_URL", "http://0.0.0.0:8000"),
        ("HEADWATER_SEAL_AFTER", "soon"),
        ("HEADWATER_LASTMOD_SKEW", "a bit"),
        ("HEADWATER_HUB_MODE", "carrier-pigeon"),
        ("HEADWATER_HUB_URL", "not-a-url"),
        ("HEADWATER_READ_DATABASE_URL", "mysql://replica/db"),
        ("HEADWATER_ACCEL_REDIRECT", "_content"),
        ("HEADWATER_ACCEL_REDIRECT", "/../etc/"),
        ("HEADWATER_CACHE_MAX_AGE", "a while"),
    ],
)
def test_invalid_value_names_the_variable(monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError, match=var):
        load_settings()


def test_parse_duration():
    assert parse_duration("2d") == timedelta(days=2)
    assert parse_duration(30) == timedelta(seconds=30)
    assert parse_duration("250ms") == timedelta(milliseconds=250)


@pytest.mark.parametrize("tokens", ["short", "a-long-enough-token-here,tiny"])
def test_short_write_tokens_are_refused_without_echoing_them(monkeypatch, tokens):
    monkeypatch.setenv("HEADWATER_WRITE_TOKENS", tokens)
    with pytest.raises(SettingsError, match="HEADWATER_WRITE_TOKENS") as caught:
        load_settings()
    assert "16" in str(caught.value)
    assert "short" not in str(caught.value) and "tiny" not in str(caught.value)


def test_unknown_variable_in_the_environment_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("HEADWATER_HUB_URLS", "http://127.0.0.1:9/hub")  # a typo of HUB_URL
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/tmp/x")  # not ours: ignored
    with pytest.raises(SettingsError, match="HEADWATER_HUB_URLS") as caught:
        load_settings()
    assert "HEADWATER_HUB_URL?" in str(caught.value)  # the suggestion


def test_unknown_variable_in_dot_env_is_refused_by_name(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("HEADWATER_PORT=9001\nheadwater_seal_afer=1h\nOTHER=1\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError, match="headwater_seal_afer"):
        load_settings()
    (tmp_path / ".env").write_text("HEADWATER_PORT=9001\nheadwater_seal_after=1h\nOTHER=1\n")
    assert load_settings().seal_after == timedelta(hours=1)  # known names in any case


def test_scaling_settings(monkeypatch, tmp_path):
    s = load_settings(data_dir=tmp_path / "d")
    assert s.content_dir == tmp_path / "d" / "content"
    assert s.read_database_url == [] and s.accel_redirect == ""
    assert s.cache_control == "no-cache"
    monkeypatch.setenv("HEADWATER_CONTENT_DIR", str(tmp_path / "shared"))
    monkeypatch.setenv("HEADWATER_READ_DATABASE_URL",
                       "postgresql://r1/db, postgres://u:secret@r2:5433/db")
    monkeypatch.setenv("HEADWATER_ACCEL_REDIRECT", "/_content/")
    monkeypatch.setenv("HEADWATER_CACHE_MAX_AGE", "30s")
    s = load_settings()
    assert s.content_dir == tmp_path / "shared"
    assert s.read_database_url == ["postgresql://r1/db", "postgres://u:secret@r2:5433/db"]
    assert s.accel_redirect == "/_content/"
    assert s.cache_control == "public, max-age=30"


def test_a_bad_replica_url_is_named_without_its_password(monkeypatch):
    monkeypatch.setenv("HEADWATER_READ_DATABASE_URL", "mysql://u:hunter2@r/db")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert "HEADWATER_READ_DATABASE_URL" in str(err.value) and "hunter2" not in str(err.value)
