"""A local SMTP sink (aiosmtpd) that keeps every mail it receives as an ``.eml`` file.

The embedded default's mail server and the tests' real SMTP server: the report goes through
the ``smtp`` connection and the SMTP protocol exactly as it would to a real server.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class _Handler:
    folder: Path
    lock: threading.Lock = field(default_factory=threading.Lock)
    count: int = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        with self.lock:
            self.count += 1
            number = self.count
        data = envelope.original_content or envelope.content
        head = f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n".encode()
        (self.folder / f"{number:05d}.eml").write_bytes(head + data)
        return "250 Message accepted"


class MailSink:
    """An SMTP server on 127.0.0.1 writing mails to ``folder`` (``start()``/``stop()``)."""

    def __init__(self, folder: Path, port: int | None = None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self._controller = None

    def start(self) -> MailSink:
        """Start listening (in aiosmtpd's own thread)."""
        from aiosmtpd.controller import Controller

        handler = _Handler(self.folder, count=len(list(self.folder.glob("*.eml"))))
        self._controller = Controller(handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def connection_json(self, sender: str = "inkasso-report@example.com") -> str:
        """The ``smtp`` connection (for ``AIRFLOW_CONN_SMTP_DEFAULT``): no SSL, no STARTTLS."""
        return json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": self.port,
                "extra": {
                    "disable_ssl": True,
                    "disable_tls": True,
                    "from_email": sender,
                    "retry_limit": 0,
                    "timeout": 10,
                },
            }
        )

    def messages(self) -> list[EmailMessage]:
        """Every mail received so far, oldest first."""
        return [
            message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in sorted(self.folder.glob("*.eml"))
        ]

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
