"""Broadcasts in a real browser (Debian's Chromium): compose for a segment, read the preview in
both languages, Send, and watch the progress page count what was queued."""

from __future__ import annotations

import re

from playwright.async_api import Browser
from sqlalchemy import func, select

from bot.runtime.app import App
from storage.models import OutboxMessage
from tests.test_console_browser import browser, pytestmark, signed_in, site

__all__ = ["browser", "pytestmark", "site"]  # the shared fixtures and the skip without Chromium


async def test_compose_preview_and_send_a_broadcast(app: App, site: str, browser: Browser) -> None:
    context, page, errors = await signed_in(app, site, browser, "hr@example.com")
    await page.click("header >> text=一斉送信")
    assert "一斉送信" in await page.inner_text("h1")
    await page.fill("textarea[name=text]", "同窓会のお知らせ：12月20日 19時から")
    await page.select_option("select[name=segment]", "alumni")
    await page.click("#compose button[type=submit]")
    assert re.search(r"/admin/broadcasts/\d+$", page.url)
    shown = await page.inner_text("#count")
    count = int(re.search(r"(\d+) 人（", shown).group(1))  # type: ignore[union-attr]
    assert count > 0
    assert "同窓会のお知らせ" in await page.inner_text("#preview-ja")
    assert "アルムナイ事務局" in await page.inner_text("#preview-ja")
    assert "News from the alumni team" in await page.inner_text("#preview-en")
    assert await page.get_attribute("#preview-en", "lang") == "en"
    async with app.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.broadcast_id.is_not(None))) == 0  # fmt: skip
    await page.click(f"text={count} 人に送信")
    assert page.url.endswith("note=queued")
    assert await page.inner_text("#queued") == str(count)
    assert f"{count} 人分" in await page.inner_text("#note")
    assert await page.locator('meta[http-equiv="refresh"]').count() == 1  # live while sending
    async with app.db.transaction() as session:
        queued = await session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.broadcast_id.is_not(None)))  # fmt: skip
    assert queued == count
    assert errors == []
    await context.close()
