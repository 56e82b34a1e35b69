"""Settings read once from the environment."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
MIN_TOKEN_LENGTH = 16
# host[:port]: a name (IDNA or not) or an IPv4 address, or an IPv6 address in brackets.
DOMAIN = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[^\s/:@?#\[\]\\]+)(?::(?P<port>\d{1,5}))?")
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
# Tokens copied from examples (this README's earlier quick start, docker/.env.example, tutorials).
EXAMPLE_TOKEN_WORDS = ("changeme", "example", "yourtoken", "secret", "password", "token123",
                       "1234567890")


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


def check_domain(domain: str) -> str:
    """FEDBLOG_DOMAIN is a host with an optional port: no scheme, no path."""
    if "://" in domain:
        raise ConfigError(f"FEDBLOG_DOMAIN takes a host name without a scheme, got {domain!r} "
                          f"(write {domain.split('://', 1)[1].split('/')[0]!r}; the scheme is "
                          "FEDBLOG_SCHEME)")
    if "/" in domain:
        raise ConfigError(f"FEDBLOG_DOMAIN takes a host name without a path, got {domain!r} "
                          "(fedblog is served at the root of its domain)")
    match = DOMAIN.fullmatch(domain)
    if match is None or (match["port"] is not None and not 0 < int(match["port"]) < 65536):
        raise ConfigError(f"FEDBLOG_DOMAIN must be a host name with an optional :port, got {domain!r}")
    return domain


def check_token(name: str, token: str | None) -> str | None:
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(f"{name} must be at least {MIN_TOKEN_LENGTH} characters long; make one "
                          "with `openssl rand -hex 16` or `fedblog token create`")
    return token


def looks_like_example(token: str) -> bool:
    """A token copied from an example, or one character repeated: anyone may guess it."""
    squashed = re.sub(r"[^a-z0-9]", "", token.lower())
    return len(set(squashed)) <= 2 or any(word in squashed for word in EXAMPLE_TOKEN_WORDS)


def redacted_url(url: str) -> str:
    """A database URL fit for the log: the password replaced by ***."""
    return re.sub(r"(://[^:/@?]*:)[^/?]*@", r"\1***@", url)


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
    # How long a claimed inbox activity stays leased to its worker: the backstop for a live
    # worker whose handler hangs. A dead worker's claims are taken over within seconds, when
    # its heartbeat stops (storage/workers.py).
    inbox_lease: float = 300.0
    # Processed (and ignored, failed, long-parked) inbox activities are deleted this long
    # after processing; a comment keeps its own copy of the activity.
    inbox_retention_days: float = 7.0
    instance_name: str = "fedblog"
    # Multiplies every retry delay; tests set it small so a retry takes milliseconds.
    retry_scale: float = 1.0
    # Inbox rate limits (requests per second, sustained); the burst is five times as many.
    inbox_host_rate: float = 100.0
    inbox_actor_rate: float = 10.0
    # The bearer token /metrics asks for; with none set, /metrics answers 404.
    metrics_token: str | None = None

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.domain}"

    @property
    def host(self) -> str:
        """The host name without a port, as WebFinger's acct: URIs use it."""
        return self.domain.split(":")[0] if not self.domain.startswith("[") else self.domain

    @property
    def domain_is_loopback(self) -> bool:
        """The domain names this machine only (the default): no other server can reach it."""
        host = self.domain.rsplit(":", 1)[0] if not self.domain.endswith("]") else self.domain
        return host.lower() in LOOPBACK_HOSTS

    def warnings(self, bind_host: str | None = None) -> list[str]:
        """What is allowed but probably wrong; `bind_host` is the address `serve` listens on."""
        found = []
        if self.api_token and looks_like_example(self.api_token):
            found.append("FEDBLOG_API_TOKEN looks like an example (anyone may guess it); make "
                         "one with `openssl rand -hex 16`")
        if bind_host is not None and self.domain_is_loopback \
                and bind_host.strip("[]") not in ("127.0.0.1", "localhost", "::1"):
            found.append(f"FEDBLOG_DOMAIN is {self.domain!r} but the server listens on "
                         f"{bind_host}: no other server can reach {self.base_url}, and ids made "
                         "now keep that name forever; set FEDBLOG_DOMAIN to the public host name")
        return found

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        scheme = env.get("FEDBLOG_SCHEME", "").strip() or "https"
        domain = check_domain(env.get("FEDBLOG_DOMAIN", "").strip() or "localhost:8000")
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
            api_token=check_token("FEDBLOG_API_TOKEN", env.get("FEDBLOG_API_TOKEN") or None),
            database_url=env.get("DATABASE_URL") or None,
            data_dir=Path(env.get("FEDBLOG_DATA_DIR") or "fedblog-data"),
            allow_private_addresses=_flag(env, "FEDBLOG_ALLOW_PRIVATE_ADDRESSES"),
            max_body_bytes=_int(env, "FEDBLOG_MAX_BODY_BYTES", 1024 * 1024),
            delivery_concurrency=_int(env, "FEDBLOG_DELIVERY_CONCURRENCY", 512),
            delivery_timeout=_float(env, "FEDBLOG_DELIVERY_TIMEOUT", 15.0),
            inbox_lease=_float(env, "FEDBLOG_INBOX_LEASE", 300.0),
            inbox_retention_days=_float(env, "FEDBLOG_INBOX_RETENTION_DAYS", 7.0),
            retry_scale=_float(env, "FEDBLOG_RETRY_SCALE", 1.0),
            inbox_host_rate=_float(env, "FEDBLOG_INBOX_HOST_RATE", 100.0),
            inbox_actor_rate=_float(env, "FEDBLOG_INBOX_ACTOR_RATE", 10.0),
            metrics_token=check_token("FEDBLOG_METRICS_TOKEN",
                                      env.get("FEDBLOG_METRICS_TOKEN") or None),
        )
