"""Pages from Jinja2 templates: escaped, in the viewer's language (`lang` set), and a
Content-Security-Policy that allows no script at all (the forms work without JavaScript)."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from bot.core.i18n import Translator
from bot.core.markup import CLOSE, OPEN
from bot.core.normalize import number
from storage.models import InteractionKind

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # a login link's token never leaves in a Referer
    "Cache-Control": "no-store",
}

ENV = Environment(
    loader=PackageLoader("bot.runtime.admin", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)

# Japanese renders on a machine without a Japanese font: the charts' own IPAexGothic
# (matplotlib-fontja), served from here, is the last resort after the system's fonts.
CSS = """
@font-face { font-family: "IPAexGothic"; src: url("/admin/static/ipaexg.ttf");
             font-weight: 100 900; }
button, input { font: inherit; }
select, textarea { font: inherit; }
:lang(ja) body { font-family: "Hiragino Sans", "Noto Sans CJK JP", "IPAexGothic", sans-serif; }
body { font-family: system-ui, "Hiragino Sans", "Noto Sans CJK JP", "IPAexGothic", sans-serif;
       margin: 0; }
header { background: #234; color: #fff; padding: .6em 1em; display: flex; gap: 1em;
         align-items: center; flex-wrap: wrap; }
header a { color: #fff; }
header form { margin-left: auto; }
main { max-width: 60em; margin: 1em auto; padding: 0 1em; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ccc; padding: .3em .5em; text-align: left; }
.refused { color: #a00; }
form.filter { display: flex; gap: .8em; flex-wrap: wrap; align-items: end; margin: 1em 0; }
"""


ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<rect width="16" height="16" rx="3" fill="#234"/></svg>'
)


KINDS = frozenset(k.value for k in InteractionKind)  # each has console_web.kind.<value>


def rich(text: str) -> Markup:
    """A catalog line escaped, its bold markers (bot/core/markup.py) as <strong>."""
    escaped = str(escape(text))
    html = re.sub(f"{OPEN}([^{OPEN}{CLOSE}]*){CLOSE}", r"<strong>\1</strong>", escaped)
    return Markup(html.replace(OPEN, "").replace(CLOSE, ""))


ENV.filters["rich"] = rich


def page_number(request: Request) -> int:
    """`?page=N` of a paged list (_pages.html); anything else is the first page."""
    found = number(request.query_params.get("page", ""))
    return found if found is not None and found < 1_000_000 else 1


def page(t: Translator, template: str, status: int = 200, **values: Any) -> Response:
    def kind_label(kind: str) -> str:
        return t(f"console_web.kind.{kind}") if kind in KINDS else kind

    html = ENV.get_template(template).render(t=t, lang=t.locale, kind_label=kind_label, **values)
    return HTMLResponse(html, status, headers=SECURITY_HEADERS)


def stylesheet() -> Response:
    return Response(CSS, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


def icon() -> Response:
    return Response(ICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


def message(t: Translator, status: int, key: str, viewer: object = None) -> Response:
    """A page of one sentence: signed out, refused, a bad link, an error."""
    return page(
        t, "message.html", status, viewer=viewer, heading=t("console_web.title"), text=t(key)
    )


@functools.cache
def _font_bytes() -> bytes:
    import matplotlib_fontja  # imported when first asked for, as the charts do

    return Path(matplotlib_fontja.get_font_ttf_path()).read_bytes()


def font() -> Response:
    return Response(
        _font_bytes(), media_type="font/ttf", headers={"Cache-Control": "max-age=604800"}
    )
