"""Every setting, read once from the environment (`HEADWATER_*`, `DATABASE_URL`) and `.env`.

The environment wins over `.env`. An invalid value stops the start with a message naming the
variable (pydantic reports the field; `load_settings` turns that into one readable line each).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from notifier import NotifierConfig, Tuning

__all__ = ["Settings", "SettingsError", "load_settings", "parse_duration", "unknown_variables"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
MIN_TOKEN_LENGTH = 16  # a guessable write token is no token


def parse_duration(value: object) -> timedelta:
    """`"24h"`, `"90s"`, `"15m"`, `"2d"` or a number of seconds, as a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError("expected a duration such as 30s, 15m, 24h or 2d")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def _split_csv(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(",") if part.strip()]


Csv = Annotated[list[str], NoDecode]
Duration = Annotated[timedelta, NoDecode]


class SettingsError(Exception):
    """The configuration is invalid; the message names each offending variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HEADWATER_", env_file=".env", extra="ignore", validate_default=True
    )

    # Where things live.
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    read_database_url: Csv = []  # streaming replicas for public reads (docs/scaling.md)
    replica_wait: Duration = timedelta(seconds=2)
    data_dir: Path = Path("data")
    content_dir: Path = Path("")  # "" → data_dir/content (set in _derived)
    accel_redirect: str = ""  # e.g. /_content/: nginx sends content bytes (deploy/nginx/)
    cache_max_age: Duration = timedelta(0)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    base_url: str = ""
    workers: int = Field(default=1, ge=1, le=64)

    # Writes.
    write_tokens: Csv = []
    max_batch: int = Field(default=10_000, ge=1)
    max_body: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_upload: int = Field(default=4 * 1024**3, ge=1024)
    lastmod_skew: Duration = timedelta(minutes=5)

    # Documents.
    page_size: int = Field(default=50_000, ge=1, le=50_000)
    seal_after: Duration = timedelta(hours=24)

    # Notifier.
    hub_url: Csv = []  # public: published to subscribers (notifier/hubs.py)
    hub_publish_url: Csv = []  # where notifications are POSTed; may carry credentials
    hub_mode: Literal["resourcesync", "websub"] = "resourcesync"
    notifier: Literal["inprocess", "external"] = "inprocess"
    topic_window: int = Field(default=1_000, ge=0)
    notify_batch: int = Field(default=1_000, ge=1, le=50_000)
    notify_window: Duration = timedelta(milliseconds=50)
    notify_poll: Duration = timedelta(seconds=5)

    # OAI-PMH.
    oai_repository_id: str = ""
    repository_name: str = "Headwater"
    admin_email: str = ""
    oai_page_size: int = Field(default=500, ge=1, le=10_000)
    secret_key: str = ""
    oai_token_ttl: Duration = timedelta(hours=24)

    # Dumps.
    dump_max_bytes: int = Field(default=1024**3, ge=1)
    dump_concurrency: int = Field(default=2, ge=1)
    package_max_bytes: int = Field(default=100 * 1024**2, ge=1024)
    package_max_files: int = Field(default=50_000, ge=1)

    # Limits and back-pressure (app/http/limits.py; uvicorn's own limits in `serve`).
    max_inflight: int = Field(default=1_000, ge=1)
    document_concurrency: int = Field(default=6, ge=1)  # below the pool's 10 connections
    # long enough for a crowd of destinations to queue (wait ≈ destinations ÷ documents/s:
    # 100 on two cores measured ~0.5 s, docs/benchmarks.md, Load); max_inflight bounds memory
    busy_wait: Duration = timedelta(seconds=10)
    pool_timeout: Duration = timedelta(seconds=5)  # longest wait for a database connection
    body_read_timeout: Duration = timedelta(seconds=30)
    send_timeout: Duration = timedelta(seconds=60)
    timeout_keep_alive: int = Field(default=5, ge=1)
    max_header_size: int = Field(default=16 * 1024, ge=1024)
    limit_concurrency: int = Field(default=2_048, ge=0)
    backlog: int = Field(default=2_048, ge=1)

    # Lifecycle (docs/operations.md): garbage collection of the content store.
    gc_grace: Duration = timedelta(hours=24)
    gc_every: Duration = timedelta(hours=24)  # 0 turns the periodic pass off

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("write_tokens", "hub_url", "hub_publish_url", "read_database_url",
                     mode="before")
    @classmethod
    def _csv(cls, value: object) -> list[str]:
        return _split_csv(value)

    @field_validator("seal_after", "lastmod_skew", "oai_token_ttl", "notify_window",
                     "notify_poll", "busy_wait", "pool_timeout", "body_read_timeout",
                     "send_timeout", "replica_wait", "cache_max_age", "gc_grace", "gc_every",
                     mode="before")
    @classmethod
    def _duration(cls, value: object) -> timedelta:
        return parse_duration(value)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("write_tokens")
    @classmethod
    def _long_tokens(cls, value: list[str]) -> list[str]:
        for i, entry in enumerate(value, 1):
            token = entry.partition(":")[2] or entry  # `name:token` names a token
            if len(token) < MIN_TOKEN_LENGTH:  # never echo the token itself
                raise ValueError(f"token {i} has {len(token)} characters; each write token "
                                 f"needs at least {MIN_TOKEN_LENGTH} (e.g. `openssl rand -hex 32`)")
        return value

    @field_validator("hub_url", "hub_publish_url")
    @classmethod
    def _hub_urls(cls, value: list[str]) -> list[str]:
        # never echo a hub URL here: a publish URL may carry a password
        for i, url in enumerate(value, 1):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"hub {i} is not an absolute http(s) URL")
        return value

    @field_validator("hub_url")
    @classmethod
    def _public_hub_urls(cls, value: list[str]) -> list[str]:
        for i, url in enumerate(value, 1):
            if "@" in urlsplit(url).netloc:
                raise ValueError(
                    f"hub {i} carries credentials (user:password@), but this URL is published "
                    "to subscribers; give the credentials in HEADWATER_HUB_PUBLISH_URL instead")
        return value

    @field_validator("read_database_url")
    @classmethod
    def _replica_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if urlsplit(url).scheme not in ("postgres", "postgresql"):
                raise ValueError(f"{_redact(url)!r} is not a postgresql:// URL")
        return value

    @field_validator("accel_redirect")
    @classmethod
    def _accel_prefix(cls, value: str) -> str:
        if value and not re.fullmatch(r"/([A-Za-z0-9_-][A-Za-z0-9_.-]*/)+", value):
            raise ValueError("expected an internal location such as /_content/ (a path that "
                             "starts and ends with /)")
        return value

    @model_validator(mode="after")
    def _derived(self) -> Settings:
        if self.hub_publish_url and len(self.hub_publish_url) != len(self.hub_url):
            raise ValueError("HEADWATER_HUB_PUBLISH_URL must list one URL per hub of "
                             "HEADWATER_HUB_URL, in the same order")
        if self.content_dir == Path(""):
            self.content_dir = self.data_dir / "content"
        if not self.base_url:
            self.base_url = f"http://{self.host}:{self.port}"
        self.base_url = self.base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("HEADWATER_BASE_URL must be an absolute http(s) URL")
        if parts.hostname in ("0.0.0.0", "::"):
            raise ValueError(
                "HEADWATER_BASE_URL must name a host clients can reach, not 0.0.0.0; "
                "set it to the public URL of this service"
            )
        if parts.query or parts.fragment:
            raise ValueError("HEADWATER_BASE_URL must not carry a query or fragment")
        if not self.oai_repository_id:
            host = parts.hostname
            dotted = re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*(\.[A-Za-z][A-Za-z0-9-]*)+", host)
            self.oai_repository_id = host if dotted else "headwater.local"
        if not self.admin_email:
            self.admin_email = f"admin@{self.oai_repository_id}"
        if not re.fullmatch(r"\S+@(\S+\.)+\S+", self.admin_email):
            raise ValueError("HEADWATER_ADMIN_EMAIL must be an e-mail address")
        return self

    @property
    def base_path(self) -> str:
        """The path prefix of the base URL ('' or '/rs'): every route is mounted under it."""
        return urlsplit(self.base_url).path.rstrip("/")

    @property
    def cache_control(self) -> str:
        """Cache-Control of what may change (open documents, content): revalidate every time,
        or let caches (deploy/nginx/) keep it for HEADWATER_CACHE_MAX_AGE."""
        seconds = int(self.cache_max_age.total_seconds())
        return f"public, max-age={seconds}" if seconds > 0 else "no-cache"

    def notifier_config(self) -> NotifierConfig:
        """What the notifier is told (it reads no settings of its own)."""
        return NotifierConfig(
            base_url=self.base_url, hubs=tuple(self.hub_url),
            publish_urls=tuple(self.hub_publish_url), mode=self.hub_mode,
            page_size=self.page_size, topic_window=self.topic_window,
            tuning=Tuning(batch=self.notify_batch, window=self.notify_window.total_seconds(),
                          poll=self.notify_poll.total_seconds()))


def known_variables() -> set[str]:
    """Every variable a setting is read from (upper case)."""
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names.add(alias.upper() if isinstance(alias, str) else f"HEADWATER_{name.upper()}")
    return names


def unknown_variables(environ: Mapping[str, str], env_file: Path | None = Path(".env")
                      ) -> list[str]:
    """`HEADWATER_*` names in the environment or `.env` that no setting reads: a typo there
    would otherwise be dropped without a word (names compare case-insensitively, as the
    settings are read). Other variables (PROMETHEUS_MULTIPROC_DIR, PATH, …) are not ours."""
    from dotenv import dotenv_values

    names = list(environ)
    if env_file is not None and env_file.is_file():
        names += [k for k in dotenv_values(env_file) if k]
    known = known_variables()
    return sorted({n for n in names if n.upper().startswith("HEADWATER_")
                   and n.upper() not in known})


def _unknown_line(name: str) -> str:
    close = difflib.get_close_matches(name.upper(), sorted(known_variables()), n=1, cutoff=0.7)
    hint = f"; did you mean {close[0]}?" if close else "; see the README's settings table"
    return f"{name}: not a setting{hint}"


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()
    return url


def load_settings(**overrides: object) -> Settings:
    """Read the settings, or raise SettingsError with one line per invalid or unknown
    variable."""
    unknown = unknown_variables(os.environ)
    if unknown:
        raise SettingsError("invalid configuration:\n  "
                            + "\n  ".join(_unknown_line(n) for n in unknown))
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "configuration"
            name = "DATABASE_URL" if field == "database_url" else f"HEADWATER_{field.upper()}"
            lines.append(f"{name}: {err['msg']}")
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(lines)) from None
