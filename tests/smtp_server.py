"""A small SMTP server for the tests: it speaks enough of RFC 5321 (EHLO, AUTH PLAIN, MAIL, RCPT,
DATA, RSET, NOOP, QUIT) for Python's smtplib to hand it messages over a real socket, and keeps
what it received."""

from __future__ import annotations

import base64
import email
import email.policy
import socketserver
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage


@dataclass
class Received:
    messages: list[EmailMessage] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)


class _Handler(socketserver.StreamRequestHandler):
    def _say(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        received: Received = self.server.received  # type: ignore[attr-defined]
        self._say("220 eclor-test ESMTP")
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            command = raw.decode("utf-8", "replace").strip()
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self._say("250-eclor-test")
                self._say("250 AUTH PLAIN")
            elif verb == "HELO":
                self._say("250 eclor-test")
            elif verb == "AUTH":
                parts = command.split()
                token = parts[2] if len(parts) > 2 else ""
                _zid, user, password = base64.b64decode(token).decode().split("\0")
                received.logins.append((user, password))
                self._say("235 2.7.0 Authentication successful")
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                self._say("250 OK")
            elif verb == "DATA":
                self._say("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while (line := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(line[1:] if line.startswith(b"..") else line)
                received.messages.append(
                    email.message_from_bytes(b"".join(lines), policy=email.policy.default)  # type: ignore[arg-type]
                )
                self._say("250 OK: queued")
            elif verb == "QUIT":
                self._say("221 Bye")
                return
            else:
                self._say("502 Command not implemented")


class SmtpServer:
    """``with SmtpServer() as server:`` listens on 127.0.0.1 at ``server.port``."""

    def __init__(self) -> None:
        self.received = Received()
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.received = self.received  # type: ignore[attr-defined]
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> SmtpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
