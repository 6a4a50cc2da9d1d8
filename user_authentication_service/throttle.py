#!/usr/bin/env python3
"""Per-account back-off of failed logins, beside the per-address limit.

Failures are counted per account key (the normalized e-mail, known or
not, so the answer tells nothing about who exists) in the rate
limiter's storage: per process with ``memory://``, shared by every
process and machine with ``redis://``. The first
``LOGIN_BACKOFF_AFTER`` failures within the window cost nothing; each
one after them makes the account wait twice as long before the next
password check (1 s, 2 s, 4 s ...), at most ``LOGIN_BACKOFF_MAX``
seconds: an attacker is slowed down exponentially, while the owner is
never locked out for longer than that. A right password clears the
count. A check during the wait is answered 429 without spending bcrypt.
"""
import hashlib
import time

import limits
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

WINDOW = 3600
PREFIX = "auth_service:login"


class AccountBackoff:
    """Failed-login counters and waits per account, in a limits storage.

    It also counts reset e-mails per account (``RATELIMIT_RESET_MAILS``),
    so nobody can flood one mailbox from many addresses.
    """

    def __init__(self, storage_uri: str, after: int, longest: int,
                 mails: str = "3/15minutes") -> None:
        """Connect to the storage (lazily for Redis) and keep the rules."""
        self.storage = storage_from_string(storage_uri)
        self.after = after
        self.longest = longest
        self.mails = limits.parse_many(mails)
        self.mail_limiter = MovingWindowRateLimiter(self.storage)

    def may_mail(self, account: str) -> bool:
        """Count a reset e-mail for an account; False past the limit."""
        name = self._name(account)
        allowed = True
        for item in self.mails:
            if not self.mail_limiter.hit(item, PREFIX + ":mail", name):
                allowed = False
        return allowed

    @staticmethod
    def _name(account: str) -> str:
        """Return the storage name of an account (no e-mail in keys)."""
        return hashlib.sha256(account.encode("utf-8", "replace")
                              ).hexdigest()[:32]

    def _keys(self, account: str) -> tuple:
        """Return the (failures, wait) keys of an account."""
        name = self._name(account)
        return ("{}:fail:{}".format(PREFIX, name),
                "{}:wait:{}".format(PREFIX, name))

    def check(self, account: str) -> tuple:
        """Return (failures counted, seconds still to wait) of an account.

        One storage read when the account has no failures (the usual
        login), two when it has some.
        """
        fail, wait = self._keys(account)
        count = self.storage.get(fail)
        if count < self.after or not self.storage.get(wait):
            return count, 0.0
        return count, max(0.0, self.storage.get_expiry(wait) - time.time())

    def failed(self, account: str) -> None:
        """Count a failed password check; start a wait past the free ones."""
        fail, wait = self._keys(account)
        count = self.storage.incr(fail, WINDOW)
        if count >= self.after:
            seconds = min(2 ** (count - self.after), self.longest)
            self.storage.clear(wait)
            self.storage.incr(wait, seconds)

    def succeeded(self, account: str, count: int) -> None:
        """Forget an account's failures after a right password (nothing
        to do, and no storage call, when there were none)."""
        if count:
            for key in self._keys(account):
                self.storage.clear(key)
