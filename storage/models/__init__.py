"""The whole product's tables (docs/architecture.md). Features add columns through migrations,
never by creating tables behind Alembic's back.

Conventions: timestamps are aware UTC (`UTCDateTime`); calendar dates are `Date`;
enumerations are short strings checked by the code that writes them (the StrEnums in base.py),
so adding a value needs no migration; lists (skills, desired roles) are JSON arrays of strings.

The tables live in modules by domain; everything is importable from `storage.models`."""

from __future__ import annotations

from storage.models.base import (
    NAMING,
    Base,
    Cadence,
    Comeback,
    InboxState,
    InteractionKind,
    JoinRoute,
    OutboxKind,
    OutboxState,
    Role,
)
from storage.models.console_web import AdminSession, LoginLink
from storage.models.engagement import (
    Interaction,
    SurveyResponse,
)
from storage.models.mail import Campaign, CampaignInvitation, MailContact
from storage.models.offers import (
    Event,
    Match,
    Opening,
    Perk,
    PerkClaim,
    PerkCode,
    Referral,
    Rsvp,
)
from storage.models.operations import (
    AuditEntry,
    Broadcast,
    BroadcastClick,
    ButtonToken,
    FormState,
    InboxItem,
    MonthlySends,
    OutboxMessage,
    ProcessedEvent,
    RateLimit,
)
from storage.models.outcomes import Outcome
from storage.models.people import (
    Identity,
    Invite,
    Person,
    Relation,
    RoleGrant,
    Workspace,
)

__all__ = [
    "NAMING",
    "AdminSession",
    "AuditEntry",
    "Base",
    "Broadcast",
    "BroadcastClick",
    "ButtonToken",
    "Cadence",
    "Campaign",
    "CampaignInvitation",
    "Comeback",
    "Event",
    "FormState",
    "Identity",
    "InboxItem",
    "InboxState",
    "Interaction",
    "InteractionKind",
    "Invite",
    "JoinRoute",
    "LoginLink",
    "MailContact",
    "Match",
    "MonthlySends",
    "Opening",
    "OutboxKind",
    "OutboxMessage",
    "OutboxState",
    "Outcome",
    "Perk",
    "PerkClaim",
    "PerkCode",
    "Person",
    "ProcessedEvent",
    "RateLimit",
    "Referral",
    "Relation",
    "Role",
    "RoleGrant",
    "Rsvp",
    "SurveyResponse",
    "Workspace",
]
