"""The command line as a newcomer and an operator use it: real processes, real exit codes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main


def run(
    args: list[str], cwd: Path, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_"))}
    environment.pop("DATABASE_URL", None)
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], cwd=cwd, input=stdin, capture_output=True,
        text=True, env=environment, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture(scope="module")
def demo_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo company, loaded by a real `demo` once for the tests that start from it."""
    folder = tmp_path_factory.mktemp("demo")
    loaded = run(["demo"], folder)
    assert loaded.returncode == 0, loaded.stderr
    return folder


@pytest.fixture
def demo_dir(demo_once: Path, tmp_path: Path) -> Path:
    """A copy of the demo database of one's own, as if `demo` had just run here."""
    for path in demo_once.glob("alumni.db*"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def test_demo_then_chat_answers_help_in_japanese_and_english(workdir: Path) -> None:
    first = run(["demo"], workdir)
    assert first.returncode == 0 and "300 people" in first.stdout, first.stderr
    again = run(["demo"], workdir)
    assert again.returncode == 0 and "already loaded" in again.stdout

    ja = run(["chat"], workdir, stdin="help\n")  # the demo admin speaks Japanese
    assert ja.returncode == 0, ja.stderr
    assert "できること" in ja.stdout and "/invite" in ja.stdout

    # Settings → edit → [#2] English, keep the other eight answers ("-"), then help in English.
    lines = "/settings\n#1\n＃２\n" + "-\n" * 8 + "help\n"  # ＃２: full-width works too
    en = run(["chat", "--as", "hr@example.com"], workdir, stdin=lines)
    assert "[#1] 設定を編集" in en.stdout and "(1/9)" in en.stdout
    assert "Settings saved" in en.stdout and "Here is what you can do" in en.stdout, en.stdout


def test_chat_as_an_unknown_email_fails_with_one_line(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In-process, like the tests below: the exit code and the line, without a start-up."""
    monkeypatch.chdir(workdir)
    assert main(["chat", "--as", "nobody@example.com"]) == 1
    assert "nobody with email" in capsys.readouterr().out


def test_bad_settings_stop_with_one_line_and_exit_2(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("PORT", "not-a-port")
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "PORT" in err
    monkeypatch.delenv("PORT")
    monkeypatch.setenv("ALUMNI_BOT_CONFIG", str(workdir / "nope.toml"))
    assert main(["db", "upgrade"]) == 2
    assert "nope.toml" in capsys.readouterr().err


def test_grant_and_invite_from_the_command_line(
    demo_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In-process (`main` is the entry point's own function): the exit codes and the one line
    a script reads, without four interpreter start-ups."""
    monkeypatch.chdir(demo_dir)
    assert main(["grant", "hanako@example.com", "hr"]) == 0
    assert "is hr" in capsys.readouterr().out
    assert main(["invite", "--email", "taro@example.com"]) == 0
    assert len(capsys.readouterr().out.strip()) == 8
    assert main(["invite", "--email", "ghost@example.com"]) == 1
    assert "nobody with email" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:  # argparse: not a role
        main(["grant", "hanako@example.com", "king"])
    assert refused.value.code == 2


def test_demo_then_drain_without_tokens_then_chat_shows_and_presses_the_checkin(
    demo_dir: Path,
) -> None:
    """The README's first command, as real processes: what the demo left due is delivered to
    the console, and the check-in's first button (`#1`) answers it."""
    drained = run(["worker", "--drain"], demo_dir)
    assert drained.returncode == 0, drained.stderr
    assert "sent 8" in drained.stdout and "console only" in drained.stderr
    shown = run(["chat", "--as", "hanako@example.com"], demo_dir, stdin="#1\n")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.index("お元気ですか") < shown.stdout.index("[#1] 会って話した")
    assert "法人営業マネージャー" in shown.stdout and "アルムナイ カフェ会" in shown.stdout
    assert "どなたと？" in shown.stdout  # #1 pressed "met in person"
    again = run(["chat", "--as", "hanako@example.com"], demo_dir)
    assert "新着メッセージ" not in again.stdout  # read once


def test_the_console_shows_demo_openings_and_plain_text(demo_dir: Path) -> None:
    workdir = demo_dir
    shown = run(["chat", "--as", "hanako@example.com"], workdir, stdin="/jobs\n/refer\n/cancel\n")
    assert "jobs.type" not in shown.stdout  # no raw message keys
    assert "*" not in shown.stdout  # Slack's *bold* is not printed on a terminal
    assert "ERROR" not in shown.stderr


def test_the_demo_is_the_same_company_every_time(tmp_path: Path) -> None:
    """Two newcomers (processes with different string hashing) see the same report."""
    reports = []
    for seed in ("1", "2"):
        folder = tmp_path / seed
        folder.mkdir()
        assert run(["demo"], folder, PYTHONHASHSEED=seed).returncode == 0
        shown = run(["report"], folder, PYTHONHASHSEED=seed)
        assert shown.returncode == 0, shown.stderr
        reports.append(shown.stdout)
    assert reports[0] == reports[1] and "スピアマン" in reports[0]


def test_a_lease_that_would_send_twice_stops_the_start_with_one_line(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A lease shorter than a message may wait for its slot and take to send lets a second
    worker claim it meanwhile: refused at start, not discovered as duplicates."""
    config = workdir / "short-lease.toml"
    config.write_text("[delivery]\nlease_seconds = 60\nmax_ahead_seconds = 60\n", encoding="utf-8")
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("ALUMNI_BOT_CONFIG", str(config))
    assert main(["worker", "--drain"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "lease_seconds (60)" in err and "twice" in err
    config.write_text("[delivery]\nlease_seconds = 120\nmax_ahead_seconds = 60\n", encoding="utf-8")
    assert main(["db", "upgrade"]) == 0
