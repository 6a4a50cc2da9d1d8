#!/usr/bin/env python3
"""Fixtures of the security suites: the auth service's ones, shared."""
from tests.user_authentication_service.conftest import (  # noqa: F401
    clock, mail_server, service_modules_resolve_to_app_dir, start_mailer,
    start_server)
