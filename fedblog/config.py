"""Settings read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


class ConfigError(ValueError):
    """A setting in the environment has a value fedblog cannot use."""


def _flag(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in TRUE_WORDS


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    domain: str = "localhost:8000"
    scheme: str = "http"
    username: str = "blog"
    api_token: str | None = None
    database_url: str | None = None
    data_dir: Path = field(default_factory=lambda: Path("fedblog-data"))
    allow_private_addresses: bool = False
    max_body_bytes: int = 1024 * 1024
    # Mastodon's window (app/lib/signed_request.rb): a signature that names no expiry lives
    # 5 minutes after its Date/created, plus 1 h of clock skew; 1 h ahead at most. Mastodon
    # signs every delivery attempt afresh, so its retries always fit.
    signature_max_age: int = 5 * 60 + 3600
    signature_max_future: int = 3600
    fetch_timeout: float = 10.0
    fetch_max_bytes: int = 1024 * 1024
    delivery_timeout: float = 15.0
    # Idle sockets are cheap; slow or hanging hosts hold slots for up to the delivery timeout,
    # and each host is capped by its own client (16 connections).
    delivery_concurrency: int = 512
    # How long a claimed inbox activity stays leased to its worker; a crashed worker's
    # claims are taken over after this (handlers may fetch actors and ancestors).
    inbox_lease: float = 300.0
    instance_name: str = "fedblog"
    # Multiplies every retry delay; tests set it small so a retry takes milliseconds.
    retry_scale: float = 1.0
    # Inbox rate limits (requests per second, sustained); the burst is five times as many.
    inbox_host_rate: float = 100.0
    inbox_actor_rate: float = 10.0

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.domain}"

    @property
    def host(self) -> str:
        """The host name without a port, as WebFinger's acct: URIs use it."""
        return self.domain.split(":")[0] if not self.domain.startswith("[") else self.domain

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        scheme = env.get("FEDBLOG_SCHEME", "").strip() or "https"
        domain = env.get("FEDBLOG_DOMAIN", "").strip() or "localhost:8000"
        if not env.get("FEDBLOG_SCHEME") and domain.startswith(("localhost", "127.0.0.1")):
            scheme = "http"
        if scheme not in ("http", "https"):
            raise ConfigError(f"FEDBLOG_SCHEME must be http or https, got {scheme!r}")
        username = env.get("FEDBLOG_USERNAME", "").strip() or "blog"
        if not username.replace("_", "").replace("-", "").replace(".", "").isalnum():
            raise ConfigError(f"FEDBLOG_USERNAME may hold letters, digits, _ - . only: {username!r}")
        return cls(
            domain=domain,
            scheme=scheme,
            username=username,
            api_token=env.get("FEDBLOG_API_TOKEN") or None,
            database_url=env.get("DATABASE_URL") or None,
            data_dir=Path(env.get("FEDBLOG_DATA_DIR") or "fedblog-data"),
            allow_private_addresses=_flag(env, "FEDBLOG_ALLOW_PRIVATE_ADDRESSES"),
            max_body_bytes=_int(env, "FEDBLOG_MAX_BODY_BYTES", 1024 * 1024),
            delivery_concurrency=_int(env, "FEDBLOG_DELIVERY_CONCURRENCY", 512),
            delivery_timeout=_float(env, "FEDBLOG_DELIVERY_TIMEOUT", 15.0),
            inbox_lease=_float(env, "FEDBLOG_INBOX_LEASE", 300.0),
            retry_scale=_float(env, "FEDBLOG_RETRY_SCALE", 1.0),
            inbox_host_rate=_float(env, "FEDBLOG_INBOX_HOST_RATE", 100.0),
            inbox_actor_rate=_float(env, "FEDBLOG_INBOX_ACTOR_RATE", 10.0),
        )
