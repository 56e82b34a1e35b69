"""Logging in to the desk with an API token, and out again."""

from __future__ import annotations

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
    if blog.login_attempts.take(client, time.monotonic()) is not None:
        return _login_form(request, status=429, error="Too many attempts; wait a minute.")
    token = form.get("token", "").strip()
    if not token or not await blog.tokens.is_valid(token, blog.runtime.settings.api_token):
        return _login_form(request, status=401, error="That token is not valid.")
    response = RedirectResponse(f"{sessions.PATH}/", status_code=303)
    sessions.start(request, response, sessions.new_session(token))
    return response


@desk_view
async def logout(request: Request, session: Session, form: Form) -> Response:
    response = back(Form(), f"{sessions.PATH}/login", notice="logged_out")
    sessions.end(response)
    return response


routes = [
    Route("/desk/login", login_page, methods=["GET"]),
    Route("/desk/login", login, methods=["POST"]),
    Route("/desk/logout", logout, methods=["POST"]),
]
