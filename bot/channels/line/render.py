"""`Reply` → LINE message objects (as the JSON the Messaging API takes), within its limits.

Pure functions (no network, no database): the channel issues the button tokens first and
passes them in. LINE shows no bold, so bold markers are dropped. Buttons become a buttons
template (up to 4, under a short text: it stays in the chat) or quick replies (up to 13: shown
under the last message until the person answers); more than 13 become several templates.
Postback data is the opaque token of storage/buttons.py, never the action and payload."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.core import markup
from bot.core.types import Attachment, Button, Reply
from bot.core.utf16 import split_text, utf16_len

MAX_MESSAGES = 5  # message objects in one reply or push request
MAX_TEXT = 5000
MAX_QUICK_REPLY = 13
MAX_LABEL = 20  # action labels (quick reply items and template buttons)
MAX_DATA = 300  # postback data
MAX_ACTIONS = 4  # buttons template
MAX_TITLE = 40
MAX_TEMPLATE_TEXT = 160  # a buttons template's text without a title or image
MAX_ALT_TEXT = 400
MAX_DISPLAY_TEXT = 300
EMPTY_TEXT = "…"
# A text file (`mydata`'s JSON, a CSV, an .ics) this long or shorter is sent as text messages:
# LINE takes no uploads, and a person who is only on LINE still gets their data.
MAX_FILE_TEXT = 4 * MAX_TEXT
TEXT_TYPES = ("application/json", "text/")

Message = dict[str, Any]


def cut(text: str, limit: int) -> str:
    one_line = " ".join(text.split())
    if utf16_len(one_line) > limit:
        while utf16_len(one_line) > limit - 1:
            one_line = one_line[:-1]
        one_line += "…"
    return one_line or "·"


def button_keys(reply: Reply) -> list[tuple[str, str]]:
    return [(b.action, b.payload) for b in reply.all_buttons()]


def _action(button: Button, tokens: Mapping[tuple[str, str], str]) -> dict[str, Any]:
    data = tokens[(button.action, button.payload)]
    if not data or len(data) > MAX_DATA:
        raise ValueError(f"postback data over {MAX_DATA} characters: {data!r}")
    return {
        "type": "postback",
        "label": cut(button.label, MAX_LABEL),
        "data": data,
        "displayText": cut(button.label, MAX_DISPLAY_TEXT),  # the tap reads as an answer
    }


def _template(text: str, actions: list[dict[str, Any]]) -> Message:
    return {
        "type": "template",
        "altText": cut(text, MAX_ALT_TEXT),
        "template": {"type": "buttons", "text": text, "actions": actions},
    }


def file_text(attachment: Attachment) -> str | None:
    """A small text file's content, to send as messages; None for images and large files."""
    if attachment.is_image or not attachment.mime_type.startswith(TEXT_TYPES):
        return None
    try:
        content = attachment.content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    return content if utf16_len(content) <= MAX_FILE_TEXT else None


def render(
    reply: Reply, tokens: Mapping[tuple[str, str], str], file_note: str = ""
) -> list[Message]:
    """The message objects for one reply, in order (any number: the sender batches them by
    MAX_MESSAGES). LINE takes no uploads: a small text file follows the text as messages; for
    anything else `file_note` says where to get it."""
    text = markup.plain(reply.text)
    attachment = reply.attachment
    content = file_text(attachment) if attachment is not None else None
    if content is not None and attachment is not None:
        text = f"{text}\n\n{attachment.filename}\n{content}" if text.strip() else content
    elif attachment is not None and file_note:
        text = f"{text}\n\n{file_note}" if text.strip() else file_note
    buttons = reply.all_buttons()
    actions = [_action(b, tokens) for b in buttons]
    pieces = split_text(text, MAX_TEXT)
    if not actions:
        return [{"type": "text", "text": p} for p in pieces]
    if len(actions) <= MAX_ACTIONS and len(pieces) <= 1:
        body = pieces[0] if pieces else EMPTY_TEXT
        if utf16_len(body) <= MAX_TEMPLATE_TEXT:
            return [_template(body, actions)]
    messages: list[Message] = [{"type": "text", "text": p} for p in pieces]
    if len(actions) <= MAX_QUICK_REPLY:
        if not messages:
            messages.append({"type": "text", "text": EMPTY_TEXT})
        items = [{"type": "action", "action": a} for a in actions]
        messages[-1]["quickReply"] = {"items": items}
        return messages
    for i in range(0, len(actions), MAX_ACTIONS):
        messages.append(_template(EMPTY_TEXT, actions[i : i + MAX_ACTIONS]))
    return messages


def batches(messages: list[Message]) -> list[list[Message]]:
    return [messages[i : i + MAX_MESSAGES] for i in range(0, len(messages), MAX_MESSAGES)]
