"""`alumni-bot outcome KIND EMAIL --value YEN [--on DATE] [--note TEXT]`, its corrections and
withdrawals (`--correct ID`, `--withdraw ID`), and `import outcomes FILE.csv`: the command
line's side of the outcomes ledger (storage/outcomes.py), audited the same way (no actor: the
operator). Refusals are outcomes.po's English messages, on one line."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli.common import CommandFailed, out, with_app
from bot.runtime.app import App
from storage import outcomes as ledger
from storage.importer import ImportResult, Progress
from storage.models import Outcome, Person

Loader = Callable[[AsyncSession, bytes, datetime, Progress | None], Awaitable[ImportResult]]


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("outcome", help="record what the network brought (or correct, withdraw)")
    p.add_argument("kind", nargs="?", metavar="KIND", help=" | ".join(ledger.KINDS))
    p.add_argument("email", nargs="?", metavar="EMAIL", help="whose outcome it is")
    p.add_argument("--value", metavar="YEN", help="the value (in --currency when given)")
    p.add_argument(
        "--salary", metavar="YEN", help="a hire's annual salary: values it by the fee rate"
    )
    p.add_argument("--currency", metavar="CODE", help="the value's currency (default JPY)")
    p.add_argument("--rate", metavar="YEN", help="yen for one unit of --currency")
    p.add_argument("--on", metavar="DATE", help="when it happened (default: today)")
    p.add_argument("--note", metavar="TEXT")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--correct", metavar="ID", help="change outcome ID (only what is given)")
    which.add_argument("--withdraw", metavar="ID", help="withdraw outcome ID")
    p.set_defaults(func=cmd_outcome)


def _today(app: App) -> date:
    return app.clock.now().astimezone(ZoneInfo(app.settings.default_timezone)).date()


def _entry(app: App, key: str, o: Outcome, name: str) -> str:
    t = app.catalogs.translator("en")
    return t(key, id=o.id, kind=t(f"outcomes.kind.{o.kind}"), name=name,
             value=ledger.yen(o.value_yen), day=o.occurred_on.isoformat())  # fmt: skip


def cmd_outcome(args: argparse.Namespace) -> int:
    given = {"value": args.value, "salary": args.salary, "currency": args.currency,
             "rate": args.rate, "on": args.on, "note": args.note}  # fmt: skip
    if not (args.correct or args.withdraw) and not (args.kind and args.email):
        raise CommandFailed("outcome needs KIND and EMAIL (or --correct ID / --withdraw ID)", 2)

    async def work(app: App) -> int:
        now, today = app.clock.now(), _today(app)
        try:
            async with app.db.transaction() as session:
                if args.withdraw:
                    found = await ledger.get(session, args.withdraw)
                    await ledger.withdraw(session, found, actor_id=None, now=now)
                    out.print(app.catalogs.text("en", "outcomes.withdrawn_done", id=found.id))
                    return 0
                person = await ledger.person_for(session, args.email) if args.email else None
                if args.correct:
                    found = await ledger.get(session, args.correct)
                    o = await ledger.correct(
                        session, found, app.settings.outcomes, today, person=person,
                        actor_id=None, now=now, kind=args.kind, **given,
                    )  # fmt: skip
                    key = "outcomes.corrected"
                else:
                    assert person is not None
                    entry = ledger.validate(app.settings.outcomes, today, kind=args.kind, **given)
                    o = await ledger.record(session, person, entry, source="cli", actor_id=None,
                                            now=now)  # fmt: skip
                    key = "outcomes.recorded"
                who = person or await session.get(Person, o.person_id)
                out.print(_entry(app, key, o, who.name if who else "—"))
        except ledger.BadOutcome as exc:
            raise CommandFailed(app.catalogs.text("en", exc.key, **exc.params), 2) from None
        return 0

    return asyncio.run(with_app(work))


def importer(app: App) -> Loader:
    """`import outcomes FILE.csv`'s loader, in the shape `cmd_import` runs."""

    async def run(
        session: AsyncSession, data: bytes, now: datetime, progress: Progress | None = None
    ) -> ImportResult:
        return await ledger.import_outcomes(
            session, data, now, app.settings.outcomes, _today(app), progress
        )

    return run
