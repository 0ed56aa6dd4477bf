"""The console's Events page in Chromium: HR creates an event through the form, without
JavaScript, and finds it listed, its Japanese title drawn with a Japanese font."""

from __future__ import annotations

from playwright.async_api import Browser

from bot.runtime.app import App
from tests.test_console_browser import (
    JAPANESE_FONTS,
    browser,
    drawn_with,
    pytestmark,
    signed_in,
    site,
)

__all__ = ["browser", "pytestmark", "site"]  # fixtures and the skip, used by name


async def test_hr_creates_an_event_and_sees_it_listed(
    app: App, site: str, browser: Browser
) -> None:
    context, page, errors = await signed_in(app, site, browser, "hr@example.com")
    await page.click('nav a[href="/admin/events"]')
    assert "イベント" in await page.inner_text("h1")
    await page.click("#new-event")
    await page.fill("input[name=title]", "アルムナイ新年会 2099")
    await page.fill("input[name=starts_at]", "2099-01-10 19:00")
    await page.fill("input[name=ends_at]", "2099-01-10 21:00")
    await page.fill("input[name=place]", "東京本社 20F")
    await page.fill("input[name=capacity]", "40")
    await page.click("button[type=submit] >> text=作成して招待する")
    assert "イベントを作成し" in await page.inner_text("#done")
    assert await page.inner_text("h1") == "アルムナイ新年会 2099"
    fonts = await drawn_with(page, "h1")
    assert fonts and fonts <= JAPANESE_FONTS, fonts  # no boxes for the Japanese title
    await page.click("text=イベント一覧へ")
    listed = page.locator("#events a", has_text="アルムナイ新年会 2099")
    assert await listed.count() == 1
    assert errors == []
    await context.close()
