"""PNG charts of report tables (handlers/report_tables.py): matplotlib, headless, with a Japanese
font that ships with the project's dependencies.

The font is IPAexGothic from the `matplotlib-fontja` package (pinned in pyproject.toml), so a
fresh machine needs no system font; DejaVu Sans (bundled with matplotlib) is the per-glyph
fallback for the few symbols IPAexGothic lacks (the en dash of "1–2"). Rendering is CPU work:
callers run it in a thread (`render_async`), one figure at a time (matplotlib's font state is
global)."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from handlers.report_tables import Table

FONT_FAMILY = ["IPAexGothic", "DejaVu Sans"]
BAR_COLORS = ("#2f6db5", "#7fb3e6", "#e08a2c", "#f2c48d", "#5a9e6f")
_lock = threading.Lock()
_ready = False


def _setup() -> None:
    """Import matplotlib on first use (it is slow to import) with the Agg backend."""
    global _ready
    if _ready:
        return
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib_fontja
    from matplotlib import font_manager

    font_manager.fontManager.addfont(matplotlib_fontja.get_font_ttf_path())
    matplotlib.rcParams["font.family"] = FONT_FAMILY
    matplotlib.rcParams["axes.unicode_minus"] = False
    _ready = True


def font_name() -> str:
    """The font Japanese labels are drawn with (for tests and the README)."""
    _setup()
    from matplotlib import font_manager

    return str(font_manager.FontProperties(family=FONT_FAMILY).get_name())


def render(title: str, tables: Sequence[Table], empty: str = "no data yet") -> bytes:
    """One PNG of `figure`."""
    with _lock:
        out = io.BytesIO()
        figure(title, tables, empty).savefig(out, format="png")
        return out.getvalue()


def figure(title: str, tables: Sequence[Table], empty: str = "no data yet") -> Figure:
    """A horizontal bar chart for each table that has rows and plotted columns; a table whose
    plotted values are all zero says `empty` in its panel instead of drawing an axis around
    nothing, and so does the whole figure when no table has rows. Callers hold `_lock`."""
    _setup()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    drawn = [tb for tb in tables if tb.rows and tb.plot]
    heights = [1.2 + 0.32 * len(tb.rows) * max(1, len(tb.plot)) ** 0.5 for tb in drawn]
    fig = Figure(figsize=(9, 1.0 + sum(heights) if drawn else 2.5), dpi=110)
    FigureCanvasAgg(fig)
    fig.suptitle(title, fontsize=13)
    if not drawn:
        fig.text(0.5, 0.4, empty, ha="center", fontsize=14, color="#666666")
    else:
        axes = fig.subplots(len(drawn), 1, squeeze=False, height_ratios=heights)
        for ax, table in zip(axes[:, 0], drawn, strict=True):
            if any(_number(row[c]) for row in table.rows for c in table.plot):
                _bars(ax, table)
            else:
                _empty(ax, table, empty)
    fig.tight_layout()
    return fig


def _empty(ax: Axes, table: Table, empty: str) -> None:
    ax.set_title(table.title, fontsize=11, loc="left")
    ax.text(0.5, 0.5, empty, ha="center", va="center", fontsize=11, color="#666666",
            transform=ax.transAxes)  # fmt: skip
    ax.set_axis_off()


def _bars(ax: Axes, table: Table) -> None:
    # The number of people behind each bar, when the table has it and does not plot it.
    counted = 1 not in table.plot and all(isinstance(row[1], int) for row in table.rows)
    labels = [f"{row[0]} (n={row[1]})" if counted else str(row[0]) for row in table.rows][::-1]
    n = len(table.plot)
    height = 0.8 / n
    for k, column in enumerate(table.plot):
        values = [_number(row[column]) for row in table.rows][::-1]
        positions = [i + ((n - 1) / 2 - k) * height for i in range(len(labels))]
        ax.barh(
            positions,
            values,
            height=height,
            label=table.columns[column],
            color=BAR_COLORS[k % len(BAR_COLORS)],
        )
    ax.set_yticks(range(len(labels)), labels, fontsize=9)
    ax.set_title(table.title, fontsize=11, loc="left")
    ax.grid(axis="x", alpha=0.3)
    if n > 1:
        # Beside the bars, never over them: the longest bar reaches the axis' right edge.
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    note = table.note.splitlines()[0] if table.note else ""
    if note:
        ax.set_xlabel(note, fontsize=8)


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


async def render_async(title: str, tables: Sequence[Table], empty: str = "no data yet") -> bytes:
    return await asyncio.to_thread(render, title, tables, empty)
