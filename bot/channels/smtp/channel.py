"""The mail channel: sends the outbox's mails through the SMTP server of `SMTP_URL` (STARTTLS
when the server offers it, TLS from the start with `smtps://`), and serves the one-click
unsubscribe links of those mails (`GET, POST /unsubscribe/<token>`, RFC 8058).

What a failure means for delivery (bot/runtime/delivery.py):
- the server cannot be reached, drops the connection or times out → `RateLimited` for the
  whole channel: every mail waits `mail.down_retry_seconds` and goes again, no attempt used,
  none lost, however long the server is down;
- the server refuses our login or our From → the same wait, logged as an error (an operator's
  fix, not the recipient's fault);
- a 4xx reply → `TransientError`: retried with backoff;
- a 5xx reply for the message or its address → `Unreachable`: the person is marked bounced and
  nothing more is mailed to them."""

from __future__ import annotations

import asyncio
import logging
from email.utils import parseaddr

import aiosmtplib
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from bot.channels.smtp import render
from bot.channels.smtp.unsubscribe import UnsubscribePage
from bot.core.channel import RateLimited, Recipient, TransientError, Unreachable
from bot.core.settings import smtp_parts
from bot.core.types import Reply
from bot.runtime.app import App

NAME = "smtp"
log = logging.getLogger(__name__)


class MailChannel:
    name = NAME

    def __init__(self, app: App) -> None:
        self.app = app
        settings = app.settings
        if not settings.smtp_url or not settings.mail_from:
            raise ValueError("the mail channel needs SMTP_URL and MAIL_FROM")
        scheme, self.host, self.port, self.user, self.password = smtp_parts(settings.smtp_url)
        self.tls = scheme == "smtps"
        self.sender = settings.mail_from
        self.address = parseaddr(settings.mail_from)[1]
        self.cfg = settings.mail
        self.client: aiosmtplib.SMTP | None = None
        self.lock = asyncio.Lock()  # one SMTP conversation at a time on the connection
        self.page = UnsubscribePage(app)

    async def start(self, *, webhooks: bool = False) -> None:
        """Nothing to check: a server that is down now only makes mail wait."""
        log.info("mail through %s:%d as %s", self.host, self.port, self.sender)

    async def stop(self) -> None:
        async with self.lock:
            await self._close()

    async def poll(self) -> None:
        """Nothing comes in by mail."""

    def web_routes(self) -> list[BaseRoute]:
        return [Route("/unsubscribe/{token}", self.unsubscribe, methods=["GET", "POST"])]

    async def unsubscribe(self, request: Request) -> Response:
        token = request.path_params["token"]
        if request.method == "POST":
            return HTMLResponse(*await self.page.confirm(token))
        return HTMLResponse(*await self.page.ask(token, str(request.url)))

    # -- sending ------------------------------------------------------------------------------

    async def send(self, to: Recipient, reply: Reply) -> str | None:
        message = render.build(
            reply, sender=self.sender, to=to.user_id, unsubscribe_url=to.unsubscribe_url
        )
        async with self.lock:
            for attempt in (1, 2):
                reused = self.client is not None and self.client.is_connected
                client = await self._connect()
                try:
                    # Flattened here, with the long lines SMTP allows (aiosmtplib's own
                    # flattening folds at 78, and some readers then see the link with a space).
                    await client.sendmail(self.address, [to.user_id], message.as_bytes())
                except aiosmtplib.SMTPRecipientsRefused as exc:
                    first = exc.recipients[0]
                    raise self._refused(first.code, first.message) from None
                except aiosmtplib.SMTPSenderRefused as exc:  # our From: the operator's to fix
                    await self._close()
                    log.error("the SMTP server refuses MAIL_FROM (%s %s): mail waits", exc.code,
                              exc.message)  # fmt: skip
                    raise RateLimited(self.cfg.down_retry_seconds) from None
                except aiosmtplib.SMTPResponseException as exc:  # DATA refused, and the like
                    await self._close()
                    raise self._refused(exc.code, exc.message) from None
                except (OSError, aiosmtplib.SMTPException) as exc:  # dropped, timed out
                    await self._close()
                    if reused and attempt == 1:  # an idle connection the server closed
                        continue
                    log.warning("SMTP server %s:%d failed: %s", self.host, self.port, exc)
                    raise RateLimited(self.cfg.down_retry_seconds) from None
                return None
        return None

    async def _connect(self) -> aiosmtplib.SMTP:
        """The open connection, or a new one; a server that cannot be reached, greets us with
        an error or refuses our login makes all mail wait (`RateLimited`)."""
        try:
            return await self._connected()
        except (OSError, aiosmtplib.SMTPException) as exc:
            await self._close()
            log.warning("SMTP server %s:%d unreachable: %s", self.host, self.port, exc)
            raise RateLimited(self.cfg.down_retry_seconds) from None

    def _refused(self, code: int, text: str) -> Exception:
        if code >= 500:
            return Unreachable(f"{code} {text}")
        return TransientError(f"{code} {text}")

    async def _connected(self) -> aiosmtplib.SMTP:
        if self.client is not None and self.client.is_connected:
            return self.client
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.user,
            password=self.password,
            use_tls=self.tls,
            start_tls=None if not self.tls else False,  # None: STARTTLS when offered
            timeout=self.cfg.timeout_seconds,
        )
        await client.connect()
        self.client = client
        return client

    async def _close(self) -> None:
        client, self.client = self.client, None
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except (OSError, aiosmtplib.SMTPException):
                client.close()
