"""The SSRF guard refuses private targets after resolving names, and allows public ones."""

from __future__ import annotations

import httpx
import pytest

from fedblog.federation.addresses import ForbiddenAddress, check_url, guarded_transport


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/inbox", "http://localhost:8000/x", "http://10.1.2.3/", "http://192.168.0.1/",
    "http://169.254.169.254/latest/meta-data", "http://[::1]/", "http://[fe80::1]/",
    "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "http://100.64.0.1/",
])
async def test_private_targets_are_refused(url: str) -> None:
    with pytest.raises(ForbiddenAddress):
        await check_url(url, allow_private=False)
    await check_url(url, allow_private=True)


@pytest.mark.parametrize("url", ["http://93.184.216.34/inbox", "https://[2606:4700::1]/x"])
async def test_public_literals_are_allowed(url: str) -> None:
    await check_url(url, allow_private=False)


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "http:///nohost",
                                 "javascript:alert(1)"])
async def test_bad_schemes_are_refused(url: str) -> None:
    with pytest.raises(ForbiddenAddress):
        await check_url(url, allow_private=True)


async def test_https_required_in_production() -> None:
    with pytest.raises(ForbiddenAddress):
        await check_url("http://93.184.216.34/", allow_private=False, require_https=True)


async def test_guarded_backend_refuses_a_name_that_resolves_privately() -> None:
    """The connection itself is checked (no second DNS lookup can slip through)."""
    limits = httpx.Limits(max_connections=5)
    async with httpx.AsyncClient(transport=guarded_transport(allow_private=False,
                                                             limits=limits)) as client:
        for url in ("http://localhost:1/", "http://127.0.0.1:1/", "http://[::1]:1/"):
            with pytest.raises(httpx.ConnectError, match="non-public"):
                await client.get(url)
    async with httpx.AsyncClient(transport=guarded_transport(allow_private=True,
                                                             limits=limits)) as client:
        with pytest.raises(httpx.ConnectError) as refused:
            await client.get("http://127.0.0.1:1/")
        assert "non-public" not in str(refused.value)
