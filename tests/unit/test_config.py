"""Settings checked at start (issue 14, the operator's tools): FEDBLOG_DOMAIN is a host with an
optional port, tokens are long enough, and what is allowed but probably wrong is said."""

from __future__ import annotations

import pytest

from fedblog.config import ConfigError, Settings, looks_like_example, redacted_url


@pytest.mark.parametrize("domain", ["blog.example.org", "blog.example.org:8443", "localhost:8000",
                                    "127.0.0.1:8000", "[::1]:8000", "bücher.example"])
def test_domain_accepts_a_host_with_an_optional_port(domain: str) -> None:
    assert Settings.from_env({"FEDBLOG_DOMAIN": domain}).domain == domain


@pytest.mark.parametrize(("domain", "says"), [
    ("https://blog.example.org", "without a scheme"),
    ("http://blog.example.org/", "without a scheme"),
    ("blog.example.org/blog", "without a path"),
    ("blog.example.org:99999", "optional :port"),
    ("blog example.org", "optional :port"),
    ("me@blog.example.org", "optional :port"),
])
def test_domain_refuses_schemes_paths_and_junk(domain: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says) as refused:
        Settings.from_env({"FEDBLOG_DOMAIN": domain})
    assert "\n" not in str(refused.value)


def test_a_scheme_in_the_domain_is_answered_with_what_to_write() -> None:
    with pytest.raises(ConfigError, match="write 'blog.example.org'"):
        Settings.from_env({"FEDBLOG_DOMAIN": "https://blog.example.org/"})


@pytest.mark.parametrize("name", ["FEDBLOG_API_TOKEN", "FEDBLOG_METRICS_TOKEN"])
def test_tokens_shorter_than_16_characters_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match=f"{name} must be at least 16 characters"):
        Settings.from_env({name: "change-me"})
    assert Settings.from_env({name: "x" * 15 + "y"}) is not None


@pytest.mark.parametrize("token", ["change-me-change-me", "CHANGEME_CHANGEME!", "example-token-12345",
                                   "my-secret-api-token", "aaaaaaaaaaaaaaaaaaaa",
                                   "abababababababababab"])
def test_example_tokens_are_warned_about(token: str) -> None:
    assert looks_like_example(token)
    warnings = Settings.from_env({"FEDBLOG_API_TOKEN": token}).warnings()
    assert [w for w in warnings if "FEDBLOG_API_TOKEN looks like an example" in w]


@pytest.mark.parametrize("token", ["3f9c2a7d0b1e4c5a8d6f2e1b0c9a7d3e", "fb_Q2h4xY7_kPz0Lm9vTr3sWq",
                                   "cli-token-0123456789"])
def test_random_tokens_are_not(token: str) -> None:
    assert not looks_like_example(token)
    assert Settings.from_env({"FEDBLOG_API_TOKEN": token}).warnings() == []


def test_localhost_domain_behind_a_public_bind_is_warned_about() -> None:
    default = Settings.from_env({})
    assert default.domain_is_loopback
    assert default.warnings(bind_host="127.0.0.1") == []
    (warning,) = default.warnings(bind_host="0.0.0.0")
    assert "FEDBLOG_DOMAIN is 'localhost:8000'" in warning and "0.0.0.0" in warning
    public = Settings.from_env({"FEDBLOG_DOMAIN": "blog.example.org"})
    assert not public.domain_is_loopback and public.warnings(bind_host="0.0.0.0") == []
    assert Settings.from_env({"FEDBLOG_DOMAIN": "[::1]:8000"}).warnings(bind_host="::") != []


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://fedblog:s3cret@db:5432/fedblog", "postgresql://fedblog:***@db:5432/fedblog"),
    ("postgresql://postgres@127.0.0.1:5432/x", "postgresql://postgres@127.0.0.1:5432/x"),
    ("postgresql://postgres:@/postgres?host=/tmp/pg", "postgresql://postgres:***@/postgres?host=/tmp/pg"),
])
def test_database_urls_are_logged_without_their_password(url: str, shown: str) -> None:
    assert redacted_url(url) == shown
