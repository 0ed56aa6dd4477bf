"""The declarative base, the naming convention and the enumerations every model shares."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    MetaData,
)
from sqlalchemy.orm import DeclarativeBase

from storage.types import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON}  # noqa: RUF012


class OutboxState(StrEnum):
    """An outbox message's life: queued → sending (leased) → sent, or failed (to retry) → dead."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"


class InboxState(StrEnum):
    """An inbound update's life: queued (recorded, acknowledged) → handling (leased) → done;
    dead when handling it crashed the process too often."""

    QUEUED = "queued"
    HANDLING = "handling"
    DONE = "done"
    DEAD = "dead"


class OutboxKind(StrEnum):
    """What a proactive message is; `opt_out` names the feature a person may turn it off by."""

    CHECKIN = "checkin"
    SURVEY = "survey"
    NUDGE = "nudge"
    INTRO = "intro"
    INTEREST = "interest"
    REFERRAL = "referral"
    JOB = "job"
    BROADCAST = "broadcast"
    BROADCAST_REPORT = "broadcast_report"
    OFFBOARDING = "offboarding"
    EVENT = "event"
    EVENT_UPDATE = "event_update"
    EVENT_REMINDER = "event_reminder"
    PERK = "perk"
    INVITATION = "invitation"  # a campaign's invitation mail, and its one reminder
    # An answer to someone who wrote, whose send failed (timeout, 5xx, 429): retried by the
    # worker to the very chat it was for (`recipient`), not to the person's preferred place.
    ANSWER = "answer"

    @staticmethod
    def opt_out_of(kind: str) -> str | None:
        """The feature whose opt-out drops this kind at send time (None: not opt-out-able, as
        reminders for an event one said yes to, intros from a person and HR's own notices)."""
        return _OPT_OUT.get(kind)

    @staticmethod
    def low_priority(kind: str) -> bool:
        """Kinds that give way when a platform's monthly sends run low (digests, notices):
        check-ins, surveys, intros, referrals, reminders and answers go first."""
        return kind in _LOW_PRIORITY


_LOW_PRIORITY = frozenset({
    OutboxKind.JOB, OutboxKind.PERK, OutboxKind.NUDGE, OutboxKind.BROADCAST, OutboxKind.EVENT,
})  # fmt: skip

_OPT_OUT: dict[str, str] = {
    OutboxKind.BROADCAST: "broadcasts",
    OutboxKind.CHECKIN: "checkins",
    OutboxKind.SURVEY: "surveys",
    OutboxKind.NUDGE: "nudges",
    OutboxKind.JOB: "jobs",
    OutboxKind.PERK: "perks",
    OutboxKind.EVENT: "events",
}


class Role(StrEnum):
    ALUMNI = "alumni"
    EMPLOYEE = "employee"
    HR = "hr"
    ADMIN = "admin"


class JoinRoute(StrEnum):
    NEW_GRAD = "new_grad"
    MID_CAREER = "mid_career"


class Comeback(StrEnum):
    UNKNOWN = "unknown"
    OPEN = "open"
    MAYBE = "maybe"
    NOT_NOW = "not_now"


class Cadence(StrEnum):
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    OFF = "off"


class InteractionKind(StrEnum):
    IN_PERSON = "in_person"
    ONLINE = "online"
