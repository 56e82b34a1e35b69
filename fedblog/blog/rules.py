"""The author's moderation rules: words or patterns that hold a comment or mark it spam."""

from __future__ import annotations

from typing import Any

from fedblog.storage import comments as comments_store
from fedblog.storage.db import Database


class RuleNotFound(LookupError):
    """No rule has that id."""


class ModerationRules:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def all(self) -> list[dict[str, Any]]:
        async with self.db.connection() as conn:
            return await comments_store.rules(conn)

    async def add(self, pattern: str, is_regex: bool, action: str) -> dict[str, Any]:
        async with self.db.connection() as conn:
            return await comments_store.add_rule(conn, pattern, is_regex, action)

    async def delete(self, rule_id: int) -> None:
        async with self.db.connection() as conn:
            if not await comments_store.delete_rule(conn, rule_id):
                raise RuleNotFound(rule_id)
