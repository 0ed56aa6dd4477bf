"""The invitation funnel (storage/campaigns.py sends the campaigns): per campaign, how many were
invited, got the mail, bounced, unsubscribed, joined (and where they are now) and consented.
Shown by `stats`, `reach` and the report's `invitations` section (handlers/report_tables.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, case, cast, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.campaigns import joined
from storage.models import (
    Campaign,
    CampaignInvitation,
    Identity,
    MailContact,
    OutboxMessage,
    Person,
)


@dataclass(frozen=True)
class Funnel:
    """One campaign: invited → mail delivered (or bounced, or unsubscribed) → joined → consented."""

    id: int
    segment: str
    created_at: datetime
    invited: int
    delivered: int
    bounced: int
    unsubscribed: int
    joined: int
    consented: int
    where: dict[str, int]  # joined people by the places they are in now


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def funnels(
    session: AsyncSession,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    before: int | None = None,
) -> list[Funnel]:
    """The campaigns sent (newest first), created in [since, until) when given, and older than
    campaign `before` (the console's next page)."""
    query = select(Campaign).where(Campaign.status == "queued").order_by(Campaign.id.desc())
    if before is not None:
        query = query.where(Campaign.id < before)
    if since is not None:
        query = query.where(Campaign.created_at >= since)
    if until is not None:
        query = query.where(Campaign.created_at < until)
    found = list(await session.scalars(query.limit(limit)))
    if not found:
        return []
    ids = [c.id for c in found]
    ci = CampaignInvitation
    key = literal("invite:") + cast(ci.person_id, String)
    delivered = exists().where(OutboxMessage.idempotency_key == key, OutboxMessage.state == "sent")
    rows = await session.execute(
        select(
            ci.campaign_id, func.count(), _count(delivered),
            _count(MailContact.bounced_at.is_not(None)),
            _count(MailContact.unsubscribed_at.is_not(None)), _count(joined()),
            _count(Person.consent_at.is_not(None)),
        )
        .join(Person, Person.id == ci.person_id)
        .outerjoin(MailContact, MailContact.person_id == ci.person_id)
        .where(ci.campaign_id.in_(ids))
        .group_by(ci.campaign_id)
    )  # fmt: skip
    counts = {row[0]: [int(n) for n in row[1:]] for row in rows.all()}
    places = await session.execute(
        select(ci.campaign_id, Identity.channel, func.count(func.distinct(ci.person_id)))
        .join(Person, Person.id == ci.person_id)
        .join(Identity, Identity.person_id == ci.person_id)
        .where(ci.campaign_id.in_(ids), joined())
        .group_by(ci.campaign_id, Identity.channel)
    )
    where: dict[int, dict[str, int]] = {}
    for campaign_id, channel, n in places.all():
        where.setdefault(campaign_id, {})[channel] = int(n)
    result = []
    for c in found:
        invited, sent, bounced, unsubscribed, came, consented = counts.get(c.id, [0] * 6)
        result.append(
            Funnel(c.id, c.segment, c.created_at, invited, sent, bounced, unsubscribed, came,
                   consented, where.get(c.id, {}))
        )  # fmt: skip
    return result
