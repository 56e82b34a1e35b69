"""The block list matcher (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fedblog.blog.blocklist import BlockEntry, Blocklist, normalise_domain


def test_domains_match_with_subdomains_and_ports() -> None:
    blocks = Blocklist([BlockEntry("domain", "Evil.Example", None),
                        BlockEntry("domain", "127.0.0.1:9001", None)])
    assert blocks.domain_blocked("evil.example")
    assert blocks.domain_blocked("social.evil.example")
    assert blocks.domain_blocked("evil.example:8443")
    assert not blocks.domain_blocked("notevil.example")
    assert not blocks.domain_blocked("example")
    assert blocks.domain_blocked("127.0.0.1:9001")
    assert not blocks.domain_blocked("127.0.0.1:9002")
    assert blocks.actor_blocked("https://a.evil.example/users/x")
    assert blocks.url_blocked("https://evil.example/inbox")


def test_actor_blocks_cover_their_documents_but_not_neighbours() -> None:
    blocks = Blocklist([BlockEntry("actor", "https://ok.example/users/bad", None)])
    assert blocks.actor_blocked("https://ok.example/users/bad")
    assert not blocks.actor_blocked("https://ok.example/users/good")
    assert blocks.url_blocked("https://ok.example/users/bad/inbox")
    assert blocks.url_blocked("https://ok.example/users/bad#main-key")
    assert not blocks.url_blocked("https://ok.example/users/badger")
    assert not blocks.url_blocked("https://ok.example/inbox")


def test_expired_blocks_no_longer_match() -> None:
    blocks = Blocklist([BlockEntry("actor", "https://x.example/u", 1000.0),
                        BlockEntry("domain", "y.example", 1000.0)])
    assert blocks.actor_blocked("https://x.example/u", now=999)
    assert not blocks.actor_blocked("https://x.example/u", now=1001)
    assert not blocks.domain_blocked("y.example", now=1001)


def test_normalise_domain() -> None:
    assert normalise_domain(" HTTPS://Mastodon.Social/ ") == "mastodon.social"
    assert normalise_domain("example.org.") == "example.org"


_segments = st.sampled_from(["users", "bad", "badger", "x", "", "inbox", "main-key"])
_urls = st.builds(lambda scheme, host, path, frag: f"{scheme}{host}/{'/'.join(path)}{frag}",
                  st.sampled_from(["https://", "http://", ""]),
                  st.sampled_from(["ok.example", "OK.example", "ok.example:8443"]),
                  st.lists(_segments, max_size=4), st.sampled_from(["", "#main-key", "#"]))


@given(st.lists(_urls, max_size=5), _urls)
def test_url_blocked_matches_a_blocked_actor_and_everything_under_it(actors: list[str], url: str) -> None:
    blocks = Blocklist([BlockEntry("actor", a, None) for a in actors])
    base = url.split("#", 1)[0]
    expected = any(base == a or base.startswith(a + "/") for a in actors)  # the plain definition
    assert blocks.url_blocked(url) == expected
