"""The layers of docs/architecture.md hold: every import points down, and no module imports
itself back through others. Read from the source (AST), so function-local and TYPE_CHECKING
imports count as well as module-level ones."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from bot.core.platforms import PLATFORMS

ROOT = Path(__file__).resolve().parent.parent
# Lowest first; a module may import its own layer or any lower one.
LAYERS = (
    "bot.core",
    "storage",
    "bot.dispatch",
    "handlers",
    "bot.runtime",
    "bot.channels",
    "bot.cli",
)
SDKS = ("slack_bolt", "slack_sdk", "telegram", "linebot", "aiosmtplib")
# Outside bot/channels/, only the registry and the settings may name a platform in code.
NAMING_ALLOWED = ("bot.core.platforms", "bot.core.settings")
# (module, text) pairs that are words people type, not the platform.
# "we talked on slack / on LINE": words for an online conversation in a `log` line
WORDS = {("handlers.interactions", "slack"), ("handlers.interactions", "line")}
# A line of text, not LINE: the platform's name is an ordinary word, which this check cannot tell
# apart by spelling. Keep the list short: a new entry is a module that may be naming LINE.
WORDS |= {
    ("handlers.checkins", "checkin.year_line"), ("handlers.checkins", "reach_line"),
    ("handlers.perks", "line"), ("handlers.perks", "perks.hr_line"),
    ("handlers.referrals", "Line"), ("handlers.referrals", "line"),
    ("handlers.referrals", "referrals.line_interest"),
    ("handlers.referrals", "referrals.line_referral"), ("handlers.report_tables", "line"),
    ("storage.importer", " already appears on line "), ("storage.importer", "_line"),
    ("storage.importer", "line"), ("storage.importer", "line "), ("storage.importer", "line_num"),
    ("storage.jobs", "line"), ("storage.referrals", "Line"),
}  # fmt: skip


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for top in ("bot", "handlers", "storage"):
        for path in (ROOT / top).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports(path: Path, known: frozenset[str] = frozenset()) -> set[str]:
    """What a module imports. `from pkg import sub` names the submodule `pkg.sub` only (the
    package itself is then just its parent, already initialised); `from pkg import NAME` names
    `pkg`, whose namespace it reads."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                names.add(sub if sub in known else node.module)
    return names


def layer(module: str) -> int | None:
    best = None
    for i, prefix in enumerate(LAYERS):
        if module == prefix or module.startswith(prefix + "."):
            best = i  # the longest prefix wins (bot.core before bot)
    return best


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = frozenset(mods)
    return {m: {n for n in imports(p, known) if n in mods and n != m} for m, p in mods.items()}


def test_imports_only_point_down() -> None:
    wrong = [
        f"{m} → {n}"
        for m, targets in graph().items()
        for n in targets
        if (a := layer(m)) is not None and (b := layer(n)) is not None and b > a
    ]
    assert not wrong, "imports crossing a layer upwards:\n" + "\n".join(sorted(wrong))


def test_no_import_cycles() -> None:
    edges = graph()
    cycles: list[str] = []
    state: dict[str, int] = {}  # 1: on the stack, 2: done

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for n in sorted(edges[m]):
            if state.get(n) == 1:
                cycles.append(" → ".join([*stack[stack.index(n) :], n]))
            elif n not in state:
                visit(n, [*stack, n])
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [m])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_platform_sdks_only_in_channels() -> None:
    leaks = [
        f"{m} imports {n}"
        for m, p in modules().items()
        if not m.startswith("bot.channels")
        for n in imports(p)
        if n.split(".")[0] in SDKS
    ]
    assert not leaks, "\n".join(leaks)


WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")  # snake_case, camelCase and CAPS words


def platform_names(path: Path) -> set[str]:
    """Identifiers and string literals (not docstrings or comments) that name a platform: as a
    word of their own (`LineChannel`, `line_user_id`, "line.follow"), not inside another word
    ("lines", "online" are not LINE)."""
    names = {p.name for p in PLATFORMS if p.adapter}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        text: str | None = None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = None if id(node) in docstrings else node.value
        elif isinstance(node, ast.Name):
            text = node.id
        elif isinstance(node, ast.Attribute):
            text = node.attr
        elif isinstance(node, ast.alias):
            text = node.name
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            text = node.name
        if text and names & {w.lower() for w in WORD.findall(text)}:
            found.add(text)
    return found


def test_only_the_registry_and_settings_name_a_platform() -> None:
    named = {
        m: sorted(n for n in platform_names(p) if (m, n) not in WORDS)
        for m, p in modules().items()
        if not m.startswith("bot.channels") and m not in NAMING_ALLOWED
    }
    leaks = [f"{m}: {', '.join(n)}" for m, n in sorted(named.items()) if n]
    assert not leaks, "platform names outside bot/channels/:\n" + "\n".join(leaks)
