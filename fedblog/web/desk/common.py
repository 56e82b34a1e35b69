"""What every desk page shares: the login guard with its CSRF check, forms, rendering, notices."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from fedblog.web.desk import session as sessions
from fedblog.web.desk.session import Session
from fedblog.web.forms import read_form_pairs
from fedblog.web.responses import services
from fedblog.web.templating import TEMPLATES, handle_of

# No script, no remote images (a spammer's avatar would learn the author's address), no framing.
DESK_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
NOTICES = {
    "approved": "Approved: the comment is on the page and its author was told.",
    "rejected": "Rejected.", "spam": "Marked as spam.", "removed": "Removed from the page.",
    "restored": "Restored to the page.", "answered": "Your answer is published.",
    "bulk": "Done for the selected comments.", "blocked": "Blocked.", "unblocked": "Block lifted.",
    "accepted": "Follow request accepted.", "refused": "Follower removed or request refused.",
    "resolved": "Report resolved.", "report_blocked": "Blocked the reported accounts.",
    "published": "Published.", "saved": "Saved: followers get the edit.",
    "deleted": "Deleted: followers are told.", "reported": "Reported to their server.",
    "answer_saved": "Answer edited.", "answer_deleted": "Answer deleted.",
    "logged_out": "Logged out.",
}
ERRORS = {
    "state": "That comment's state does not allow this (perhaps it was decided already).",
    "missing": "That no longer exists.", "nothing": "Nothing was selected.",
    "empty": "Write something first.", "parent": "The comment it answers is not approved: approve that one first.",
    "cannot_report": "That commenter cannot be reported (unknown server, or your own answer).",
}

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Form:
    pairs: tuple[tuple[str, str], ...] = ()

    def get(self, name: str, default: str = "") -> str:
        found = [value for key, value in self.pairs if key == name]
        return found[-1] if found else default

    def getall(self, name: str) -> list[str]:
        return [value for key, value in self.pairs if key == name]


DeskEndpoint = Callable[[Request, Session, Form], Awaitable[Response]]


def render(request: Request, template: str, session: Session | None, *, status: int = 200,
           **context: Any) -> Response:
    runtime = services(request).runtime
    html = TEMPLATES.get_template(template).render(
        urls=runtime.urls, handle=handle_of(runtime), session=session,
        csrf=session.csrf if session else "", path=request.url.path,
        notice=NOTICES.get(request.query_params.get("notice", "")),
        error=context.pop("error", None) or ERRORS.get(request.query_params.get("error", "")),
        **context)
    return HTMLResponse(html, status_code=status, headers=DESK_HEADERS)


def refuse(request: Request, status: int, message: str) -> Response:
    return render(request, "desk/refused.html", None, status=status, message=message)


def local_path(candidate: str, default: str) -> str:
    """Only a path inside the desk is a place to go back to (no open redirect)."""
    inside = candidate.startswith(sessions.PATH + "/") or candidate == sessions.PATH
    if inside and "//" not in candidate and "\\" not in candidate:
        return candidate
    return default


def back(form: Form, default: str, **query: str) -> Response:
    """303 to the page the form came from (its `next` field), with a notice or an error."""
    target = local_path(form.get("next"), default)
    if query:
        target = target.split("#")[0] + ("&" if "?" in target else "?") + urlencode(query)
    return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})


def desk_view(endpoint: DeskEndpoint) -> Endpoint:
    """Logged in, or off to the login page; a POST must also be same-origin and carry the
    session's CSRF token, or it is refused with 403 before anything happens."""

    @wraps(endpoint)
    async def guarded(request: Request) -> Response:
        session = await sessions.current_session(request)
        if request.method in ("GET", "HEAD"):
            if session is None:
                return RedirectResponse(f"{sessions.PATH}/login", status_code=303)
            return await endpoint(request, session, Form())
        if session is None:
            return refuse(request, 403, "You are not logged in (or the session expired).")
        if not sessions.same_origin(request):
            return refuse(request, 403, "This form came from another site.")
        try:
            form = Form(tuple(await read_form_pairs(request)))
        except ValueError:
            return refuse(request, 413, "That form is too large.")
        if not sessions.csrf_matches(session.csrf, form.get("csrf")):
            return refuse(request, 403, "The form's security token is missing or stale: "
                                        "reload the page and try again.")
        return await endpoint(request, session, form)

    return guarded
