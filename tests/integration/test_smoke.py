from __future__ import annotations

from tests.harness import BlogServer


async def test_discovery_actor_and_post(database_url: str) -> None:
    async with BlogServer(database_url) as blog:
        r = await blog.api.get("/.well-known/webfinger",
                               params={"resource": f"acct:blog@{blog.settings.domain}"})
        assert r.status_code == 200, r.text
        self_link = [link for link in r.json()["links"] if link["rel"] == "self"][0]
        assert self_link["href"] == blog.actor
        actor = (await blog.fetch_as2(blog.actor)).json()
        assert actor["publicKey"]["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")
        created = await blog.post("Hej **världen** #kommunfullmäktige", title="Första", language="sv")
        note = (await blog.fetch_as2(created["ap_id"])).json()
        assert note["type"] == "Note"
        assert "Första" in note["content"] and "världen" in note["content"]
        assert note["contentMap"] == {"sv": note["content"]}
