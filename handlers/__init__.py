"""The route table: every command and button action, in one explicit, ordered list.

A route names its handler, who may use it (`roles`; empty means anyone who joined), whether it
is reachable before joining (`public`) and whether it needs the privacy consent first."""

from __future__ import annotations

from datetime import timedelta

from bot.dispatch.router import CONSENT_PROMPT, Route, Router
from bot.dispatch.ticks import Tick
from handlers import (
    access,
    admin,
    bridge,
    broadcasts,
    checkins,
    console_web,
    events,
    events_hr,
    home,
    housekeeping,
    interactions,
    invitations,
    jobs,
    jobs_hr,
    onboarding,
    outcomes,
    perks,
    privacy,
    profile,
    referrals,
    surveys,
)
from storage.models import Role

HR = frozenset({Role.HR, Role.ADMIN})
ADMIN = frozenset({Role.ADMIN})

HELP_WORDS = ("ヘルプ", "使い方")
ROUTES: list[Route] = [
    # onboarding and profile
    Route(
        onboarding.help_, command="help", public=True, consent=False, aliases=("ヘルプ", "使い方")
    ),
    Route(onboarding.join, command="join", public=True, consent=False, guest=True),
    Route(onboarding.join, command="start", public=True, consent=False, listed=False),
    Route(onboarding.consent_prompt, action=CONSENT_PROMPT, consent=False),
    Route(onboarding.consent, action="onboarding.consent", consent=False),
    Route(onboarding.choose_locale, action="onboarding.locale"),
    Route(onboarding.choose_timezone, action="onboarding.tz"),
    Route(profile.profile, command="profile", aliases=("プロフィール",)),
    Route(profile.profile_edit, action="profile.edit"),
    Route(profile.profile_save, action="profile.save", submit=True),
    Route(profile.settings, command="settings", aliases=("設定",)),
    Route(profile.settings_edit, action="settings.edit"),
    Route(profile.settings_save, action="settings.save", submit=True),
    Route(profile.settings_toggle, action="settings.toggle"),
    Route(bridge.prefer, action="bridge.prefer"),
    # privacy
    Route(privacy.pause, command="pause", consent=False),
    Route(privacy.mydata, command="mydata", consent=False),
    Route(privacy.forgetme, command="forgetme", consent=False),
    Route(privacy.forget, action="privacy.forget", consent=False),
    # check-ins, the interaction log and the pulse survey
    Route(checkins.checkin, command="checkin"),
    Route(checkins.answer, action="checkin.answer"),
    Route(checkins.met, action="checkin.met"),
    Route(checkins.hello, action="checkin.hello"),
    Route(checkins.hello_back, action="checkin.hello_back"),
    Route(checkins.later, action="checkin.later"),
    Route(bridge.reply_form, action="bridge.reply"),
    Route(bridge.reply_send, action="bridge.reply_send", submit=True),
    Route(bridge.meet, action="bridge.meet"),
    Route(interactions.log, command="log"),
    Route(interactions.pick, action="log.pick"),
    Route(interactions.form, action="log.form"),
    Route(interactions.save_form, action="log.save", submit=True),
    Route(surveys.survey, command="survey", aliases=("アンケート",)),
    Route(surveys.answer, action="survey.answer"),
    # perks and events
    Route(perks.list_, command="perks", aliases=("特典",)),
    Route(perks.list_, action="perks.list"),
    Route(perks.claim, action="perks.claim"),
    Route(events.list_, command="events", aliases=("イベント",)),
    Route(events.open_, action="events.open"),
    Route(events.rsvp, action="events.rsvp", savepoint=False),
    Route(events.calendar_file, action="events.ics"),
    Route(events.checkin_form, action="events.checkin"),
    Route(events.checkin_submit, action="events.checkin_submit", submit=True),
    # comeback openings and referrals
    Route(jobs.browse, command="jobs", aliases=("求人",)),
    Route(jobs.interested, action="jobs.interested"),
    Route(jobs.not_for_me, action="jobs.not_for_me"),
    Route(referrals.refer, command="refer", aliases=("紹介",)),
    Route(referrals.refer, action="jobs.refer"),
    Route(referrals.submit, action="referral.submit", submit=True),
    # the home page (Slack's App Home tab)
    Route(home.home, action="home.open", listed=False),
    # HR and admin
    Route(onboarding.invite, command="invite", roles=HR),
    Route(access.revoke, command="revoke", roles=HR),
    Route(access.grant, command="grant", roles=ADMIN),
    Route(invitations.confirm, action="invitations.confirm", roles=HR),
    Route(invitations.cancel, action="invitations.cancel", roles=HR),
    Route(bridge.offboard, command="offboard", roles=HR),
    Route(bridge.reach, command="reach", roles=HR),
    Route(perks.post, command="postperk", roles=HR),
    Route(perks.create, action="perks.create", roles=HR, submit=True),
    Route(perks.claims, action="perks.claims", roles=HR),
    Route(events_hr.new, command="newevent", roles=HR),
    Route(events_hr.create, action="events.create", roles=HR, submit=True),
    Route(events_hr.edit, action="events.edit", roles=HR),
    Route(events_hr.update, action="events.update", roles=HR, submit=True),
    Route(events_hr.cancel, action="events.cancel", roles=HR),
    Route(events_hr.attendance, action="events.attendance", roles=HR),
    Route(events_hr.attend, action="events.attend", roles=HR),
    Route(broadcasts.broadcast, command="broadcast", roles=HR),
    Route(broadcasts.submit, action="broadcast.submit", roles=HR, submit=True),
    Route(broadcasts.confirm, action="broadcast.confirm", roles=HR),
    Route(broadcasts.cancel, action="broadcast.cancel", roles=HR),
    Route(broadcasts.status, action="broadcast.status", roles=HR),
    Route(broadcasts.click, action="broadcast.click"),
    Route(jobs_hr.postjob, command="postjob", roles=HR),
    Route(jobs_hr.save, action="jobs.save", roles=HR, submit=True),
    Route(jobs_hr.edit, action="jobs.edit", roles=HR),
    Route(jobs_hr.close, action="jobs.close", roles=HR),
    Route(jobs_hr.broadcast_opening, action="jobs.broadcast", roles=HR),
    Route(referrals.referrals, command="referrals", roles=HR),
    Route(referrals.referrals, action="referral.list", roles=HR),
    Route(referrals.move, action="referral.move", roles=HR),
    # the outcomes ledger: HR records, corrects and withdraws (storage/outcomes.py)
    Route(outcomes.outcome, command="outcome", roles=HR),
    Route(outcomes.save, action="outcome.save", roles=HR, submit=True),
    Route(outcomes.edit, action="outcome.edit", roles=HR),
    Route(outcomes.correct, action="outcome.correct", roles=HR, submit=True),
    Route(outcomes.withdraw, action="outcome.withdraw", roles=HR),
    # engagement review: aggregates for HR, individuals (audit, export) for admins only
    Route(admin.stats, command="stats", roles=HR),
    Route(admin.report, command="report", roles=HR),
    Route(admin.report, action="report.open", roles=HR),
    Route(admin.chart, action="report.chart", roles=HR),
    Route(admin.table_csv, action="report.csv", roles=HR),
    Route(admin.audit, command="audit", roles=ADMIN),
    Route(console_web.admin_link, command="admin", roles=HR),
    Route(admin.export, command="export", roles=ADMIN),
]

# The periodic work, in one explicit list: each tick claims what is due from the database, so
# every worker may run all of them (bot/runtime/scheduler.py).
TICKS: list[Tick] = [
    Tick("checkins", timedelta(minutes=1), checkins.tick_checkins),
    Tick("surveys", timedelta(minutes=5), surveys.tick_surveys),
    Tick("nudges", timedelta(minutes=15), checkins.tick_nudges),
    Tick("housekeeping", timedelta(hours=1), housekeeping.housekeeping),
    Tick("pauses", timedelta(minutes=1), privacy.resume_due),
    Tick("jobs.digest", timedelta(hours=1), jobs.digest),
    Tick("events.reminders", timedelta(minutes=1), events.remind),
    Tick("perks.announce", timedelta(minutes=15), perks.announce),
    Tick("invitations.reminders", timedelta(hours=1), invitations.tick_reminders),
]


# What delivery calls when a broadcast's last message is out: the feature's own report.
ON_BROADCAST_DELIVERED = broadcasts.finish


def build_router() -> Router:
    return Router(ROUTES)
