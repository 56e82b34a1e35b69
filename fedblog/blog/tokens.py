"""API tokens: made here, shown once, stored only as their SHA-256; the desk's sessions hold
the hash of the token they were opened with."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fedblog.storage import tokens as tokens_store
from fedblog.storage.db import Database


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_token() -> str:
    return "fb_" + secrets.token_urlsafe(32)


async def create_token(db: Database, label: str = "") -> str:
    token = new_token()
    async with db.connection() as conn:
        await tokens_store.insert(conn, hash_token(token), label)
    return token


class Tokens:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, label: str = "") -> str:
        return await create_token(self.db, label)

    async def hash_is_valid(self, token_hash: bytes, configured: str | None) -> bool:
        """Whether the token with this hash is `configured` (FEDBLOG_API_TOKEN) or an active
        token from the database."""
        if configured and hmac.compare_digest(hash_token(configured), token_hash):
            return True
        async with self.db.connection() as conn:
            return await tokens_store.is_active(conn, token_hash)

    async def is_valid(self, token: str, configured: str | None) -> bool:
        if configured and hmac.compare_digest(configured.encode(), token.encode()):
            return True
        async with self.db.connection() as conn:
            return await tokens_store.is_active(conn, hash_token(token))
