"""`alumni-bot chat`: the bot in a terminal, the embedded default.

Buttons print as `[#1] label`, `[#2] label`…; a line that is just `#` and a shown number presses
that button (a bare number is text: a capacity of 1 is not the first button); a form asks one
field a line, and its skip and cancel buttons print as what to type, `[-]` and `[/cancel]`, the
same on every step (a number for them moved with the choices above them). Works interactively
and with piped stdin (one line per message), so a session can be scripted.

On opening, it prints what the delivery worker left in the person's console inbox while they
were away (check-ins, nudges, job notices, reminders: channel.py) and marks it read; the buttons
of those messages are numbered like any others, so `#1` presses the first of them."""

from __future__ import annotations

import asyncio
import sys
import unicodedata
from pathlib import Path
from typing import TextIO

from sqlalchemy import select

from bot.channels.console.channel import NAME, take_unread
from bot.core import markup
from bot.core.forms import FORM_CANCEL, FORM_SKIP
from bot.core.types import Actor, Button, Incoming, Reply
from bot.runtime.app import App
from storage import people
from storage.models import Identity, Person

FILES_DIR = Path("alumni-bot-files")
TYPED = {FORM_SKIP: "-", FORM_CANCEL: "/cancel"}  # a form's controls, as the words forms take


class ConsoleChat:
    def __init__(
        self,
        app: App,
        email: str,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        files_dir: Path = FILES_DIR,
    ) -> None:
        self.app = app
        self.email = email.strip().lower()
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.files_dir = files_dir
        self.shown: list[Button] = []

    async def link(self) -> bool:
        """The console is the operator's own terminal: it acts as the person with that email."""
        return await self._link() is not None

    async def _link(self) -> tuple[Person, Identity] | None:
        async with self.app.db.transaction() as session:
            person = await people.person_by_email(session, self.email)
            if person is None or person.is_forgotten:
                return None
            query = select(Identity).where(Identity.channel == NAME, Identity.user_id == self.email)
            identity = (await session.scalars(query)).first()
            if identity is None:
                identity = Identity(
                    person_id=person.id,
                    channel=NAME,
                    workspace="",
                    user_id=self.email,
                    priority=1000,  # never where proactive messages go first
                    created_at=self.app.clock.now(),
                )
                session.add(identity)
                await session.flush()
            else:
                identity.person_id = person.id
        return person, identity

    async def run(self) -> int:
        linked = await self._link()
        if linked is None:
            self.write(f"alumni-bot: nobody with email {self.email} (try: alumni-bot demo)\n")
            return 1
        person, identity = linked
        interactive = self.stdin.isatty()
        if interactive:
            self.write(f"alumni-bot — {self.email}. Type help; Ctrl-D to leave.\n")
        self.show(await self.arrived(person, identity))
        while True:
            if interactive:
                self.write("> ")
            line = await asyncio.to_thread(self.stdin.readline)
            if not line:
                return 0
            replies = await self.handle(line.rstrip("\n"))
            # a worker running meanwhile (`alumni-bot run`, `worker`) may have left something
            self.show(replies + await self.arrived(person, identity))

    async def handle(self, line: str) -> list[Reply]:
        actor = Actor(NAME, self.email, display_name=self.email)
        choice = unicodedata.normalize("NFKC", line.strip())  # ＃１ as #1
        number = choice[1:].strip() if choice.startswith("#") else ""
        if number.isdigit() and 1 <= int(number) <= len(self.shown):
            button = self.shown[int(number) - 1]
            incoming = Incoming(actor, self.email, action=button.action, payload=button.payload)
        else:
            incoming = Incoming(actor, self.email, text=line)
        return await self.app.dispatcher.dispatch(incoming, step_forms=True)

    async def arrived(self, person: Person, identity: Identity) -> list[Reply]:
        """What the worker left in the inbox since the last look, oldest first, under a title
        line, and now marked read. Shown as one screen: their buttons are numbered across them."""
        waiting = await take_unread(self.app.db, identity.id, self.app.clock.now())
        if not waiting:
            return []
        t, zone = self.app.translator_for(person), self.app.zone_for(person).key
        replies = [Reply("\n" + t("console.inbox_title", count=len(waiting)))]
        for n, (at, reply) in enumerate(waiting, start=1):
            head = t("console.inbox_item", n=n, total=len(waiting), when=t.datetime(at, zone))
            replies.append(Reply(f"\n{head}\n{reply.text}", reply.buttons))
        return replies

    def show(self, replies: list[Reply]) -> None:
        self.shown = []
        for reply in replies:
            if reply.text:
                self.write(markup.plain(reply.text) + "\n")  # a terminal shows no *bold*
            for row in reply.buttons:
                labels = []
                for button in row:
                    if button.action in TYPED:
                        labels.append(f"[{TYPED[button.action]}] {button.label}")
                        continue
                    self.shown.append(button)
                    labels.append(f"[#{len(self.shown)}] {button.label}")
                self.write("  ".join(labels) + "\n")
            if reply.attachment is not None:
                self.files_dir.mkdir(parents=True, exist_ok=True)
                path = self.files_dir / reply.attachment.filename
                path.write_bytes(reply.attachment.content)
                self.write(f"(file saved: {path})\n")
        self.stdout.flush()

    def write(self, text: str) -> None:
        self.stdout.write(text)
