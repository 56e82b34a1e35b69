"""Headless Chromium (Debian's, installed by scripts/test) driven by Playwright: one browser per
module, a fresh context (cookies) per test. Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, async_playwright

from tests.harness import TOKEN, BlogServer

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PHONE = ViewportSize(width=390, height=844)
DESKTOP = ViewportSize(width=1100, height=900)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        # Never a silent skip: scripts/test installs Debian's chromium.
        pytest.fail(f"{CHROMIUM} is missing: run scripts/test as root to install it")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    fresh = await browser.new_context(viewport=DESKTOP)
    yield fresh
    await fresh.close()


async def log_in(page: Page, blog: BlogServer) -> None:
    await page.goto(f"{blog.base_url}/desk/")
    assert page.url.endswith("/desk/login")
    await page.get_by_label("API token").fill(TOKEN)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(f"{blog.base_url}/desk/")


async def screenshot(page: Page, name: str) -> Path:
    """A full-page picture at desktop width and one at phone width."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.set_viewport_size(DESKTOP)
    await page.screenshot(path=str(path), full_page=True)
    await page.set_viewport_size(PHONE)
    await page.screenshot(path=str(ARTIFACTS / f"{name}-phone.png"), full_page=True)
    await page.set_viewport_size(DESKTOP)
    return path
