"""Matching keeps one index of the alumni open to a comeback and reads only the people changed
since its last look (storage/job_index.py): a profile changed between two postings is matched
as it is now, on SQLite and PostgreSQL — also when the change carries an older clock."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update as sql_update

from bot.runtime.app import App
from handlers import jobs
from storage import job_index, people
from storage.models import Person
from tests.test_jobs import BACKEND, SALES, job_messages, post, setup, update

PYTHON_SALES = ("Sales Engineer", "-", "Demos", "Python", "-", "東京", "no", "full_time", "-", "-")


async def test_a_profile_changed_after_a_posting_is_matched_as_it_is_now(app: App) -> None:
    hr = await setup(app)
    await post(hr, BACKEND)
    assert await job_messages(app, "hanako@example.com") == []  # sales, no Python yet
    app.clock.advance(days=10)  # type: ignore[attr-defined]
    await update(app, "hanako@example.com", skills=["Python", "営業"])
    await update(app, "emma@example.com", opt_outs=["jobs"])
    answer = await post(hr, PYTHON_SALES)
    assert "1 alumni open to a comeback match it; 1 told now" in answer
    [notice] = await job_messages(app, "hanako@example.com")
    assert "#2 Sales Engineer" in notice.text and "Python" in notice.text
    assert len(await job_messages(app, "emma@example.com")) == 1  # only the first opening

    async with app.db.transaction() as session:
        kept = await job_index.profile_index(session)
        again = await job_index.profile_index(session)
    assert kept is again and len(kept) == 1  # kept between postings, not rebuilt


async def test_a_change_stamped_by_a_lagging_clock_is_still_read(app: App) -> None:
    """Another process's clock two minutes behind: its change is older than the newest one seen,
    within the margin, and is not missed."""
    hr = await setup(app)
    await post(hr, SALES)
    async with app.db.transaction() as session:
        hanako = await people.person_by_email(session, "hanako@example.com")
        assert hanako is not None
        await session.execute(
            sql_update(Person)
            .where(Person.id == hanako.id)
            .values(comeback="not_now", updated_at=app.clock.now() - timedelta(minutes=2))
        )
    answer = await post(hr, ("営業マネージャー", *SALES[1:]))
    assert "Nobody's profile matches it yet" in answer
    assert len(await job_messages(app, "hanako@example.com")) == 1


async def test_when_time_goes_back_the_index_is_built_again(app: App) -> None:
    """A database restored from a backup, whose newest change is older than the last one seen:
    everything is read again rather than trusting what the index holds."""
    hr = await setup(app)
    await post(hr, BACKEND)
    long_ago = app.clock.now() - timedelta(days=30)
    async with app.db.transaction() as session:
        await session.execute(sql_update(Person).values(updated_at=long_ago))
        await session.execute(
            sql_update(Person).where(Person.email == "emma@example.com").values(comeback="not_now")
        )
    answer = await post(hr, ("Python Developer", *BACKEND[1:]))
    assert "Nobody's profile matches it yet" in answer


async def test_serve_builds_the_index_before_the_first_posting(app: App) -> None:
    hr = await setup(app)
    await jobs.warm(app)
    async with app.db.transaction() as session:
        warmed = await job_index.profile_index(session)
    assert len(warmed) == 2  # Emma and Hanako
    assert "1 told now" in await post(hr, BACKEND)
    async with app.db.transaction() as session:
        assert await job_index.profile_index(session) is warmed
