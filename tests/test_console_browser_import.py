"""The Import page in Chromium: a bad CSV uploaded through the page's own form shows its rows'
problems by line number, and nobody is imported; the header links the page for admins."""

from __future__ import annotations

from playwright.async_api import Browser, FilePayload

from bot.runtime.app import App
from tests.test_console_browser import browser, fresh_page, link, pytestmark, signed_in, site
from tests.test_console_import import BAD, GOOD, csv_of, people_count

__all__ = ["browser", "pytestmark", "site"]  # fixtures, and the skip without Chromium


async def test_an_admin_uploads_a_bad_csv_and_sees_its_line_numbers(
    app: App, site: str, browser: Browser
) -> None:
    context, page, errors = await signed_in(app, site, browser, "admin@example.com")
    await page.click("text=取り込み")  # the header's link
    assert "取り込み" in await page.inner_text("h1")
    before = await people_count(app)
    bad: FilePayload = {"name": "people.csv", "mimeType": "text/csv", "buffer": csv_of(BAD)}
    await page.set_input_files("input[name=file]", files=[bad])
    await page.click("#upload")
    shown = await page.locator("#errors li").all_inner_texts()
    assert [text.split("：")[0] for text in shown] == ["3 行目", "4 行目"]
    assert "何も取り込んでいません" in await page.inner_text("#problem")
    assert await people_count(app) == before
    good: FilePayload = {"name": "people.csv", "mimeType": "text/csv", "buffer": csv_of(GOOD)}
    await page.set_input_files("input[name=file]", files=[good])
    await page.click("#upload")
    assert "新規 2 件" in await page.inner_text("#done")
    assert await people_count(app) == before + 2
    assert [e for e in errors if "status of 400" not in e] == []  # the bad file's own 400
    await context.close()


async def test_two_tabs_on_one_link_sign_in_once(app: App, site: str, browser: Browser) -> None:
    url = f"{site}/admin/login/{await link(app, 'hr@example.com')}"
    first, one, _ = await fresh_page(browser)
    second, two, _ = await fresh_page(browser)
    for page in (one, two):  # both show the button: opening the link spends nothing
        shown = await page.goto(url)
        assert shown is not None and shown.status == 200
    await one.click("#sign-in")
    assert one.url == f"{site}/admin"
    await two.click("#sign-in")
    assert "すでに使われています" in await two.inner_text("#message")
    assert await second.cookies() == []
    await first.close()
    await second.close()
