"""Cells a spreadsheet will not run: every CSV the bot writes goes through `safe_row`.

Alumni control some exported text (referral names, profile fields). A cell that starts with
`=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel, LibreOffice and Google Sheets
as a formula, so, as OWASP's "CSV Injection" page recommends, such a text cell is prefixed with a
single quote, which the spreadsheet shows as plain text. Numbers (`-3`, `-0.50`) and a lone sign
are left alone: they are not formulas, and a report's negative figure must stay a number."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)?([eE][+-]?\d+)?")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(TRIGGERS) and not NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]
