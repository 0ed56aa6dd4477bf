"""CSV import: all or nothing, every bad row reported by line, re-import updates by email."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli import main
from bot.core.i18n import Catalogs
from bot.runtime.app import App
from storage import importer
from storage.models import Identity, Person, Relation
from tests.support.people import PEOPLE_CSV, RELATIONS_CSV

ROOT = Path(__file__).resolve().parent.parent

HEADER = PEOPLE_CSV.splitlines()[0]


async def count(app: App, model: type) -> int:
    async with app.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def run_import(app: App, kind: str, data: bytes) -> importer.ImportResult:
    run = importer.import_people if kind == "people" else importer.import_relations
    async with app.db.transaction() as session:
        return await run(session, data, app.clock.now())


async def test_import_then_reimport_updates_by_email(app: App) -> None:
    first = await run_import(app, "people", PEOPLE_CSV.encode())
    assert (first.created, first.updated) == (5, 0)
    changed = PEOPLE_CSV.replace(
        "山田 花子,やまだ はなこ,営業,マネージャー", "山田 花子,やまだ はなこ,営業,部長"
    )
    changed = changed.replace("hanako@example.com", "Hanako@Example.com")  # same person
    second = await run_import(app, "people", changed.encode())
    assert (second.created, second.updated, second.unchanged) == (0, 1, 4)
    async with app.db.transaction() as session:
        hanako = (await session.scalars(select(Person).where(Person.name == "山田 花子"))).one()
        assert hanako.title == "部長" and hanako.skills == ["営業", "交渉"]
    assert (await run_import(app, "relations", RELATIONS_CSV.encode())).created == 2
    assert (await run_import(app, "relations", RELATIONS_CSV.encode())).unchanged == 2


async def test_imported_chat_ids_link_people(app: App) -> None:
    csv = HEADER + "\nken@example.com,Ken,,Sales,,2020-01-01,2024-01-01,new_grad,,,,,,U123,987\n"
    await run_import(app, "people", csv.encode())
    async with app.db.transaction() as session:
        rows = (await session.execute(select(Identity.channel, Identity.user_id))).all()
    assert sorted(rows) == [("slack", "U123"), ("telegram", "987")]


BAD_PEOPLE = [
    ("email,name\nx@example.com,X\n", 1, "missing column 'department'"),
    (HEADER + "\nx@example.com,X,,,,2024-13-01,,,,,,,,,\n", 2, "joined_on '2024-13-01' is not a date"),
    (HEADER + "\nx@example.com,X,,,,,,intern,,,,,,,\n", 2, "join_route 'intern' must be new_grad or mid_career"),
    (HEADER + "\nx@example.com,X,,,,,,,,,,,,,\ny@example.com,Y,,,,,,,,,,,,,\nX@example.com,X2,,,,,,,,,,,,,\n", 4, "already appears on line 2"),
    (HEADER + "\nnot-an-email,X,,,,,,,,,,,,,\n", 2, "is not a valid address"),
    (HEADER + "\nx@example.com,,,,,,,,,,,,,,\n", 2, "name is empty"),
    (HEADER + "\nx@example.com,X,,,,2024-01-01,2023-01-01,,,,,,,,\n", 2, "left_on is before joined_on"),
    (HEADER + "\nx@example.com,X,,,,,,,,,,,Mars/Base,,\n", 2, "not an IANA time zone"),
    (HEADER + ",extra\nx@example.com,X,,,,,,,,,,,,,,\n", 1, "unknown column 'extra'"),
    ("", 1, "the file is empty"),
    (HEADER + ",email\nx@example.com,X,,,,,,,,,,,,,,,x@example.com\n", 1, "column 'email' appears twice"),
    (HEADER + '\nx@example.com,"X,,,,,,,,,,,,,,\n', 2, "is not closed"),  # swallows the rest
    (HEADER + "\nx@example.com,X\x00Y,,,,,,,,,,,,,\n", 2, "name holds a control character"),
    (HEADER + "\n" + "x" * 320 + "@example.com,X,,,,,,,,,,,,,\n", 2, "is not a valid address"),
    (HEADER + "\nx@example.com,X" + "," * 12 + "U" * 129 + ",\n", 2, "longer than 128 characters"),
    (HEADER + '\nx@example.com,"Xa,,,,,,,,,,,,,\ny@example.com,Y",,,,,,,,,,,,,\n', 2, "name runs over several lines"),
]  # fmt: skip


@pytest.mark.parametrize(("content", "line", "message"), BAD_PEOPLE)
async def test_a_bad_people_file_imports_nothing(
    app: App, content: str, line: int, message: str
) -> None:
    good_rows = "\n".join(PEOPLE_CSV.splitlines()[1:])
    data = (
        (content.rstrip("\n") + "\n" + good_rows + "\n") if content.startswith(HEADER) else content
    )
    with pytest.raises(importer.ImportFailed) as failed:
        await run_import(app, "people", data.encode())
    assert any(e.line == line and message in e.message for e in failed.value.errors), (
        failed.value.errors
    )
    assert await count(app, Person) == 0


async def test_wrong_encoding_is_reported_with_its_line(app: App) -> None:
    data = (HEADER + "\nx@example.com,山田,,,,,,,,,,,,,\n").encode("shift_jis")
    with pytest.raises(importer.ImportFailed) as failed:
        await run_import(app, "people", data)
    assert failed.value.errors[0].line == 2 and "UTF-8" in failed.value.errors[0].message
    assert await count(app, Person) == 0


async def test_every_bad_row_is_reported(app: App) -> None:
    data = (
        HEADER
        + "\na@example.com,,,,,,,,,,,,,,\nb@example.com,B,,,,x,,,,,,,,,\nc@example.com,C,,,,,,,,,,,,,\n"
    )
    with pytest.raises(importer.ImportFailed) as failed:
        await run_import(app, "people", data.encode())
    assert [e.line for e in failed.value.errors] == [2, 3]


async def test_bad_relations_import_nothing(app: App) -> None:
    await run_import(app, "people", PEOPLE_CSV.encode())
    data = (
        RELATIONS_CSV
        + "nobody@example.com,taro@example.com,manager\nhanako@example.com,taro@example.com,friend\ntaro@example.com,taro@example.com,colleague\n"
    )
    with pytest.raises(importer.ImportFailed) as failed:
        await run_import(app, "relations", data.encode())
    messages = [(e.line, e.message) for e in failed.value.errors]
    assert (4, "nobody with email 'nobody@example.com' (import people first)") in messages
    assert (5, "kind 'friend' must be colleague or manager") in messages
    assert (6, "a person cannot be related to themselves") in messages
    assert await count(app, Relation) == 0


def test_cli_import_reports_rows_and_exits_non_zero(
    tmp_path: Path,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    bad = tmp_path / "people.csv"
    bad.write_text(HEADER + "\nx@example.com,X,,,,,,intern,,,,,,,\n", encoding="utf-8")
    assert main(["import", "people", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "line 2: join_route 'intern'" in err and "nothing was imported" in err
    good = tmp_path / "good.csv"
    good.write_text(PEOPLE_CSV, encoding="utf-8")
    assert main(["import", "people", str(good)]) == 0
    assert "5 created" in capsys.readouterr().out
    assert main(["import", "people", str(tmp_path / "missing.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_every_row_problem_is_a_message_in_both_languages() -> None:
    """A row problem is a catalog key (imports.po), so the console can say it in Japanese."""
    said = re.compile(r"""(?:problem|row_error)\((?:[^"()]*,\s*)?"(imports\.[a-z0-9_]+)\"""")
    used = set()
    for module in ("importer.py", "jobs.py"):
        used |= set(said.findall((ROOT / "storage" / module).read_text(encoding="utf-8")))
    catalogs = Catalogs.load()
    assert len(used) > 20, used  # the pattern finds them: the check is not empty
    for locale in ("en", "ja"):
        assert not used - set(catalogs.messages[locale]), locale
    problem = importer.problem("imports.bad_email", column="email", value="x")
    assert (
        problem.text(catalogs.translator("ja"))
        == "email の「x」は正しいメールアドレスではありません"
    )
    assert str(importer.RowError(3, (problem,))) == "line 3: email 'x' is not a valid address"
