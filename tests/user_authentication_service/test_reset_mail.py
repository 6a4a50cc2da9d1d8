#!/usr/bin/env python3
"""Out-of-band password reset: request -> outbox -> job -> SMTP -> token.

Real parts only: the service's server process, the suite's Redis (or one
of the test's own, stopped and started again), the mail worker process
(``python3 mailer.py``) and an aiosmtpd server in the test process. The
token is read from the delivered message, then sets a new password.
"""
from typing import Any, Callable

import requests

from tests.user_authentication_service.conftest import post_form

PRODUCTION = {"APP_PROFILE": "production", "BCRYPT_ROUNDS": "10"}
SENT = {"message": "if this email is registered, a reset token was sent "
                   "to it"}


def reset_token_from(mail_server: Any, count: int, to: str) -> str:
    """Wait for the ``count``-th message, check it, return its token."""
    from mailer import token_in

    recipients, message = mail_server.wait_for(count)[count - 1]
    assert recipients == [to]
    assert message["From"] == "reset@service.test"
    token = token_in(mail_server.text(message))
    assert token, mail_server.text(message)
    return token


def test_reset_by_mail_end_to_end(start_server: Callable,
                                  start_mailer: Callable, mail_server: Any,
                                  redis_url: str) -> None:
    """Known and unknown addresses get the same answer without a token;
    only the known one gets a message, whose token sets a new password
    once, and the old password stops working."""
    env = dict(PRODUCTION, REDIS_URL=redis_url, SMTP_URL=mail_server.url,
               MAIL_FROM="reset@service.test")
    url = start_server("dev", **env).url
    assert post_form(url + "/users", email="Bob@Bob.com",
                     password="old password").status_code == 200
    unknown = post_form(url + "/reset_password", email="ghost@bob.com")
    known = post_form(url + "/reset_password", email="bob@bob.com")
    assert unknown.status_code == known.status_code == 200
    assert unknown.json() == dict(SENT, email="ghost@bob.com")
    assert known.json() == dict(SENT, email="bob@bob.com")
    assert "reset_token" not in known.text
    mailer = start_mailer(**env)
    token = reset_token_from(mail_server, 1, "bob@bob.com")
    form = {"email": "bob@bob.com", "reset_token": token,
            "new_password": "new password"}
    assert requests.put(url + "/reset_password", data=form,
                        timeout=30).json() == {
        "email": "bob@bob.com", "message": "Password updated"}
    assert requests.put(url + "/reset_password", data=form,
                        timeout=30).status_code == 403
    assert post_form(url + "/sessions", email="bob@bob.com",
                     password="old password").status_code == 401
    assert post_form(url + "/sessions", email="bob@bob.com",
                     password="new password").status_code == 200
    assert len(mail_server.messages) == 1, "the unknown address got mail"
    assert mailer.stop() == 0, "SIGTERM ends the mail worker cleanly"
    assert "no account, nothing sent" in mailer.output()


def test_reset_requested_while_redis_down_arrives_after(
        start_server: Callable, start_mailer: Callable, mail_server: Any,
        redis_server_factory: Callable) -> None:
    """With Redis down the request answers the same; the outbox keeps
    the message and the worker relays it once Redis is back."""
    redis = redis_server_factory()
    env = dict(PRODUCTION, REDIS_URL=redis.url, SMTP_URL=mail_server.url,
               MAIL_FROM="reset@service.test")
    url = start_server("dev", **env).url
    post_form(url + "/users", email="bob@bob.com", password="old password")
    mailer = start_mailer(**env)
    mailer.wait_output("relaying the outbox")
    redis.stop()
    answer = post_form(url + "/reset_password", email="bob@bob.com")
    assert answer.status_code == 200
    assert answer.json() == dict(SENT, email="bob@bob.com")
    mailer.wait_output("queue unavailable")
    assert mail_server.messages == []
    redis.start()
    token = reset_token_from(mail_server, 1, "bob@bob.com")
    assert requests.put(url + "/reset_password", timeout=30, data={
        "email": "bob@bob.com", "reset_token": token,
        "new_password": "new password"}).status_code == 200


def test_smtp_down_is_retried_with_backoff(
        start_server: Callable, start_mailer: Callable, redis_url: str
) -> None:
    """A send that fails (no SMTP server yet) is retried until it works."""
    from tests.mail_server import MailServer

    mail_server = MailServer()
    env = dict(PRODUCTION, REDIS_URL=redis_url, SMTP_URL=mail_server.url,
               MAIL_FROM="reset@service.test")
    url = start_server("dev", **env).url
    post_form(url + "/users", email="bob@bob.com", password="old password")
    mailer = start_mailer(**env)
    assert post_form(url + "/reset_password",
                     email="bob@bob.com").status_code == 200
    mailer.wait_output("SMTP failed, will retry")
    mail_server.start()
    try:
        token = reset_token_from(mail_server, 1, "bob@bob.com")
    finally:
        mail_server.stop()
    assert requests.put(url + "/reset_password", timeout=30, data={
        "email": "bob@bob.com", "reset_token": token,
        "new_password": "new password"}).status_code == 200
