"""The console's Openings and Referrals pages in Debian's Chromium: HR posts an opening through
the form, and moves a referral, whose referrer is then told — the outbox delivered by the
delivery worker to a fake channel — with no console errors on the way."""

from __future__ import annotations

from playwright.async_api import Browser
from sqlalchemy import select

from bot.core.clock import FixedClock
from bot.runtime.app import App
from bot.runtime.delivery import Worker
from storage import people
from storage import referrals as pipeline
from storage.models import Identity, Opening
from tests import test_console_browser as console_browser
from tests.fakes.fake_channel import FakeChannel, VirtualSleep
from tests.test_console_browser import drawn_with, signed_in

pytestmark = console_browser.pytestmark
site = console_browser.site  # the fixtures: the console served on 127.0.0.1, and Chromium
browser = console_browser.browser


async def test_hr_posts_an_opening_through_the_form(app: App, site: str, browser: Browser) -> None:
    context, page, errors = await signed_in(app, site, browser, "hr@example.com")
    await page.click("header nav >> text=募集")
    assert "募集" in await page.inner_text("h1")
    await page.click("#new-opening")
    await page.fill("#field-title", "データエンジニア")
    await page.fill("#field-department", "エンジニアリング")
    await page.fill("#field-description", "データ基盤を一緒に作りませんか。")
    await page.fill("#field-skills", "Python、SQL")
    await page.fill("#field-location", "東京 / リモート可")
    await page.select_option("#field-remote", "yes")
    await page.select_option("#field-employment_type", "full_time")
    await page.fill("#field-closes_on", "12/31")  # the chat's own date formats
    await page.click("#save")
    assert "/admin/openings/" in page.url
    assert "投稿しました" in await page.inner_text("main")
    async with app.db.transaction() as session:
        opening = await session.scalar(select(Opening).where(Opening.title == "データエンジニア"))
    assert opening is not None and opening.skills == ["Python", "SQL"] and opening.remote
    assert opening.closes_on is not None and opening.closes_on.isoformat() == "2026-12-31"
    assert page.url.split("?")[0].endswith(f"/admin/openings/{opening.id}")
    await page.click("#edit")  # the form again, filled in: its Japanese in the page's font
    fonts = await drawn_with(page, "h1")
    assert fonts and fonts <= console_browser.JAPANESE_FONTS, fonts
    family = "e => getComputedStyle(e).fontFamily"
    body = await page.eval_on_selector("body", family)
    for selector in ("#field-title", "#field-description", "#field-remote", "#save"):
        assert await page.eval_on_selector(selector, family) == body, selector
    await page.go_back()
    await page.click("text=募集一覧に戻る")
    assert await page.locator(f'#openings a[href="/admin/openings/{opening.id}"]').count() == 1
    assert errors == []
    await context.close()


async def test_moving_a_referral_tells_the_referrer_in_the_fake_channel(
    app: App, site: str, browser: Browser, clock: FixedClock
) -> None:
    async with app.db.transaction() as session:
        opening = await session.scalar(select(Opening).order_by(Opening.id).limit(1))
        hanako = await people.person_by_email(session, "hanako@example.com")
        assert opening is not None and hanako is not None
        referral = await pipeline.add(session, opening_id=opening.id, kind="referral",
                                      referrer_id=hanako.id, candidate_person_id=None,
                                      candidate_name="山田 一郎", contact="ichiro@example.org",
                                      key="ichiro@example.org", relationship="元同僚", why=None,
                                      now=clock.now())  # fmt: skip
        assert referral is not None
        identities = list(await session.scalars(select(Identity)))
    hers = {i.user_id for i in identities if i.person_id == hanako.id}
    context, page, errors = await signed_in(app, site, browser, "hr@example.com")
    await page.click("header nav >> text=紹介")
    row = page.locator(f"#referral-{referral.id}")
    assert await row.locator(".stage").inner_text() == "受付"  # submitted
    await row.locator("button", has_text="書類選考").click()
    assert f"R{referral.id}" in await page.inner_text("#result")
    assert "書類選考" in await page.locator(f"#referral-{referral.id} .stage").inner_text()
    assert errors == []
    await context.close()

    fakes = {name: FakeChannel(clock, name=name) for name in {i.channel for i in identities}}
    worker = Worker(app, fakes, sleep=VirtualSleep(clock))
    await worker.run(drain=True)
    told = [
        s for fake in fakes.values() for s in fake.sent
        if s.to.user_id in hers and "山田 一郎" in s.reply.text
    ]  # fmt: skip
    assert len(told) == 1, [s.reply.text for f in fakes.values() for s in f.sent]
    assert "書類選考" in told[0].reply.text and opening.title in told[0].reply.text
