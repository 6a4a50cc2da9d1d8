#!/usr/bin/env python3
"""Mail worker of the auth service: password-reset e-mails, never lost.

    cd user_authentication_service && python3 mailer.py

With ``RESET_TOKEN_DELIVERY=email`` (the production profile's default),
``POST /reset_password`` only commits a row to the ``auth_service_outbox``
table of the service's own database - the same work for a known and an
unknown address, and no Redis on the request's path. This process:

1. relays outbox rows to the project's job queue (``queuing_system/
   kue.py``, type ``auth_reset_email``, data: the address only), every
   ``OUTBOX_POLL_SECONDS``; a row is deleted only once its job is in
   Redis, so while Redis is down rows wait and go out when it is back
   (the job id is derived from the row, so a row relayed twice makes
   one job);
2. processes ``auth_reset_email`` jobs: for a registered address it
   issues a reset token (only its digest is stored) and sends it by SMTP
   (``SMTP_URL``: ``smtp://[user:password@]host[:port]``, STARTTLS when
   the server offers it, or ``smtps://`` for TLS from the start; sender
   ``MAIL_FROM``); an unknown address sends nothing. A failed send
   raises, and the queue retries the job ``MAIL_ATTEMPTS`` times with
   exponential back-off from ``MAIL_BACKOFF_MS`` (each attempt issues a
   fresh token; the message carries the latest).

Any number of mail workers may run against the same database and Redis.
SIGTERM or SIGINT stops it after the running job. The queue module is
imported from the sibling ``queuing_system/`` folder, as ``bench/`` does.
"""
import logging
import re
import signal
import smtplib
import sys
import threading
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Optional
from urllib.parse import unquote, urlsplit

import settings
from auth import Auth, UnknownEmail

QUEUE_DIR = Path(__file__).resolve().parent.parent / "queuing_system"
if str(QUEUE_DIR) not in sys.path:
    sys.path.append(str(QUEUE_DIR))

from kue import QueueError, create_queue  # noqa: E402

JOB_TYPE = "auth_reset_email"
SUBJECT = "Your password reset token"
LOG = logging.getLogger("mailer")


def smtp_settings(url: str) -> dict:
    """Split an SMTP URL into host, port, TLS mode and credentials."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise settings.ConfigError(
            "SMTP_URL must be smtp://host[:port] or smtps://host[:port], "
            "not {!r}".format(url))
    return {"host": parts.hostname,
            "port": parts.port or (465 if parts.scheme == "smtps" else 25),
            "tls": parts.scheme == "smtps",
            "user": unquote(parts.username or ""),
            "password": unquote(parts.password or "")}


def reset_message(sender: str, to: str, token: str,
                  minutes: int) -> EmailMessage:
    """Build the reset e-mail: the token and how long it works."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = SUBJECT
    message.set_content(
        "Someone asked to reset the password of this account.\n\n"
        "Reset token: {}\n\n"
        "It works once, within {} minutes. If you did not ask for it, "
        "ignore this message.\n".format(token, minutes))
    return message


def token_in(text: str) -> Optional[str]:
    """Return the reset token in a message's text, if there is one."""
    found = re.search(r"Reset token: (\S+)", text)
    return found.group(1) if found else None


class Mailer:
    """Relays the outbox to the queue and sends the queue's e-mails."""

    def __init__(self, config: dict, auth: Optional[Auth] = None) -> None:
        """Prepare the database, the queue and the SMTP settings."""
        self.config = config
        self.auth = auth or Auth(config=config)
        self.smtp = smtp_settings(config["SMTP_URL"])
        self.queue = create_queue(config["REDIS_URL"], timeout=3.0,
                                  remove_on_complete=True)
        self.stop = threading.Event()

    def send(self, to: str, token: str) -> None:
        """Send one reset e-mail over SMTP (raises when it cannot)."""
        smtp = self.smtp
        kind = smtplib.SMTP_SSL if smtp["tls"] else smtplib.SMTP
        with kind(smtp["host"], smtp["port"], timeout=20) as client:
            if not smtp["tls"]:
                client.ehlo()
                if client.has_extn("starttls"):
                    client.starttls()
                    client.ehlo()
            if smtp["user"]:
                client.login(smtp["user"], smtp["password"])
            client.send_message(reset_message(
                self.config["MAIL_FROM"], to, token,
                max(1, int(self.config["RESET_TOKEN_TTL"]) // 60)))

    def process(self, job: Any) -> str:
        """Handle one ``auth_reset_email`` job (raise = retry later)."""
        email = job.data.get("email", "")
        try:
            token = self.auth.get_reset_password_token(email)
        except UnknownEmail:
            LOG.info("job %s: no account, nothing sent", job.id)
            return "no account"
        try:
            self.send(email, token)
        except (OSError, smtplib.SMTPException) as error:
            LOG.warning("job %s: SMTP failed, will retry: %s", job.id,
                        error)
            raise
        LOG.info("job %s: reset e-mail sent", job.id)
        return "sent"

    def relay(self) -> int:
        """Hand waiting outbox rows to the queue; return how many went.

        Stops at the first row the queue cannot take (Redis down): the
        row stays and is tried again at the next round.
        """
        moved = 0
        for mail_id, email, created in self.auth.pending_mail():
            job = self.queue.create(JOB_TYPE, {"email": email})
            job.attempts(self.config["MAIL_ATTEMPTS"]).backoff(
                self.config["MAIL_BACKOFF_MS"], "exponential")
            job.opts["jobId"] = "outbox-{}-{}".format(
                mail_id, int(created * 1000))
            try:
                job.save()
            except QueueError as error:
                LOG.warning("outbox: queue unavailable, %s", error)
                return moved
            self.auth.mail_queued(mail_id)
            moved += 1
        return moved

    def run(self) -> None:
        """Process jobs and relay the outbox until ``stop`` is set."""
        self.auth.ensure_ready()
        self.queue.process(JOB_TYPE, 1, self.process)
        poll = self.config["OUTBOX_POLL_SECONDS"]
        try:
            while True:
                try:
                    self.relay()
                except Exception as error:  # noqa: BLE001 - keep relaying
                    LOG.warning("outbox: %s", error)
                if self.stop.wait(poll):
                    return
        finally:
            self.queue.shutdown(30.0)


def main() -> int:
    """Run the mail worker until SIGTERM or SIGINT."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="mailer: %(message)s")
    try:
        config = settings.load()
        mailer = Mailer(config)
    except settings.ConfigError as error:
        print("mailer: bad configuration: {}".format(error),
              file=sys.stderr)
        return 2 if isinstance(error, settings.ProfileError) else 1

    def request_stop(signum: int, frame: Any) -> None:
        """Stop after the running job."""
        mailer.stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, request_stop)
    LOG.info("relaying the outbox and sending reset e-mails via %s:%s",
             mailer.smtp["host"], mailer.smtp["port"])
    mailer.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
