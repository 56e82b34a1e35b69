"""The desk's session: an API token traded for an encrypted, HTTP-only, SameSite=Strict cookie,
and a CSRF token that every form carries and every POST must return.

The cookie is sealed with AES-GCM under a key derived from the instance actor's private key, so
every process agrees. It holds a random session id, live only while its row is in desk_sessions
(logging out deletes it: the same cookie replayed is refused), and the SHA-256 of the token it
was opened with: revoking the token (or changing FEDBLOG_API_TOKEN) ends the session too.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from starlette.requests import Request
from starlette.responses import Response

from fedblog.blog.tokens import hash_token
from fedblog.runtime import Runtime
from fedblog.web.responses import services

COOKIE = "fedblog_desk"
LOGIN_COOKIE = "fedblog_desk_login"
PATH = "/desk"
LIFETIME = 14 * 86400
LOGIN_LIFETIME = 3600
SEAL_CONTEXT = b"fedblog desk session v2"


@dataclass(frozen=True)
class Session:
    id: str
    token_hash: bytes
    csrf: str
    expires: int


def _key(runtime: Runtime) -> bytes:
    private = runtime.instance_key.private_key.private_numbers().d
    secret = private.to_bytes((private.bit_length() + 7) // 8, "big")
    return HKDF(hashes.SHA256(), 32, salt=None, info=SEAL_CONTEXT).derive(secret)


def seal(runtime: Runtime, session: Session) -> str:
    payload = json.dumps({"s": session.id, "h": session.token_hash.hex(), "c": session.csrf,
                          "e": session.expires}).encode()
    nonce = os.urandom(12)
    sealed = AESGCM(_key(runtime)).encrypt(nonce, payload, SEAL_CONTEXT)
    return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def unseal(runtime: Runtime, value: str, now: float | None = None) -> Session | None:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        payload = json.loads(AESGCM(_key(runtime)).decrypt(raw[:12], raw[12:], SEAL_CONTEXT))
        session = Session(str(payload["s"]), bytes.fromhex(payload["h"]), str(payload["c"]),
                          int(payload["e"]))
    except (ValueError, KeyError, TypeError, InvalidTag):
        return None
    return session if session.expires > (time.time() if now is None else now) else None


async def current_session(request: Request) -> Session | None:
    value = request.cookies.get(COOKIE)
    if not value:
        return None
    blog = services(request)
    session = unseal(blog.runtime, value)
    if session is None or not await blog.desk_sessions.is_live(session.id, session.token_hash):
        return None
    if not await blog.tokens.hash_is_valid(session.token_hash, blog.runtime.settings.api_token):
        return None
    return session


async def new_session(request: Request, token: str) -> Session:
    """A session opened server-side (a desk_sessions row) for a token already checked."""
    token_hash = hash_token(token)
    session_id = await services(request).desk_sessions.open(token_hash, LIFETIME)
    return Session(session_id, token_hash, secrets.token_urlsafe(32),
                   int(time.time()) + LIFETIME)


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


def set_cookie(request: Request, response: Response, name: str, value: str,
               max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path=PATH, httponly=True,
                        samesite="strict",
                        secure=services(request).runtime.settings.scheme == "https")


def start(request: Request, response: Response, session: Session) -> None:
    set_cookie(request, response, COOKIE, seal(services(request).runtime, session), LIFETIME)
    response.delete_cookie(LOGIN_COOKIE, path=PATH)


async def end(request: Request, session: Session, response: Response) -> None:
    """Ends the session server-side (its row goes), then in the browser."""
    await services(request).desk_sessions.close(session.id)
    response.delete_cookie(COOKIE, path=PATH)


def same_origin(request: Request) -> bool:
    """A POST must come from the desk's own pages: Origin (when sent) names this host, and the
    browser does not call it cross-site. SameSite=Strict and the CSRF token do the rest."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    base = services(request).runtime.settings.base_url
    host = request.headers.get("host", "")
    return origin == base or origin.split("://", 1)[-1] == host
