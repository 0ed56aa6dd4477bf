"""Rendering a `Reply` for Telegram stays within the Bot API's limits whatever the handlers put in
it: callback data, message length, entity offsets (UTF-16), button labels."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.channels.telegram import render
from bot.core.markup import bold
from bot.core.types import MAX_PAYLOAD_CHARS, Button, Reply
from bot.core.utf16 import split_text, utf16_len
from bot.dispatch.text import scrub
from bot.runtime.app import App
from storage import buttons as store

# Japanese, emoji (two UTF-16 units), combining marks, blanks: what labels and payloads carry.
TEXT = st.text(
    st.one_of(
        st.characters(codec="utf-8"),  # no lone surrogates
        st.sampled_from("あいう日本語データを削除する🎉👩‍💻 \n*"),
    )
)
BUTTONS = st.lists(
    st.lists(
        st.builds(
            Button,
            label=TEXT,
            action=st.text(min_size=1, max_size=100),
            payload=st.text(max_size=MAX_PAYLOAD_CHARS) | st.just("日" * MAX_PAYLOAD_CHARS),
        ),
        min_size=1,
        max_size=4,
    ),
    max_size=6,
)


def tokens_for(reply: Reply) -> dict[tuple[str, str], str]:
    return {key: store.new_token() for key in render.button_keys(reply)}


@settings(max_examples=300, deadline=None)
@given(rows=BUTTONS, text=TEXT)
@example(rows=[[Button("x", "a", "p")]], text="\x03")  # only a bold marker: blank when read
def test_no_callback_data_exceeds_64_bytes(rows: list[list[Button]], text: str) -> None:
    reply = Reply(text, buttons=tuple(tuple(r) for r in rows))
    out = render.render(reply, tokens_for(reply))
    buttons = [b for row in (out.keyboard.inline_keyboard if out.keyboard else ()) for b in row]
    assert len(buttons) == len(reply.all_buttons())
    for button in buttons:
        assert isinstance(button.callback_data, str)
        assert 0 < len(button.callback_data.encode()) <= render.MAX_CALLBACK_DATA
        assert button.text.strip() and len(button.text) <= render.MAX_LABEL
    if buttons:  # a keyboard always travels with a message Telegram accepts
        assert out.chunks and all(c.text.strip() for c in out.chunks)


@settings(max_examples=200, deadline=None)
@given(text=TEXT, repeat=st.integers(1, 400))
def test_texts_are_split_within_4096_and_nothing_is_lost(text: str, repeat: int) -> None:
    long = (text + "\n") * repeat
    pieces = split_text(long, render.MAX_TEXT)
    assert all(0 < utf16_len(p) <= render.MAX_TEXT for p in pieces)
    assert all(p.strip() for p in pieces)
    assert "".join("".join(pieces).split()) == "".join(long.split())  # only blanks at the cuts


@settings(max_examples=200, deadline=None)
@given(text=TEXT)
def test_bold_entities_stay_inside_the_text(text: str) -> None:
    chunk = render.to_chunk(text)
    size = utf16_len(chunk.text)
    for entity in chunk.entities:
        assert entity.offset >= 0 and entity.length > 0 and entity.offset + entity.length <= size


def test_bold_offsets_count_utf16_units() -> None:
    chunk = render.to_chunk(f"🎉 {bold('タイトル')} and {bold('more')}")
    assert chunk.text == "🎉 タイトル and more"
    assert [(e.offset, e.length) for e in chunk.entities] == [(3, 4), (12, 4)]


@settings(max_examples=200, deadline=None)
@given(text=TEXT.map(scrub))  # what people type reaches handlers scrubbed
def test_asterisks_people_type_are_shown_as_typed(text: str) -> None:
    chunk = render.to_chunk(text)
    assert chunk.text == text and chunk.entities == ()


def test_skills_with_asterisks_keep_them_beside_a_bold_title() -> None:
    chunk = render.to_chunk(f"{bold('Backend *engineer*')}\nC*, *nix, Go*")
    assert chunk.text == "Backend *engineer*\nC*, *nix, Go*"
    assert [(e.offset, e.length) for e in chunk.entities] == [(0, 18)]


def test_a_line_longer_than_a_message_is_cut_at_a_space() -> None:
    text = ("word " * 2000).strip()
    pieces = split_text(text, render.MAX_TEXT)
    assert len(pieces) == 3 and all(p.endswith("word") or p.endswith("word ") for p in pieces)


async def test_tokens_resolve_from_storage_and_expire(sqlite_app: App) -> None:
    db, now = sqlite_app.db, sqlite_app.clock.now()
    keys = [("onboarding.consent", "yes"), ("form.choose", "日本語の選択肢" * 4)]
    tokens = await store.issue(db, keys, now, "42")
    assert await store.resolve(db, tokens[keys[1]], now) == store.Pressed(*keys[1], "42")
    assert await store.resolve(db, "nope", now) is None
    assert await store.resolve(db, "x" * 500, now) is None
    later = now + store.TOKEN_TTL + timedelta(seconds=1)
    assert await store.resolve(db, tokens[keys[0]], later) is None
    assert await store.forget_old(db, later) == 2
