"""The interaction log: `log` records a contact — with whom, how, when, and an optional note.

`log 山田 online yesterday -- lunch near the old office` in one line, or `log` alone for a
form. Names are looked up Japanese-aware among the person's former colleagues and managers first,
then everyone (storage/names.py); several close matches are offered as buttons. A contact is
stored once per pair, day and kind, whoever logs it.

Command: log. Buttons: log.pick, log.form. Form: log.save."""

from __future__ import annotations

from datetime import date, timedelta

from rapidfuzz import fuzz

from bot.core.forms import FieldError, parse_date
from bot.core.normalize import fold
from bot.core.types import (
    Button,
    FieldKind,
    Form,
    FormError,
    FormField,
    Incoming,
    Reply,
    UserFacingError,
)
from bot.dispatch.context import Context
from storage import interactions, names
from storage.models import InteractionKind, Person

KIND_WORDS = {
    InteractionKind.IN_PERSON: {"in_person", "inperson", "in-person", "face", "offline", "met",
                                "対面", "直接", "会った", "会いました", "リアル"},
    InteractionKind.ONLINE: {"online", "オンライン", "zoom", "teams", "meet", "slack", "chat",
                             "call", "phone", "電話", "チャット", "ビデオ"},
}  # fmt: skip
CODES = {"p": InteractionKind.IN_PERSON, "o": InteractionKind.ONLINE}
CODE_OF = {v: k for k, v in CODES.items()}


def parse(text: str, today: date) -> tuple[str, InteractionKind | None, date | None, str | None]:
    """(name, kind, day, note) from `NAME [how] [when] [-- note]`, in either language."""
    body, _, note = text.replace("—", "--").partition("--")
    body = body.replace("in person", "in_person").replace("In person", "in_person")
    name_words: list[str] = []
    kind: InteractionKind | None = None
    day: date | None = None
    for word in body.split():
        lowered = word.lower()
        matched = next((k for k, words in KIND_WORDS.items() if lowered in words), None)
        if matched is not None:
            kind = matched
            continue
        try:
            day = parse_date(word, today)
            continue
        except FieldError:
            name_words.append(word)
    return " ".join(name_words), kind, day, note.strip() or None


def check_day(ctx: Context, day: date) -> None:
    today = ctx.today
    if day > today:
        raise UserFacingError("log.future")
    if day < today - timedelta(days=ctx.settings.checkins.max_backdate_days):
        raise UserFacingError("log.too_old", days=ctx.settings.checkins.max_backdate_days)


def is_me(me: Person, text: str) -> bool:
    query = fold(text)
    return any(fuzz.ratio(query, fold(own)) >= 90 for own in (me.name, me.name_kana or "") if own)


async def find(ctx: Context, name: str) -> list[names.Found]:
    if is_me(ctx.me, name):
        raise UserFacingError("log.self")
    found = await names.lookup(ctx.session, name, ctx.me.id)
    if not found:
        raise UserFacingError("log.nobody", name=name)
    return found


async def log(ctx: Context, msg: Incoming) -> Reply:
    if not msg.args:
        return log_form(ctx)
    today = ctx.today
    name, kind, day, note = parse(msg.arg_text, today)
    if not name:
        raise UserFacingError("log.usage")
    day = day or today
    check_day(ctx, day)
    found = await find(ctx, name)
    if len(found) > 1:
        code = CODE_OF.get(kind, "-") if kind else "-"
        rows = tuple(
            (Button(f.name[:75], "log.pick", f"{f.person_id}:{code}:{day:%Y%m%d}"),) for f in found
        )
        return Reply(ctx.t("log.which", name=name), buttons=rows)
    return await save(ctx, found[0].person_id, kind, day, note)


async def pick(ctx: Context, msg: Incoming) -> Reply:
    parts = msg.payload.split(":")
    if len(parts) != 3 or not parts[0].isdigit() or parts[1] not in (*CODES, "-"):
        raise UserFacingError("error.expired_button")
    try:
        day = date(int(parts[2][:4]), int(parts[2][4:6]), int(parts[2][6:]))
    except ValueError:
        raise UserFacingError("error.expired_button") from None
    check_day(ctx, day)
    return await save(ctx, int(parts[0]), CODES.get(parts[1]), day, None)


async def save(
    ctx: Context, other_id: int, kind: InteractionKind | None, day: date, note: str | None
) -> Reply:
    other = await ctx.session.get(Person, other_id)
    if other is None or other.is_forgotten:
        raise UserFacingError("log.nobody_anymore")
    if other.id == ctx.me.id:
        raise UserFacingError("log.self")
    if kind is None:
        rows = tuple(
            (Button(ctx.t(f"log.kind.{k}"), "log.pick", f"{other.id}:{c}:{day:%Y%m%d}"),)
            for c, k in CODES.items()
        )
        return Reply(ctx.t("log.how", name=other.name), buttons=rows)
    new = await interactions.record(
        ctx.session, ctx.me.id, other.id, kind, day,
        source="log", logged_by=ctx.me.id, now=ctx.now, note=note,
    )  # fmt: skip
    when = ctx.t.date(day)
    if not new:
        return Reply(ctx.t("log.duplicate", name=other.name, when=when))
    return Reply(ctx.t("log.saved", name=other.name, how=ctx.t(f"log.kind.{kind}"), when=when))


def log_form(ctx: Context, kind: str = "") -> Reply:
    t = ctx.t
    return Reply(
        "",
        form=Form(
            title=t("log.form_title"),
            submit_action="log.save",
            fields=(
                FormField("who", t("log.who"), hint=t("log.who_hint"), max_length=100),
                FormField(
                    "how",
                    t("log.how_label"),
                    FieldKind.CHOICE,
                    choices=tuple((k.value, t(f"log.kind.{k.value}")) for k in InteractionKind),
                    initial=kind,
                ),
                FormField("when", t("log.when"), FieldKind.DATE, initial=t("log.today")),
                FormField("note", t("log.note"), FieldKind.LONG_TEXT, required=False),
            ),
        ),
    )


async def form(ctx: Context, msg: Incoming) -> Reply:
    """ "Someone else" from a check-in: the log form with how already chosen."""
    return log_form(ctx, CODES[msg.payload].value if msg.payload in CODES else "")


async def save_form(ctx: Context, msg: Incoming) -> Reply:
    values = msg.values
    try:
        day = date.fromisoformat(values.get("when", ""))
        check_day(ctx, day)
        found = await find(ctx, values.get("who", ""))
    except ValueError:
        raise FormError({"when": "form.bad_date"}) from None
    except UserFacingError as exc:
        field = "when" if exc.key in ("log.future", "log.too_old") else "who"
        raise FormError({field: exc.key}, **exc.params) from None
    if len(found) > 1:
        raise FormError({"who": "log.ambiguous"}, names="、".join(f.name for f in found))
    kind = InteractionKind(values["how"]) if values.get("how") in CODE_OF else None
    return await save(ctx, found[0].person_id, kind, day, values.get("note") or None)
