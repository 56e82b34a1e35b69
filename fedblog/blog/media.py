"""Commenters' images, videos and custom emoji, shown to readers through the blog: fetched
once from where the commenter's server keeps them (never hot-linked into a reader's page, which
would tell that server who reads the blog), kept in memory within a byte budget."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from fedblog.federation.client import FederationClient, FetchError, Media
from fedblog.storage import comments as comments_store
from fedblog.storage.db import Database

MAX_FILE = 8 * 1024 * 1024        # one attachment at most
CACHE_BYTES = 64 * 1024 * 1024    # all kept files together


class MediaUnavailable(LookupError):
    """The comment has no such file, may not be shown, or its server did not give it."""


@dataclass(frozen=True)
class MediaRequest:
    comment_id: int
    kind: str          # "attachments" or "emoji"
    index: int
    include_held: bool  # the author's desk shows held comments' files too


class CommentMedia:
    """The one owner of the process's media cache."""

    def __init__(self, db: Database, client: FederationClient, *,
                 budget: int = CACHE_BYTES) -> None:
        self.db = db
        self.client = client
        self.budget = budget
        self._kept: OrderedDict[str, Media] = OrderedDict()
        self._bytes = 0

    async def get(self, wanted: MediaRequest) -> Media:
        url = await self._url(wanted)
        kept = self._kept.get(url)
        if kept is not None:
            self._kept.move_to_end(url)
            return kept
        try:
            media = await self.client.fetch_media(url, max_bytes=MAX_FILE)
        except FetchError as exc:
            raise MediaUnavailable(str(exc)) from exc
        self._keep(url, media)
        return media

    async def _url(self, wanted: MediaRequest) -> str:
        async with self.db.connection() as conn:
            comment = await comments_store.get(conn, wanted.comment_id)
        if comment is None or comment.is_author:
            raise MediaUnavailable("no such comment")
        if comment.state != "approved" and not (wanted.include_held and comment.state == "pending"):
            raise MediaUnavailable("the comment is not shown")
        links = ([a.url for a in comment.attachments] if wanted.kind == "attachments"
                 else [e.icon_url for e in comment.emojis])
        if not 0 <= wanted.index < len(links):
            raise MediaUnavailable("no such file")
        return links[wanted.index]

    def _keep(self, url: str, media: Media) -> None:
        self._kept[url] = media
        self._bytes += len(media.body)
        while self._bytes > self.budget and self._kept:
            _, dropped = self._kept.popitem(last=False)
            self._bytes -= len(dropped.body)
