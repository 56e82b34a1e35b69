"""Remote content objects (Note and friends), their tags and attachments, and Tombstones."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fedblog.federation.vocab_actor import first_actor_id
from fedblog.federation.vocab_fields import (
    MAX_TEXT_LENGTH,
    MAX_URL_LENGTH,
    PUBLIC,
    FrozenMap,
    VocabError,
    as_list,
    check_text,
    field_path,
    host_of,
    id_of,
    is_http_url,
    loose_url,
    opt_bool,
    opt_ref,
    opt_text,
    parse_addressing,
    parse_datetime,
    req_dict,
    req_ref,
    resolve_type,
)

__all__ = [
    "AUTHORIZATION_TYPES",
    "NOTE_TYPES",
    "Attachment",
    "Emoji",
    "Hashtag",
    "InteractionAuthorization",
    "Link",
    "Mention",
    "Note",
    "Tombstone",
    "parse_attachments",
    "parse_authorization",
    "parse_note",
    "parse_tags",
    "parse_tombstone",
]

# Everything a remote server may send as "a post"; Note keeps the original type.
NOTE_TYPES = frozenset(
    {"Note", "Article", "Question", "Page", "Image", "Video", "Audio", "Event", "ChatMessage"}
)
_MAX_LANGUAGES = 256
_SHORT = 1024  # media types, tag names, language tags
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*")
# Quote-post pointers, most specific first: FEP-044f, Misskey/Fedibird variants, Misskey.
_QUOTE_KEYS = ("quote", "quoteUrl", "quoteUri", "quoteURL", "_misskey_quote")


@dataclass(frozen=True, slots=True)
class Link:
    """A generic Link tag, e.g. an FEP-e232 object link."""

    href: str
    media_type: str | None = None
    name: str | None = None
    rel: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Mention:
    href: str
    name: str | None = None  # "@user@host"; Smithereen omits it


@dataclass(frozen=True, slots=True)
class Hashtag:
    name: str  # without the leading '#'
    href: str | None = None


@dataclass(frozen=True, slots=True)
class Emoji:
    """A custom emoji tag (toot:Emoji); ``name`` is the ``:shortcode:`` as sent."""

    name: str
    icon_url: str
    id: str | None = None

    @property
    def shortcode(self) -> str:
        return self.name.strip(":")


@dataclass(frozen=True, slots=True)
class Attachment:
    url: str
    media_type: str | None = None
    name: str | None = None  # alt text
    type: str = "Document"
    width: int | None = None
    height: int | None = None
    size: int | None = None  # bytes (Misskey, PeerTube and others say)


@dataclass(frozen=True, slots=True)
class Note:
    """A post of any content type (Note, Article, Question, Page...); ``type`` is the original."""

    id: str
    type: str
    attributed_to: str | None = None
    in_reply_to: str | None = None
    content: str | None = None  # raw remote HTML, NOT sanitised here
    content_map: Mapping[str, str] = FrozenMap()
    language: str | None = None
    summary: str | None = None
    sensitive: bool = False
    name: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    url: str | None = None
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    mentions: tuple[Mention, ...] = ()
    hashtags: tuple[Hashtag, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    quote: str | None = None
    context: str | None = None
    conversation: str | None = None
    emojis: tuple[Emoji, ...] = ()
    links: tuple[Link, ...] = ()

    def is_public(self) -> bool:
        return PUBLIC in self.to or PUBLIC in self.cc

    @property
    def visibility(self) -> str:
        """'public' (the public collection in `to`), 'unlisted' (in `cc`) or 'private'
        (followers-only or direct): Mastodon's reading, app/lib/activitypub/parser/
        status_parser.rb `visibility` (its :private and :direct are both 'private' here)."""
        if PUBLIC in self.to:
            return "public"
        if PUBLIC in self.cc:
            return "unlisted"
        return "private"

    @property
    def host(self) -> str:
        return host_of(self.id)


@dataclass(frozen=True, slots=True)
class Tombstone:
    id: str
    former_type: str | None = None
    deleted: datetime | None = None


# --- tags -------------------------------------------------------------------------------
# Tags are decoration: a malformed tag is skipped, never a reason to refuse the post.

Tag = Mention | Hashtag | Emoji | Link


def _soft_text(value: Any, limit: int = _SHORT) -> str | None:
    """Text for lenient fields: anything unusable becomes None instead of an error."""
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return check_text(value, "", limit) if isinstance(value, str) else None
    except VocabError:
        return None


def _tag_type(tag: Mapping[str, Any]) -> str | None:
    kind = tag.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind[:16] if isinstance(k, str) and k in _TAG_PARSERS), None)
    return kind if isinstance(kind, str) else None


def _http(value: Any) -> str | None:
    return value if isinstance(value, str) and is_http_url(value) else None


def _mention(tag: Mapping[str, Any]) -> Mention | None:
    href = _http(id_of(tag.get("href")))
    return Mention(href=href, name=_soft_text(tag.get("name"))) if href else None


def _hashtag(tag: Mapping[str, Any]) -> Hashtag | None:
    name = (_soft_text(tag.get("name")) or "").lstrip("#").strip()
    return Hashtag(name=name, href=loose_url(tag.get("href"))) if name else None


def _emoji(tag: Mapping[str, Any]) -> Emoji | None:
    name, icon = _soft_text(tag.get("name")), loose_url(tag.get("icon"))
    return Emoji(name=name, icon_url=icon, id=_http(tag.get("id"))) if name and icon else None


def _link(tag: Mapping[str, Any]) -> Link | None:
    href = _http(tag.get("href"))
    if not href:
        return None
    raw_rel = tag.get("rel")
    rels = raw_rel[:16] if isinstance(raw_rel, list) else [raw_rel]
    rel = tuple(r for r in (_soft_text(x) for x in rels) if r)
    return Link(
        href=href,
        media_type=_soft_text(tag.get("mediaType")),
        name=_soft_text(tag.get("name")),
        rel=rel,
    )


_TAG_PARSERS: dict[str, Callable[[Mapping[str, Any]], Tag | None]] = {
    "Mention": _mention,
    "Hashtag": _hashtag,
    "Emoji": _emoji,
    "Link": _link,
}


def parse_tags(data: Mapping[str, Any], path: str) -> tuple[Tag, ...]:
    """All recognised tags.  ``tag`` may be a single object; Prismo says ``tags``."""
    key = "tag" if "tag" in data else "tags"
    where = field_path(path, key)
    out: list[Tag] = []
    for tag in as_list(data.get(key), where):
        if not isinstance(tag, dict):
            continue
        parser = _TAG_PARSERS.get(_tag_type(tag) or "")
        parsed = parser(tag) if parser else None
        if parsed is not None:
            out.append(parsed)
    return tuple(out)


def _attachment(item: Any) -> Attachment | None:
    if not isinstance(item, dict):
        return None
    url = loose_url(item)  # a Document's `url` (string, Link or list) or a Link's `href`
    if not url:
        return None
    kind = item.get("type")
    kind = kind[0] if isinstance(kind, list) and kind else kind
    return Attachment(
        url=url,
        media_type=_soft_text(item.get("mediaType") or item.get("mimeType")),
        name=_soft_text(item.get("name"), MAX_TEXT_LENGTH),
        type=_soft_text(kind) or "Document",
        width=_soft_int(item.get("width")),
        height=_soft_int(item.get("height")),
        size=_soft_int(item.get("size")),
    )


def _soft_int(value: Any) -> int | None:
    """A dimension or size: a non-negative integer below 2**31, else nothing."""
    return value if isinstance(value, int) and not isinstance(value, bool) \
        and 0 <= value < 2**31 else None


def parse_attachments(data: Mapping[str, Any], path: str) -> tuple[Attachment, ...]:
    where = field_path(path, "attachment")
    found = (_attachment(item) for item in as_list(data.get("attachment"), where))
    return tuple(a for a in found if a is not None)


# --- content ----------------------------------------------------------------------------


def _content_map(data: Mapping[str, Any], path: str) -> FrozenMap:
    where = field_path(path, "contentMap")
    raw = data.get("contentMap")
    if raw is None:
        return FrozenMap()
    if not isinstance(raw, dict):
        raise VocabError(f"{where}: expected an object of language -> text")
    if len(raw) > _MAX_LANGUAGES:
        raise VocabError(f"{where}: more than {_MAX_LANGUAGES} languages")
    return FrozenMap(
        (check_text(lang, where, _SHORT), check_text(text, f"{where}.{str(lang)[:32]}"))
        for lang, text in raw.items()
    )


def _language(content_map: Mapping[str, str]) -> str | None:
    """The single language of a one-entry contentMap; "und" (undetermined) says nothing."""
    if len(content_map) != 1:
        return None
    lang = next(iter(content_map))
    return lang if lang.lower() != "und" and _LANGUAGE_TAG.fullmatch(lang) else None


def _soft_ref(data: Mapping[str, Any], key: str) -> str | None:
    """Threading hints (context/conversation): any URI scheme (Mastodon sends ``tag:``)."""
    return _soft_text(id_of(data.get(key)), MAX_URL_LENGTH)


def _quote(data: Mapping[str, Any], links: tuple[Link, ...]) -> str | None:
    for key in _QUOTE_KEYS:
        ref = _http(id_of(data.get(key)))
        if ref:
            return ref
    # FEP-e232 object link with a quote rel (Misskey and FEP-044f compatibility form).
    for link in links:
        if any("quote" in rel.lower() for rel in link.rel):
            return link.href
    return None


def parse_note(data: Any, *, path: str = "") -> Note:
    """Parse a post.  Requires an http(s) ``id`` and a post type; see NOTE_TYPES."""
    data = req_dict(data, path)
    kind = resolve_type(data, path, NOTE_TYPES)
    if kind not in NOTE_TYPES:
        raise VocabError(f"{field_path(path, 'type')}: {kind!r} is not a post type")
    content_map = _content_map(data, path)
    content = opt_text(data, "content", path)
    if content is None and content_map:
        content = next(iter(content_map.values()))
    tags = parse_tags(data, path)
    links = tuple(t for t in tags if isinstance(t, Link))
    return Note(
        id=req_ref(data, "id", path),
        type=kind,
        attributed_to=first_actor_id(data.get("attributedTo"), field_path(path, "attributedTo")),
        in_reply_to=opt_ref(data, "inReplyTo", path),
        content=content,
        content_map=content_map,
        language=_language(content_map),
        summary=opt_text(data, "summary", path),
        sensitive=opt_bool(data, "sensitive") is True,
        name=opt_text(data, "name", path),
        published=parse_datetime(data.get("published")),
        updated=parse_datetime(data.get("updated")),
        url=loose_url(data.get("url")),
        to=parse_addressing(data, "to", path),
        cc=parse_addressing(data, "cc", path),
        mentions=tuple(t for t in tags if isinstance(t, Mention)),
        hashtags=tuple(t for t in tags if isinstance(t, Hashtag)),
        attachments=parse_attachments(data, path),
        quote=_quote(data, links),
        context=_soft_ref(data, "context"),
        conversation=_soft_ref(data, "conversation"),
        emojis=tuple(t for t in tags if isinstance(t, Emoji)),
        links=links,
    )


def parse_tombstone(data: Any, *, path: str = "") -> Tombstone:
    data = req_dict(data, path)
    kind = resolve_type(data, path, ("Tombstone",))
    if kind != "Tombstone":
        raise VocabError(f"{field_path(path, 'type')}: {kind!r} is not a Tombstone")
    return Tombstone(
        id=req_ref(data, "id", path),
        former_type=_soft_text(data.get("formerType")),
        deleted=parse_datetime(data.get("deleted")),
    )


# --- interaction authorizations -----------------------------------------------------------
# GoToSocial interaction policies and FEP-044f quote stamps.  These are not posts and not
# activities, so parse_object() refuses them; callers that fetched a stamp to verify it
# (e.g. a `quoteAuthorization` or `replyAuthorization` IRI) use parse_authorization().

AUTHORIZATION_TYPES = frozenset(
    {"QuoteAuthorization", "LikeAuthorization", "ReplyAuthorization", "AnnounceAuthorization"}
)


@dataclass(frozen=True, slots=True)
class InteractionAuthorization:
    id: str
    type: str
    attributed_to: str  # who granted it: must be the author of interaction_target
    interacting_object: str  # the reply / like / quote post that was approved
    interaction_target: str  # the post that was replied to / liked / quoted


def parse_authorization(data: Any, *, path: str = "") -> InteractionAuthorization:
    data = req_dict(data, path)
    kind = resolve_type(data, path, AUTHORIZATION_TYPES)
    if kind not in AUTHORIZATION_TYPES:
        raise VocabError(f"{field_path(path, 'type')}: {kind!r} is not an authorization")
    granted_by = first_actor_id(data.get("attributedTo"), field_path(path, "attributedTo"))
    if granted_by is None:
        raise VocabError(f"{field_path(path, 'attributedTo')}: missing")
    return InteractionAuthorization(
        id=req_ref(data, "id", path),
        type=kind,
        attributed_to=granted_by,
        interacting_object=req_ref(data, "interactingObject", path),
        interaction_target=req_ref(data, "interactionTarget", path),
    )
