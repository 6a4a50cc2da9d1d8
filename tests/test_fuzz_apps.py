#!/usr/bin/env python3
"""Schemathesis against live servers of every HTTP app, from the
descriptions they serve.

Per app (users API under basic_auth, session_auth and session_db_auth,
and under basic_auth and session_db_auth in the production profile;
auth service in both profiles; stock app; seat app; Kue JSON API, no
worker running): every operation with positive and
negative generated data, then a stateful run following the
descriptions' links (create a user, then read, update or delete it),
and, for the auth service, register, log in, profile and log out in
order. Checks: no 5xx and conformance of every answer (status code,
content type, headers, body schema). Authenticated apps get a stored
user's credentials, kept valid through the run (``Credentials``). The
number of requests sent per app is printed at the end of the run.

Bounded: FUZZ_EXAMPLES (default 10) examples per operation and mode,
and as many stateful scenarios; ``FUZZ_EXAMPLES=100 bin/test
tests/test_fuzz_apps.py`` runs a longer one.
"""
import base64
import os
import subprocess
import zlib
from collections import Counter
from typing import Callable, Dict

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import FlakyStrategyDefinition, Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.errors import NoLinksFound
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance, ensure_resource_availability,
    response_headers_conformance, response_schema_conformance,
    status_code_conformance, use_after_free)

from tests.live_apps import KINDS, LiveApp
from tests.support import PYTHON

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or 10)
CHECKS = [not_a_server_error, status_code_conformance,
          content_type_conformance, response_headers_conformance,
          response_schema_conformance]
# In scenarios also: a created resource can be read at once, a deleted
# one no more.
STATEFUL_CHECKS = CHECKS + [ensure_resource_availability, use_after_free]
EMAIL, PASSWORD = "fuzz-admin@example.com", "fuzz-admin-password"
# kind -> requests sent, printed by tests/conftest.py's terminal summary.
REQUESTS: Dict[str, int] = {}
# kind -> how many of those the stateful scenarios sent.
STATEFUL_REQUESTS: Dict[str, int] = {}
# One case in this many keeps the credentials Schemathesis generated.
KEEP_GENERATED = 4
# kind -> how many times the fuzz user logged in (the first included).
LOGINS: Dict[str, int] = {}
# kind -> how many times the users API's fuzz user was stored (the
# first included: again after a case deleted it).
RESTORES: Dict[str, int] = {}
# kind -> stateful runs that Hypothesis cut short as the server's state
# moved on (printed with the counts).
STATEFUL_CUT: Dict[str, int] = {}
# kind -> Counter of answer statuses.
STATUSES: Dict[str, Counter] = {}


def fuzz_settings(examples: int) -> settings:
    """Return Hypothesis settings for a bounded, reproducible-enough run."""
    return settings(max_examples=examples, deadline=None, database=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                    stateful_step_count=6)


class Credentials:
    """A stored fuzz user's credentials for one app, kept valid.

    Users API: an admin (as ``bin/users admin`` makes one), so that the
    admin-only routes of the production profile answer more than 403;
    Basic credentials or a session cookie. Auth service: a registered
    user's session cookie. The cookie is passed by name and value, so it
    is sent over http even when the app sets it ``Secure`` under a
    ``__Host-`` name (production). A case that may end the session (a
    logout, a login, which rotates it, a session or password change, a
    user's deletion) is followed by a check of the session, and a new
    login when it ended: the rest of the run stays authenticated.
    """

    def __init__(self, app: LiveApp) -> None:
        """Store the fuzz user (nothing for apps without accounts)."""
        self.app = app
        self.headers: dict = {}
        self.cookies: dict = {}
        if app.kind.startswith("users_api:"):
            self.store_user()
        elif app.kind.startswith("auth_service"):
            answer = requests.post(app.url + "/users", timeout=30, data={
                "email": EMAIL, "password": PASSWORD})
            assert answer.status_code == 200, answer.text
        if app.kind.split(":")[:2] == ["users_api", "basic_auth"]:
            token = base64.b64encode(
                "{}:{}".format(EMAIL, PASSWORD).encode()).decode()
            self.headers = {"Authorization": "Basic " + token}
        elif self.login_path:
            assert self.login()

    def store_user(self) -> None:
        """Store the users API's fuzz user (again, after a case deleted
        it) with its password, as an admin (what ``bin/users admin``
        sets), in one process."""
        code = ("from models.user import User\n"
                "found = User.search({{'email': {0!r}}})\n"
                "u = found[0] if found else User(email={0!r})\n"
                "u.password = {1!r}\n"
                "u.is_admin = True\n"
                "u.save()\n").format(EMAIL, PASSWORD)
        subprocess.run([PYTHON, "-c", code], cwd=self.app.server.cwd,
                       env=self.app.server.env, check=True, timeout=60,
                       capture_output=True)
        RESTORES[self.app.kind] = RESTORES.get(self.app.kind, 0) + 1

    @property
    def login_path(self) -> str:
        """Return the app's login route ("" for apps without one)."""
        if self.app.kind.startswith("auth_service"):
            return "/sessions"
        if self.app.kind.startswith("users_api:session"):
            return self.app.prefix + "/auth_session/login"
        return ""

    @property
    def probe_path(self) -> str:
        """Return a route that answers 200 to the fuzz user only."""
        if self.app.kind.startswith("auth_service"):
            return "/profile"
        return self.app.prefix + "/users/me"

    def login(self) -> bool:
        """Log the fuzz user in and keep the session cookie; False when
        the login fails (a case deleted the user)."""
        answer = requests.post(self.app.url + self.login_path, data={
            "email": EMAIL, "password": PASSWORD}, timeout=30)
        if answer.status_code != 200:
            return False
        name = self.app.session_cookie
        assert name in answer.cookies, answer.headers
        self.cookies = {name: answer.cookies[name]}
        LOGINS[self.app.kind] = LOGINS.get(self.app.kind, 0) + 1
        return True

    def valid(self) -> bool:
        """Tell whether the credentials still log the fuzz user in."""
        answer = requests.get(self.app.url + self.probe_path,
                              headers=self.headers, cookies=self.cookies,
                              timeout=30)
        return answer.status_code == 200

    def after(self, case: schemathesis.Case,
              response: schemathesis.Response) -> None:
        """Log in again when the case ended the fuzz user's session;
        store the user again when the case deleted it."""
        if not (self.cookies or self.headers) \
                or response.status_code >= 400:
            return
        path = case.operation.path
        if case.method.upper() == "GET" or not (
                "session" in path or "password" in path
                or path.endswith("{user_id}")):
            return
        if self.valid():
            return
        if self.cookies and self.login():
            return
        self.store_user()
        if self.cookies:
            assert self.login()
        assert self.valid()


def call(app: LiveApp, case: schemathesis.Case, auth: Credentials,
         **kwargs: object) -> schemathesis.Response:
    """Send a generated case to the live app, counted, with credentials.

    Schemathesis generates credentials of its own for the security
    schemes (random Basic tokens, cookies): they replace the fuzz
    user's on one case in ``KEEP_GENERATED`` only, so that most cases
    reach what is behind authentication and some test its refusal.
    """
    sent = REQUESTS.get(app.kind, 0)
    headers = dict(auth.headers)
    headers.update(kwargs.pop("headers", None) or {})
    cookies = dict(auth.cookies)
    # Decided by the case's own data, not a counter: a stateful run's
    # replay must meet the same answers (Hypothesis checks it).
    drawn = repr((sorted((case.headers or {}).items()),
                  sorted((case.cookies or {}).items()), case.path,
                  case.method)).encode("utf-8", "surrogatepass")
    if zlib.crc32(drawn) % KEEP_GENERATED == 0:
        for name in case.headers or {}:
            for key in [key for key in headers
                        if key.lower() == name.lower()]:
                headers.pop(key)
        cookies.update(case.cookies or {})
    else:
        cookies = dict(case.cookies or {}, **cookies)
    REQUESTS[app.kind] = sent + 1
    response = case.call(base_url=app.url, headers=headers,
                         cookies=cookies, timeout=60, **kwargs)
    STATUSES.setdefault(app.kind, Counter())[response.status_code] += 1
    auth.after(case, response)
    return response


def fuzz_operations(app: LiveApp, schema: object, auth: Credentials) -> None:
    """Send every operation positive and negative generated cases."""
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)

            @fuzz_settings(EXAMPLES)
            @given(case=strategy)
            def run(case: schemathesis.Case) -> None:
                """Send one case and check its answer."""
                response = call(app, case, auth)
                case.validate_response(response, checks=CHECKS)

            try:
                run()
            except Unsatisfiable:
                continue


def fuzz_stateful(app: LiveApp, schema: object, auth: Credentials) -> None:
    """Run scenarios that follow the description's links (the stock
    and seat apps have none: their operations take no ids from others)."""
    machine = schema.as_state_machine()

    class Counted(machine):
        """The schema's state machine, sending through ``call``."""

        def call(self, case: schemathesis.Case,
                 **kwargs: object) -> schemathesis.Response:
            """Send the step's case to the live app."""
            STATEFUL_REQUESTS[app.kind] = STATEFUL_REQUESTS.get(
                app.kind, 0) + 1
            return call(app, case, auth, **kwargs)

        def validate_response(self, response: schemathesis.Response,
                              case: schemathesis.Case,
                              additional_checks: object = None,
                              **kwargs: object) -> None:
            """Check the step's answer with the suite's checks."""
            case.validate_response(
                response, checks=STATEFUL_CHECKS,
                recorder=getattr(self, "recorder", None))

    try:
        Counted.run(settings=fuzz_settings(EXAMPLES))
    except NoLinksFound:
        return
    except FlakyStrategyDefinition:
        # The live server's state moved on (a user now exists, the fuzz
        # user was deleted and stored again), so a scenario's choices no
        # longer lead where they did: Hypothesis stops generating. Not a
        # failed check (those raise their own errors, FlakyFailure when
        # a replay differs); the scenarios sent so far are counted.
        STATEFUL_CUT[app.kind] = STATEFUL_CUT.get(app.kind, 0) + 1


@pytest.mark.parametrize("kind", KINDS)
def test_fuzz_no_server_error_and_conformant_answers(
        start_app: Callable[[str], LiveApp], kind: str) -> None:
    """Generated requests get no 5xx and answers that fit the schema."""
    app = start_app(kind)
    auth = Credentials(app)
    if auth.cookies or auth.headers:
        assert auth.valid()
    schema = schemathesis.openapi.from_url(
        app.url + app.prefix + "/openapi.json")
    fuzz_operations(app, schema, auth)
    fuzz_stateful(app, schema, auth)
    assert REQUESTS[kind] > 0
    # Whatever the cases did (log out, delete the user), the fuzz user's
    # credentials still work at the end.
    if auth.cookies or auth.headers:
        assert auth.valid()
