"""The engagement review as HR, admins and alumni meet it: who may see what, audited views and
refusals, charts that really draw Japanese, CSV exports, and the command line."""

from __future__ import annotations

import csv
import io
import warnings
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import main
from bot.core.types import Button
from bot.runtime.app import App
from handlers import report_charts as charts
from handlers.report_tables import Table, as_csv
from storage import privacy
from storage.models import AuditEntry, Interaction, Person, SurveyResponse
from tests.support.dialog import Chat
from tests.support.members import member, person
from tests.support.people import load_company

BOM = b"\xef\xbb\xbf"
HOME = Button("home", "home.open")  # what Slack's App Home tab dispatches


async def audit_log(app: App, action: str | None = None) -> list[AuditEntry]:
    async with app.db.transaction() as s:
        query = select(AuditEntry).order_by(AuditEntry.id)
        if action:
            query = query.where(AuditEntry.action == action)
        return list(await s.scalars(query))


async def staff(app: App) -> tuple[Chat, Chat, Chat]:
    await load_company(app)
    admin = await member(app, "admin@example.com", "201", locale="en")
    hr = await member(app, "hr@example.com", "202", locale="ja")
    hanako = await member(app, "hanako@example.com", "203", locale="ja")
    return admin, hr, hanako


async def test_who_may_see_what_and_every_refusal_is_audited(app: App) -> None:
    admin, hr, hanako = await staff(app)
    assert "エンゲージメント概要" in await hr.say("/stats")  # HR: aggregates
    assert "年間交流回数" in await hr.say("/report activity")
    for command in ("/export people 2026-01-01 2026-12-31", "/audit"):
        await hr.say(command)  # individuals: admins only
        assert hr.text == app.catalogs.text("ja", "error.forbidden_admin")  # not "HR or admin"
    await hanako.say("/stats")  # alumni: only their own data
    await hanako.say("/report")
    refused = [(e.target, e.allowed) for e in await audit_log(app, "refused")]
    assert refused == [("export", False), ("audit", False), ("stats", False), ("report", False)]
    assert "Engagement summary" in await admin.say("/stats")
    actions = [e.action for e in await audit_log(app) if e.action.endswith("_view")]
    assert actions == ["stats_view", "report_view", "stats_view"]


async def test_report_sections_become_charts_and_csv_for_the_same_view(app: App) -> None:
    admin, hr, _ = await staff(app)
    text = await admin.say("/report 2026-01-01 2026-11-24 department:営業")
    assert "2026-01-01 – 2026-11-24 · department:営業" in text
    assert "Contacts a year per alumnus" in text and "Rank correlation hidden" in text
    [view] = await audit_log(app, "report_view")
    assert view.detail == {"start": "2026-01-01", "end": "2026-11-24", "segment": "department:営業"}
    chart_button = next(b for b in admin.buttons if b.action == "report.chart")
    assert chart_button.payload == f"activity:{view.id}"
    await admin.press_button(chart_button)
    [reply] = admin.last
    assert reply.attachment is not None and reply.attachment.is_image
    assert reply.attachment.content.startswith(b"\x89PNG") and reply.private_only
    assert "department:営業" in reply.text
    await admin.say("/report funnel")
    await admin.press_action("report.csv")
    [reply] = admin.last
    assert reply.attachment is not None and reply.attachment.content.startswith(BOM)
    assert "Comeback and referral funnel" in reply.attachment.content.decode("utf-8-sig")
    assert [e.action for e in await audit_log(app) if e.action.startswith("report_")] == [
        "report_view",
        "report_chart",
        "report_view",
        "report_csv",
    ]
    # A button naming someone else's view is not theirs to redraw.
    hr.transcript.append(("(forwarded)", [admin.transcript[-2][1][0]]))
    assert await hr.press_action("report.csv") == app.catalogs.text("ja", "error.expired_button")


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/report 2026-13-01", "is not a date"),
        ("/report 2026-06-01 2026-01-01", "is after"),
        ("/report planet:mars", "is not a segment"),
        ("/report activity bogus", "Usage: report"),
        ("/export people 2026-01-01", "Usage: export"),
        ("/export salaries 2026-01-01 2026-02-01", "cannot be exported"),
        ("/audit actor:nobody@example.com", "Nobody has the email"),
        ("/audit when:now", "Usage: audit"),
    ],
)
async def test_bad_input_gets_one_friendly_line_and_changes_nothing(
    app: App, command: str, expected: str
) -> None:
    admin, _, _ = await staff(app)
    before = len(await audit_log(app))
    assert expected in await admin.say(command)
    assert len(admin.last) == 1 and admin.last[0].attachment is None
    assert len(await audit_log(app)) == before


async def _forgotten_hanako(app: App) -> None:
    """Hanako and Emma met and answered the survey; then Hanako used forgetme."""
    hanako, emma = await person(app, "hanako@example.com"), await person(app, "emma@example.com")
    taro = await person(app, "taro@example.com")
    async with app.db.transaction() as s:
        low, high = sorted((hanako.id, emma.id))
        s.add(
            Interaction(
                person_a=low,
                person_b=high,
                kind="online",
                occurred_on=date(2026, 3, 1),
                source="log",
            )
        )
        low, high = sorted((taro.id, emma.id))
        for day in (date(2026, 3, 2), date(2025, 3, 2)):  # the second is out of range
            s.add(
                Interaction(
                    person_a=low, person_b=high, kind="in_person", occurred_on=day, source="log"
                )
            )
        for who in (hanako, emma):
            s.add(
                SurveyResponse(
                    person_id=who.id,
                    period="2026H1",
                    rejoin=4,
                    keep_in_touch=5,
                    recommend=3,
                    answered_at=datetime(2026, 3, 1, tzinfo=UTC),
                )
            )
        forgotten = await s.get(type(hanako), hanako.id)
        assert forgotten is not None
        await privacy.forget(s, forgotten, datetime(2026, 4, 1, tzinfo=UTC))


def _csv(data: bytes) -> list[list[str]]:
    assert data.startswith(BOM)
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


async def test_chat_export_is_a_bom_csv_without_forgotten_people(app: App) -> None:
    admin, _, _ = await staff(app)
    await _forgotten_hanako(app)
    await admin.say("/export interactions 2026-01-01 2026-12-31")
    [reply] = admin.last
    assert reply.attachment is not None and reply.attachment.filename.endswith(".csv")
    rows = _csv(reply.attachment.content)
    assert rows[0] == ["occurred_on", "kind", "source", "email_a", "name_a", "email_b", "name_b"]
    assert [r[0] for r in rows[1:]] == ["2026-03-02"]  # Hanako's contact and 2025 left out
    assert "1 rows" in reply.text
    await admin.say("/export surveys 2026-01-01 2026-12-31")
    rows = _csv(admin.last[0].attachment.content)  # type: ignore[union-attr]
    assert [r[0] for r in rows[1:]] == ["emma@example.com"] and rows[1][6] == "4.00"
    await admin.say("/export people 2026-01-01 2026-12-31")
    rows = _csv(admin.last[0].attachment.content)  # type: ignore[union-attr]
    assert [r[0] for r in rows[1:]] == ["emma@example.com"]  # alumni only, never Hanako
    exports = [(e.target, e.detail["rows"]) for e in await audit_log(app, "export")]
    assert exports == [("interactions", 1), ("surveys", 1), ("people", 1)]


async def test_exports_write_times_in_the_company_zone_and_its_days(app: App) -> None:
    """DEFAULT_TIMEZONE is Asia/Tokyo: an answer given at 05:00 on 1 April in Tokyo (still
    31 March in UTC) is April's, and the file says 05:00+09:00, the hour people saw."""
    admin, _, _ = await staff(app)
    async with app.db.transaction() as s:
        for email, at in (
            ("emma@example.com", datetime(2026, 3, 31, 20, 0, tzinfo=UTC)),
            ("taro@example.com", datetime(2026, 3, 31, 14, 0, tzinfo=UTC)),  # 23:00 in Tokyo
        ):
            who = (await person(app, email)).id
            s.add(SurveyResponse(person_id=who, period="2026H1", rejoin=4, keep_in_touch=5,
                                 recommend=3, answered_at=at))  # fmt: skip
    await admin.say("/export surveys 2026-04-01 2026-04-30")
    rows = _csv(admin.last[0].attachment.content)  # type: ignore[union-attr]
    assert [(r[0], r[-1]) for r in rows[1:]] == [("emma@example.com", "2026-04-01T05:00:00+09:00")]


async def test_exports_never_hand_a_spreadsheet_a_formula(app: App) -> None:
    """OWASP's CSV injection: text an alumna controls is escaped, numbers stay numbers."""
    admin, _, _ = await staff(app)
    async with app.db.transaction() as s:
        emma = await s.get(Person, (await person(app, "emma@example.com")).id)
        assert emma is not None
        emma.title = '=HYPERLINK("https://evil.example","Click")'
        emma.leave_reason = "@SUM(A1)"
        emma.department = "\tcmd"
    await admin.say("/export people 2010-01-01 2026-12-31")
    rows = _csv(admin.last[0].attachment.content)  # type: ignore[union-attr]
    header, [row] = rows[0], [r for r in rows[1:] if r[0] == "emma@example.com"]
    got = dict(zip(header, row, strict=True))
    assert got["title"] == '\'=HYPERLINK("https://evil.example","Click")'
    assert (got["leave_reason"], got["department"]) == ("'@SUM(A1)", "'\tcmd")
    table = Table("s", "-title", ("+who", "n"), (("=1+1", -3), ("ok", -0.5)))
    assert _csv(as_csv([table]))[:4] == [
        ["'-title"],
        ["'+who", "n"],
        ["'=1+1", "-3"],
        ["ok", "-0.50"],
    ]


async def test_audit_shows_the_latest_with_filters(app: App) -> None:
    admin, hr, _ = await staff(app)
    await hr.say("/audit")  # refused, audited
    text = await admin.say("/audit refused")
    lines = text.splitlines()[1:]
    assert lines == ["✗ 2026-11-24 12:00 · hr@example.com · refused audit"]  # Tokyo time
    text = await admin.say("/audit actor:admin@example.com action:audit_view")
    assert text.count("audit_view") == 1  # the previous view (this one is recorded after)


async def test_admin_home_has_the_summary_and_the_latest_chart(app: App) -> None:
    admin, _, _ = await staff(app)
    await admin.press_button(HOME)
    assert "Engagement summary" in admin.text
    latest = next(b for b in admin.buttons if b.action == "report.chart")
    assert latest.payload == "activity" and "Latest chart" in latest.label
    await admin.say("/report consciousness")
    await admin.press_action("report.chart")
    await admin.press_button(HOME)
    latest = next(b for b in admin.buttons if b.action == "report.chart")
    assert latest.payload.startswith("consciousness:")  # the one last drawn
    await admin.press_button(latest)
    assert admin.last[0].attachment is not None


JAPANESE = Table(
    "activity",
    "元部署別の年間交流回数",
    ("", "人数", "元同僚・対面", "元上司・オンライン"),
    (
        ("エンジニアリング", 25, 3.1, 0.4),
        ("カスタマーサクセス", 27, 1.5, 0.3),
        ("営業", 6, 2.0, 0.5),
    ),
    (2, 3),
    "— : 5 人未満のため非表示",
)


def test_japanese_labels_render_without_missing_glyphs() -> None:
    assert charts.font_name() == "IPAexGothic"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = charts.render("交流頻度（年 1–2 回）", [JAPANESE])
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert not [w for w in caught if "missing from" in str(w.message)], caught


def test_the_glyph_check_does_catch_a_font_without_japanese() -> None:
    import matplotlib

    charts.font_name()  # set up first, then override for this block only
    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            charts.render("交流", [JAPANESE])
    assert [w for w in caught if "missing from" in str(w.message)]


def test_command_line_report_and_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    assert main(["demo"]) == 0
    capsys.readouterr()
    assert main(["report", "--section", "consciousness", "--lang", "en", "--chart", "charts"]) == 0
    printed = capsys.readouterr()
    assert "Consciousness by contacts with former managers" in printed.out
    assert "Spearman rank correlation" in printed.out
    [png] = (tmp_path / "charts").iterdir()
    assert png.name.startswith("report-consciousness-") and png.read_bytes()[:4] == b"\x89PNG"

    out = tmp_path / "rsvps.csv"
    assert main(["export", "rsvps", "--from", "2020-01-01", "--to", "2030-12-31", str(out)]) == 0
    data = out.read_bytes()
    assert data.startswith(BOM) and _csv(data)[0][:3] == ["event_id", "event", "starts_at"]
    assert len(_csv(data)) > 10

    for argv, message in (
        (["export", "salaries", "--from", "2026-01-01", "--to", "2026-02-01", "x.csv"], "KIND"),
        (["export", "people", "--from", "2026-02-01", "--to", "2026-01-01", "x.csv"], "after"),
        (["report", "--segment", "planet:mars"], "not a segment"),
    ):
        capsys.readouterr()
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err
    assert not (tmp_path / "x.csv").exists()


def test_a_chart_legend_sits_beside_the_bars_never_over_them() -> None:
    wide = Table("activity", "交流", JAPANESE.columns,
                 (("営業", 25, 9.0, 8.5), ("開発", 30, 8.0, 9.0)), (2, 3), "")  # fmt: skip
    with charts._lock:
        fig = charts.figure("交流頻度", [wide])
    fig.canvas.draw()
    [ax] = fig.axes
    drawn = ax.get_legend()
    assert drawn is not None
    legend = drawn.get_window_extent()
    assert fig.bbox.contains(legend.x1 - 1, legend.y0 + 1)  # inside the picture
    assert not [p for p in ax.patches if p.get_window_extent().overlaps(legend)]


def test_empty_charts_say_there_is_no_data_yet() -> None:
    zero = Table("funnel", "紹介の流れ", ("", "件数"), (("紹介", 0), ("採用", 0)), (1,), "")
    with charts._lock:
        fig = charts.figure("紹介", [zero, JAPANESE], "まだデータがありません")
    funnel, activity = fig.axes
    assert [t.get_text() for t in funnel.texts] == ["まだデータがありません"]
    assert not funnel.patches and activity.patches  # nothing drawn around an empty axis
    with charts._lock:
        nothing = charts.figure("特典", [], "まだデータがありません")
    assert [t.get_text() for t in nothing.texts] == ["特典", "まだデータがありません"]
