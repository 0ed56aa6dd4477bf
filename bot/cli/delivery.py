"""`alumni-bot worker [--drain]` and `alumni-bot broadcast --segment SEG --text TEXT [--yes]`
(docs/contracts.md). Registered by bot/cli/__init__.py, which owns the parser
and error handling."""

from __future__ import annotations

import argparse
import asyncio
import sys
from contextlib import ExitStack

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bot.cli.common import CommandFailed, err, out, with_app
from bot.core.platforms import DELIVERABLE, nothing_configured
from bot.runtime import scheduler
from bot.runtime.app import App
from bot.runtime.delivery import Worker, channel_map
from bot.runtime.metrics_http import serving_metrics
from bot.runtime.signals import stop_on_signals
from handlers import broadcasts as feature
from storage import audit
from storage import broadcasts as store
from storage import delivery as outbox

SEGMENT_HELP = (
    f"all, department:NAME, skill:NAME, channel:{'|'.join(DELIVERABLE)} "
    "(also join_route:new_grad|mid_career, comeback, event:ID)"
)


def tcp_port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port (1-65535): {text!r}")
    return port


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("worker", help="scheduled work and message delivery (the Procfile worker)")
    p.add_argument("--drain", action="store_true", help="exit once nothing is due")
    p.add_argument(
        "--metrics-port", type=tcp_port, metavar="N",
        help="serve Prometheus /metrics on 0.0.0.0:N (overrides WORKER_METRICS_PORT)",
    )  # fmt: skip
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("broadcast", help="send an announcement to a segment of the alumni")
    p.add_argument("--segment", required=True, metavar="SEG", help=SEGMENT_HELP)
    p.add_argument("--text", required=True, help="the message (one language; max 3000)")
    p.add_argument("--urgent", action="store_true", help="deliver even during quiet hours")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_broadcast)


def cmd_worker(args: argparse.Namespace) -> int:
    from bot.channels import configured_channels, local_channels

    async def work(app: App) -> int:
        platforms = configured_channels(app)
        if not platforms:  # still useful: the console's inbox needs no credentials
            err.print(f"console only: {nothing_configured()} to reach people elsewhere")
        channels = platforms + local_channels(app)
        worker = Worker(app, channel_map(channels))
        port = args.metrics_port or app.settings.worker_metrics_port
        with ExitStack() as stack:
            try:
                stack.enter_context(serving_metrics(port))
            except OSError as exc:
                raise CommandFailed(f"cannot serve metrics on port {port}: {exc}") from None
            stack.enter_context(stop_on_signals(worker.stop, f"delivery worker {worker.name}"))
            for channel in channels:
                await channel.start()
            try:
                if args.drain:  # what is due now: every tick once, then deliver until none is left
                    await scheduler.run_all(app)
                    stats = await worker.run(drain=True)
                else:
                    async with scheduler.ticking(app):
                        stats = await worker.run()
                async with app.db.sessions() as session:
                    left = await outbox.backlog(session, app.clock.now())
            finally:
                for channel in channels:
                    await channel.stop()
        if stats.reclaimed:
            out.print(f"{stats.reclaimed} messages were sent again after a worker died mid-send")
        if worker.stopping:  # SIGTERM or SIGINT: the worker logged what it released
            return 0
        if args.drain and left.leased:
            until = left.leased_until.isoformat(timespec="seconds") if left.leased_until else "?"
            raise CommandFailed(
                f"not drained: {left.leased} messages are leased by another worker (or one that"
                f" died) until {until}; run again after that ({stats.summary()})"
            )
        if left.later and left.next_at is not None:
            at = left.next_at.isoformat(timespec="seconds")
            waiting = f"{left.later} messages wait until {at} or later"
            out.print(f"nothing due now: {waiting} ({stats.summary()})")
        else:
            out.print(f"nothing due: {stats.summary()}")
        return 0

    return asyncio.run(with_app(work))


def cmd_broadcast(args: argparse.Namespace) -> int:
    try:
        segment = store.parse_segment(args.segment)
    except store.BadSegment:
        raise CommandFailed(f"bad segment {args.segment!r}: use {SEGMENT_HELP}", 2) from None
    text = args.text.strip()
    if not text or len(text) > feature.MAX_TEXT:
        raise CommandFailed(f"--text must have 1 to {feature.MAX_TEXT} characters", 2)

    async def work(app: App) -> int:
        async with app.db.transaction() as session:
            try:
                await store.check_segment(session, segment)
            except store.BadSegment:
                raise CommandFailed(f"bad segment {args.segment!r}: no such event", 2) from None
            total = sum((await store.count(session, segment)).values())
        if total == 0:
            out.print(f"nobody in segment {segment}: nothing sent")
            return 0
        if not args.yes:
            if not sys.stdin.isatty():
                raise CommandFailed(
                    f"refusing to send to {total} people without --yes (no terminal to ask)", 2
                )
            question = f"Send to {total} people in segment {segment}? [y/N] "
            answer = await asyncio.to_thread(input, question)
            if answer.strip().lower() not in ("y", "yes"):
                out.print("nothing sent")
                return 1
        columns = (
            TextColumn("queuing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task("queuing", total=total)
            now = app.clock.now()
            async with app.db.transaction() as session:
                item = store.create(
                    session,
                    author_id=None,
                    text=text,
                    segment=segment,
                    urgent=args.urgent,
                    now=now,
                    buttons=[feature.INTERESTED],
                )
                await session.flush()
                queued = await feature.queue(
                    session,
                    app.catalogs,
                    app.settings,
                    item,
                    now,
                    progress=lambda n: progress.update(task, completed=n),
                )
                await audit.record(
                    session,
                    now,
                    None,
                    "broadcast",
                    f"broadcast:{item.id}",
                    segment=str(segment),
                    recipients=queued,
                    via="cli",
                )
        out.print(
            f"broadcast #{item.id}: {queued} messages queued for segment {segment}; "
            "a worker delivers them (alumni-bot worker)"
        )
        return 0

    return asyncio.run(with_app(work))
