"""EMAIL_URL: each scheme parses to Django's settings, and a message really goes out through it to an SMTP
server listening on 127.0.0.1."""

from __future__ import annotations

import base64
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage, get_connection

from config.environment import cache_settings, email_settings, parse_email_url

SMTP = "django.core.mail.backends.smtp.EmailBackend"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "smtp+tls://user:pass@mail.example.com:587",
            {"EMAIL_HOST": "mail.example.com", "EMAIL_PORT": 587, "EMAIL_USE_TLS": True, "EMAIL_USE_SSL": False},
        ),
        ("smtp+tls://mail.example.com", {"EMAIL_PORT": 587, "EMAIL_USE_TLS": True}),
        ("submission://mail.example.com", {"EMAIL_PORT": 587, "EMAIL_USE_TLS": True}),
        ("smtp+ssl://mail.example.com", {"EMAIL_PORT": 465, "EMAIL_USE_SSL": True, "EMAIL_USE_TLS": False}),
        ("smtps://mail.example.com:2465", {"EMAIL_PORT": 2465, "EMAIL_USE_SSL": True}),
        ("smtp://relay.internal", {"EMAIL_PORT": 25, "EMAIL_USE_TLS": False, "EMAIL_USE_SSL": False}),
        ("smtp://relay.internal:2525?timeout=7", {"EMAIL_PORT": 2525, "EMAIL_TIMEOUT": 7.0}),
    ],
)
def test_email_url_smtp_schemes_set_host_port_and_tls(url: str, expected: dict[str, object]) -> None:
    settings = parse_email_url(url)

    assert settings["EMAIL_BACKEND"] == SMTP
    for name, value in expected.items():
        assert settings[name] == value


def test_email_url_user_and_password_are_percent_decoded() -> None:
    settings = parse_email_url("smtp+tls://apikey%40acme:p%40ss%2Fw%3Ard@smtp.example.com:587")

    assert (settings["EMAIL_HOST_USER"], settings["EMAIL_HOST_PASSWORD"]) == ("apikey@acme", "p@ss/w:rd")


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        ("console://", "django.core.mail.backends.console.EmailBackend"),
        ("locmem://", "django.core.mail.backends.locmem.EmailBackend"),
        ("dummy://", "django.core.mail.backends.dummy.EmailBackend"),
        ("file:///var/mail/provenant", "django.core.mail.backends.filebased.EmailBackend"),
    ],
)
def test_email_url_local_schemes_select_their_backend(url: str, backend: str) -> None:
    settings = parse_email_url(url)

    assert settings["EMAIL_BACKEND"] == backend
    assert "EMAIL_HOST" not in settings
    if url.startswith("file:"):
        assert settings["EMAIL_FILE_PATH"] == "/var/mail/provenant"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("pigeon://coop", "unknown scheme"),
        ("smtp+tls://", "names no host"),
        ("smtp://mail.example.com:notaport", "invalid port"),
        ("smtp://mail.example.com?timeout=soon", "timeout"),
        ("file://", "needs a directory"),
    ],
)
def test_email_url_refuses_what_it_cannot_use(url: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        parse_email_url(url)


def test_explicit_email_variables_select_smtp_when_a_host_is_set() -> None:
    settings = email_settings(
        url="",
        backend="",
        host="smtp.example.com",
        port="",
        user="mailer",
        password="secret",
        use_tls=True,
        use_ssl=False,
        timeout="12",
    )

    assert settings == {
        "EMAIL_BACKEND": SMTP,
        "EMAIL_HOST": "smtp.example.com",
        "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "mailer",
        "EMAIL_HOST_PASSWORD": "secret",
        "EMAIL_USE_TLS": True,
        "EMAIL_USE_SSL": False,
        "EMAIL_TIMEOUT": 12.0,
    }


def test_email_url_wins_over_explicit_variables_and_nothing_set_means_console() -> None:
    common = {"backend": "", "port": "", "user": "", "password": "", "use_tls": False, "use_ssl": False}
    from_url = email_settings(url="smtp+ssl://a.example.com", host="b.example.com", timeout="", **common)  # type: ignore[arg-type]
    nothing = email_settings(url="", host="", timeout="", **common)  # type: ignore[arg-type]

    assert (from_url["EMAIL_HOST"], from_url["EMAIL_PORT"]) == ("a.example.com", 465)
    assert nothing == {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}


def test_explicit_email_variables_refuse_tls_and_ssl_together() -> None:
    with pytest.raises(ImproperlyConfigured, match="exclude each other"):
        email_settings(
            url="", backend="", host="h", port="", user="", password="", use_tls=True, use_ssl=True, timeout=""
        )


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        ("redis://127.0.0.1:6379/1", "django.core.cache.backends.redis.RedisCache"),
        ("rediss://cache.internal:6380/0", "django.core.cache.backends.redis.RedisCache"),
        ("", "django.core.cache.backends.locmem.LocMemCache"),
        ("locmem://", "django.core.cache.backends.locmem.LocMemCache"),
        ("dummy://", "django.core.cache.backends.dummy.DummyCache"),
    ],
)
def test_cache_url_selects_the_cache_backend(url: str, backend: str) -> None:
    assert cache_settings(url, key_prefix="p")["BACKEND"] == backend


# --- a real send ----------------------------------------------------------------------------------------------


@dataclass
class Mailbox:
    logins: list[tuple[str, str]] = field(default_factory=list)
    envelopes: list[tuple[str, list[str], bytes]] = field(default_factory=list)


class _SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough RFC 5321 for smtplib: EHLO with AUTH PLAIN, MAIL, RCPT, DATA, QUIT."""

    mailbox: Mailbox

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 test-smtp ready")
        sender, recipients = "", []
        while line := self.rfile.readline():
            command = line.decode().rstrip("\r\n")
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.wfile.write(b"250-test-smtp\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n")
            elif verb == "AUTH":
                _, user, password = base64.b64decode(command.split()[2]).decode().split("\0")
                self.mailbox.logins.append((user, password))
                self.reply("235 accepted")
            elif verb == "MAIL":
                sender, recipients = command.split(":", 1)[1].split()[0].strip("<>"), []
                self.reply("250 ok")
            elif verb == "RCPT":
                recipients.append(command.split(":", 1)[1].strip().strip("<>"))
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 go on")
                body = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    body += chunk
                self.mailbox.envelopes.append((sender, recipients, body))
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Mailbox]]:
    mailbox = Mailbox()
    handler = type("Handler", (_SmtpHandler,), {"mailbox": mailbox})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], mailbox
    server.shutdown()
    server.server_close()


def test_a_message_goes_out_through_email_url_to_a_real_smtp_server(smtp_server: tuple[int, Mailbox]) -> None:
    port, mailbox = smtp_server
    settings = parse_email_url(f"smtp://mailer%40acme:s%3Acret@127.0.0.1:{port}?timeout=5")
    connection = get_connection(
        backend=settings["EMAIL_BACKEND"],
        host=settings["EMAIL_HOST"],
        port=settings["EMAIL_PORT"],
        username=settings["EMAIL_HOST_USER"],
        password=settings["EMAIL_HOST_PASSWORD"],
        use_tls=settings["EMAIL_USE_TLS"],
        use_ssl=settings["EMAIL_USE_SSL"],
        timeout=settings["EMAIL_TIMEOUT"],
    )

    sent = EmailMessage(
        "Verify your request", "Follow the link.", "privacy@acme.example", ["person@example.org"], connection=connection
    ).send()

    assert sent == 1
    assert mailbox.logins == [("mailer@acme", "s:cret")]
    [(sender, recipients, body)] = mailbox.envelopes
    assert (sender, recipients) == ("privacy@acme.example", ["person@example.org"])
    message = message_from_bytes(body)
    assert message["Subject"] == "Verify your request"
    assert message.get_payload().strip() == "Follow the link."
