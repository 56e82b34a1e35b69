"""The moderation queue: comments by state with their thread context and provenance; one-click
decisions, bulk decisions, answers, reports — all through CommentService, as the API does."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedblog.blog.comments import CommentNotFound, NotAnAnswer, ParentNotApproved
from fedblog.blog.fields import row_id
from fedblog.blog.moderation import Action, TransitionError
from fedblog.blog.reports import CannotReport, ReportNotFound
from fedblog.models import COMMENT_STATES
from fedblog.web.desk.common import Endpoint, Form, back, desk_view, render
from fedblog.web.desk.session import Session
from fedblog.web.responses import services

QUEUE_SIZE = 30
MAX_ANSWER = 100_000
DONE = {Action.APPROVE: "approved", Action.REJECT: "rejected", Action.SPAM: "spam",
        Action.REMOVE: "removed", Action.RESTORE: "restored"}


def _state(request: Request) -> str:
    state = request.query_params.get("state", "pending")
    return state if state in COMMENT_STATES else "pending"


@desk_view
async def queue(request: Request, session: Session, form: Form) -> Response:
    state = _state(request)
    before = row_id(request.query_params.get("before"))
    page = await services(request).queue.page(state=state, post_id=None, before=before,
                                              limit=QUEUE_SIZE)
    here = f"/desk/?{urlencode({'state': state, **({'before': before} if before else {})})}"
    return render(request, "desk/queue.html", session, state=state, states=COMMENT_STATES,
                  items=page.items, names=page.names, older=page.older, here=here)


@desk_view
async def comment_page(request: Request, session: Session, form: Form) -> Response:
    comment_id: int = request.path_params["id"]
    record = await services(request).queue.record(comment_id)
    if record is None:
        return render(request, "desk/refused.html", session, status=404,
                      message="No such comment.")
    item = record.item
    raw = json.dumps(item.detail.raw_activity, indent=2, ensure_ascii=False) \
        if item.detail and item.detail.raw_activity is not None else None
    return render(request, "desk/comment.html", session, item=item, names=record.names,
                  history=record.history, versions=record.versions, raw_activity=raw,
                  here=f"/desk/comments/{comment_id}")


async def _decide(request: Request, comment_id: int, action: Action) -> str | None:
    """The error key, or None when the decision was taken (and federated)."""
    try:
        await services(request).comments.moderate(comment_id, action, None)
    except CommentNotFound:
        return "missing"
    except ParentNotApproved:
        return "parent"
    except TransitionError:
        return "state"
    return None


def _moderate_endpoint(action: Action) -> Endpoint:
    @desk_view
    async def endpoint(request: Request, session: Session, form: Form) -> Response:
        error = await _decide(request, request.path_params["id"], action)
        if error:
            return back(form, "/desk/", error=error)
        return back(form, "/desk/", notice=DONE[action])

    endpoint.__name__ = f"desk_{action.value}"
    return endpoint


@desk_view
async def bulk(request: Request, session: Session, form: Form) -> Response:
    ids = [int(i) for i in form.getall("ids") if i.isascii() and i.isdigit() and len(i) < 19][:500]
    try:
        action = Action(form.get("action"))
    except ValueError:
        return back(form, "/desk/", error="nothing")
    if not ids:
        return back(form, "/desk/", error="nothing")
    errors = [error for comment_id in ids if (error := await _decide(request, comment_id, action))]
    return back(form, "/desk/", **({"error": errors[0]} if errors else {"notice": "bulk"}))


@desk_view
async def answer(request: Request, session: Session, form: Form) -> Response:
    """Answering a held comment approves it first: an answer shows what it answers."""
    blog = services(request)
    comment_id: int = request.path_params["id"]
    markdown = form.get("markdown").replace("\r\n", "\n")
    if not markdown.strip() or len(markdown) > MAX_ANSWER or "\x00" in markdown:
        return back(form, "/desk/", error="empty")
    try:
        current = await blog.queue.comment(comment_id)
        if current is not None and current.state == "pending":
            await blog.comments.moderate(comment_id, Action.APPROVE, None)
        await blog.comments.answer(comment_id, markdown)
    except CommentNotFound:
        return back(form, "/desk/", error="missing")
    except (ParentNotApproved, TransitionError):
        return back(form, "/desk/", error="parent")
    return back(form, "/desk/", notice="answered")


@desk_view
async def edit_answer(request: Request, session: Session, form: Form) -> Response:
    markdown = form.get("markdown").replace("\r\n", "\n")
    if not markdown.strip() or len(markdown) > MAX_ANSWER or "\x00" in markdown:
        return back(form, "/desk/", error="empty")
    try:
        await services(request).comments.edit_answer(request.path_params["id"], markdown)
    except (CommentNotFound, NotAnAnswer):
        return back(form, "/desk/", error="missing")
    return back(form, "/desk/", notice="answer_saved")


@desk_view
async def delete_answer(request: Request, session: Session, form: Form) -> Response:
    try:
        await services(request).comments.delete_answer(request.path_params["id"])
    except (CommentNotFound, NotAnAnswer):
        return back(form, "/desk/", error="missing")
    return back(form, "/desk/", notice="answer_deleted")


@desk_view
async def report(request: Request, session: Session, form: Form) -> Response:
    reason = form.get("reason").strip()[:1000]
    if not reason:
        return back(form, "/desk/", error="empty")
    try:
        await services(request).reports.report_commenter(request.path_params["id"], reason)
    except ReportNotFound:
        return back(form, "/desk/", error="missing")
    except CannotReport:
        return back(form, "/desk/", error="cannot_report")
    return back(form, "/desk/", notice="reported")


routes = [
    Route("/desk/", queue, methods=["GET"]),
    Route("/desk/comments/bulk", bulk, methods=["POST"]),
    Route("/desk/comments/{id:int}", comment_page, methods=["GET"]),
    Route("/desk/comments/{id:int}/answer", answer, methods=["POST"]),
    Route("/desk/comments/{id:int}/edit", edit_answer, methods=["POST"]),
    Route("/desk/comments/{id:int}/delete", delete_answer, methods=["POST"]),
    Route("/desk/comments/{id:int}/report", report, methods=["POST"]),
    *[Route(f"/desk/comments/{{id:int}}/{action.value}", _moderate_endpoint(action),
            methods=["POST"]) for action in Action],
]
