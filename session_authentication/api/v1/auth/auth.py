#!/usr/bin/env python3
"""The Auth base class: which paths need authentication, and how a
request carries its credentials (Authorization header, session cookie).
"""
from typing import List, Optional, TypeVar

from flask import Request
from werkzeug.exceptions import TooManyRequests

from api.v1.config import Settings, env_session_name
from http_common.rate_limits import (KeyedLimit, PasswordBackoff,
                                     account_key, open_storage)

NAMESPACE = "users_api"

User = TypeVar("User")
A = TypeVar("A", bound="Auth")


def lenient_cookies(header: Optional[str]) -> dict:
    """Parse a Cookie header the way browsers and curl send it in practice.

    Werkzeug 3 follows RFC 6265 strictly and drops a value such as
    ``C is fun``; the seed shows it read back whole, so "name=value"
    pairs are also split here on ``;`` and the first ``=`` only.
    """
    cookies = {}
    for part in (header or "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name and name not in cookies:
            cookies[name.strip()] = value.strip()
    return cookies


class Auth:
    """Base of every authentication mechanism; it authenticates no one."""

    def __init__(self, session_name: Optional[str] = None) -> None:
        """Remember the session cookie's name (SESSION_NAME by default)."""
        self.session_name = session_name or env_session_name()

    settings: Optional[Settings] = None
    # Password checks of HTTP requests (http_common.rate_limits):
    # back-off per account and (account, address), failures limited
    # per address.
    throttle: Optional[PasswordBackoff] = None
    address_failures: Optional[KeyedLimit] = None

    @classmethod
    def from_settings(cls: type[A], settings: Settings) -> A:
        """Build the mechanism from the app's settings (AUTH_TYPE table)."""
        mechanism = cls(session_name=settings.session_name)
        mechanism.apply(settings)
        return mechanism

    def apply(self, settings: Settings) -> None:
        """Take the policy of the app's settings (profile, timeouts):
        each mechanism reads what concerns it."""
        self.settings = settings
        storage = open_storage(settings.rate_limit_storage)
        self.throttle = PasswordBackoff(storage, NAMESPACE,
                                        settings.account_failure_limit)
        self.address_failures = KeyedLimit(
            storage, NAMESPACE, "password_failures",
            settings.login_rate_limit)

    def throttle_check(self, email: str, address: str) -> int:
        """Raise 429 (with Retry-After) when a password check for this
        account from this address must wait, or when the address has
        failed too often; else return the pair's failures so far (for
        ``throttle_succeeded``)."""
        if self.throttle is None:
            return 0
        wait, failures = self.throttle.check(account_key(email), address)
        if wait is None and self.address_failures.blocked(address):
            wait = self.address_failures.retry_after(address)
        if wait is not None:
            raise TooManyRequests(retry_after=wait)
        return failures

    def throttle_failed(self, email: str, address: str) -> None:
        """Count a failed password check of an HTTP request."""
        if self.throttle is not None:
            self.throttle.failed(account_key(email), address)
            self.address_failures.allow(address)

    def throttle_succeeded(self, email: str, address: str,
                           failures: Optional[int] = None) -> None:
        """Clear the pair's failures after a right password."""
        if self.throttle is not None:
            self.throttle.succeeded(account_key(email), address, failures)

    def require_auth(self, path: str, excluded_paths: List[str]) -> bool:
        """Tell whether a path needs authentication.

        Paths are slash tolerant; an excluded path ending in ``*`` covers
        every path that starts with what precedes the star.
        """
        if path is None or not excluded_paths:
            return True
        path = path if path.endswith("/") else path + "/"
        for excluded in excluded_paths:
            if not excluded:
                continue
            if excluded.endswith("*"):
                if path.startswith(excluded[:-1]):
                    return False
                continue
            if path == (excluded if excluded.endswith("/")
                        else excluded + "/"):
                return False
        return True

    def authorization_header(self, request: Optional[Request] = None
                             ) -> Optional[str]:
        """Return the Authorization header of the request, or None."""
        if request is None:
            return None
        return request.headers.get("Authorization")

    def current_user(self, request: Optional[Request] = None
                     ) -> Optional[User]:
        """Return the authenticated user: none at this level."""
        return None

    def session_cookie(self, request: Optional[Request] = None
                       ) -> Optional[str]:
        """Return the value of the session cookie of the request, or None.

        The cookie's name is the SESSION_NAME environment variable.
        """
        if request is None:
            return None
        value = request.cookies.get(self.session_name)
        if value is None and "Cookie" in request.headers:
            value = lenient_cookies(request.headers.get("Cookie")).get(
                self.session_name)
        return value
