"""Logging in to the desk with an API token, and out again."""

from __future__ import annotations

import math
import secrets
import time

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from fedblog.web.desk import session as sessions
from fedblog.web.desk.common import Form, back, desk_view, refuse, render
from fedblog.web.desk.session import Session
from fedblog.web.forms import read_form
from fedblog.web.responses import services


def _login_form(request: Request, *, status: int = 200, error: str | None = None) -> Response:
    nonce = secrets.token_urlsafe(32)
    response = render(request, "desk/login.html", None, status=status, error=error,
                      login_nonce=nonce)
    sessions.set_cookie(request, response, sessions.LOGIN_COOKIE, nonce, sessions.LOGIN_LIFETIME)
    return response


async def login_page(request: Request) -> Response:
    if await sessions.current_session(request) is not None:
        return RedirectResponse(f"{sessions.PATH}/", status_code=303)
    return _login_form(request)


async def login(request: Request) -> Response:
    """Login CSRF is stopped by a double-submit nonce: the form's must equal the cookie's."""
    try:
        form = await read_form(request, 16 * 1024)
    except ValueError:
        return refuse(request, 413, "That form is too large.")
    expected = request.cookies.get(sessions.LOGIN_COOKIE, "")
    if not sessions.same_origin(request) or not expected or not sessions.csrf_matches(
            expected, form.get("csrf")):
        return refuse(request, 403, "The login form's security token is missing or stale: "
                                    "open the login page again.")
    blog = services(request)
    client = request.client.host if request.client else "-"
    token = form.get("token", "").strip()
    # Only failures count (per client and per token prefix, shared with the API): a right token
    # is never slowed by someone else's wrong ones.
    wait = blog.login_attempts.wait(client, token, time.monotonic())
    if wait is not None:
        response = _login_form(request, status=429, error="Too many failed attempts; wait a minute.")
        response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return response
    if not token or not await blog.tokens.is_valid(token, blog.runtime.settings.api_token):
        blog.login_attempts.failed(client, token, time.monotonic())
        return _login_form(request, status=401, error="That token is not valid.")
    response = RedirectResponse(f"{sessions.PATH}/", status_code=303)
    sessions.start(request, response, await sessions.new_session(request, token))
    return response


@desk_view
async def logout(request: Request, session: Session, form: Form) -> Response:
    response = back(Form(), f"{sessions.PATH}/login", notice="logged_out")
    await sessions.end(request, session, response)
    return response


routes = [
    Route("/desk/login", login_page, methods=["GET"]),
    Route("/desk/login", login, methods=["POST"]),
    Route("/desk/logout", logout, methods=["POST"]),
]
