"""The public pages over HTTP (head, language, paging, caching, reply from your server) and the
desk's guard (login, session cookie, CSRF)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from fedblog.federation.webfinger import subscribe_template
from fedblog.storage import tokens as tokens_store
from fedblog.web.api.auth import create_token
from fedblog.web.dates import ago, exact_time, long_date
from fedblog.web.i18n import LANGUAGES
from tests.harness import TOKEN, BlogServer, free_port

HTML = {"Accept": "text/html"}


class _Head(HTMLParser):
    """The <head>'s meta and link elements, and the <html lang>."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.links: list[dict[str, str]] = []
        self.lang: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.lang = found.get("lang")
        elif tag == "meta" and ("property" in found or "name" in found):
            self.meta.setdefault(found.get("property") or found["name"], found.get("content", ""))
        elif tag == "link":
            self.links.append(found)


def _head(html: str) -> _Head:
    head = _Head()
    head.feed(html)
    return head


async def test_post_page_head_language_and_reactions(database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog:
        post = await blog.post("Hej #Fediverse, det här är **texten**.", title="Rubrik",
                               language="sv")
        english = await blog.post("Hello there.", title="Title", language="en")
        page = await blog.api.get(post["url"], headers=HTML)
        assert page.status_code == 200
        head = _head(page.text)
        assert head.lang == "sv"
        assert {"rel": "alternate", "type": "application/activity+json",
                "href": post["url"]} in head.links
        assert head.meta["og:type"] == "article" and head.meta["og:url"] == post["url"]
        assert head.meta["og:title"].startswith("Rubrik") and head.meta["og:locale"] == "sv_SE"
        assert head.meta["article:tag"] == "Fediverse"
        assert head.meta["fediverse:creator"] == f"@blog@{blog.settings.domain}"
        assert any(link.get("type") == "application/atom+xml" for link in head.links)
        month = re.search(r'<time datetime="[^"]+" title="[^"]+ UTC">(\d+ \w+ \d{4})</time>',
                          page.text)
        assert month and month.group(1).split()[1] in ("januari", "februari", "mars", "april",
                                                       "maj", "juni", "juli", "augusti",
                                                       "september", "oktober", "november",
                                                       "december")
        assert "0 gillningar" in page.text and "Svara från ditt fediversum-konto" in page.text
        assert "<main" in page.text and 'lang="sv"' in page.text
        assert "default-src 'none'" in page.headers["content-security-policy"]

        english_page = (await blog.api.get(english["url"], headers=HTML)).text
        assert _head(english_page).lang == "en" and "Reply from your fediverse account" in \
            english_page
        # Every page names its ActivityPub alternate
        for path in ("/", "/tags/fediverse", "/nowhere"):
            other = await blog.api.get(path, headers=HTML)
            assert {"rel": "alternate", "type": "application/activity+json",
                    "href": blog.actor} in _head(other.text).links, path


async def test_front_page_counts_tags_and_paging(database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog:
        first = await blog.post("Den första. #arkiv", title="Först", language="sv")
        for i in range(20):
            await blog.post(f"Inlägg nummer {i} med lite text.", title=f"Nummer {i}")
        front = (await blog.api.get("/", headers=HTML)).text
        assert front.index("Nummer 19") < front.index("Nummer 18")
        assert "Först" not in front and "?before=" in front
        assert "0 comments" in front and "0 likes" in front
        older_link = re.search(r'href="\?before=(\d+)"', front)
        assert older_link
        older = (await blog.api.get(f"/?before={older_link.group(1)}", headers=HTML)).text
        assert "Först" in older and "Nummer 0" not in older
        tagged = (await blog.api.get("/tags/arkiv", headers=HTML)).text
        assert "Först" in tagged and "Nummer" not in tagged
        assert f'href="{blog.base_url}/posts/{first["id"]}"' in tagged


async def test_post_page_and_feeds_answer_304_until_something_changes(database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog:
        post = await blog.post("Cachad text.", title="Cache", language="sv")
        for url in (post["url"], f"{blog.base_url}/feed.atom", f"{blog.base_url}/feed.rss",
                    f"{post['url']}/comments.atom"):
            first = await blog.api.get(url, headers=HTML)
            etag, modified = first.headers["etag"], first.headers["last-modified"]
            # The post page's validator is weak (its relative dates drift); feeds' are strong.
            assert first.status_code == 200 and etag.startswith(('"', 'W/"'))
            again = await blog.api.get(url, headers={**HTML, "If-None-Match": etag})
            assert again.status_code == 304 and again.content == b"", url
            assert again.headers["etag"] == etag
            weak = await blog.api.get(url, headers={
                **HTML, "If-None-Match": f'"x", W/{etag.removeprefix("W/")}'})
            assert weak.status_code == 304
            since = await blog.api.get(url, headers={**HTML, "If-Modified-Since": modified})
            assert since.status_code == 304
            stale = await blog.api.get(url, headers={**HTML, "If-None-Match": '"other"',
                                                     "If-Modified-Since": modified})
            assert stale.status_code == 200
        etag = (await blog.api.get(post["url"], headers=HTML)).headers["etag"]
        await asyncio.sleep(1.1)  # Last-Modified has one-second resolution
        edited = await blog.api.patch(f"/api/v1/posts/{post['id']}", json={"markdown": "Ny."})
        assert edited.status_code == 200
        changed = await blog.api.get(post["url"], headers={**HTML, "If-None-Match": etag})
        assert changed.status_code == 200 and "Ny." in changed.text
        assert changed.headers["etag"] != etag


# ---------------------------------------------------------------- reply from your server


class _Quiet(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def _reader_server(links: list[dict[str, Any]]) -> AsyncIterator[str]:
    """The reader's own server: WebFinger for acct:reader@host, with the given links ("{host}"
    in a link stands for the server's own host:port)."""
    port = free_port()
    host = f"127.0.0.1:{port}"

    async def webfinger(request: Request) -> JSONResponse:
        if request.query_params.get("resource") != f"acct:reader@{host}":
            return JSONResponse({"error": "unknown"}, 404)
        own = [{key: value.replace("{host}", host) if isinstance(value, str) else value
                for key, value in link.items()} for link in links]
        return JSONResponse({"subject": f"acct:reader@{host}", "links": own},
                            media_type="application/jrd+json")

    app = Starlette(routes=[Route("/.well-known/webfinger", webfinger)])
    server = _Quiet(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                   lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield host
    finally:
        server.should_exit = True
        await task


SUBSCRIBE = "http://ostatus.org/schema/1.0/subscribe"


async def test_reply_from_your_server_follows_the_interaction_template(database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog, \
            _reader_server([{"rel": SUBSCRIBE,
                             "template": "http://{host}/authorize_interaction?uri={uri}"}]) as host:
        post = await blog.post("Svara mig.", title="Fråga", language="sv")
        reply = f"{post['url']}/reply"
        sent = await blog.api.post(reply, data={"handle": f"@reader@{host}"})
        assert sent.status_code == 303
        assert sent.headers["location"] == (f"http://{host}/authorize_interaction?uri="
                                            + quote(post["url"], safe=""))
        # Not a handle, an unknown account, a server without a template: the page says so
        bad = await blog.api.post(reply, data={"handle": "reader"})
        assert bad.status_code == 422 and "@namn@server.exempel" in bad.text
        unknown = await blog.api.post(reply, data={"handle": f"@nobody@{host}"})
        assert unknown.status_code == 422 and "känner inte till det kontot" in unknown.text
        assert f'value="@nobody@{host}"' in unknown.text
    async with BlogServer(database_url, run_workers=False) as blog, _reader_server([]) as host:
        reply = f"{blog.base_url}/posts/{post['id']}/reply"
        without = await blog.api.post(reply, data={"handle": f"reader@{host}"})
        assert without.status_code == 422 and "Sök efter inläggets adress" in without.text
        missing = await blog.api.post(f"{blog.base_url}/posts/999/reply", data={"handle": "x"})
        assert missing.status_code == 404


async def test_reply_from_your_server_is_not_an_open_redirect(database_url: str) -> None:
    """Issue 14: the blog sends a reader only to a page of the reader's own server (the handle's
    host or a subdomain: Mastodon's WEB_DOMAIN), only to http(s), and only when the post page's
    own form asks (a cross-site POST is refused)."""
    elsewhere = [{"rel": SUBSCRIBE, "template": "https://phish.example/login?uri={uri}"}]
    script = [{"rel": SUBSCRIBE, "template": "javascript:alert(1)//{uri}"}]
    userinfo = [{"rel": SUBSCRIBE, "template": "http://{host}@phish.example/?uri={uri}"}]
    async with BlogServer(database_url, run_workers=False) as blog:
        post = await blog.post("Svara mig.", title="Fråga", language="sv")
        reply = f"{post['url']}/reply"
        for links in (elsewhere, script, userinfo):
            async with _reader_server(links) as host:
                sent = await blog.api.post(reply, data={"handle": f"@reader@{host}"})
                assert sent.status_code == 422, (links, sent.headers.get("location"))
                assert "Sök efter inläggets adress" in sent.text
        good = [{"rel": SUBSCRIBE, "template": "http://{host}/share?uri={uri}"}]
        async with _reader_server(good) as host:
            for origin, site in (("https://evil.example", "cross-site"), ("null", None)):
                headers = {"Origin": origin, **({"Sec-Fetch-Site": site} if site else {})}
                bounced = await blog.api.post(reply, data={"handle": f"@reader@{host}"},
                                              headers=headers)
                assert bounced.status_code == 403 and "location" not in bounced.headers
            own = await blog.api.post(reply, data={"handle": f"@reader@{host}"},
                                      headers={"Origin": blog.base_url,
                                               "Sec-Fetch-Site": "same-origin"})
            assert own.status_code == 303
            assert own.headers["location"].startswith(f"http://{host}/share?uri=")


# ---------------------------------------------------------------- the desk's guard


async def _login(client: httpx.AsyncClient, token: str = TOKEN) -> httpx.Response:
    form = await client.get("/desk/login")
    nonce = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert nonce, form.text
    return await client.post("/desk/login", data={"csrf": nonce.group(1), "token": token})


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


async def _pending_comment(blog: BlogServer, post: dict[str, Any] | None = None,
                           note: str = "1") -> int:
    """A held comment, stored as the inbox would store it."""
    post = post or await blog.post("Text.")
    async with blog.services.runtime.db.transaction() as conn:
        comment_id = await conn.fetchval(
            "INSERT INTO comments (ap_id, post_id, in_reply_to, actor_id, state, content_html,"
            " content_text, sender_ip, key_id) VALUES ($1, $2, $3, $4, 'pending', '<p>Hej</p>',"
            " 'Hej', '192.0.2.7', $5) RETURNING id",
            f"https://remote.example/notes/{note}", post["id"], post["ap_id"],
            "https://remote.example/users/ann", "https://remote.example/users/ann#main-key")
    return int(comment_id)


async def test_desk_login_cookie_and_csrf(database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog, \
            httpx.AsyncClient(base_url=blog.base_url) as browser:
        comment_id = await _pending_comment(blog)
        # Not logged in: pages send you to the login, actions are refused
        assert (await browser.get("/desk/")).headers["location"] == "/desk/login"
        anonymous = await browser.post(f"/desk/comments/{comment_id}/approve", data={"csrf": "x"})
        assert anonymous.status_code == 403
        # Login needs the form's nonce (login CSRF) and a valid token
        forged = await browser.post("/desk/login", data={"token": TOKEN, "csrf": "guess"})
        assert forged.status_code == 403
        wrong = await _login(browser, "not-the-token")
        assert wrong.status_code == 401 and "not valid" in wrong.text
        assert "fedblog_desk=" not in wrong.headers.get("set-cookie", "")
        logged_in = await _login(browser)
        assert logged_in.status_code == 303 and logged_in.headers["location"] == "/desk/"
        cookie = next(c for c in logged_in.headers.get_list("set-cookie")
                      if c.startswith("fedblog_desk="))
        flags = {part.strip().lower() for part in cookie.split(";")}
        assert {"httponly", "samesite=strict", "path=/desk"} <= flags
        assert "secure" not in flags  # http here; https below
        assert TOKEN not in cookie

        queue = await browser.get("/desk/")
        assert queue.status_code == 200 and "192.0.2.7" in queue.text
        assert queue.headers["cache-control"] == "no-store"
        assert "frame-ancestors 'none'" in queue.headers["content-security-policy"]
        csrf = _csrf(queue.text)
        approve = f"/desk/comments/{comment_id}/approve"
        # A POST without the CSRF token, with a wrong one, or from another origin: 403, no change
        for data, headers in (({}, {}), ({"csrf": "wrong"}, {}),
                              ({"csrf": csrf}, {"Origin": "https://evil.example"}),
                              ({"csrf": csrf}, {"Sec-Fetch-Site": "cross-site"})):
            refused = await browser.post(approve, data=data, headers=headers)
            assert refused.status_code == 403, (data, headers)
        assert await _state(blog, comment_id) == "pending"
        done = await browser.post(approve, data={"csrf": csrf, "next": "/desk/?state=pending"},
                                  headers={"Origin": blog.base_url})
        assert done.status_code == 303 and "notice=approved" in done.headers["location"]
        assert await _state(blog, comment_id) == "approved"
        # An off-site `next` is not followed
        again = await browser.post(f"/desk/comments/{comment_id}/remove",
                                   data={"csrf": csrf, "next": "//evil.example/"})
        assert again.headers["location"].startswith("/desk/?")

        # Logging out ends the session; a tampered cookie is no session
        await browser.post("/desk/logout", data={"csrf": csrf})
        assert (await browser.get("/desk/")).status_code == 303
        browser.cookies.set("fedblog_desk", "AAAA" + cookie.split("=", 1)[1].split(";")[0][4:],
                            path="/desk")
        assert (await browser.get("/desk/")).status_code == 303


async def test_desk_bulk_decisions_and_answers(database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog, \
            httpx.AsyncClient(base_url=blog.base_url) as browser:
        post = await blog.post("Text.")
        first, second = [await _pending_comment(blog, post, n) for n in ("1", "2")]
        await _login(browser)
        csrf = _csrf((await browser.get("/desk/")).text)
        done = await browser.post("/desk/comments/bulk", data={
            "csrf": csrf, "action": "approve", "ids": [str(first), str(second)]})
        assert done.status_code == 303 and "notice=bulk" in done.headers["location"]
        assert [await _state(blog, i) for i in (first, second)] == ["approved", "approved"]
        nothing = await browser.post("/desk/comments/bulk", data={"csrf": csrf,
                                                                  "action": "approve"})
        assert "error=nothing" in nothing.headers["location"]

        # The author answers from the desk; the answer can be edited and deleted there too
        answered = await browser.post(f"/desk/comments/{first}/answer",
                                      data={"csrf": csrf, "markdown": "Tack **Ann**!"})
        assert "notice=answered" in answered.headers["location"]
        async with blog.services.runtime.db.connection() as conn:
            answer_id = await conn.fetchval(
                "SELECT id FROM comments WHERE is_author AND parent_comment_id = $1", first)
        detail = await browser.get(f"/desk/comments/{answer_id}")
        assert "Edit your answer" in detail.text and "Tack **Ann**!" in detail.text
        edited = await browser.post(f"/desk/comments/{answer_id}/edit",
                                    data={"csrf": csrf, "markdown": "Tack igen."})
        assert "notice=answer_saved" in edited.headers["location"]
        page = (await blog.api.get(post["url"], headers=HTML)).text
        assert "Tack igen." in page and "by-author" in page
        deleted = await browser.post(f"/desk/comments/{answer_id}/delete", data={"csrf": csrf})
        assert "notice=answer_deleted" in deleted.headers["location"]
        assert await _state(blog, answer_id) == "deleted"
        history = (await browser.get(f"/desk/comments/{first}")).text
        assert "pending → <strong>approved</strong> by author" in history


async def _state(blog: BlogServer, comment_id: int) -> str:
    async with blog.services.runtime.db.connection() as conn:
        return str(await conn.fetchval("SELECT state FROM comments WHERE id = $1", comment_id))


async def test_session_ends_with_its_token_and_is_secure_over_https(database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog, \
            httpx.AsyncClient(base_url=blog.base_url) as browser:
        runtime = blog.services.runtime
        token = await create_token(runtime.db, "desk")
        assert (await _login(browser, token)).status_code == 303
        assert (await browser.get("/desk/blocks")).status_code == 200
        async with runtime.db.connection() as conn:
            token_id = await conn.fetchval("SELECT max(id) FROM api_tokens")
            assert await tokens_store.revoke(conn, token_id)
        assert (await browser.get("/desk/blocks")).status_code == 303

        nonce = _csrf((await browser.get("/desk/login")).text)
        plain = runtime.settings
        runtime.settings = replace(plain, scheme="https")
        try:
            secure = await browser.post("/desk/login", data={"csrf": nonce, "token": TOKEN})
        finally:
            runtime.settings = plain
        cookie = next(c for c in secure.headers.get_list("set-cookie")
                      if c.startswith("fedblog_desk="))
        assert "secure" in {part.strip().lower() for part in cookie.split(";")}


async def test_logout_ends_the_session_on_the_server(database_url: str) -> None:
    """Issue 14: a copy of the cookie taken before logout no longer opens the desk."""
    async with BlogServer(database_url, run_workers=False) as blog, \
            httpx.AsyncClient(base_url=blog.base_url) as browser:
        assert (await _login(browser)).status_code == 303
        cookie = browser.cookies["fedblog_desk"]
        csrf = _csrf((await browser.get("/desk/")).text)
        assert (await browser.post("/desk/logout", data={"csrf": csrf})).status_code == 303
        async with httpx.AsyncClient(base_url=blog.base_url,
                                     cookies={"fedblog_desk": cookie}) as thief:
            page = await thief.get("/desk/")
            assert page.status_code == 303 and page.headers["location"] == "/desk/login"
            action = await thief.post("/desk/logout", data={"csrf": csrf})
            assert action.status_code == 403
        # a new login is a new session; the old one stays dead
        assert (await _login(browser)).status_code == 303
        assert (await browser.get("/desk/")).status_code == 200
        assert browser.cookies["fedblog_desk"] != cookie


def _client_at(blog: BlogServer, address: str) -> httpx.AsyncClient:
    """A client whose connections come from another loopback address: another client."""
    return httpx.AsyncClient(base_url=blog.base_url,
                             transport=httpx.AsyncHTTPTransport(local_address=address))


async def test_failed_desk_logins_are_throttled_per_client(database_url: str) -> None:
    """Issue 14: one client's wrong tokens get it 429, not the author on another address."""
    async with BlogServer(database_url, run_workers=False) as blog, \
            _client_at(blog, "127.0.0.2") as guesser, _client_at(blog, "127.0.0.3") as author:
        codes = [(await _login(guesser, f"{TOKEN[:8]}-guess-{n:04}")).status_code
                 for n in range(15)]
        assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}
        refused = await _login(guesser, TOKEN)     # even the right token: it must wait
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert (await _login(author, TOKEN)).status_code == 303
        assert (await author.get("/desk/")).status_code == 200


# ---------------------------------------------------------------- pure helpers


def test_dates_in_the_posts_language() -> None:
    moment = datetime(2026, 3, 5, 14, 7, tzinfo=UTC)
    assert long_date(moment, "sv") == "5 mars 2026" and long_date(moment, "en-GB") == "5 March 2026"
    assert long_date(moment, "de") == "5 March 2026"  # no German labels: English
    assert exact_time(moment) == "2026-03-05 14:07 UTC"
    for delta, sv, en in ((timedelta(seconds=5), "nyss", "just now"),
                          (timedelta(minutes=1), "för 1 minut sedan", "1 minute ago"),
                          (timedelta(hours=3), "för 3 timmar sedan", "3 hours ago"),
                          (timedelta(days=2), "för 2 dagar sedan", "2 days ago"),
                          (timedelta(days=40), "5 mars 2026", "5 March 2026")):
        assert ago(moment, "sv", moment + delta) == sv
        assert ago(moment, "en", moment + delta) == en


def test_interaction_template_is_read_from_webfinger_links() -> None:
    rel = "http://ostatus.org/schema/1.0/subscribe"
    assert subscribe_template({"links": [{"rel": "self", "href": "x"},
                                         {"rel": rel, "template": "https://a/b?uri={uri}"}]}) \
        == "https://a/b?uri={uri}"
    assert subscribe_template({"links": [{"rel": rel, "template": "https://a/b"}]}) is None
    assert subscribe_template({"links": "nope"}) is None and subscribe_template([]) is None


def test_every_language_has_every_label() -> None:
    english = set(LANGUAGES["en"].labels)
    for name, language in LANGUAGES.items():
        assert set(language.labels) == english, name
        assert len(language.months) == 12, name
