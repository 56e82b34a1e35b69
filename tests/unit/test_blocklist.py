"""The block list matcher (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedblog.blog.blocklist import BlockEntry, Blocklist, normalise_domain
from fedblog.blog.blocks import count_rows, read_blocklist_csv
from fedblog.federation.hosts import BadHost


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
    assert normalise_domain("Évil.example.") == "xn--vil-9la.example"
    assert normalise_domain("evil.example.:8080") == "evil.example:8080"
    assert normalise_domain("evil.example:443") == "evil.example"  # the server, whatever scheme
    for bad in ("not a domain!!", "", "evil..example", "a/b", "evil.example:http"):
        with pytest.raises(BadHost):
            normalise_domain(bad)


def test_one_spelling_of_a_blocked_domain_matches_every_other() -> None:
    """Issue 14: a trailing dot, the Unicode and the punycode spelling, upper case and the
    default port are one server (Mastodon normalises the same way: Addressable's
    normalized_host in app/lib/tag_manager.rb, TagManager#normalize_domain)."""
    blocks = Blocklist([BlockEntry("domain", "Évil.example.", None),
                        BlockEntry("domain", "xn--bse-sna.example", None),
                        BlockEntry("domain", "[::1]:9001", None)])
    for host in ("xn--vil-9la.example", "évil.example", "ÉVIL.EXAMPLE.",
                 "sub.xn--vil-9la.example.", "böse.example", "BÖSE.example.", "[0:0::1]:9001"):
        assert blocks.domain_blocked(host), host
    for url in ("https://xn--vil-9la.example./users/x", "https://évil.example:443/users/x",
                "http://sub.Évil.example/inbox", "https://böse.example./actor"):
        assert blocks.actor_blocked(url) and blocks.url_blocked(url), url
    assert not blocks.domain_blocked("evil.example")  # another server: e without the accent
    assert not blocks.domain_blocked("[::1]:9002")
    assert not blocks.domain_blocked("xn--vil-9la.example.org")


def test_actor_blocks_match_however_the_host_is_spelt() -> None:
    blocks = Blocklist([BlockEntry("actor", "https://ok.example/users/bad", None)])
    for spelling in ("https://OK.example./users/bad", "https://ok.example:443/users/bad",
                     "HTTPS://ok.example/users/bad/statuses/1"):
        assert blocks.url_blocked(spelling), spelling
    assert blocks.actor_blocked("https://ok.example./users/bad")
    assert not blocks.actor_blocked("https://ok.example/users/Bad")  # paths are as written
    assert not blocks.actor_blocked("http://ok.example:443/users/bad")  # another server


_segments = st.sampled_from(["users", "bad", "badger", "x", "", "inbox", "main-key"])
_urls = st.builds(lambda scheme, host, path, frag: f"{scheme}{host}/{'/'.join(path)}{frag}",
                  st.sampled_from(["https://", "http://", ""]),
                  st.sampled_from(["ok.example", "OK.example", "ok.example:8443"]),
                  st.lists(_segments, max_size=4), st.sampled_from(["", "#main-key", "#"]))


def _spelt(url: str) -> str:
    """The plain definition of one spelling for these URLs: a lower-case host."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    host, slash, path = rest.partition("/")
    return f"{scheme}://{host.lower()}{slash}{path}"


@given(st.lists(_urls, max_size=5), _urls)
def test_url_blocked_matches_a_blocked_actor_and_everything_under_it(actors: list[str], url: str) -> None:
    blocks = Blocklist([BlockEntry("actor", a, None) for a in actors])
    base = _spelt(url.split("#", 1)[0])
    expected = any(base == _spelt(a) or base.startswith(_spelt(a) + "/")  # the plain definition
                   for a in actors)
    assert blocks.url_blocked(url) == expected


def test_blocklist_csv_rows_checked_with_their_line_numbers() -> None:
    """Mastodon's export header (app/controllers/admin/export_domain_blocks_controller.rb:
    #domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate)."""
    text = ("#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n"
            "Spam.Example.,suspend,false,false,Spam,false\n"
            "not a domain!!,suspend,false,false,,false\n"
            "loud.example,silence,false,false,,false\n"
            "\n"
            "quiet.example,noop,false,false,,false\n"
            "évil.example,,true,true,,true\n"
            "odd.example,limit,false,false,,false\n")
    checked = read_blocklist_csv(text)
    assert [(r.line, r.domain, r.reason) for r in checked.rows] == [
        (2, "spam.example", "Spam"), (7, "xn--vil-9la.example", None)]
    assert [(r.line, r.domain, r.severity) for r in checked.skipped] == [
        (4, "loud.example", "silence"), (6, "quiet.example", "noop")]
    assert all(r.note for r in checked.skipped)
    assert [e.message for e in checked.errors] == [
        'line 3: not a domain: "not a domain!!"', 'line 8: unknown severity: "limit"']
    assert count_rows(text) == 6  # every data row; not the header, not the blank line
