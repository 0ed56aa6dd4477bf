"""LINE's rich menu: the main commands as six tiles under the chat, in Japanese and English.

Each tile sends its command's English name as the person's own message (`help`, `profile`…),
which every language understands. `setup` replaces the bot's menu (by name) with a fresh one and
makes it everyone's default: `alumni-bot line setup`, and `serve` on start when there is none.
The tiles are drawn here with matplotlib and its bundled Japanese font (no image file to ship).
A failure is logged by the caller, never a reason to stop serving."""

from __future__ import annotations

import functools
import io
import logging
import threading
from typing import Any

from linebot.v3.messaging import (
    AsyncApiClient,
    AsyncMessagingApi,
    AsyncMessagingApiBlob,
    RichMenuRequest,
)

from bot.core.i18n import Catalogs

log = logging.getLogger(__name__)

MENU_NAME = "alumni-bot"
WIDTH, HEIGHT = 2500, 843  # LINE's large compact size
COMMANDS = ("help", "profile", "checkin", "jobs", "events", "settings")
COLUMNS = 3
_lock = threading.Lock()


def areas() -> list[dict[str, Any]]:
    cell_w, cell_h = WIDTH // COLUMNS, HEIGHT // 2
    return [
        {
            "bounds": {
                "x": (n % COLUMNS) * cell_w,
                "y": (n // COLUMNS) * cell_h,
                "width": cell_w,
                "height": cell_h,
            },
            "action": {"type": "message", "label": command, "text": command},
        }
        for n, command in enumerate(COMMANDS)
    ]


def request(catalogs: Catalogs) -> RichMenuRequest:
    bar = f"{catalogs.text('ja', 'line.menu_bar')} / {catalogs.text('en', 'line.menu_bar')}"
    return RichMenuRequest.from_dict(
        {
            "size": {"width": WIDTH, "height": HEIGHT},
            "selected": False,
            "name": MENU_NAME,
            "chatBarText": bar[:14],
            "areas": areas(),
        }
    )


def image(catalogs: Catalogs) -> bytes:
    """The PNG of the six tiles: each command's Japanese and English name."""
    names = tuple(
        (catalogs.text("ja", f"line.menu.{c}"), catalogs.text("en", f"line.menu.{c}"))
        for c in COMMANDS
    )
    return _drawn(names)


@functools.lru_cache(maxsize=4)
def _drawn(names: tuple[tuple[str, str], ...]) -> bytes:
    """Drawn once a process for the same names (about 50 ms of CPU each time)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib_fontja
    from matplotlib import font_manager
    from matplotlib.figure import Figure

    with _lock:
        font_manager.fontManager.addfont(matplotlib_fontja.get_font_ttf_path())
        font = font_manager.FontProperties(fname=matplotlib_fontja.get_font_ttf_path())
        figure = Figure(figsize=(WIDTH / 100, HEIGHT / 100), dpi=100)
        axes = figure.add_axes((0, 0, 1, 1))
        axes.set_xlim(0, WIDTH)
        axes.set_ylim(HEIGHT, 0)
        axes.axis("off")
        cell_w, cell_h = WIDTH / COLUMNS, HEIGHT / 2
        for n, (ja, en) in enumerate(names):
            x, y = (n % COLUMNS) * cell_w, (n // COLUMNS) * cell_h
            color = "#2f6db5" if n % 2 == 0 else "#3f7fc5"
            axes.add_patch(matplotlib.patches.Rectangle((x, y), cell_w, cell_h, color=color))
            middle_x, middle_y = x + cell_w / 2, y + cell_h / 2
            axes.text(middle_x, middle_y - 40, ja, ha="center", va="center", fontsize=64,
                      color="white", fontproperties=font)  # fmt: skip
            axes.text(middle_x, middle_y + 70, en, ha="center", va="center", fontsize=40,
                      color="#dce9f7", fontproperties=font)  # fmt: skip
        out = io.BytesIO()
        figure.savefig(out, format="png", dpi=100)
        return out.getvalue()


class DataHost(AsyncApiClient):  # type: ignore[misc]
    """The SDK sends blob calls (the menu's image) to a host of its own, api-data.line.me:
    pointed at LINE_API_URL when that is not LINE's own (a fake, a proxy)."""

    def __init__(self, configuration: Any, data_host: str) -> None:
        super().__init__(configuration)
        self.data_host = data_host

    def call_api(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("_host"):
            kwargs["_host"] = self.data_host
        return super().call_api(*args, **kwargs)


def data_host(api_url: str) -> str:
    url = api_url.rstrip("/")
    return "https://api-data.line.me" if url == "https://api.line.me" else url


async def current(api: AsyncMessagingApi) -> list[str]:
    listed = await api.get_rich_menu_list()
    return [m.rich_menu_id for m in listed.richmenus if m.name == MENU_NAME]


async def setup(api: AsyncMessagingApi, blob: AsyncMessagingApiBlob, catalogs: Catalogs) -> str:
    """Replace the bot's rich menu and make it the default; returns the new menu's id."""
    old = await current(api)
    created = await api.create_rich_menu(request(catalogs))
    menu_id = str(created.rich_menu_id)
    await blob.set_rich_menu_image(
        menu_id, body=bytearray(image(catalogs)), _headers={"Content-Type": "image/png"}
    )
    await api.set_default_rich_menu(menu_id)
    for stale in old:
        await api.delete_rich_menu(stale)
    log.info("LINE rich menu %s is everyone's default (%d older removed)", menu_id, len(old))
    return menu_id
