#!/usr/bin/env python3
"""A real SMTP server for tests (aiosmtpd), on a free local port.

It keeps every message it accepts; ``wait_for(count)`` blocks until that
many arrived (or fails after a timeout), so tests wait on the delivery
itself, never on a sleep.
"""
import email
import email.policy
import threading
from email.message import EmailMessage
from typing import Any, Optional

from aiosmtpd.controller import Controller

from tests.support import free_port


class MailServer:
    """An SMTP server in a thread of the test process."""

    def __init__(self, port: Optional[int] = None) -> None:
        """Prepare a server on the given port (a free one by default)."""
        self.port = port or free_port()
        self.messages: list = []
        self._changed = threading.Condition()
        self._controller: Optional[Controller] = None

    @property
    def url(self) -> str:
        """Return the smtp:// URL the service's mail worker uses."""
        return "smtp://127.0.0.1:{}".format(self.port)

    async def handle_DATA(self, server: Any, session: Any,
                          envelope: Any) -> str:
        """Keep an accepted message (aiosmtpd handler hook)."""
        message = email.message_from_bytes(
            envelope.original_content or envelope.content,
            policy=email.policy.default)
        with self._changed:
            self.messages.append((list(envelope.rcpt_tos), message))
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    def start(self) -> "MailServer":
        """Start listening on the port."""
        self._controller = Controller(self, hostname="127.0.0.1",
                                      port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop listening (messages kept)."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float = 60.0) -> list:
        """Block until ``count`` messages arrived; return them all."""
        with self._changed:
            if not self._changed.wait_for(
                    lambda: len(self.messages) >= count, timeout):
                raise AssertionError("{} message(s) expected, {} arrived"
                                     .format(count, len(self.messages)))
            return list(self.messages)

    @staticmethod
    def text(message: EmailMessage) -> str:
        """Return the plain-text body of a message."""
        return message.get_body(("plain",)).get_content()
