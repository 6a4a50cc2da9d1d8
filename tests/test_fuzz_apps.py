#!/usr/bin/env python3
"""Schemathesis against live servers of every HTTP app, from the
descriptions they serve.

Per app (users API under basic_auth, session_auth and session_db_auth;
auth service; stock app; seat app): every operation with positive and
negative generated data, then a stateful run following the
descriptions' links (create a user, then read, update or delete it),
and, for the auth service, register, log in, profile and log out in
order. Checks: no 5xx and conformance of every answer (status code,
content type, headers, body schema). Authenticated apps get a stored
user's credentials. The number of requests sent per app is printed at
the end of the run.

Bounded: FUZZ_EXAMPLES (default 10) examples per operation and mode,
and as many stateful scenarios; ``FUZZ_EXAMPLES=100 bin/test
tests/test_fuzz_apps.py`` runs a longer one.
"""
import base64
import os
import subprocess
from typing import Callable, Dict

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.errors import NoLinksFound
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance, ensure_resource_availability,
    response_headers_conformance, response_schema_conformance,
    status_code_conformance, use_after_free)

from tests.live_apps import KINDS, SESSION_NAME, LiveApp
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


def fuzz_settings(examples: int) -> settings:
    """Return Hypothesis settings for a bounded, reproducible-enough run."""
    return settings(max_examples=examples, deadline=None, database=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                    stateful_step_count=6)


def credentials(app: LiveApp) -> dict:
    """Store a user and return the headers and cookies that log it in."""
    if not app.kind.startswith("users_api:"):
        return {}
    code = ("from models.user import User\nu = User(email={!r})\n"
            "u.password = {!r}\nu.save()\n").format(EMAIL, PASSWORD)
    subprocess.run([PYTHON, "-c", code], cwd=app.server.cwd,
                   env=app.server.env, check=True, timeout=60,
                   capture_output=True)
    if app.kind == "users_api:basic_auth":
        token = base64.b64encode(
            "{}:{}".format(EMAIL, PASSWORD).encode()).decode()
        return {"headers": {"Authorization": "Basic " + token}}
    answer = requests.post(app.url + "/api/v1/auth_session/login",
                           data={"email": EMAIL, "password": PASSWORD},
                           timeout=30)
    assert answer.status_code == 200, answer.text
    return {"cookies": {SESSION_NAME: answer.cookies[SESSION_NAME]}}


def call(app: LiveApp, case: schemathesis.Case, auth: dict,
         **kwargs: object) -> schemathesis.Response:
    """Send a generated case to the live app, counted, with credentials
    unless the case brings its own."""
    headers = dict(auth.get("headers", {}))
    headers.update(kwargs.pop("headers", None) or {})
    for name in case.headers or {}:
        headers.pop(name, None)
    cookies = dict(auth.get("cookies", {}))
    cookies.update(case.cookies or {})
    REQUESTS[app.kind] = REQUESTS.get(app.kind, 0) + 1
    return case.call(base_url=app.url, headers=headers, cookies=cookies,
                     timeout=60, **kwargs)


def fuzz_operations(app: LiveApp, schema: object, auth: dict) -> None:
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


def fuzz_stateful(app: LiveApp, schema: object, auth: dict) -> None:
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


@pytest.mark.parametrize("kind", KINDS)
def test_fuzz_no_server_error_and_conformant_answers(
        start_app: Callable[[str], LiveApp], kind: str) -> None:
    """Generated requests get no 5xx and answers that fit the schema."""
    app = start_app(kind)
    auth = credentials(app)
    schema = schemathesis.openapi.from_url(
        app.url + app.prefix + "/openapi.json")
    fuzz_operations(app, schema, auth)
    fuzz_stateful(app, schema, auth)
    assert REQUESTS[kind] > 0
