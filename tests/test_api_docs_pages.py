#!/usr/bin/env python3
"""Each app's Swagger UI page in a real browser (headless Chromium).

The page of every HTTP app, loaded from a live server, lists the app's
operations, raises no JavaScript error and sends no request to any host
but the server's own (its files come from the flask-swagger-ui package,
not a CDN).
"""
from typing import Callable
from urllib.parse import urlsplit

import pytest

from tests.live_apps import LiveApp

# Per app kind: paths that the page must list as operations.
EXPECTED = {
    "users_api:session_db_auth": ["/api/v1/users/{user_id}",
                                  "/api/v1/auth_session/login"],
    "auth_service": ["/sessions", "/reset_password", "/profile"],
    "stock": ["/list_products/{item_id}", "/reserve_product/{item_id}"],
    "seat": ["/available_seats", "/reserve_seat", "/process"],
    "kue": ["/stats", "/job/{ref}", "/jobs/{job_type}/{state}/{span}",
            "/job"],
}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_docs_page_lists_the_operations_offline(
        start_app: Callable[[str], LiveApp], page: object,
        kind: str) -> None:
    """The docs page renders the operations, with no error, offline."""
    app = start_app(kind)
    hosts = []
    page.on("request", lambda request: hosts.append(
        urlsplit(request.url).hostname))
    page.goto(app.url + app.prefix + "/docs")
    page.wait_for_selector(".opblock", timeout=30000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    listed = {text.replace("\u200b", "").strip() for text in paths}
    for path in EXPECTED[kind]:
        assert path in listed, (path, sorted(listed))
    assert page.errors == []
    assert hosts and set(hosts) <= LOOPBACK, hosts
