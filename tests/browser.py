#!/usr/bin/env python3
"""Debian's Chromium driven by Playwright, for the browser tests.

``bin/setup test`` installs the ``chromium`` package where it is missing
(Playwright's own browser download is not used). Where there is no
Chromium the browser tests are skipped, each saying so.
"""
import shutil
from typing import Iterator

import pytest

# Flags as the machine's notes give them: no sandbox (CI runs as root),
# and none of Chromium's background connections to Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    """Return the path of Debian's chromium, or skip the test."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.skip("no chromium on PATH (bin/setup test installs it as root;"
                    " else: sudo apt-get install chromium)")
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium for the run; each test opens its own page."""
    path = chromium_path()
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    """A fresh browser context and page; errors in the page fail the test.

    ``page.errors`` lists the JavaScript errors the page raised, so a
    test can assert that there were none.
    """
    context = browser.new_context()
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()
