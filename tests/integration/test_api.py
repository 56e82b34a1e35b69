"""The author's API: every error is JSON with the right status, and nothing is half-written."""

from __future__ import annotations

from fedblog.storage import tokens as tokens_store
from fedblog.web.api.auth import create_token, hash_token
from tests.harness import BlogServer


async def _count(blog: BlogServer, table: str) -> int:
    async with blog.services.runtime.db.connection() as conn:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))


async def test_errors_are_json_with_the_right_status(database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog:
        api = blog.api
        anonymous = await api.post("/api/v1/posts", json={"markdown": "x"},
                                   headers={"Authorization": ""})
        assert anonymous.status_code == 401 and "token" in anonymous.json()["error"]
        wrong = await api.get("/api/v1/posts", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        malformed = await api.post("/api/v1/posts", content=b"{not json",
                                   headers={"Content-Type": "application/json"})
        assert malformed.status_code == 400
        for body, field in [({}, "markdown"), ({"markdown": ""}, "markdown"),
                            ({"markdown": 5}, "markdown"), ({"markdown": "x", "language": "??"},
                                                            "language"),
                            ({"markdown": "x", "colour": "red"}, "colour"),
                            ({"markdown": "x", "title": "t" * 301}, "title")]:
            response = await api.post("/api/v1/posts", json=body)
            assert response.status_code == 422, (body, response.text)
            assert response.json()["field"] == field
        huge = await api.post("/api/v1/posts", json={"markdown": "x" * (2 * 1024 * 1024)})
        assert huge.status_code == 413
        assert (await api.get("/api/v1/posts/999")).status_code == 404
        assert (await api.get("/api/v1/nothing-here")).json()["error"]
        assert await _count(blog, "posts") == 0
        assert await _count(blog, "outbox_activities") == 0


async def test_post_lifecycle_and_conflicts(database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog:
        created = await blog.post("# Rubrik\n\nText med #Taggen", title="T", summary="cw",
                                  language="sv")
        assert created["hashtags"] == ["Taggen"] and created["language"] == "sv"
        post_id = created["id"]
        listed = (await blog.api.get("/api/v1/posts")).json()
        assert [p["id"] for p in listed["items"]] == [post_id]
        edited = await blog.api.patch(f"/api/v1/posts/{post_id}", json={"title": None})
        assert edited.status_code == 200 and edited.json()["title"] is None
        assert edited.json()["updated_at"] is not None
        assert (await blog.api.delete(f"/api/v1/posts/{post_id}")).status_code == 204
        conflict = await blog.api.patch(f"/api/v1/posts/{post_id}", json={"markdown": "igen"})
        assert conflict.status_code == 409
        assert (await blog.api.delete(f"/api/v1/posts/{post_id}")).status_code == 404
        types = [r["type"] for r in await _activities(blog)]
        assert types == ["Create", "Update", "Delete"]


async def _activities(blog: BlogServer) -> list[dict[str, str]]:
    async with blog.services.runtime.db.connection() as conn:
        rows = await conn.fetch("SELECT type FROM outbox_activities ORDER BY id")
    return [dict(r) for r in rows]


async def test_tokens_from_the_database_work_and_can_be_revoked(database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog:
        token = await create_token(blog.services.runtime.db, "laptop")
        headers = {"Authorization": f"Bearer {token}"}
        assert (await blog.api.get("/api/v1/posts", headers=headers)).status_code == 200
        async with blog.services.runtime.db.connection() as conn:
            token_id = await conn.fetchval("SELECT id FROM api_tokens WHERE token_hash = $1",
                                           hash_token(token))
            stored = await conn.fetchval("SELECT count(*) FROM api_tokens WHERE token_hash = $1",
                                         token.encode())
            assert stored == 0, "the token itself is never stored"
            assert await tokens_store.revoke(conn, token_id)
        assert (await blog.api.get("/api/v1/posts", headers=headers)).status_code == 401


async def test_openapi_document_lists_every_api_route(database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog:
        document = (await blog.api.get("/api/openapi.json")).json()
        assert document["openapi"].startswith("3.")
        routes = {
            (route.path, method.lower())
            for route in blog.app.routes
            if route.path.startswith("/api/v1") for method in route.methods - {"HEAD"}
        }
        documented = {(path.replace("{id}", "{id:int}"), method)
                      for path, ops in document["paths"].items() for method in ops}
        assert routes == documented


async def test_absurd_ids_are_not_found_not_errors(database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog:
        for path in ("/api/v1/posts/99999999999999999999", "/posts/99999999999999999999",
                     "/api/v1/comments/123456789012345678901"):
            response = await blog.api.get(path, headers={"Accept": "application/activity+json"})
            assert response.status_code == 404, (path, response.text)
