"""Channel-neutral types: what a channel hands to the router and what handlers answer.

Frozen dataclasses with no platform imports. Slack Block Kit, Telegram inline keyboards and the
console's numbered choices are all renderings of the same `Reply`; a `Form` is a Slack modal, a
Telegram step-by-step conversation or console prompts."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# Button actions and payloads must survive every platform: Telegram allows 64 bytes of callback
# data, so payloads are short ids (the Telegram channel maps (action, payload) to a token).
MAX_PAYLOAD_CHARS = 64


@dataclass(frozen=True)
class Actor:
    """Who is talking: a chat identity, not yet a person (the router resolves that)."""

    channel: str
    user_id: str
    workspace: str = ""
    display_name: str | None = None
    locale_hint: str | None = None  # the platform's language, used until the person chooses
    verified_email: str | None = None  # an email the platform itself verified (Slack's profile)


@dataclass(frozen=True)
class Incoming:
    """One thing a person did: a command, a plain message, a button press or a form submission."""

    actor: Actor
    conversation_id: str
    text: str = ""
    command: str | None = None
    args: tuple[str, ...] = ()
    action: str | None = None
    payload: str = ""
    values: dict[str, str] = field(default_factory=dict)
    private: bool = True  # a DM / private chat; personal data is only sent there
    event_id: str | None = None
    # A button press: the user id its buttons were shown to, where the platform tells (None:
    # it cannot, which is only trusted in a private chat, where nobody else can press).
    shown_to: str | None = None

    @property
    def arg_text(self) -> str:
        return " ".join(self.args)


@dataclass(frozen=True)
class Button:
    label: str
    action: str
    payload: str = ""
    style: str | None = None  # "primary" | "danger" | None

    def __post_init__(self) -> None:
        if len(self.payload) > MAX_PAYLOAD_CHARS:
            raise ValueError(f"button payload over {MAX_PAYLOAD_CHARS} chars: {self.payload!r}")


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mime_type: str
    is_image: bool = False


class FieldKind(StrEnum):
    TEXT = "text"
    LONG_TEXT = "long_text"
    CHOICE = "choice"
    DATE = "date"
    DATETIME = "datetime"
    NUMBER = "number"
    EMAIL = "email"
    TIME = "time"  # HH:MM
    TIMEZONE = "timezone"  # an IANA name


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    kind: FieldKind = FieldKind.TEXT
    required: bool = True
    choices: tuple[tuple[str, str], ...] = ()  # (value, label)
    initial: str = ""
    hint: str = ""
    max_length: int = 500


@dataclass(frozen=True)
class Form:
    """Fields to ask; on completion the router dispatches `submit_action` with the values."""

    title: str
    submit_action: str
    fields: tuple[FormField, ...]
    payload: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "submit_action": self.submit_action,
            "payload": self.payload,
            "fields": [
                {
                    "name": f.name,
                    "label": f.label,
                    "kind": str(f.kind),
                    "required": f.required,
                    "choices": [list(c) for c in f.choices],
                    "initial": f.initial,
                    "hint": f.hint,
                    "max_length": f.max_length,
                }
                for f in self.fields
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Form:
        return cls(
            title=data["title"],
            submit_action=data["submit_action"],
            payload=data.get("payload", ""),
            fields=tuple(
                FormField(
                    name=f["name"],
                    label=f["label"],
                    kind=FieldKind(f["kind"]),
                    required=f["required"],
                    choices=tuple((c[0], c[1]) for c in f["choices"]),
                    initial=f["initial"],
                    hint=f["hint"],
                    max_length=f["max_length"],
                )
                for f in data["fields"]
            ),
        )


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    attachment: Attachment | None = None
    form: Form | None = None
    private_only: bool = False  # holds personal data: never post it in a group
    # A command the dispatcher runs next, as the same person, after this reply (one typed
    # before consenting, carried through onboarding). Never queued.
    then: str = ""
    subject: str = ""  # a mail's subject line; chat places show none

    def all_buttons(self) -> list[Button]:
        return [b for row in self.buttons for b in row]

    def to_dict(self) -> dict[str, Any]:
        """For the outbox: a reply rendered later by the channel that delivers it."""
        if self.attachment is not None or self.form is not None:
            raise ValueError("only text and buttons can be queued")  # files are sent live
        data: dict[str, Any] = {
            "text": self.text,
            "buttons": [[[b.label, b.action, b.payload] for b in row] for row in self.buttons],
        }
        if self.subject:
            data["subject"] = self.subject
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        return cls(
            text=data["text"],
            buttons=tuple(
                tuple(Button(label, action, payload) for label, action, payload in row)
                for row in data.get("buttons", [])
            ),
            subject=data.get("subject", ""),
        )


class UserFacingError(Exception):
    """Bad input or a refusal: its localised message is shown to the user, nothing changes."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


class FormError(Exception):
    """A submitted form has bad fields: {field name: message key}."""

    def __init__(self, errors: dict[str, str], **params: Any) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors
        self.params = params
