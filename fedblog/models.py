"""The blog's own small typed objects, shared by storage, domain and web layers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Post:
    id: int
    title: str | None
    markdown: str
    content_html: str
    body_html: str
    content_text: str
    summary: str | None
    language: str
    hashtags: tuple[str, ...]
    published_at: datetime
    updated_at: datetime | None
    deleted_at: datetime | None

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


@dataclass(frozen=True)
class RemoteActor:
    id: str
    host: str
    type: str
    inbox: str
    shared_inbox: str | None
    preferred_username: str | None
    name: str | None
    url: str | None
    icon_url: str | None

    @property
    def delivery_inbox(self) -> str:
        return self.shared_inbox or self.inbox

    @property
    def handle(self) -> str:
        return f"@{self.preferred_username or '?'}@{self.host}"


@dataclass(frozen=True)
class Follower:
    actor: RemoteActor
    follow_activity_id: str
    state: str
    created_at: datetime
    accepted_at: datetime | None


@dataclass(frozen=True)
class BlogSettings:
    display_name: str
    summary: str
    icon_url: str | None
    manually_approves_followers: bool
    discoverable: bool
    followers_visible: bool
    default_language: str
    moderation_policy: str = "hold"
    quote_policy: str = "manual"
    send_block_activity: bool = True
    comments_per_actor_per_hour: int = 30


@dataclass(frozen=True)
class LocalKey:
    name: str
    private_key_pem: str
    public_key_pem: str


COMMENT_STATES = ("pending", "approved", "rejected", "spam", "removed", "deleted")


@dataclass(frozen=True)
class MediaLink:
    """An image, video or other file a commenter attached: a link with what it says about
    itself. Readers see it through the blog (never hot-linked)."""

    url: str
    media_type: str | None = None
    name: str | None = None          # alt text
    kind: str = "Document"           # the AS2 type: Image, Video, Audio, Document
    width: int | None = None
    height: int | None = None
    size: int | None = None          # bytes, when the sender said


@dataclass(frozen=True)
class CustomEmoji:
    shortcode: str                   # without the colons
    icon_url: str


@dataclass(frozen=True)
class Comment:
    id: int
    ap_id: str
    post_id: int
    parent_comment_id: int | None
    in_reply_to: str
    depth: int
    actor_id: str
    is_author: bool
    state: str
    content_html: str
    content_text: str
    markdown: str | None
    language: str | None
    url: str | None
    published_at: datetime
    updated_at: datetime | None
    approval_token: str | None
    has_ld_signature: bool
    summary: str | None = None                 # the content warning, as sent
    sensitive: bool = False
    attachments: tuple[MediaLink, ...] = ()
    emojis: tuple[CustomEmoji, ...] = ()
    visibility: str = "public"   # 'public', 'unlisted' or 'private' (the author's only)

    @property
    def private(self) -> bool:
        return self.visibility == "private"
