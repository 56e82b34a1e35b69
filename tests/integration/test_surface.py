"""What a Mastodon server reads: WebFinger, host-meta, NodeInfo, the actors, collections, negotiation."""

from __future__ import annotations

from tests.harness import BlogServer

LD_ACCEPT = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'


async def test_webfinger_hostmeta_and_nodeinfo(database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog:
        domain = blog.settings.domain
        for resource in (f"acct:blog@{domain}", blog.actor, "acct:blog@127.0.0.1"):
            r = await blog.api.get("/.well-known/webfinger", params={"resource": resource})
            assert r.status_code == 200, resource
            assert r.headers["content-type"].startswith("application/jrd+json")
            assert r.json()["subject"] == f"acct:blog@{domain}"
        missing = await blog.api.get("/.well-known/webfinger", params={"resource": "acct:x@y"})
        assert missing.status_code == 404
        assert (await blog.api.get("/.well-known/webfinger")).status_code == 400
        host_meta = await blog.api.get("/.well-known/host-meta")
        assert "/.well-known/webfinger?resource={uri}" in host_meta.text
        links = (await blog.api.get("/.well-known/nodeinfo")).json()["links"]
        assert links[0]["rel"].endswith("/schema/2.1")
        await blog.post("Ett")
        nodeinfo = (await blog.api.get(links[0]["href"])).json()
        assert nodeinfo["software"]["name"] == "fedblog" and nodeinfo["version"] == "2.1"
        assert nodeinfo["usage"]["localPosts"] == 1 and nodeinfo["usage"]["users"]["total"] == 1


async def test_actor_documents_and_content_negotiation(database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog:
        for accept in ("application/activity+json", LD_ACCEPT):
            r = await blog.api.get(blog.actor, headers={"Accept": accept})
            assert r.headers["content-type"].startswith("application/activity+json")
            actor = r.json()
            assert actor["type"] == "Person" and actor["preferredUsername"] == "blog"
            assert actor["endpoints"]["sharedInbox"] == blog.shared_inbox
            assert actor["publicKey"]["owner"] == blog.actor
            assert actor["manuallyApprovesFollowers"] is False and actor["discoverable"] is True
        browser = await blog.api.get(blog.actor, headers={"Accept": "text/html"},
                                     follow_redirects=True)
        assert browser.headers["content-type"].startswith("text/html")
        instance = (await blog.fetch_as2(f"{blog.base_url}/actor")).json()
        assert instance["type"] == "Application" and instance["publicKey"]["publicKeyPem"]

        post = await blog.post("Hej #Svenska", title="Rubrik", summary="Varning", language="sv")
        html = await blog.api.get(post["url"], headers={"Accept": "text/html"})
        assert html.status_code == 200 and "<h1>Rubrik</h1>" in html.text
        assert 'lang="sv"' in html.text
        note = (await blog.api.get(post["url"], headers={"Accept": LD_ACCEPT})).json()
        assert note["summary"] == "Varning" and note["sensitive"] is True
        assert note["replies"]["id"] == f"{post['url']}/replies"
        create = (await blog.fetch_as2(f"{post['url']}/activity")).json()
        assert create["type"] == "Create" and create["object"]["id"] == post["ap_id"]


async def test_outbox_and_followers_collections(database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog:
        for i in range(23):
            await blog.post(f"Inlägg {i}")
        outbox = (await blog.fetch_as2(f"{blog.actor}/outbox")).json()
        assert outbox["totalItems"] == 23
        first = (await blog.fetch_as2(outbox["first"])).json()
        assert len(first["orderedItems"]) == 20
        second = (await blog.fetch_as2(first["next"])).json()
        assert len(second["orderedItems"]) == 3 and "next" not in second
        assert second["orderedItems"][-1]["object"]["content"] == "<p>Inlägg 0</p>"
        followers = (await blog.fetch_as2(f"{blog.actor}/followers")).json()
        assert followers["totalItems"] == 0 and "first" not in followers
