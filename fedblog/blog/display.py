"""What readers see of a remote comment, made from its sanitised HTML at render time: the
leading mention of the blog dropped (Mastodon starts every reply with one; the stored original
keeps it), and custom emoji shown through the blog."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from html import escape

from fedblog.models import Comment, CustomEmoji

# A mention as sanitize_remote_html leaves it: optionally inside an h-card span, a link whose
# text is "@name" (Mastodon wraps the name in a span). Only at the very start of the text.
_LEADING_MENTION = re.compile(
    r'^(?P<open>\s*<p>)?\s*(?:<span class="h-card"[^>]*>)?\s*'
    r'<a href="(?P<href>[^"]*)"[^>]*>@(?:<span>)?[^<]*(?:</span>)?</a>\s*(?:</span>)?\s*')
_TAG = re.compile(r"(<[^>]*>)")


def strip_leading_mention(html: str, hrefs: Collection[str]) -> str:
    """`html` without the mention of one of `hrefs` it starts with (the blog's actor, profile
    page); unchanged when it starts otherwise."""
    if "@" not in html[:400]:
        return html
    match = _LEADING_MENTION.match(html)
    if match is None or match.group("href").rstrip("/") not in hrefs:
        return html
    rest = html[match.end():]
    if match.group("open") is None:
        return rest
    if rest.startswith("</p>"):             # the paragraph held nothing else
        return rest[len("</p>"):].lstrip()
    return "<p>" + rest


def blog_hrefs(actor: str, home: str) -> frozenset[str]:
    """The links a commenter's server may use for the blog in a mention."""
    return frozenset({actor.rstrip("/"), home.rstrip("/")})


def with_emojis(html: str, emojis: tuple[CustomEmoji, ...], src: Callable[[int], str]) -> str:
    """`:shortcode:` in the text (never inside a tag) shown as the emoji's image, served by
    the blog at `src(index)`."""
    if not emojis:
        return html
    images = {f":{e.shortcode}:": (f'<img class="emoji" src="{escape(src(i))}"'
                                   f' alt=":{escape(e.shortcode)}:" title=":{escape(e.shortcode)}:"'
                                   f' width="20" height="20">')
              for i, e in enumerate(emojis)}
    pattern = re.compile("|".join(re.escape(code) for code in images))
    parts = _TAG.split(html)
    for index in range(0, len(parts), 2):  # even parts are text between tags
        parts[index] = pattern.sub(lambda m: images[m.group(0)], parts[index])
    return "".join(parts)


def media_url(base: str, comment_id: int, kind: str, index: int) -> str:
    """Where the blog serves a commenter's file (see fedblog/web/media.py)."""
    return f"{base}/media/comments/{comment_id}/{kind}/{index}"


def comment_html(comment: Comment, hrefs: Collection[str], base: str) -> str:
    """A comment's text as readers see it: a remote one without its leading mention of the
    blog, with its custom emoji; the author's own answers as written."""
    if comment.is_author:
        return comment.content_html
    html = strip_leading_mention(comment.content_html, hrefs)
    if comment.emojis:
        html = with_emojis(html, comment.emojis,
                           lambda i: media_url(base, comment.id, "emoji", i))
    return html
