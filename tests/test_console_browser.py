"""The web console in a real browser: Playwright driving Debian's Chromium (/usr/bin/chromium,
installed by `.ci/run` when missing; never `playwright install`) against `serve`'s console
routes on 127.0.0.1."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from starlette.applications import Starlette

from bot.core import markup
from bot.core.clock import FixedClock
from bot.runtime import admin
from bot.runtime.app import App
from storage import console_web, people
from tests.conftest import chat

CHROMIUM = Path("/usr/bin/chromium")
JAPANESE_FONTS = {"IPAexGothic", "Noto Sans CJK JP", "Hiragino Sans"}  # the stylesheet's choices
# Skipped on a machine without it; under CI (.ci/run installs it) they run, and fail if it is gone.
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and os.environ.get("CI") != "true", reason="no /usr/bin/chromium"
)


@pytest.fixture
async def site(demo_company: App) -> AsyncIterator[str]:
    app = demo_company
    await app.prepare()
    # Our own listening socket: the browser's first request waits in its backlog until uvicorn
    # accepts it, so nothing polls for the server to be up.
    listening = socket.create_server(("127.0.0.1", 0))
    port = int(listening.getsockname()[1])
    config = uvicorn.Config(Starlette(routes=admin.routes(app)), log_level="warning",
                            lifespan="off")  # fmt: skip
    server = uvicorn.Server(config)
    serving = asyncio.get_running_loop().create_task(server.serve(sockets=[listening]))
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await serving
    listening.close()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        await launched.close()


async def link(app: App, email: str, *, force: bool = False) -> str:
    async with app.db.transaction() as session:
        person = await people.person_by_email(session, email)
        assert person is not None and (force or console_web.may_sign_in(person))
        return await console_web.issue_link(session, person, app.clock.now())


async def open_link(page: Page, url: str) -> None:
    """Open a login link and press its button: only that POST spends it (a preview cannot).
    Returns once the page the POST leads to has loaded (the dashboard, or the refusal)."""
    shown = await page.goto(url)
    assert shown is not None and shown.status == 200
    async with page.expect_navigation():
        await page.click("#sign-in")


async def signed_in(
    app: App, site: str, browser: Browser, email: str
) -> tuple[BrowserContext, Page, list[str]]:
    """A fresh browser context signed in as `email` by its one-time link, on the dashboard."""
    context, page, errors = await fresh_page(browser)
    await open_link(page, f"{site}/admin/login/{await link(app, email)}")
    return context, page, errors


async def fresh_page(browser: Browser) -> tuple[BrowserContext, Page, list[str]]:
    context = await browser.new_context()
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return context, page, errors


async def drawn_with(page: Page, selector: str) -> set[str]:
    """The fonts Chromium drew the element's own text with (tofu comes from a font without the
    glyphs: DejaVu, Liberation)."""
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("DOM.enable")
    await cdp.send("CSS.enable")
    root = await cdp.send("DOM.getDocument")
    node = await cdp.send(
        "DOM.querySelector", {"nodeId": root["root"]["nodeId"], "selector": selector}
    )
    text = await cdp.send("DOM.describeNode", {"nodeId": node["nodeId"], "depth": 1})
    ids = [c["backendNodeId"] for c in text["node"].get("children", []) if c["nodeType"] == 3]
    fonts: set[str] = set()
    pushed = await cdp.send("DOM.pushNodesByBackendIdsToFrontend", {"backendNodeIds": ids})
    for node_id in pushed["nodeIds"] or [node["nodeId"]]:
        used = await cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node_id})
        fonts |= {f["familyName"] for f in used["fonts"] if f["glyphCount"]}
    await cdp.detach()
    return fonts


async def test_a_login_link_signs_in_once_and_never_again(
    app: App, site: str, browser: Browser
) -> None:
    url = f"{site}/admin/login/{await link(app, 'hr@example.com')}"
    context, page, errors = await fresh_page(browser)
    await open_link(page, url)
    assert page.url == f"{site}/admin"
    assert await page.get_attribute("html", "lang") == "ja"  # a Japanese HR person
    assert "ダッシュボード" in await page.inner_text("h1")
    assert len(await page.locator("#stats li").all()) >= 5
    # Japanese is drawn with a real font, not boxes, even where the machine has none: what
    # Chromium really drew each Japanese text with (its devtools protocol says).
    for selector in ("h1", "header strong", "header button", "#stats li"):
        fonts = await drawn_with(page, selector)
        assert fonts and fonts <= JAPANESE_FONTS, (selector, fonts)
    await page.click("text=交流ログ")
    assert "交流ログ" in await page.inner_text("h1")
    assert errors == []
    other, again, _ = await fresh_page(browser)
    answer = await again.goto(url)
    assert answer is not None and answer.status == 410
    assert "すでに使われています" in await again.inner_text("#message")
    assert (await again.goto(f"{site}/admin")).status == 401  # type: ignore[union-attr]
    await other.close()
    await context.close()


async def test_a_link_expires_after_15_minutes(
    app: App, site: str, browser: Browser, clock: FixedClock
) -> None:
    url = f"{site}/admin/login/{await link(app, 'admin@example.com')}"
    clock.advance(minutes=15)
    context, page, _ = await fresh_page(browser)
    answer = await page.goto(url)
    assert answer is not None and answer.status == 410
    assert "期限切れ" in await page.inner_text("#message")  # in the link owner's language
    await context.close()


async def test_an_alumnas_link_is_refused(app: App, site: str, browser: Browser) -> None:
    url = f"{site}/admin/login/{await link(app, 'hanako@example.com', force=True)}"
    context, page, _ = await fresh_page(browser)
    answer = await page.goto(url)
    assert answer is not None and answer.status == 403
    assert await context.cookies() == []
    await context.close()


async def test_hr_cannot_open_the_audit_log(app: App, site: str, browser: Browser) -> None:
    context, page, _ = await signed_in(app, site, browser, "hr@example.com")
    assert await page.locator("text=監査ログ").count() == 0  # not even offered
    answer = await page.goto(f"{site}/admin/audit")
    assert answer is not None and answer.status == 403
    assert "管理者だけ" in await page.inner_text("#message")
    await context.close()


async def test_a_post_without_the_csrf_token_is_refused(
    app: App, site: str, browser: Browser
) -> None:
    context, page, _ = await signed_in(app, site, browser, "admin@example.com")
    forged = await context.request.post(f"{site}/admin/logout", form={"x": "1"})
    assert forged.status == 403
    await page.goto(f"{site}/admin")
    await page.click("button[type=submit]")  # the page's own form carries the token
    assert "サインアウトしました" in await page.inner_text("#message")
    assert (await page.goto(f"{site}/admin")).status == 401  # type: ignore[union-attr]
    await context.close()


async def test_the_dashboards_numbers_are_the_chats_stats(
    app: App, site: str, browser: Browser
) -> None:
    """What HR reads on the dashboard is, line for line, what `stats` answers in chat."""
    answer = await chat(app, "hr@example.com").say("/stats")
    context, page, errors = await signed_in(app, site, browser, "hr@example.com")
    shown = [text.strip() for text in await page.locator("#stats li").all_inner_texts()]
    said = [markup.plain(row).strip() for row in answer.splitlines() if row.strip()]
    assert len(shown) >= 5 and all(row in said for row in shown), (shown, said)
    assert any(ch.isdigit() for row in shown for ch in row)
    assert errors == []
    await context.close()


async def test_an_admin_filters_the_engagement_log_and_exports_it(
    app: App, site: str, browser: Browser, clock: FixedClock
) -> None:
    context, page, errors = await signed_in(app, site, browser, "admin@example.com")
    await page.goto(f"{site}/admin/interactions")
    start = (clock.now() - timedelta(days=30)).date().isoformat()
    await page.fill("input[name=from]", start)
    await page.fill("input[name=segment]", "alumni")
    await page.click("form.filter button[type=submit]")
    assert f"from={start}" in page.url and "segment=alumni" in page.url
    counted = re.search(r"(\d+)\s*件", await page.inner_text("#total"))
    assert counted is not None
    total = int(counted.group(1))
    async with page.expect_download() as waiting:
        await page.click("#csv")
    saved = await (await waiting.value).path()
    data = await asyncio.to_thread(Path(saved).read_text, encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(data)))
    assert len(rows) == total > 0  # the export is the filtered log, every row of it
    assert all(row["occurred_on"] >= start for row in rows)
    assert errors == []
    await context.close()


async def test_hr_is_refused_the_people_page(app: App, site: str, browser: Browser) -> None:
    context, page, _ = await signed_in(app, site, browser, "hr@example.com")
    assert await page.locator("header nav a[href='/admin/people']").count() == 0
    answer = await page.goto(f"{site}/admin/people?q=山田")
    assert answer is not None and answer.status == 403
    assert "山田" not in await page.inner_text("main")
    await context.close()
