#!/usr/bin/env python3
"""What the fuzz runs of tests/test_fuzz_apps.py found, one test each,
against live servers (``start_app`` of tests/live_apps.py).

Each test sends the request that once got a 5xx or an answer outside
the description, and checks the fixed answer.
"""
from typing import Callable

import pytest
import requests

from tests.live_apps import LiveApp
from tests.test_fuzz_apps import Credentials


@pytest.mark.parametrize("kind", ["users_api:session_db_auth",
                                  "users_api:session_db_auth:production"])
def test_ending_a_session_by_a_non_ascii_handle_is_a_404(
        start_app: Callable[[str], LiveApp], kind: str) -> None:
    """DELETE /auth_session/sessions/<handle> with non-ASCII text: 404
    (was a 500: compare_digest refuses non-ASCII strings)."""
    app = start_app(kind)
    auth = Credentials(app)
    for handle in ("\u00e9t\u00e9", "%C3%A9", "\U0001f600" * 3):
        answer = requests.delete(
            app.url + app.prefix + "/auth_session/sessions/" + handle,
            cookies=auth.cookies, timeout=30)
        assert answer.status_code == 404, answer.text
        assert answer.json() == {"error": "Not found"}
    assert auth.valid()
