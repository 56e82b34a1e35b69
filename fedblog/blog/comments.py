"""Comments: replies stored and moderated, the author's answers, and what each decision federates."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fedblog.blog.html import html_to_text, render_post, sanitize_remote_html
from fedblog.blog.moderation import (
    Action,
    Commenter,
    Decision,
    Rule,
    TransitionError,
    initial_state,
    next_state,
)
from fedblog.federation.vocab import Activity, Note, host_of
from fedblog.models import BlogSettings, Comment
from fedblog.outbox import as2, publish
from fedblog.storage import actors as actors_store
from fedblog.storage import comments as comments_store
from fedblog.storage import inbox as inbox_store
from fedblog.storage import posts as posts_store
from fedblog.storage import settings as settings_store
from fedblog.storage.comments import NewComment, SentExtras
from fedblog.storage.db import Connection, Database
from fedblog.urls import Urls

MAX_DEPTH = 50


class CommentNotFound(LookupError):
    """No comment has that id."""


class ParentNotApproved(ValueError):
    """The comment answers a comment that is not (or no longer) visible: it can be neither
    approved nor answered until that one is."""


class PrivateReply(TransitionError):
    """A followers-only or direct reply is the author's to read, never to publish: it cannot be
    approved (the API answers 409)."""


PRIVATE_DECISION = Decision("pending", "visibility",
                            "a private reply (followers-only or direct): only the author sees it")


class NotAnAnswer(ValueError):
    """Only the author's own answers can be edited or deleted through the API."""


@dataclass(frozen=True)
class Parent:
    post_id: int
    comment_id: int | None
    depth: int
    state: str = "approved"     # the parent comment's state; a post counts as approved


@dataclass(frozen=True)
class Reception:
    """How a reply arrived: kept with it for forwarding and for the author's eyes."""

    raw_activity: object
    has_ld_signature: bool
    sender_ip: str | None
    key_id: str | None


async def resolve_parent(conn: Connection, urls: Urls, in_reply_to: str) -> Parent | None:
    """Where a reply belongs; None when `in_reply_to` is nothing this blog knows."""
    post_id = urls.post_id_of(in_reply_to)
    if post_id is not None:
        post = await posts_store.get(conn, post_id)
        return Parent(post_id, None, 0) if post is not None and not post.is_deleted else None
    parent = await comments_store.by_ap_id(conn, in_reply_to)
    if parent is None:
        return None
    return Parent(parent.post_id, parent.id, min(parent.depth + 1, MAX_DEPTH), parent.state)


def _sent_media(note: Note) -> list[dict[str, Any]]:
    return [{"url": a.url, "name": a.name, "media_type": a.media_type, "kind": a.type,
             "width": a.width, "height": a.height, "size": a.size} for a in note.attachments]


def _sent_emojis(note: Note) -> list[dict[str, str]]:
    return [{"shortcode": e.shortcode, "icon_url": e.icon_url} for e in note.emojis
            if e.shortcode and len(e.shortcode) <= 100]


def _new_comment(note: Note, parent: Parent, state: str, reception: Reception) -> NewComment:
    html = sanitize_remote_html(note.content or next(iter(note.content_map.values()), ""))
    return NewComment(
        ap_id=note.id, post_id=parent.post_id, parent_comment_id=parent.comment_id,
        in_reply_to=note.in_reply_to or "", depth=parent.depth, actor_id=note.attributed_to or "",
        is_author=False, state=state, content_html=html, content_text=html_to_text(html),
        markdown=None, language=note.language, url=note.url, summary=note.summary,
        mentions=[{"href": m.href, "name": m.name} for m in note.mentions],
        hashtags=[h.name for h in note.hashtags],
        attachments=_sent_media(note), published_at=note.published,
        raw_activity=reception.raw_activity, has_ld_signature=reception.has_ld_signature,
        sender_ip=reception.sender_ip, key_id=reception.key_id, sensitive=note.sensitive,
        emojis=_sent_emojis(note), updated_at=note.updated, visibility=note.visibility,
    )


class CommentService:
    def __init__(self, db: Database, urls: Urls) -> None:
        self.db = db
        self.urls = urls

    # ---- replies arriving
    async def decide(self, conn: Connection, settings: BlogSettings, actor_id: str, text: str,
                     parent_state: str = "approved") -> Decision:
        rules = [Rule(**r) for r in await comments_store.rules(conn)]
        facts = await comments_store.commenter_facts(conn, actor_id, 3600)
        commenter = Commenter(is_follower=facts.is_follower,
                              has_approved_comment=facts.has_approved_comment)
        if facts.recent_comments >= settings.comments_per_actor_per_hour:
            return Decision("spam", "rate", f"more than {settings.comments_per_actor_per_hour}"
                                            " comments in an hour")
        return initial_state(settings.moderation_policy, rules, text, commenter, parent_state)

    async def store_reply(self, conn: Connection, note: Note, parent: Parent,
                          reception: Reception) -> Comment | None:
        """Store a reply in the state the policy gives it (held, whatever the policy, while the
        comment it answers is not visible); None if it was already stored. Replies that waited
        in the inbox for this one to arrive are queued again."""
        draft = _new_comment(note, parent, "pending", reception)
        # A private reply is kept for the author, whatever the policy: never approved, so never
        # shown, counted or federated (not even an Accept or Reject).
        settings = await settings_store.get_settings(conn)
        decision = (PRIVATE_DECISION if draft.visibility == "private" else
                    await self.decide(conn, settings, draft.actor_id, draft.content_text,
                                      parent.state))
        comment = await comments_store.insert(conn, _with_state(draft, decision.state))
        if comment is None:
            return None
        await inbox_store.wake_waiting(conn, comment.ap_id)
        await comments_store.log_transition(conn, comment.id, None, decision.state,
                                            decision.decided_by, decision.reason)
        if comment.state == "approved":
            comment = await comments_store.set_approval_token(conn, comment.id,
                                                              secrets.token_urlsafe(16))
            await self._announce_approval(conn, comment, reception.raw_activity,
                                          settings.moderation_policy)
        return comment

    # ---- the author's decisions
    async def moderate(self, comment_id: int, action: Action, reason: str | None = None) -> Comment:
        async with self.db.transaction() as conn:
            comment = await comments_store.get(conn, comment_id, for_update=True)
            if comment is None:
                raise CommentNotFound(comment_id)
            return await self.apply(conn, comment, action, decided_by="author", reason=reason)

    async def apply(self, conn: Connection, comment: Comment, action: Action, *,
                    decided_by: str, reason: str | None,
                    reaches_blocked: bool = False) -> Comment:
        target = next_state(comment.state, action)
        if target == "approved" and comment.private:
            raise PrivateReply("a private reply (followers-only or direct) is never published: "
                               "it stays visible to you only")
        if target == "approved" and comment.parent_comment_id is not None:
            parent = await comments_store.get(conn, comment.parent_comment_id)
            if parent is not None and parent.state != "approved":
                raise ParentNotApproved(f"the comment it answers is {parent.state}: approve "
                                        f"that one first")
        was_visible = comment.state == "approved"
        token = secrets.token_urlsafe(16) if target == "approved" else None
        updated = await comments_store.set_state(conn, comment, target, decided_by=decided_by,
                                                 reason=reason, approval_token=token)
        if target == "approved" and not comment.is_author:
            detail = await comments_store.detail(conn, comment.id)
            settings = await settings_store.get_settings(conn)
            await self._announce_approval(conn, updated, detail.raw_activity if detail else None,
                                          settings.moderation_policy)
        elif comment.private:
            pass  # nothing of a private reply leaves the server
        elif target in ("rejected", "removed") or (was_visible and target == "spam"):
            detail = await comments_store.detail(conn, comment.id)
            await self._announce_refusal(conn, updated, detail.raw_activity if detail else None,
                                         reaches_blocked=reaches_blocked)
        return updated

    async def _announce_approval(self, conn: Connection, comment: Comment, raw: object,
                                 policy: str) -> None:
        """The commenter is sent the Accept. When the published policy asks approval of
        anyone (every policy but "everyone"), the followers are sent it too, as GoToSocial does:
        a GoToSocial server that follows the blog keeps a reply under such a policy only with an
        approval it can fetch (tests/peers/gotosocial.py reply_permitted)."""
        commenter = await actors_store.get(conn, comment.actor_id)
        if commenter is not None and comment.approval_token:
            request = as2.ReplyRequest.of(raw)
            accept = as2.reply_accept(self.urls, comment.approval_token, comment.ap_id,
                                      comment.in_reply_to, commenter.id, request)
            if request is None and policy != "everyone":
                await publish.to_followers(conn, accept, public=False,
                                           extra_inboxes=(commenter.inbox,))
            else:
                await publish.to_actor(conn, accept, commenter)
        if isinstance(raw, dict) and comment.has_ld_signature:
            await publish.forward(conn, raw, self.urls.new_activity(),
                                  skip_host=host_of(comment.actor_id))

    async def _announce_refusal(self, conn: Connection, comment: Comment, raw: object, *,
                                reaches_blocked: bool = False) -> None:
        commenter = await actors_store.get(conn, comment.actor_id)
        if commenter is None or comment.is_author:
            return
        reject = as2.reply_reject(self.urls.new_activity(), self.urls, comment.ap_id,
                                  comment.in_reply_to, commenter.id, as2.ReplyRequest.of(raw))
        await publish.to_actor(conn, reject, commenter, reaches_blocked=reaches_blocked)

    # ---- the author's answers
    async def answer(self, comment_id: int, markdown: str) -> Comment:
        rendered = render_post(markdown)
        async with self.db.transaction() as conn:
            parent_comment = await comments_store.get(conn, comment_id, for_update=True)
            if parent_comment is None:
                raise CommentNotFound(comment_id)
            if parent_comment.state != "approved":
                raise ParentNotApproved(f"comment {comment_id} is {parent_comment.state}")
            post = await posts_store.get(conn, parent_comment.post_id)
            assert post is not None
            placeholder = f"{self.urls.base}/comments/new-{secrets.token_hex(8)}"
            draft = NewComment(
                ap_id=placeholder, post_id=post.id, parent_comment_id=parent_comment.id,
                in_reply_to=parent_comment.ap_id, depth=min(parent_comment.depth + 1, MAX_DEPTH),
                actor_id=self.urls.actor, is_author=True, state="approved",
                content_html=rendered.body_html, content_text=rendered.text, markdown=markdown,
                language=post.language, url=None, summary=None, mentions=[],
                hashtags=list(rendered.hashtags), attachments=[], published_at=None,
                raw_activity=None, has_ld_signature=False, sender_ip=None, key_id=None,
            )
            stored = await comments_store.insert(conn, draft)
            assert stored is not None
            await comments_store.set_ap_id(conn, stored.id, self.urls.comment(stored.id))
            await comments_store.log_transition(conn, stored.id, None, "approved", "author",
                                                "the author's answer")
            answer = await comments_store.get(conn, stored.id)
            assert answer is not None
            await self._publish_answer(conn, "Create", answer)
        return answer

    async def _publish_answer(self, conn: Connection, verb: str, answer: Comment) -> None:
        parent = (await comments_store.get(conn, answer.parent_comment_id)
                  if answer.parent_comment_id else None)
        commenter = await actors_store.get(conn, parent.actor_id) if parent else None
        settings = await settings_store.get_settings(conn)
        policy = as2.interaction_policy(self.urls, settings.moderation_policy,
                                        settings.quote_policy)
        note = as2.answer_note(answer, self.urls, commenter=commenter, policy=policy)
        activity_id = (f"{answer.ap_id}/activity" if verb == "Create"
                       else self.urls.new_activity())
        activity = as2.wrap(verb, activity_id, self.urls, note, to=note["to"], cc=note["cc"],
                            published=answer.updated_at or answer.published_at)
        extra = (commenter.inbox,) if commenter is not None else ()
        await publish.to_followers(conn, activity, extra_inboxes=extra)

    async def edit_answer(self, comment_id: int, markdown: str) -> Comment:
        rendered = render_post(markdown)
        async with self.db.transaction() as conn:
            answer = await self._own_answer(conn, comment_id)
            edited = await comments_store.edit(conn, answer, content_html=rendered.body_html,
                                               content_text=rendered.text, markdown=markdown,
                                               updated_at=None)
            await self._publish_answer(conn, "Update", edited)
        return edited

    async def delete_answer(self, comment_id: int) -> Comment:
        async with self.db.transaction() as conn:
            answer = await self._own_answer(conn, comment_id)
            deleted = await comments_store.set_state(conn, answer, "deleted", decided_by="author",
                                                     reason="the author deleted the answer",
                                                     approval_token=None)
            tomb = as2.tombstone(answer.ap_id, datetime.now().astimezone())
            activity = as2.wrap("Delete", self.urls.new_activity(), self.urls, tomb,
                                to=[as2.PUBLIC], cc=[self.urls.followers])
            await publish.to_followers(conn, activity)
        return deleted

    async def _own_answer(self, conn: Connection, comment_id: int) -> Comment:
        answer = await comments_store.get(conn, comment_id, for_update=True)
        if answer is None or answer.state == "deleted":
            raise CommentNotFound(comment_id)
        if not answer.is_author:
            raise NotAnAnswer(f"comment {comment_id} is a remote reply, not the author's answer")
        return answer

    # ---- what commenters do to their own comments
    async def remote_update(self, conn: Connection, comment: Comment, note: Note) -> Comment:
        html = sanitize_remote_html(note.content or next(iter(note.content_map.values()), ""))
        extras = SentExtras(note.summary, note.sensitive, _sent_media(note), _sent_emojis(note))
        return await comments_store.edit(conn, comment, content_html=html,
                                         content_text=html_to_text(html), markdown=None,
                                         updated_at=note.updated, extras=extras)

    async def remote_delete(self, conn: Connection, comment: Comment, reason: str) -> Comment:
        return await comments_store.set_state(conn, comment, "deleted", decided_by="remote",
                                              reason=reason, approval_token=None)

    async def actor_deleted(self, conn: Connection, activity: Activity) -> int:
        live = ("pending", "approved", "rejected", "spam", "removed")
        gone = await comments_store.by_actor(conn, activity.actor, live)
        for comment in gone:
            await self.remote_delete(conn, comment, "the commenter's account was deleted")
        return len(gone)

    # ---- what the inbox asks
    async def parent_of(self, in_reply_to: str) -> Parent | None:
        """Where a reply to `in_reply_to` belongs (see resolve_parent), in a connection of its own."""
        async with self.db.connection() as conn:
            return await resolve_parent(conn, self.urls, in_reply_to)

    async def edited_by_commenter(self, conn: Connection, actor_id: str,
                                  note: Note) -> Comment | None:
        """`actor_id` edits its comment `note`; None when that is unknown, someone else's or
        deleted."""
        comment = await self._commenters_own(conn, actor_id, note.id)
        return await self.remote_update(conn, comment, note) if comment else None

    async def deleted_by_commenter(self, conn: Connection, actor_id: str,
                                   ap_id: str) -> Comment | None:
        """`actor_id` deletes its comment `ap_id`; None when that is unknown, someone else's or
        deleted already."""
        comment = await self._commenters_own(conn, actor_id, ap_id)
        return await self.remote_delete(conn, comment, "deleted by its author") if comment else None

    async def _commenters_own(self, conn: Connection, actor_id: str, ap_id: str) -> Comment | None:
        """The live comment `ap_id`, locked, if `actor_id` wrote it."""
        comment = await comments_store.by_ap_id(conn, ap_id, for_update=True)
        if comment is None or comment.actor_id != actor_id or comment.state == "deleted":
            return None
        return comment


def _with_state(draft: NewComment, state: str) -> NewComment:
    return NewComment(**{**draft.__dict__, "state": state})
