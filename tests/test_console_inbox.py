"""The console shows the whole product: what the delivery worker sends to a console person waits
in their console inbox, and `chat --as` prints it on opening, with buttons that work. Driven
as a newcomer does: `demo`, `worker --drain` (no token set), `chat --as hanako@example.com`."""

from __future__ import annotations

import asyncio
import io
import re
import shutil
import threading
from datetime import time
from pathlib import Path
from typing import Any, TextIO, cast

import pytest
from sqlalchemy import select

from bot.channels import local_channels
from bot.channels.console import ConsoleChat
from bot.cli import main
from bot.cli.common import with_app
from bot.core.clock import FixedClock
from bot.core.types import Reply
from bot.runtime.app import App
from bot.runtime.delivery import Worker, channel_map
from storage import outbox, people
from storage.models import OutboxKind, OutboxMessage, Person
from tests.fakes.fake_channel import FakeChannel, VirtualSleep
from tests.support.crowd import add_people
from tests.support.people import load_company
from tests.test_onboarding import join_directly

HANAKO = "hanako@example.com"
# "say hello back", "says hello", "hello sent", in the language of whoever receives the hello
HELLO = {
    "ja": ("あいさつを返す", "あいさつが届きました", "あいさつを送りました"),
    "en": ("Say hello back", "says hello from the alumni network", "Your hello is on its way to"),
}


class Presses:
    """A person at the terminal (what the console reads of stdin): each line is typed text, or
    `[label]` to press the button with that label among the ones shown last, whatever its
    number."""

    def __init__(self, screen: io.StringIO, *lines: str) -> None:
        self.screen, self.lines = screen, list(lines)

    def isatty(self) -> bool:
        return False

    def readline(self) -> str:
        if not self.lines:
            return ""
        line = self.lines.pop(0)
        if line.startswith("[") and line.endswith("]"):
            shown = re.findall(r"\[#(\d+)\] " + re.escape(line[1:-1]), self.screen.getvalue())
            assert shown, f"no button {line} on the screen:\n{self.screen.getvalue()}"
            line = f"#{shown[-1]}"
        return line + "\n"


def chat_as(email: str, *lines: str, files: Path) -> str:
    """`alumni-bot chat --as EMAIL`, in this process, typing or pressing `lines`."""
    screen = io.StringIO()

    async def work(app: App) -> int:
        return await ConsoleChat(
            app, email, cast(TextIO, Presses(screen, *lines)), screen, files
        ).run()

    assert asyncio.run(with_app(work)) == 0, screen.getvalue()
    return screen.getvalue()


@pytest.fixture(scope="module")
def demo_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", f"sqlite:///{folder / 'alumni.db'}")
        assert main(["demo"]) == 0
    return folder


@pytest.fixture
def demo(demo_once: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the demo database, as if `alumni-bot demo` had just run here."""
    for path in demo_once.glob("alumni.db*"):
        shutil.copy(path, tmp_path / path.name)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'alumni.db'}")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def drain(capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["worker", "--drain"]) == 0
    return capsys.readouterr().out


def test_demo_tells_the_newcomer_what_to_run_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'alumni.db'}")
    assert main(["demo"]) == 0
    said = capsys.readouterr().out
    assert "alumni-bot worker --drain" in said and f"chat --as {HANAKO}" in said


def test_demo_drain_then_chat_shows_the_checkin_and_its_button_logs_the_talk(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "sent 8" in drain(capsys)  # 3 check-ins, a nudge, a job notice, 3 reminders
    shown = chat_as(HANAKO, "[会って話した]", "[佐藤 太郎]", files=demo)
    assert "新着メッセージが 3 件あります" in shown
    assert "山田 花子 さん、お元気ですか？" in shown  # the check-in
    assert "法人営業マネージャー" in shown  # a job notice
    assert "アルムナイ カフェ会" in shown and "リマインド：参加予定" in shown  # the reminder
    assert "どなたと？" in shown  # the check-in's button was pressed
    assert "佐藤 太郎 さんとの交流を記録しました" in shown  # and the talk is logged
    # read once: the next chat opens on an empty inbox
    assert "新着メッセージ" not in chat_as(HANAKO, files=demo)
    # the manager has his nudge about the reports he lost touch with
    assert "しばらく連絡をとっていない" in chat_as("taro@example.com", files=demo)


def test_say_hello_reaches_a_demo_person_on_the_console(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drain(capsys)
    shown = chat_as(HANAKO, "[まだ]", files=demo)
    button = re.findall(r"\[#\d+\] (.+ さんにあいさつ)", shown)
    assert button, shown
    said = chat_as(HANAKO, "/checkin", f"[{button[0]}]", files=demo)
    assert "あいさつを送りました" in said and "連絡できません" not in said

    async def recipient(app: App) -> int:
        async with app.db.transaction() as session:
            intro = (
                await session.scalars(
                    select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.INTRO)
                )
            ).one()
            person = await session.get(Person, intro.person_id)
            assert person is not None and person.email
            found.append((person.email, person.locale or "ja"))
        return 0

    found: list[tuple[str, str]] = []
    asyncio.run(with_app(recipient))
    drain(capsys)
    email, locale = found[0]
    back, received, sent = HELLO[locale]
    theirs = chat_as(email, f"[{back}]", files=demo)
    assert "山田 花子" in theirs and received in theirs
    assert sent in theirs  # and theirs back, pressed from the inbox


def test_a_broadcast_to_a_segment_reaches_console_people(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drain(capsys)
    chat_as(HANAKO, files=demo)  # what the demo left due, read
    news = "営業部OB会のお知らせ"
    assert main(["broadcast", "--segment", "department:営業", "--text", news, "--yes"]) == 0
    queued = capsys.readouterr().out
    count = int(re.findall(r"(\d+) messages queued", queued)[0])
    assert count > 30  # the demo's sales department, reached on the console
    assert f"sent {count}" in drain(capsys)
    shown = chat_as(HANAKO, files=demo)
    assert "新着メッセージが 1 件あります" in shown and news in shown
    assert main(["broadcast", "--segment", "channel:console", "--text", "全員へ", "--yes"]) == 0
    assert "300 messages queued" in capsys.readouterr().out


async def test_the_console_inbox_rings_nothing_so_quiet_hours_do_not_hold_it(
    sqlite_app: App, clock: FixedClock
) -> None:
    night: dict[str, Any] = {"quiet_start": time(0), "quiet_end": time(23, 59), "timezone": "UTC"}
    console = await add_people(sqlite_app.db, 1, clock.now(), channel="console", **night)
    telegram = await add_people(sqlite_app.db, 1, clock.now(), prefix="t", **night)
    async with sqlite_app.db.transaction() as session:
        for pid in console + telegram:
            await outbox.enqueue(
                session, person_id=pid, reply=Reply(f"hi {pid}"), key=f"hi:{pid}",
                kind="notice", now=clock.now(),
            )  # fmt: skip
    channels = channel_map([FakeChannel(clock), *local_channels(sqlite_app)])
    worker = Worker(sqlite_app, channels, sleep=VirtualSleep(clock))
    stats = await worker.run(drain=True)
    assert (stats.sent, stats.held) == (1, 1)  # the console's; the Telegram one waits for day


async def test_forgetting_someone_empties_their_console_inbox(
    sqlite_app: App, clock: FixedClock
) -> None:
    from bot.channels.console.tables import ConsoleMessage
    from storage import privacy

    ids = await add_people(sqlite_app.db, 2, clock.now(), channel="console")
    async with sqlite_app.db.transaction() as session:
        for pid in ids:
            await outbox.enqueue(
                session, person_id=pid, reply=Reply(f"hi {pid}"), key=f"hi:{pid}",
                kind="notice", now=clock.now(),
            )  # fmt: skip
    worker = Worker(sqlite_app, channel_map(local_channels(sqlite_app)), sleep=VirtualSleep(clock))
    assert (await worker.run(drain=True)).sent == 2
    async with sqlite_app.db.transaction() as session:
        gone = await session.get(Person, ids[0])
        assert gone is not None
        await privacy.forget(session, gone, clock.now())
    async with sqlite_app.db.transaction() as session:
        left = (await session.scalars(select(ConsoleMessage.payload))).all()
    assert [p["text"] for p in left] == [f"hi {ids[1]}"]


class Waits:
    """Types `first`, then waits (in the console's reading thread) until told to type `then`."""

    def __init__(self, first: str, then: str) -> None:
        self.lines = [first, then]
        self.asked, self.go = threading.Event(), threading.Event()

    def isatty(self) -> bool:
        return False

    def readline(self) -> str:
        if len(self.lines) == 1:
            self.asked.set()
            assert self.go.wait(30)
        return self.lines.pop(0) + "\n" if self.lines else ""


async def test_what_arrives_while_the_chat_is_open_is_shown_after_the_next_line(
    sqlite_app: App, clock: FixedClock, tmp_path: Path
) -> None:
    await load_company(sqlite_app)
    await join_directly(sqlite_app, "hr@example.com")
    screen, person = io.StringIO(), Waits("/help", "/help")
    console = ConsoleChat(sqlite_app, "hr@example.com", cast(TextIO, person), screen, tmp_path)
    running = asyncio.create_task(console.run())
    await asyncio.to_thread(person.asked.wait, 30)  # the first answer is on the screen
    assert "New for you" not in screen.getvalue()
    async with sqlite_app.db.transaction() as session:
        hr = await people.person_by_email(session, "hr@example.com")
        assert hr is not None
        await outbox.enqueue(
            session, person_id=hr.id, reply=Reply("the referral moved on"), key="r:1",
            kind="notice", now=clock.now(),
        )  # fmt: skip
    worker = Worker(sqlite_app, channel_map(local_channels(sqlite_app)), sleep=VirtualSleep(clock))
    assert (await worker.run(drain=True)).sent == 1
    person.go.set()
    assert await running == 0
    after = screen.getvalue().split("New for you: 1 message", 1)
    assert len(after) == 2 and "the referral moved on" in after[1], screen.getvalue()
