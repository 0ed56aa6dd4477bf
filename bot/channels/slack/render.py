"""`Reply` and `Form` as Slack Block Kit: messages, the App Home view and modals.

Pure functions, no I/O, so the limits can be tested without a workspace. Slack's limits
(docs/architecture.md): 50 blocks a message and 100 in modals and Home, 3000 characters a section,
150 a header, 75 a button label, 2000 a button value, 255 an `action_id`; a modal's title, submit
and close labels 24. Text is escaped (`&`, `<`, `>`) so what a person typed can never become a
mention such as `<!channel>`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.core import forms, markup
from bot.core.types import Button, FieldKind, Form, FormField, Reply

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
SECTION_CHARS = 3000
BUTTON_LABEL = 75
BUTTON_VALUE = 2000
ACTION_ID = 255
ACTIONS_ELEMENTS = 25
MODAL_TITLE = 24
METADATA_CHARS = 3000
OPTION_TEXT = 75
OPTION_VALUE = 150
SELECT_OPTIONS = 100
INPUT_CHARS = 3000
FALLBACK_CHARS = 3000
FORM_CALLBACK = "alumni.form"
VALUE = "value"  # the action id of the one element in each modal input block

Block = dict[str, Any]


class MetadataTooLong(ValueError):
    """The form does not fit a modal's 3000-character private_metadata."""


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(markup.plain(text), limit) or " ", "emoji": True}


def chunks(text: str, limit: int = SECTION_CHARS) -> list[str]:
    """Escaped pieces of at most `limit` characters, cut at line ends where possible and never
    inside an entity such as `&amp;`."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        escaped = escape(line)
        joined = f"{current}\n{escaped}" if current else escaped
        if len(joined) <= limit:
            current = joined
            continue
        if current:
            pieces.append(current)
            current = ""
        if len(escaped) <= limit:
            current = escaped
            continue
        for ch in line:  # one line longer than a section: cut it by characters
            piece = escape(ch)
            if len(current) + len(piece) > limit:
                pieces.append(current)
                current = ""
            current += piece
    if current.strip():
        pieces.append(current)
    return pieces


# -- buttons -----------------------------------------------------------------------------------


def action_id(action: str, n: int) -> str:
    """Unique within a message (Slack refuses duplicates): the route's action and a number."""
    value = f"{action}#{n}"
    if len(value) > ACTION_ID:
        raise ValueError(f"action name too long for Slack: {action!r}")
    return value


def parse_action_id(value: str) -> str:
    return value.rsplit("#", 1)[0] if "#" in value else value


def button(b: Button, n: int) -> Block:
    element: Block = {
        "type": "button",
        "text": plain(b.label, BUTTON_LABEL),
        "action_id": action_id(b.action, n),
        "value": b.payload[:BUTTON_VALUE] or "-",
    }
    if b.style in ("primary", "danger"):
        element["style"] = b.style
    return element


def action_blocks(reply: Reply, counter: Iterator[int]) -> list[Block]:
    blocks: list[Block] = []
    for row in reply.buttons:
        for start in range(0, len(row), ACTIONS_ELEMENTS):
            elements = [button(b, next(counter)) for b in row[start : start + ACTIONS_ELEMENTS]]
            if elements:
                blocks.append({"type": "actions", "elements": elements})
    return blocks


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": markup.mrkdwn(text)}}


# -- messages ----------------------------------------------------------------------------------


def reply_blocks(reply: Reply, counter: Iterator[int]) -> list[Block]:
    return [section(piece) for piece in chunks(reply.text)] + action_blocks(reply, counter)


def messages(reply: Reply) -> list[dict[str, Any]]:
    """chat.postMessage arguments (`text` and `blocks`) for one reply: several messages when it
    has more than 50 blocks; every button stays in the last one."""
    counter = iter(range(1, 1_000_000))
    blocks = reply_blocks(reply, counter)
    out: list[dict[str, Any]] = []
    for start in range(0, len(blocks), MESSAGE_BLOCKS):
        part = blocks[start : start + MESSAGE_BLOCKS]
        out.append({"text": fallback(part), "blocks": part})
    return out


def fallback(blocks: list[Block]) -> str:
    """The notification text: the first section, else the first button label."""
    for block in blocks:
        if block["type"] == "section":
            return clip(str(block["text"]["text"]), FALLBACK_CHARS)
    for block in blocks:
        for element in block.get("elements", []):
            return str(element["text"]["text"])
    return "…"


def mark_pressed(blocks: list[Block], pressed: str) -> list[Block]:
    """The message again, its pressed button shown as chosen (for chat.update)."""
    out: list[Block] = []
    for block in blocks:
        if block.get("type") == "actions":
            elements = []
            for element in block.get("elements", []):
                element = dict(element)
                if element.get("action_id") == pressed and element.get("type") == "button":
                    label = str(element.get("text", {}).get("text", ""))
                    if not label.startswith("✓ "):
                        element["text"] = plain("✓ " + label, BUTTON_LABEL)
                    element["style"] = "primary"
                elements.append(element)
            block = {**block, "elements": elements}
        out.append(block)
    return out


# -- App Home ----------------------------------------------------------------------------------


def home_view(replies: list[Reply]) -> dict[str, Any]:
    """The Home tab: every reply as sections and buttons, a divider between them."""
    counter = iter(range(1, 1_000_000))
    blocks: list[Block] = []
    for reply in replies:
        if blocks:
            blocks.append({"type": "divider"})
        blocks += reply_blocks(reply, counter)
    if len(blocks) > VIEW_BLOCKS:
        blocks = [*blocks[: VIEW_BLOCKS - 1], section("…")]
    return {"type": "home", "blocks": blocks}


# -- modals ------------------------------------------------------------------------------------


def form_metadata(form: Form, conversation: str) -> str:
    """What a submission needs to check the values: no labels, hints or initial values."""
    data = {
        "a": form.submit_action,
        "p": form.payload,
        "c": conversation,
        "f": [
            [f.name, str(f.kind), f.required, f.max_length, [v for v, _ in f.choices]]
            for f in form.fields
        ],
    }
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    if len(text) > METADATA_CHARS:
        raise MetadataTooLong(form.submit_action)
    return text


def form_from_metadata(text: str) -> tuple[Form, str]:
    """The form (labels are the field names) and the conversation it was opened from; raises
    ValueError for anything that is not what `form_metadata` wrote."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("metadata is not an object")
    fields = tuple(
        FormField(
            name=str(name),
            label=str(name),
            kind=FieldKind(kind),
            required=bool(required),
            max_length=int(max_length),
            choices=tuple((str(v), str(v)) for v in choices),
        )
        for name, kind, required, max_length, choices in data["f"]
    )
    form = Form(title="", submit_action=str(data["a"]), fields=fields, payload=str(data["p"]))
    return form, str(data["c"])


def _element(f: FormField, today: date) -> Block:
    initial = f.initial
    match f.kind:
        case FieldKind.CHOICE if 0 < len(f.choices) <= SELECT_OPTIONS:
            options = [
                {"text": plain(label, OPTION_TEXT), "value": value[:OPTION_VALUE]}
                for value, label in f.choices
            ]
            element: Block = {"type": "static_select", "options": options}
            chosen = [o for o in options if o["value"] == initial]
            if chosen:
                element["initial_option"] = chosen[0]
            return element
        case FieldKind.DATE:
            element = {"type": "datepicker"}
            try:  # Slack takes YYYY-MM-DD only: "today" / 今日 become the date they mean
                if initial:
                    element["initial_date"] = forms.parse_field(f, initial, today, ZoneInfo("UTC"))
            except forms.FieldError:
                pass
            return element
        case FieldKind.DATETIME:
            element = {"type": "datetimepicker"}
            if initial:
                try:
                    element["initial_date_time"] = int(datetime.fromisoformat(initial).timestamp())
                except ValueError:
                    pass
            return element
        case FieldKind.TIME:
            element = {"type": "timepicker"}
            if initial:
                element["initial_time"] = initial[:5]
            return element
        case FieldKind.NUMBER:
            element = {"type": "number_input", "is_decimal_allowed": False}
        case FieldKind.EMAIL:
            element = {"type": "email_text_input"}
        case _:
            limit = min(f.max_length, INPUT_CHARS)
            element = {"type": "plain_text_input", "max_length": limit}
            if f.kind == FieldKind.LONG_TEXT:
                element["multiline"] = True
            initial = initial[:limit]
    if initial:
        element["initial_value"] = initial
    return element


def modal(
    form: Form, t_submit: str, t_close: str, conversation: str, intro: str, today: date
) -> Block:
    """`today`: the date a relative initial date ("today") means, where the person is."""
    blocks: list[Block] = [section(piece) for piece in chunks(intro)]
    for f in form.fields:
        block: Block = {
            "type": "input",
            "block_id": f.name,
            "label": plain(f.label, 2000),
            "element": {**_element(f, today), "action_id": VALUE},
            "optional": not f.required,
        }
        if f.hint:
            block["hint"] = plain(f.hint, 2000)
        blocks.append(block)
    return {
        "type": "modal",
        "callback_id": FORM_CALLBACK,
        "title": plain(form.title, MODAL_TITLE),
        "submit": plain(t_submit, MODAL_TITLE),
        "close": plain(t_close, MODAL_TITLE),
        "private_metadata": form_metadata(form, conversation),
        "blocks": blocks[:VIEW_BLOCKS],
    }


def submitted_values(form: Form, state: dict[str, Any]) -> dict[str, str]:
    """The raw text of each field from a view_submission's `view.state.values`."""
    values: dict[str, str] = {}
    for f in form.fields:
        entry = state.get(f.name, {}).get(VALUE)
        values[f.name] = _value_text(entry) if isinstance(entry, dict) else ""
    return values


def _value_text(entry: dict[str, Any]) -> str:
    if isinstance(entry.get("selected_option"), dict):
        return str(entry["selected_option"].get("value", ""))
    if entry.get("selected_date"):
        return str(entry["selected_date"])
    if entry.get("selected_time"):
        return str(entry["selected_time"])
    if entry.get("selected_date_time") is not None:
        try:
            stamp = int(entry["selected_date_time"])
        except (TypeError, ValueError):
            return ""
        return datetime.fromtimestamp(stamp, UTC).isoformat()
    value = entry.get("value")
    return value if isinstance(value, str) else ""
