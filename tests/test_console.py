"""The console as a person uses it: `[#1]` buttons, and a typed number is an answer, never a
button (a capacity of 1 used to press "skip", and 2 "cancel")."""

from __future__ import annotations

import io
from pathlib import Path

from sqlalchemy import select

from bot.channels.console import ConsoleChat
from bot.runtime.app import App
from storage.models import Event
from tests.support.people import load_company
from tests.test_onboarding import join_directly

LINES = [
    "/newevent", "OB会", "-", "-", "2026-12-20 18:00", "2026-12-20 20:00", "東京オフィス", "-",
    "1",  # the capacity: a number, not the first button
    "-", "-",
]  # fmt: skip


async def test_a_typed_number_is_an_answer_and_hash_numbers_press_buttons(
    app: App, tmp_path: Path
) -> None:
    await load_company(app)
    await join_directly(app, "hr@example.com")
    out = io.StringIO()
    lines = io.StringIO("\n".join(LINES) + "\n")
    console = ConsoleChat(app, "hr@example.com", lines, out, tmp_path)
    assert await console.run() == 0
    transcript = out.getvalue()
    assert "[#1]" in transcript and "Cancelled" not in transcript, transcript
    async with app.db.transaction() as session:
        event = (await session.scalars(select(Event))).first()
    assert event is not None, transcript
    assert (event.title, event.capacity) == ("OB会", 1), transcript
    # `#N` (or full-width ＃１) presses the N-th button shown: here "edit profile".
    out = io.StringIO()
    press = ConsoleChat(
        app, "hr@example.com", io.StringIO("/profile\n＃１\n/cancel\n"), out, tmp_path
    )
    assert await press.run() == 0
    assert "(1/4)" in out.getvalue() and "Cancelled" in out.getvalue(), out.getvalue()


async def test_join_on_the_console_before_agreeing_asks_for_consent(
    app: App, tmp_path: Path
) -> None:
    """The console links the person by email when it opens: `join` then is not "already joined"
    for someone who never agreed, but the consent question."""
    await load_company(app)
    out = io.StringIO()
    console = ConsoleChat(app, "emma@example.com", io.StringIO("join ABCDEF\n"), out, tmp_path)
    assert await console.run() == 0
    assert "already joined" not in out.getvalue() and "Do you agree?" in out.getvalue()


async def test_a_forms_skip_and_cancel_read_the_same_on_every_step(
    app: App, tmp_path: Path
) -> None:
    """Settings asks a choice, then free text: skip is `[-]` on each step, whatever the choices
    above it, and only the choices are numbered (skip was #3 on one step and #1 on the next)."""
    await load_company(app)
    await join_directly(app, "hr@example.com")
    out = io.StringIO()
    console = ConsoleChat(app, "hr@example.com", io.StringIO("/settings\n#1\n-\n"), out, tmp_path)
    assert await console.run() == 0
    steps = [s for s in out.getvalue().split("\n(") if s[:1].isdigit()]  # "(1/6) …", "(2/6) …"
    assert len(steps) == 2, out.getvalue()
    for step in steps:
        assert "[-] " in step and "[/cancel] " in step, step
    language = steps[0]  # the language step offers its choices as #1, #2
    assert "[#1] " in language and "[#2] " in language and "[#3] " not in language, language
