"""The interaction log: `log` records a contact — with whom, how, when, and an optional note.

`log 山田 online yesterday -- lunch near the old office` in one line, or `log` alone for a
form. How (`zoom`, `対面`…), when (`昨日`, `先週金曜`, `11/28`, ISO…, in the person's own time
zone) and the note are taken out of the line first, so only the name is looked up. Names are
looked up Japanese-aware among the person's former colleagues and managers first, then everyone
(storage/names.py). A contact is logged without asking only when the name matches exactly one
person exactly; otherwise the bot asks which one, with buttons that tell namesakes apart by
department and years. The note travels in the buttons, so it survives "which one?" and "how?". A
contact is stored once per pair, day and kind, whoever logs it.

Command: log. Buttons: log.pick, log.form. Form: log.save."""

from __future__ import annotations

from datetime import date, timedelta

from rapidfuzz import fuzz
from sqlalchemy import select

from bot.core.days import NotADay, join_phrases, parse_day
from bot.core.normalize import fold, number
from bot.core.readings import strip_honorifics
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
                                "対面", "直接", "会った", "会いました", "リアル", "会って", "面談"},
    InteractionKind.ONLINE: {"online", "オンライン", "zoom", "ズーム", "teams", "meet", "slack",
                             "chat", "call", "phone", "video", "line", "webex", "remote",
                             "電話", "チャット", "ビデオ", "リモート", "通話", "ウェブ"},
}  # fmt: skip
FILLERS = {"と", "with", "on", "で", "に"}  # 「佐藤 と zoom で」: words that are neither
PARTICLE = ("で", "に", "と")
CODES = {"p": InteractionKind.IN_PERSON, "o": InteractionKind.ONLINE}
CODE_OF = {v: k for k, v in CODES.items()}
NOTE_MAX = 1000  # the note rides in button payloads (Slack: 2000 characters a value)


FOLDED_KINDS = {fold(w): kind for kind, words in KIND_WORDS.items() for w in words}


def kind_of(word: str) -> InteractionKind | None:
    """`zoom`, `ＺＯＯＭ`, 「オンラインで」: how people met, or None."""
    folded = fold(word)
    if folded not in FOLDED_KINDS and folded.endswith(PARTICLE):
        folded = folded[:-1]
    return FOLDED_KINDS.get(folded)


def parse(text: str, today: date) -> tuple[str, InteractionKind | None, date | None, str | None]:
    """(name, kind, day, note) from `NAME [how] [when] [-- note]`, in either language and in any
    order; a broken date (`2/30`) is a mistake to point out, never part of the name."""
    body, _, note = text.replace("—", "--").replace("――", "--").partition("--")
    body = body.replace("in person", "in_person").replace("In person", "in_person")
    name_words: list[str] = []
    kind: InteractionKind | None = None
    day: date | None = None
    for word in join_phrases(body).split():
        matched = kind_of(word)
        if matched is not None:
            kind = matched
            continue
        try:
            found = parse_day(word, today)
        except NotADay:
            raise UserFacingError("log.bad_date", date=word) from None
        if found is not None:
            day = found
        elif word.casefold() not in FILLERS and (bare := word.strip(",、，")):
            name_words.append(bare)  # "Smith, Emma"
    return " ".join(name_words), kind, day, note.strip() or None


def check_day(ctx: Context, day: date) -> None:
    today = ctx.today
    if day > today:
        raise UserFacingError("log.future")
    if day < today - timedelta(days=ctx.settings.checkins.max_backdate_days):
        raise UserFacingError("log.too_old", days=ctx.settings.checkins.max_backdate_days)


def is_me(me: Person, text: str) -> bool:
    query = fold(strip_honorifics(text))
    return any(fuzz.ratio(query, fold(own)) >= 90 for own in (me.name, me.name_kana or "") if own)


async def find(ctx: Context, name: str) -> names.Lookup:
    if is_me(ctx.me, name):
        raise UserFacingError("log.self")
    found = await names.lookup(ctx.session, name, ctx.me.id)
    if not found.found:
        raise UserFacingError("log.nobody", name=name)
    return found


def payload(person_id: int, kind: InteractionKind | None, day: date, note: str | None) -> str:
    code = CODE_OF.get(kind, "-") if kind else "-"
    return f"{person_id}:{code}:{day:%Y%m%d}" + (f":{note}" if note else "")


async def log(ctx: Context, msg: Incoming) -> Reply:
    if not msg.args:
        return log_form(ctx)
    today = ctx.today
    name, kind, day, note = parse(msg.arg_text, today)
    if not name:
        raise UserFacingError("log.usage")
    if note and len(note) > NOTE_MAX:
        raise UserFacingError("log.note_too_long", max=NOTE_MAX)
    day = day or today
    check_day(ctx, day)
    found = await find(ctx, name)
    if not found.sure:
        return await choices(ctx, name, found, kind, day, note)
    return await save(ctx, found.found[0].person_id, kind, day, note)


async def choices(
    ctx: Context,
    name: str,
    found: names.Lookup,
    kind: InteractionKind | None,
    day: date,
    note: str | None,
) -> Reply:
    """Which one? A button per person, namesakes told apart by department and years."""
    ids = [f.person_id for f in found.found]
    people = {p.id: p for p in await ctx.session.scalars(select(Person).where(Person.id.in_(ids)))}
    rows = tuple(
        (Button(label(ctx, people[i])[:75], "log.pick", payload(i, kind, day, note)),)
        for i in ids
        if i in people
    )
    exact = found.found[0].score >= 100
    text = ctx.t("log.which" if exact else "log.did_you_mean", name=name)
    if found.more:
        text += "\n" + ctx.t("log.more", count=found.more)
    return Reply(text, buttons=rows)


def label(ctx: Context, person: Person) -> str:
    """「佐藤 花子 (営業, 2015–2021)」: enough to tell two 佐藤 花子 apart."""
    details = [person.department] if person.department else []
    if person.joined_on and person.left_on:
        details.append(ctx.t("log.years", start=person.joined_on.year, end=person.left_on.year))
    elif person.joined_on:
        details.append(ctx.t("log.years_now", start=person.joined_on.year))
    elif person.left_on:
        details.append(ctx.t("log.years_left", end=person.left_on.year))
    if not details:
        return person.name
    return ctx.t("log.choice", name=person.name, details=", ".join(details))


async def pick(ctx: Context, msg: Incoming) -> Reply:
    parts = msg.payload.split(":", 3)
    other = number(parts[0])
    if len(parts) < 3 or other is None or parts[1] not in (*CODES, "-"):
        raise UserFacingError("error.expired_button")
    try:
        day = date(int(parts[2][:4]), int(parts[2][4:6]), int(parts[2][6:]))
    except ValueError:
        raise UserFacingError("error.expired_button") from None
    check_day(ctx, day)
    note = parts[3] if len(parts) == 4 else None
    return await save(ctx, other, CODES.get(parts[1]), day, note)


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
            (Button(ctx.t(f"log.kind.{k}"), "log.pick", payload(other.id, k, day, note)),)
            for k in CODES.values()
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
    note = values.get("note") or None
    try:
        day = date.fromisoformat(values.get("when", ""))
        check_day(ctx, day)
        found = await find(ctx, values.get("who", ""))
    except ValueError:
        raise FormError({"when": "form.bad_date"}) from None
    except UserFacingError as exc:
        field = "when" if exc.key in ("log.future", "log.too_old") else "who"
        raise FormError({field: exc.key}, **exc.params) from None
    if note and len(note) > NOTE_MAX:
        raise FormError({"note": "log.note_too_long"}, max=NOTE_MAX)
    kind = InteractionKind(values["how"]) if values.get("how") in CODE_OF else None
    if not found.sure:
        return await choices(ctx, values.get("who", ""), found, kind, day, note)
    return await save(ctx, found.found[0].person_id, kind, day, note)
