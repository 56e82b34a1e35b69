"""/api/v1/comments: the moderation queue, decisions, the author's answers; rules and reports."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedblog.blog.comments import CommentNotFound, NotAnAnswer, ParentNotApproved
from fedblog.blog.moderation import Action, TransitionError, validate_rule
from fedblog.blog.queue import QueueItem
from fedblog.blog.reports import ReportNotFound
from fedblog.blog.rules import RuleNotFound
from fedblog.models import COMMENT_STATES, Comment
from fedblog.outbox.as2 import iso
from fedblog.web.api import validation as v
from fedblog.web.api.endpoint import api
from fedblog.web.api.validation import ApiError
from fedblog.web.responses import json_response, services

MAX_BULK = 500
MAX_ID = 2**62


def comment_json(item: QueueItem) -> dict[str, Any]:
    """A comment as the API shows it; `item` carries its parent (read with a context of 1)."""
    comment, actor = item.comment, item.present_actor
    body: dict[str, Any] = {
        "id": comment.id, "ap_id": comment.ap_id, "post_id": comment.post_id,
        "parent_comment_id": comment.parent_comment_id, "in_reply_to": comment.in_reply_to,
        "depth": comment.depth, "actor_id": comment.actor_id,
        "handle": actor.handle if actor else None, "name": actor.name if actor else None,
        "is_author": comment.is_author, "state": comment.state,
        "content_html": comment.content_html, "content_text": comment.content_text,
        "language": comment.language, "url": comment.url,
        "published_at": iso(comment.published_at),
        "updated_at": iso(comment.updated_at) if comment.updated_at else None,
        "summary": comment.summary, "sensitive": comment.sensitive,
        "visibility": comment.visibility,
        "attachments": [{**asdict(a), "proxy_url": f"/media/comments/{comment.id}/attachments/{i}"}
                        for i, a in enumerate(comment.attachments)],
        "emojis": [asdict(e) for e in comment.emojis],
    }
    if comment.parent_comment_id is not None:
        parent = item.parent
        body["parent_excerpt"] = parent.content_text[:200] if parent else None
        body["parent_state"] = parent.state if parent else None
    return body


def _state_param(request: Request) -> str | None:
    state = request.query_params.get("state")
    if state is not None and state not in COMMENT_STATES:
        raise ApiError(422, f"state must be one of {', '.join(COMMENT_STATES)}", "state")
    return state


@api
async def list_comments(request: Request) -> Response:
    limit = v.limit_param(request)
    state, post_id, before = _state_param(request), v.id_param(request, "post_id"), \
        v.id_param(request, "before")
    page = await services(request).queue.page(state=state, post_id=post_id, before=before,
                                              limit=limit, context=1, provenance=False)
    return json_response({"items": [comment_json(item) for item in page.items],
                          "next_before": page.older})


@api
async def get_comment(request: Request) -> Response:
    record = await services(request).queue.record(request.path_params["id"], context=1)
    if record is None or record.item.detail is None:
        raise ApiError(404, "no such comment")
    detail = record.item.detail
    body = comment_json(record.item)
    body.update(
        raw_activity=detail.raw_activity, sender_ip=detail.sender_ip, key_id=detail.key_id,
        received_at=iso(detail.received_at), mentions=detail.mentions, likes=record.likes,
        shares=record.shares,
        history=[{**h, "at": iso(h["at"])} for h in record.history],
        versions=[{**ver, "updated_at": iso(ver["updated_at"]) if ver["updated_at"] else None,
                   "replaced_at": iso(ver["replaced_at"])} for ver in record.versions],
    )
    return json_response(body)


async def _reason(request: Request) -> str | None:
    if not (await request.body()):
        return None
    data = await v.json_object(request)
    v.reject_unknown(data, {"reason"})
    return v.text(data, "reason", max_length=1000)


async def _moderate(request: Request, action: Action) -> Response:
    blog = services(request)
    reason = await _reason(request)
    try:
        comment = await blog.comments.moderate(request.path_params["id"], action, reason)
    except CommentNotFound as exc:
        raise ApiError(404, "no such comment") from exc
    except (TransitionError, ParentNotApproved) as exc:
        raise ApiError(409, str(exc)) from exc
    return await _comment_response(request, comment)


def _action_endpoint(action: Action) -> Any:
    @api
    async def endpoint(request: Request) -> Response:
        return await _moderate(request, action)

    endpoint.__name__ = f"{action.value}_comment"
    return endpoint


@api
async def bulk(request: Request) -> Response:
    blog = services(request)
    data = await v.json_object(request)
    v.reject_unknown(data, {"ids", "action", "reason"})
    ids = data.get("ids")
    if (not isinstance(ids, list) or not ids or len(ids) > MAX_BULK
            or not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < MAX_ID
                       for i in ids)):
        raise ApiError(422, f"ids must be a list of 1 to {MAX_BULK} comment ids", "ids")
    try:
        action = Action(data.get("action"))
    except ValueError as exc:
        raise ApiError(422, "action must be approve, reject, spam, remove or restore",
                       "action") from exc
    reason = v.text(data, "reason", max_length=1000)
    results: list[dict[str, Any]] = []
    for comment_id in ids:
        try:
            comment = await blog.comments.moderate(comment_id, action, reason)
            results.append({"id": comment_id, "state": comment.state})
        except CommentNotFound:
            results.append({"id": comment_id, "error": "no such comment"})
        except (TransitionError, ParentNotApproved) as exc:
            results.append({"id": comment_id, "error": str(exc)})
    return json_response({"results": results})


async def _markdown(request: Request) -> str:
    data = await v.json_object(request)
    v.reject_unknown(data, {"markdown"})
    markdown = v.text(data, "markdown", required=True, max_length=100_000, allow_empty=False)
    assert markdown is not None
    return markdown


async def _comment_response(request: Request, comment: Comment, status: int = 200) -> Response:
    item = await services(request).queue.item(comment)
    return json_response(comment_json(item), status)


@api
async def answer(request: Request) -> Response:
    try:
        created = await services(request).comments.answer(request.path_params["id"],
                                                          await _markdown(request))
    except CommentNotFound as exc:
        raise ApiError(404, "no such comment") from exc
    except ParentNotApproved as exc:
        raise ApiError(409, f"approve the comment before answering it: {exc}") from exc
    return await _comment_response(request, created, 201)


@api
async def edit_answer(request: Request) -> Response:
    try:
        edited = await services(request).comments.edit_answer(request.path_params["id"],
                                                               await _markdown(request))
    except CommentNotFound as exc:
        raise ApiError(404, "no such comment") from exc
    except NotAnAnswer as exc:
        raise ApiError(409, str(exc)) from exc
    return await _comment_response(request, edited)


@api
async def delete_answer(request: Request) -> Response:
    try:
        await services(request).comments.delete_answer(request.path_params["id"])
    except CommentNotFound as exc:
        raise ApiError(404, "no such comment") from exc
    except NotAnAnswer as exc:
        raise ApiError(409, f"{exc}; use /remove to moderate it") from exc
    return Response(status_code=204)


@api
async def list_rules(request: Request) -> Response:
    return json_response({"items": await services(request).rules.all()})


@api
async def add_rule(request: Request) -> Response:
    data = await v.json_object(request)
    v.reject_unknown(data, {"pattern", "is_regex", "action"})
    pattern = v.text(data, "pattern", required=True, max_length=500) or ""
    is_regex = bool(v.boolean(data, "is_regex"))
    action = data.get("action", "hold")
    if action not in ("hold", "spam"):
        raise ApiError(422, "action must be hold or spam", "action")
    problem = validate_rule(pattern, is_regex)
    if problem:
        raise ApiError(422, problem, "pattern")
    return json_response(await services(request).rules.add(pattern, is_regex, action), 201)


@api
async def delete_rule(request: Request) -> Response:
    try:
        await services(request).rules.delete(request.path_params["id"])
    except RuleNotFound as exc:
        raise ApiError(404, "no such rule") from exc
    return Response(status_code=204)


@api
async def list_reports(request: Request) -> Response:
    include = request.query_params.get("resolved") == "true"
    rows = await services(request).reports.received(include_resolved=include,
                                                    limit=v.limit_param(request))
    items = [{**r, "received_at": iso(r["received_at"]),
              "resolved_at": iso(r["resolved_at"]) if r["resolved_at"] else None} for r in rows]
    return json_response({"items": items})


@api
async def resolve_report(request: Request) -> Response:
    data = await v.json_object(request) if await request.body() else {}
    v.reject_unknown(data, {"resolution"})
    resolution = v.text(data, "resolution", max_length=1000) or "resolved"
    try:
        await services(request).reports.resolve(request.path_params["id"], resolution)
    except ReportNotFound as exc:
        raise ApiError(404, "no such open report") from exc
    return Response(status_code=204)


routes = [
    Route("/api/v1/comments", list_comments, methods=["GET"]),
    Route("/api/v1/comments/bulk", bulk, methods=["POST"]),
    Route("/api/v1/comments/{id:int}", get_comment, methods=["GET"]),
    Route("/api/v1/comments/{id:int}", edit_answer, methods=["PATCH"]),
    Route("/api/v1/comments/{id:int}", delete_answer, methods=["DELETE"]),
    Route("/api/v1/comments/{id:int}/replies", answer, methods=["POST"]),
    *[Route(f"/api/v1/comments/{{id:int}}/{action.value}", _action_endpoint(action),
            methods=["POST"]) for action in Action],
    Route("/api/v1/moderation/rules", list_rules, methods=["GET"]),
    Route("/api/v1/moderation/rules", add_rule, methods=["POST"]),
    Route("/api/v1/moderation/rules/{id:int}", delete_rule, methods=["DELETE"]),
    Route("/api/v1/reports", list_reports, methods=["GET"]),
    Route("/api/v1/reports/{id:int}/resolve", resolve_report, methods=["POST"]),
]
