"""`alumni-bot`: the command line of docs/contracts.md. Exit 0 on success; on error, non-zero with
one clear line on stderr (2 for bad usage or settings)."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import signal
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from rich.progress import Progress
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli import access as access_cli
from bot.cli import bridge as bridge_cli
from bot.cli import console_web as console_web_cli
from bot.cli import delivery as delivery_cli
from bot.cli import outcomes as outcomes_cli
from bot.cli import report as report_cli
from bot.cli import schedule as schedule_cli
from bot.cli.common import CommandFailed, err, out, with_app
from bot.cli.delivery import SEGMENT_HELP
from bot.cli.invitations import invite_all
from bot.core.platforms import PLATFORMS, Platform, invite_links, nothing_configured
from bot.core.settings import SettingsError, load_settings
from bot.runtime.app import App
from handlers import checkins
from storage import importer, invites, migrate, people

# -- commands ---------------------------------------------------------------------------------


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.channels.console import ConsoleChat

    async def work(app: App) -> int:
        return await ConsoleChat(app, args.as_email).run()

    return asyncio.run(with_app(work))


def cmd_db(args: argparse.Namespace) -> int:
    if args.action == "revision":
        if not args.message:
            raise CommandFailed("db revision needs -m MESSAGE: what the change is for")
        path = asyncio.run(migrate.revision(args.message))
        if path is None:
            raise CommandFailed("no changes: the models and the migrations agree")
        out.print(str(path))
        return 0

    async def work(app: App) -> int:
        await migrate.upgrade(app.db)
        out.print("database is up to date")
        return 0

    return asyncio.run(with_app(work, upgrade=False))


NEXT = (
    "next: alumni-bot worker --drain (delivers what is due), then"
    " alumni-bot chat --as hanako@example.com"
)


def cmd_demo(args: argparse.Namespace) -> int:
    from storage import demo

    async def work(app: App) -> int:
        async with app.db.transaction() as session:
            loaded = await demo.load(session, app.clock.now())
        if loaded:  # what the demo left due is queued now, even on a weekend or a holiday
            await checkins.tick_checkins(app, any_day=True)
            await checkins.tick_nudges(app, any_day=True)
        out.print(
            f"demo company loaded: {loaded} people; {NEXT}"
            if loaded
            else f"demo company already loaded; {NEXT}"
        )
        return 0

    return asyncio.run(with_app(work))


def cmd_import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise CommandFailed(f"no such file: {path}", 2)
    data = path.read_bytes()

    async def work(app: App) -> int:
        from handlers import imports

        async def load(session: AsyncSession, data: bytes, now: datetime,
                       progress: importer.Progress) -> importer.ImportResult:  # fmt: skip
            if args.kind == "outcomes":
                return await outcomes_cli.importer(app)(session, data, now, progress)
            return await imports.run(app, session, args.kind, data, now, progress)

        total = max(data.count(b"\n") - 1, 1)
        with Progress(console=err, transient=True) as progress:
            task = progress.add_task(f"importing {args.kind}", total=total)
            try:
                async with app.db.transaction() as session:
                    result = await load(
                        session, data, app.clock.now(), lambda n: progress.update(task, completed=n)
                    )
            except importer.ImportFailed as exc:
                progress.stop()
                for error in exc.errors:
                    err.print(f"{path}: {error}")
                raise CommandFailed(f"{path}: {exc}") from None
        out.print(
            f"{args.kind}: {result.created} created, {result.updated} updated, "
            f"{result.unchanged} unchanged"
        )
        return 0

    return asyncio.run(with_app(work))


def cmd_invite(args: argparse.Namespace) -> int:
    if args.all:
        return invite_all(args)
    if args.segment or args.yes:
        raise CommandFailed("--segment and --yes go with --all", 2)

    async def work(app: App) -> int:
        async with app.db.transaction() as session:
            person = await people.person_by_email(session, args.email)
            if person is None or person.is_forgotten:
                raise CommandFailed(f"nobody with email {args.email}: import them first")
            invite = await invites.create(
                session,
                person=person,
                created_by=None,
                now=app.clock.now(),
                days=args.days or app.settings.invites.default_expiry_days,
            )
        out.print(invite.code)
        for _platform, link in invite_links(app.settings, invite.code):
            out.print(link)
        return 0

    return asyncio.run(with_app(work))


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.channels import configured_channels
    from bot.runtime.web import build_web_app

    settings = load_settings(**({"public_url": args.public_url} if args.public_url else {}))
    app = App.build(settings)

    async def prepare() -> None:
        await app.prepare()
        # Pooled connections belong to this event loop (asyncpg's cannot cross loops), and
        # uvicorn runs its own: let the pool reconnect there.
        await app.db.engine.dispose()

    asyncio.run(prepare())
    web = build_web_app(app, configured_channels(app))
    # uvicorn shuts down gracefully on SIGTERM / SIGINT (the lifespan gives back what the inbox
    # had not handled), then hands the signal to the handler it found: this one, so a clean
    # stop exits 0 instead of dying of the signal.
    stopped: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, _frame: stopped.append(number))
    uvicorn.run(web, host="0.0.0.0", port=settings.port, log_level="info")
    if stopped:
        err.print(f"serve stopped cleanly ({signal.Signals(stopped[0]).name})")
    return 0


def cmd_platform_setup(args: argparse.Namespace) -> int:
    platform: Platform = args.platform

    async def work(app: App) -> int:
        if not platform.configured(app.settings) or not platform.setup:
            raise CommandFailed(f"{platform.name} is not configured: set {platform.credentials}", 2)
        module, _, name = platform.setup.partition(":")
        out.print(await getattr(importlib.import_module(module), name)(app))
        return 0

    return asyncio.run(with_app(work))


def cmd_run(args: argparse.Namespace) -> int:
    from bot.channels import configured_channels, local_channels
    from bot.runtime import scheduler
    from bot.runtime.delivery import Worker, channel_map

    async def work(app: App) -> int:
        channels = configured_channels(app)
        if not channels:
            raise CommandFailed(
                nothing_configured() + " (or try `alumni-bot chat`)",
                2,
            )
        for channel in channels:
            await channel.start()
        try:
            async with scheduler.ticking(app), asyncio.TaskGroup() as group:
                group.create_task(app.inbox.run())
                for channel in channels:
                    group.create_task(channel.poll())
                delivering = channel_map(channels + local_channels(app))
                group.create_task(Worker(app, delivering).run())
        finally:
            await app.inbox.stop()
            for channel in channels:
                await channel.stop()
        return 0

    return asyncio.run(with_app(work))


# -- parser -----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alumni-bot", description="Keep alumni in touch with former colleagues and managers."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("chat", help="chat with the bot on the console")
    p.add_argument("--as", dest="as_email", default="admin@example.com", metavar="EMAIL",
                   help="who you are (default: the demo admin)")  # fmt: skip
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("run", help="development: every configured channel in one process")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("serve", help="the web process: the platforms' webhooks, OAuth and health")
    p.add_argument("--public-url", help="this server's public URL (registers the webhook)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("db", help="database maintenance")
    p.add_argument(
        "action", choices=["upgrade", "revision"],
        help="upgrade: apply migrations; revision: write a new one from the models' changes",
    )  # fmt: skip
    p.add_argument("-m", "--message", help="revision: what the change is for")
    p.set_defaults(func=cmd_db)

    p = sub.add_parser("demo", help="load the demo company (idempotent)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("import", help="bulk load a CSV file, all or nothing")
    p.add_argument("kind", choices=["people", "relations", "openings", "outcomes"])
    p.add_argument("file", metavar="FILE.csv")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("invite", help="print a new invite code, or invite a segment by mail")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", help="one person: print their code")
    who.add_argument(
        "--all", action="store_true",
        help="queue an invitation mail for everyone in the segment not yet in",
    )  # fmt: skip
    p.add_argument("--days", type=int, help="days until it expires (--email)")
    p.add_argument(
        "--segment", metavar="SEG", help="with --all: " + SEGMENT_HELP + "; default alumni"
    )
    p.add_argument("--yes", action="store_true", help="with --all: do not ask for confirmation")
    p.set_defaults(func=cmd_invite)

    access_cli.add_parsers(sub)

    delivery_cli.add_parsers(sub)

    report_cli.add_parsers(sub)

    schedule_cli.add_parsers(sub)

    outcomes_cli.add_parsers(sub)

    console_web_cli.add_parsers(sub)

    bridge_cli.add_parsers(sub)

    for platform in PLATFORMS:  # a platform's own setup step (LINE's rich menu)
        if platform.setup:
            p = sub.add_parser(platform.name, help=f"{platform.name}: set the bot up there")
            p.add_argument("action", choices=["setup"])
            p.set_defaults(func=cmd_platform_setup, platform=platform)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.command in ("run", "serve", "worker") else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        code: int = args.func(args)
    except SettingsError as exc:
        err.print(f"alumni-bot: {exc}")
        return 2
    except CommandFailed as exc:
        err.print(f"alumni-bot: {exc}")
        return exc.code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one clear line, never a traceback, for an operator's script
        logging.getLogger("alumni-bot").debug("failed", exc_info=True)
        err.print(f"alumni-bot: {type(exc).__name__}: {exc}")
        return 1
    return code
