"""One spelling of a host (federation/hosts.py), as every comparison of hosts uses it (issue 14)."""

from __future__ import annotations

import idna
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedblog.federation.hosts import BadHost, normalise_host, url_host, url_host_or_empty
from fedblog.federation.vocab import VocabError, host_of


@pytest.mark.parametrize(("written", "spelt"), [
    ("evil.example", "evil.example"),
    ("EVIL.Example.", "evil.example"),
    ("Évil.example.", "xn--vil-9la.example"),
    ("xn--vil-9la.example", "xn--vil-9la.example"),
    ("évil.example:8443", "xn--vil-9la.example:8443"),
    ("evil.example.:8443", "evil.example:8443"),
    ("evil。example", "evil.example"),                  # an ideographic full stop is a dot
    ("under_score.example", "under_score.example"),    # not IDNA, but a real host
    ("Straße.example", "xn--strae-oqa.example"),       # UTS #46 non-transitional: ß stays
    ("127.0.0.1", "127.0.0.1"),
    ("127.0.0.1.", "127.0.0.1"),
    ("[::1]", "[::1]"),
    ("[0:0:0::1]:8080", "[::1]:8080"),
    ("::FFFF:7f00:1", "[::ffff:7f00:1]"),
])
def test_one_spelling(written: str, spelt: str) -> None:
    assert normalise_host(written) == spelt


def test_the_brief_spelling_is_what_idna_writes() -> None:
    assert idna.encode("Évil.example.".lower().rstrip("."), uts46=True) == b"xn--vil-9la.example"


@pytest.mark.parametrize("written", [
    "", ".", "not a domain!!", "evil..example", "evil.example:http", "evil.example:0",
    "evil.example:70000", "[::g]", "-evil.example", "a" * 64 + ".example",
    ".".join(["abcdefghij"] * 24),   # 263 characters
])
def test_what_is_no_host(written: str) -> None:
    with pytest.raises(BadHost):
        normalise_host(written)


@pytest.mark.parametrize(("url", "spelt"), [
    ("https://Évil.example./users/x", "xn--vil-9la.example"),
    ("https://evil.example:443/users/x", "evil.example"),
    ("http://evil.example:80/", "evil.example"),
    ("http://evil.example:443/", "evil.example:443"),    # not the default port for http
    ("https://evil.example:80/", "evil.example:80"),
    ("HTTPS://EVIL.EXAMPLE./", "evil.example"),
    ("https://[2001:db8::1]:443/", "[2001:db8::1]"),
    ("http://127.0.0.1:9001/inbox", "127.0.0.1:9001"),
])
def test_url_host(url: str, spelt: str) -> None:
    assert url_host(url) == spelt == host_of(url)


def test_urls_without_a_host() -> None:
    for url in ("not a url", "http://[::1/", "https:///path", "mailto:x@example"):
        assert url_host_or_empty(url) == ""
        with pytest.raises(BadHost):
            url_host(url)
        with pytest.raises(VocabError):
            host_of(url)


def test_the_origin_rules_compare_hosts_not_spellings() -> None:
    assert host_of("https://évil.example/notes/1") == host_of("https://XN--VIL-9LA.example./u")


_labels = st.text(alphabet="abcxyz0123-éüÅ", min_size=1, max_size=12)
_names = st.lists(_labels, min_size=1, max_size=4).map(".".join)


@given(_names, st.sampled_from(["", ".", ":8443", ".:8443"]), st.booleans())
def test_spelling_is_stable(name: str, suffix: str, upper: bool) -> None:
    """Normalising twice changes nothing, and case and a trailing dot never matter."""
    written = (name.upper() if upper else name) + suffix
    try:
        once = normalise_host(written)
    except BadHost:
        return
    assert normalise_host(once) == once
    assert normalise_host(name + suffix) == once
    assert once == once.lower() and not once.split(":")[0].endswith(".")
