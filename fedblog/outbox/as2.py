"""The blog's own objects rendered as ActivityStreams 2 documents: the one place that does it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any

from fedblog import __version__
from fedblog.models import BlogSettings, Comment, Post, RemoteActor
from fedblog.urls import Urls

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
AS2_CONTEXT = "https://www.w3.org/ns/activitystreams"
SECURITY_CONTEXT = "https://w3id.org/security/v1"
EXTENSIONS: dict[str, Any] = {
    "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
    "sensitive": "as:sensitive",
    "Hashtag": "as:Hashtag",
    "toot": "http://joinmastodon.org/ns#",
    "discoverable": "toot:discoverable",
    "indexable": "toot:indexable",
    "schema": "http://schema.org#",
    "PropertyValue": "schema:PropertyValue",
    "value": "schema:value",
    "gts": "https://gotosocial.org/ns#",
    "interactionPolicy": {"@id": "gts:interactionPolicy", "@type": "@id"},
    "canReply": {"@id": "gts:canReply", "@type": "@id"},
    "canLike": {"@id": "gts:canLike", "@type": "@id"},
    "canAnnounce": {"@id": "gts:canAnnounce", "@type": "@id"},
    "canQuote": {"@id": "gts:canQuote", "@type": "@id"},
    "automaticApproval": {"@id": "gts:automaticApproval", "@type": "@id"},
    "manualApproval": {"@id": "gts:manualApproval", "@type": "@id"},
    "always": {"@id": "gts:always", "@type": "@id"},
    "approvalRequired": {"@id": "gts:approvalRequired", "@type": "@id"},
    "approvedBy": {"@id": "gts:approvedBy", "@type": "@id"},
    "ReplyAuthorization": "gts:ReplyAuthorization",
    "ReplyRequest": "gts:ReplyRequest",
    "interactingObject": {"@id": "gts:interactingObject", "@type": "@id"},
    "interactionTarget": {"@id": "gts:interactionTarget", "@type": "@id"},
    "QuoteRequest": "https://w3id.org/fep/044f#QuoteRequest",
    "QuoteAuthorization": "https://w3id.org/fep/044f#QuoteAuthorization",
    "quote": {"@id": "https://w3id.org/fep/044f#quote", "@type": "@id"},
}
CONTEXT: list[Any] = [AS2_CONTEXT, SECURITY_CONTEXT, EXTENSIONS]
Document = dict[str, Any]


def iso(moment: datetime) -> str:
    """Milliseconds kept: Mastodon ignores an edit whose `updated` is not strictly later."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + f".{utc.microsecond // 1000:03d}Z"


def blog_actor(urls: Urls, settings: BlogSettings, public_key_pem: str,
               published: datetime | None = None) -> Document:
    document: Document = {
        "@context": CONTEXT,
        "id": urls.actor,
        "type": "Person",
        "preferredUsername": urls.username,
        "name": settings.display_name,
        "summary": settings.summary,
        "url": urls.home,
        "inbox": urls.inbox,
        "outbox": urls.outbox,
        "followers": urls.followers,
        "following": urls.following,
        "endpoints": {"sharedInbox": urls.shared_inbox},
        "manuallyApprovesFollowers": settings.manually_approves_followers,
        "discoverable": settings.discoverable,
        "indexable": settings.discoverable,
        "publicKey": {"id": urls.key_id, "owner": urls.actor, "publicKeyPem": public_key_pem},
    }
    if settings.icon_url:
        document["icon"] = {"type": "Image", "url": settings.icon_url}
    if published is not None:
        document["published"] = iso(published)
    return document


def instance_actor(urls: Urls, public_key_pem: str) -> Document:
    """The server's own actor, which signs fetches that are not the blog's business."""
    host = urls.base.split("://", 1)[1]
    return {
        "@context": CONTEXT,
        "id": urls.instance_actor,
        "type": "Application",
        "preferredUsername": host,
        "name": "fedblog instance actor",
        "url": urls.home,
        "inbox": urls.instance_inbox,
        "outbox": f"{urls.instance_actor}/outbox",
        "endpoints": {"sharedInbox": urls.shared_inbox},
        "manuallyApprovesFollowers": True,
        "publicKey": {
            "id": urls.instance_key_id, "owner": urls.instance_actor,
            "publicKeyPem": public_key_pem,
        },
    }


def sub_policy(automatic: list[str], manual: list[str] | None = None) -> Document:
    """One sub-policy in both of GoToSocial's vocabularies: v0.20 reads `automaticApproval` /
    `manualApproval`, v0.19 only `always` / `approvalRequired` (and writes both since v0.20,
    as here; see tests/peers/gotosocial.py)."""
    manual = manual or []
    return {"automaticApproval": automatic, "manualApproval": manual,
            "always": automatic, "approvalRequired": manual}


def _can_quote(urls: Urls, quote_policy: str) -> Document:
    if quote_policy == "everyone":
        return sub_policy([PUBLIC])
    if quote_policy == "followers":
        return sub_policy([urls.actor, urls.followers], [PUBLIC])
    if quote_policy == "manual":
        return sub_policy([urls.actor], [PUBLIC])
    return sub_policy([urls.actor])


def interaction_policy(urls: Urls, moderation_policy: str, quote_policy: str = "manual"
                       ) -> Document:
    """Who may reply: the policy's automatic cases, everyone else by the author's approval."""
    automatic: list[str] = [urls.actor]
    manual: list[str] = [PUBLIC]
    if moderation_policy == "everyone":
        automatic, manual = [PUBLIC], []
    elif moderation_policy == "followers":
        automatic.append(urls.followers)
    return {
        "canReply": sub_policy(automatic, manual),
        "canLike": sub_policy([PUBLIC]),
        "canAnnounce": sub_policy([PUBLIC]),
        "canQuote": _can_quote(urls, quote_policy),
    }


@dataclass(frozen=True)
class Counts:
    replies: int = 0
    likes: int = 0
    shares: int = 0


# Mastodon reads an embedded `replies` as it is (never fetching its id), stops paging once it
# has a handful of items and reads about 500 in all: the whole visible thread goes on the first
# page, embedded (see tests/federation/test_mastodon_conformance.py).
FIRST_PAGE = 500


def collection_page(collection_id: str, items: list[str], offset: int = 0) -> Document:
    """The page of `items` (the whole collection) that starts at `offset`, FIRST_PAGE long."""
    page_id = f"{collection_id}?page=true" + (f"&offset={offset}" if offset else "")
    page: Document = {"id": page_id, "type": "OrderedCollectionPage", "partOf": collection_id,
                      "orderedItems": items[offset:offset + FIRST_PAGE]}
    if offset + FIRST_PAGE < len(items):
        page["next"] = f"{collection_id}?page=true&offset={offset + FIRST_PAGE}"
    return page


def paged_collection(collection_id: str, items: list[str]) -> Document:
    """An OrderedCollection with its first page embedded (no @context: add it to serve it)."""
    return {"id": collection_id, "type": "OrderedCollection", "totalItems": len(items),
            "first": collection_page(collection_id, items)}


def note(post: Post, urls: Urls, *, likes_count: int = 0,
         shares_count: int = 0, moderation_policy: str = "hold",
         quote_policy: str = "manual", replies: list[str] | None = None) -> Document:
    """The post as a Note; `replies` (the visible thread's ids, parents before answers) goes
    embedded as the first page of its `replies` collection."""
    post_url = urls.post(post.id)
    content = post.content_html
    document: Document = {
        "id": post_url,
        "type": "Note",
        "url": post_url,
        "attributedTo": urls.actor,
        "content": content,
        "contentMap": {post.language: content},
        "published": iso(post.published_at),
        "to": [PUBLIC],
        "cc": [urls.followers],
        "sensitive": bool(post.summary),
        "tag": [
            {"type": "Hashtag", "href": urls.tag(tag), "name": f"#{tag}"} for tag in post.hashtags
        ],
        "replies": paged_collection(urls.post_replies(post.id), replies or []),
        "likes": {"id": urls.post_likes(post.id), "type": "Collection", "totalItems": likes_count},
        "shares": {"id": urls.post_shares(post.id), "type": "Collection",
                   "totalItems": shares_count},
        "context": urls.post_context(post.id),
        "interactionPolicy": interaction_policy(urls, moderation_policy, quote_policy),
    }
    if post.summary:
        document["summary"] = post.summary
    if post.updated_at is not None:
        document["updated"] = iso(post.updated_at)
    return document


def tombstone(post_url: str, deleted: datetime, former_type: str = "Note") -> Document:
    return {"id": post_url, "type": "Tombstone", "formerType": former_type,
            "deleted": iso(deleted)}


def with_context(document: Document) -> Document:
    return {"@context": CONTEXT, **document}


def wrap(activity_type: str, activity_id: str, urls: Urls, obj: Document | str | list[str], *,
         to: list[str], cc: list[str] | None = None, published: datetime | None = None) -> Document:
    activity: Document = {
        "@context": CONTEXT,
        "id": activity_id,
        "type": activity_type,
        "actor": urls.actor,
        "object": obj,
        "to": to,
    }
    if cc:
        activity["cc"] = cc
    if published is not None:
        activity["published"] = iso(published)
    return activity


def follow_response(activity_type: str, activity_id: str, urls: Urls, follower: RemoteActor,
                    follow_id: str) -> Document:
    """Accept or Reject of a Follow, embedding the Follow as Mastodon expects."""
    follow = {"id": follow_id, "type": "Follow", "actor": follower.id, "object": urls.actor}
    return wrap(activity_type, activity_id, urls, follow, to=[follower.id])


def ordered_collection(collection_id: str, total: int, first: str | None) -> Document:
    document: Document = {"@context": CONTEXT, "id": collection_id, "type": "OrderedCollection",
                          "totalItems": total}
    if first is not None:
        document["first"] = first
    return document


def ordered_page(page_id: str, part_of: str, items: list[Any], next_page: str | None) -> Document:
    document: Document = {"@context": CONTEXT, "id": page_id, "type": "OrderedCollectionPage",
                          "partOf": part_of, "orderedItems": items}
    if next_page is not None:
        document["next"] = next_page
    return document


def nodeinfo(urls: Urls, *, users: int, posts: int, open_registrations: bool = False) -> Document:
    return {
        "version": "2.1",
        "software": {"name": "fedblog", "version": __version__,
                     "repository": "https://github.com/fedblog/fedblog"},
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": ["atom1.0", "rss2.0"]},
        "openRegistrations": open_registrations,
        "usage": {"users": {"total": users, "activeMonth": users, "activeHalfyear": users},
                  "localPosts": posts},
        "metadata": {"nodeName": urls.base.split("://", 1)[1]},
    }


def mention_first(html: str, commenter: RemoteActor | None) -> str:
    """The answer's text as Mastodon writes a reply: the commenter's @handle leads it."""
    if commenter is None:
        return html
    name = escape(commenter.preferred_username or "?")
    link = (f'<span class="h-card" translate="no"><a href="{escape(commenter.url or commenter.id)}"'
            f' class="u-url mention">@<span>{name}</span></a></span> ')
    if html.startswith("<p>"):
        return "<p>" + link + html[len("<p>"):]
    return f"<p>{link.rstrip()}</p>{html}"


def answer_note(comment: Comment, urls: Urls, *, commenter: RemoteActor | None,
                policy: Document, counts: Counts = Counts(),
                replies: list[str] | None = None) -> Document:
    """The author's answer to a comment: a Note from the blog, addressed to the commenter too,
    their @handle leading the text; `replies` the visible comments below it. Replies to it are
    held like replies to posts, so it declares the same `policy` (interaction_policy)."""
    cc = [urls.followers]
    tags: list[Any] = []
    if commenter is not None:
        cc.append(commenter.id)
        tags.append({"type": "Mention", "href": commenter.id, "name": commenter.handle})
    content = mention_first(comment.content_html, commenter)
    document: Document = {
        "id": comment.ap_id,
        "type": "Note",
        "url": comment.url or comment.ap_id,
        "attributedTo": urls.actor,
        "inReplyTo": comment.in_reply_to,
        "content": content,
        "published": iso(comment.published_at),
        "to": [PUBLIC],
        "cc": cc,
        "tag": tags,
        "context": urls.post_context(comment.post_id),
        "replies": paged_collection(f"{comment.ap_id}/replies", replies or []),
        "likes": {"id": f"{comment.ap_id}/likes", "type": "Collection",
                  "totalItems": counts.likes},
        "shares": {"id": f"{comment.ap_id}/shares", "type": "Collection",
                   "totalItems": counts.shares},
        "interactionPolicy": policy,
    }
    if comment.language:
        document["contentMap"] = {comment.language: content}
    if comment.updated_at is not None:
        document["updated"] = iso(comment.updated_at)
    return document


def reply_authorization(urls: Urls, token: str, reply_id: str, target: str) -> Document:
    """The approval object GoToSocial (v0.20 and later) dereferences from a ReplyRequest's
    Accept `result` to check that a reply was accepted."""
    return {
        "@context": CONTEXT,
        "id": urls.reply_authorization(token),
        "type": "ReplyAuthorization",
        "attributedTo": urls.actor,
        "interactingObject": reply_id,
        "interactionTarget": target,
    }


@dataclass(frozen=True)
class ReplyRequest:
    """A GoToSocial ReplyRequest (v0.21 and later): the reply asked for before it was sent."""
    id: str
    actor: str
    object_id: str     # the post or answer the reply is for
    instrument: str    # the reply

    @classmethod
    def of(cls, raw: object) -> ReplyRequest | None:
        """The request behind a stored comment's raw activity, None for anything else."""
        if not isinstance(raw, dict) or raw.get("type") != "ReplyRequest":
            return None
        instrument = raw.get("instrument")
        if isinstance(instrument, dict):
            instrument = instrument.get("id")
        request_id, actor, obj = raw.get("id"), raw.get("actor"), raw.get("object")
        if not (isinstance(request_id, str) and isinstance(actor, str)
                and isinstance(obj, str) and isinstance(instrument, str)):
            return None
        return cls(request_id, actor, obj, instrument)

    def document(self) -> Document:
        return {"type": "ReplyRequest", "id": self.id, "actor": self.actor,
                "object": self.object_id, "instrument": self.instrument}


def reply_accept(urls: Urls, token: str, reply_id: str, target: str, commenter_id: str,
                 request: ReplyRequest | None = None) -> Document:
    """The Accept of a reply, at the approval's own URL (its `id` is what GoToSocial stores as
    the reply's `approvedBy`, and a plain Accept is the one proof every GoToSocial version
    verifies). As GoToSocial does for its own posts, it is addressed to the public and the
    followers too: their servers, seeing it, fetch the reply and check the approval. A
    ReplyRequest is answered as GoToSocial answers one: the request embedded, the
    ReplyAuthorization as `result`, to the requester only."""
    if request is not None:
        activity = wrap("Accept", urls.approval(token), urls, request.document(),
                        to=[commenter_id])
        activity["result"] = urls.reply_authorization(token)
        return activity
    activity = wrap("Accept", urls.approval(token), urls, reply_id, to=[commenter_id],
                    cc=[PUBLIC, urls.followers])
    activity["target"] = target
    return activity


def reply_reject(activity_id: str, urls: Urls, reply_id: str, target: str, commenter_id: str,
                 request: ReplyRequest | None = None) -> Document:
    """The Reject of a reply (or of the ReplyRequest that asked for it), to its author only."""
    if request is not None:
        return wrap("Reject", activity_id, urls, request.document(), to=[commenter_id])
    activity = wrap("Reject", activity_id, urls, reply_id, to=[commenter_id])
    activity["target"] = target
    return activity


def quote_authorization(urls: Urls, token: str, quoting_object: str, post_url: str) -> Document:
    """The stamp Mastodon 4.5 dereferences to check that a quote of a post is allowed."""
    return {
        "@context": CONTEXT,
        "id": urls.quote_authorization(token),
        "type": "QuoteAuthorization",
        "attributedTo": urls.actor,
        "interactingObject": quoting_object,
        "interactionTarget": post_url,
    }


def quote_decision(activity_type: str, activity_id: str, urls: Urls, *, request_id: str,
                   requester: RemoteActor, post_url: str, quoting_object: str,
                   result: str | None = None) -> Document:
    request = {"type": "QuoteRequest", "id": request_id, "actor": requester.id,
               "object": post_url, "instrument": quoting_object}
    activity = wrap(activity_type, activity_id, urls, request, to=[requester.id])
    if result is not None:
        activity["result"] = result
    return activity
