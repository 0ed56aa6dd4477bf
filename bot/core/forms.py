"""Forms asked one field at a time (console, Telegram), with state in the database so a restart
resumes where the person was. Slack shows the same `Form` as a modal instead.

Each field is checked as it is answered (`parse_field`); the handler that receives the
completed values may still raise `FormError`, which sends the person back to that field."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from bot.core.days import NotADay, parse_day
from bot.core.i18n import Translator
from bot.core.markup import bold
from bot.core.types import Button, FieldKind, Form, FormField, Reply
from bot.core.zones import find_zone

CANCEL_WORDS = frozenset({"/cancel", "cancel", "キャンセル", "やめる"})
SKIP_WORDS = frozenset({"-", "skip", "スキップ"})
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
FORM_CHOOSE = "form.choose"
FORM_SKIP = "form.skip"
FORM_CANCEL = "form.cancel"


class FieldError(Exception):
    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def parse_date(text: str, today: date) -> date:
    """A date field's answer: `today`, `昨日`, `一昨日`, `11/28`, `11月28日`, ISO…
    (bot/core/days.py; a month and day is the one nearest today, so it reads right for a past
    contact and a coming deadline alike). Weekdays are left out: in a form, 金曜 could be last
    week's or next week's."""
    try:
        day = parse_day(text, today, weekdays=False)
    except NotADay:
        day = None
    if day is None:
        raise FieldError("form.bad_date")
    return day


def parse_datetime(text: str, zone: ZoneInfo) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("/", "-"))
    except ValueError:
        raise FieldError("form.bad_datetime") from None
    return value if value.tzinfo else value.replace(tzinfo=zone)


def parse_field(field: FormField, raw: str, today: date, zone: ZoneInfo) -> str:
    """Check one answer; return it normalised (as text) or raise FieldError."""
    text = raw.strip()
    if not text:
        if field.required:
            raise FieldError("form.required")
        return ""
    if len(text) > field.max_length:
        raise FieldError("form.too_long", max=field.max_length)
    match field.kind:
        case FieldKind.CHOICE:
            for value, label in field.choices:
                if text.casefold() in (value.casefold(), label.casefold()):
                    return value
            raise FieldError("form.bad_choice")
        case FieldKind.DATE:
            return parse_date(text, today).isoformat()
        case FieldKind.DATETIME:
            return parse_datetime(text, zone).isoformat()
        case FieldKind.NUMBER:
            try:
                return str(int(text.replace(",", "")))
            except ValueError:
                raise FieldError("form.bad_number") from None
        case FieldKind.TIME:
            try:
                return time.fromisoformat(text.replace("：", ":")).strftime("%H:%M")
            except ValueError:
                raise FieldError("form.bad_time") from None
        case FieldKind.TIMEZONE:
            found = find_zone(text)  # Asia/Tokyo, tokyo, 東京, JST, +09:00
            if found is None:
                raise FieldError("form.bad_timezone")
            return found
        case FieldKind.EMAIL:
            if not EMAIL.match(text):
                raise FieldError("form.bad_email")
            return text.lower()
        case _:
            return text


def parse_answers(
    form: Form, answers: dict[str, str], today: date, zone: ZoneInfo
) -> tuple[dict[str, str], dict[str, FieldError]]:
    """A whole form answered at once (a Slack modal, a web page): every field checked as
    `parse_field` does; the normalised values, and the problems by field name."""
    values, errors = dict(answers), {}
    for field in form.fields:
        try:
            values[field.name] = parse_field(field, answers.get(field.name, ""), today, zone)
        except FieldError as exc:
            errors[field.name] = exc
    return values, errors


def question(form: Form, step: int, t: Translator, error: str | None = None) -> Reply:
    """The message that asks field number `step`."""
    field = form.fields[step]
    lines = []
    if step == 0:
        lines.append(bold(form.title))
    if error:
        lines.append(error)
    head = f"({step + 1}/{len(form.fields)}) {field.label}"
    if field.hint:
        head += f"\n{field.hint}"
    if field.initial:  # a choice shows its label, never the stored value ("open")
        shown = dict(field.choices).get(field.initial, field.initial)
        head += "\n" + t("form.current", value=shown)
    lines.append(head)
    rows: list[tuple[Button, ...]] = [
        (Button(label, FORM_CHOOSE, value),) for value, label in field.choices
    ]
    controls = [Button(t("form.cancel_button"), FORM_CANCEL)]
    if not field.required or field.initial:
        controls.insert(0, Button(t("form.skip_button"), FORM_SKIP))
    rows.append(tuple(controls))
    return Reply("\n".join(lines), buttons=tuple(rows))
