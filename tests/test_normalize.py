"""Japanese-aware folding: what should meet, meets; what should not, stays apart."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.normalize import fold


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("髙橋　ハナコ", "高橋はなこ"),  # variant kanji, full-width space, katakana
        ("山﨑", "山崎"),
        ("齋藤", "斉藤"),
        ("ヤマダ・タロウ", "やまだたろう"),
        ("ＰＹＴＨＯＮ", "python"),
        ("ｶﾀｶﾅ", "かたかな"),  # half-width katakana
        ("Java Script", "javascript"),
    ],
)
def test_variants_fold_to_the_same_form(a: str, b: str) -> None:
    assert fold(a) == fold(b)


@pytest.mark.parametrize(("a", "b"), [("佐藤", "斉藤"), ("python", "typhon"), ("営業", "広報")])
def test_different_things_stay_different(a: str, b: str) -> None:
    assert fold(a) != fold(b)


@given(st.text(max_size=40))
def test_folding_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)
