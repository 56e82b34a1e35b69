"""Everything a running fedblog process shares: settings, database, keys, HTTP client.

Only configuration, federation and storage live here; what the blog makes of them (the block
list, the delivery retry policy, the services) is built on top, in services.py."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from fedblog.config import Settings
from fedblog.federation.client import ClientPolicy, FederationClient
from fedblog.federation.keys import SigningKey, generate_rsa_pem, load_signing_key
from fedblog.federation.pool import HostClients
from fedblog.models import LocalKey
from fedblog.storage import settings as settings_store
from fedblog.storage.db import Database, migrate
from fedblog.storage.embedded import EmbeddedPostgres
from fedblog.urls import Urls

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    urls: Urls
    db: Database
    blog_key: SigningKey
    instance_key: SigningKey
    client: FederationClient

    def signing_key(self, signer: str) -> SigningKey:
        return self.instance_key if signer == "instance" else self.blog_key


async def ensure_key(db: Database, name: str, key_id: str) -> SigningKey:
    """The local key called `name`, generated and stored on first use, then never changed."""
    async with db.connection() as conn:
        stored = await settings_store.get_key(conn, name)
        if stored is None:
            private_pem, public_pem = generate_rsa_pem()
            stored = await settings_store.insert_key_once(conn, LocalKey(name, private_pem, public_pem))
    return load_signing_key(key_id, stored.private_key_pem, stored.public_key_pem)


@asynccontextmanager
async def database_url(settings: Settings) -> AsyncIterator[str]:
    """DATABASE_URL, or an embedded PostgreSQL in the data directory while the block runs."""
    if settings.database_url:
        yield settings.database_url
        return
    embedded = EmbeddedPostgres(settings.data_dir)
    url = embedded.start()
    try:
        yield url
    finally:
        embedded.stop()


@asynccontextmanager
async def open_runtime(settings: Settings, dsn: str, *, blocked: Callable[[str], bool],
                       transport: httpx.AsyncBaseTransport | None = None) -> AsyncIterator[Runtime]:
    """`blocked` answers for every fetch and delivery whether its URL is shut out."""
    await migrate(dsn)
    db = await Database.connect(dsn)
    urls = Urls(settings.base_url, settings.username)
    http = (HostClients.guarded(allow_private=settings.allow_private_addresses)
            if transport is None else HostClients.single(httpx.AsyncClient(transport=transport)))
    try:
        blog_key = await ensure_key(db, "blog", urls.key_id)
        instance_key = await ensure_key(db, "instance", urls.instance_key_id)
        policy = ClientPolicy(
            allow_private=settings.allow_private_addresses,
            require_https=settings.scheme == "https" and not settings.allow_private_addresses,
            timeout=settings.fetch_timeout, max_bytes=settings.fetch_max_bytes,
            delivery_timeout=settings.delivery_timeout,
            user_agent=f"fedblog (+{settings.base_url}/)",
        )
        client = FederationClient(http, policy, instance_key, blocked=blocked)
        yield Runtime(settings, urls, db, blog_key, instance_key, client)
    finally:
        await http.aclose()
        await db.close()
