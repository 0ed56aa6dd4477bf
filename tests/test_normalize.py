"""Japanese-aware folding: what should meet, meets; what should not, stays apart."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.normalize import MAX_ID, fold, number
from bot.core.readings import name_keys, romaji_key, strip_honorifics

VARIANT_PAIRS = """嶋島 𠮷吉 冨富 峯峰 舘館 薗園 黑黒 槇槙 德徳 髙高 﨑崎 邊辺 邉辺 澤沢 濱浜
齋斉 齊斉 斎斉 廣広 櫻桜 國国 眞真 惠恵 實実 龍竜 淺浅 榮栄 邨村 栁柳"""


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
        # the list, and more of the 人名用漢字 旧字体 and surname variants
        *[tuple(pair) for pair in VARIANT_PAIRS.split()],
    ],
)
def test_variants_fold_to_the_same_form(a: str, b: str) -> None:
    assert fold(a) == fold(b)


@pytest.mark.parametrize(("a", "b"), [("佐藤", "斉藤"), ("python", "typhon"), ("営業", "広報")])
def test_different_things_stay_different(a: str, b: str) -> None:
    assert fold(a) != fold(b)


def test_the_variant_table_is_one_step_and_says_where_it_comes_from() -> None:
    import bot.core.variants as variants

    table = variants.VARIANT_KANJI
    assert len(table) > 250
    assert all(ord(new) not in table for new in table.values())  # no chains: folding is stable
    assert "人名用漢字" in (variants.__doc__ or "") and "Unihan" in (variants.__doc__ or "")


@given(st.text(max_size=40))
def test_folding_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


@pytest.mark.parametrize(
    ("typed", "name"),
    [("佐藤さん", "佐藤"), ("山田部長", "山田"), ("鈴木課長さん", "鈴木"), ("田中 様", "田中"),
     ("Sato-san", "Sato"), ("Sato san", "Sato"), ("Yamada-sama", "Yamada"), ("さん", "さん"),
     ("Hassan", "Hassan"), ("Jackie Chan", "Jackie Chan"), ("中村先輩", "中村"),
     ("タナカクン", "タナカ")],
)  # fmt: skip
def test_honorifics_are_stripped_but_a_name_stays(typed: str, name: str) -> None:
    assert strip_honorifics(typed) == name


@pytest.mark.parametrize(
    ("a", "b"),
    [("Satou", "Sato"), ("Satoh", "sato"), ("Satō", "SATO"), ("Oono", "Ono"), ("Ohno", "Ono"),
     ("Yuuki", "Yuki"), ("Keiko", "Kēko"), ("Homma", "Honma"), ("Shimbashi", "Shinbashi")],
)  # fmt: skip
def test_romaji_spellings_of_the_same_sounds_share_a_key(a: str, b: str) -> None:
    assert romaji_key(a) == romaji_key(b)


def test_a_name_has_keys_in_every_script_and_order() -> None:
    keys = name_keys("山田 花子", "やまだ はなこ").exact
    assert {"山田花子", "山田", "花子", "やまだ", "やまだはなこ", "yamadahanako", "hanakoyamada",
            "yamada"} <= keys  # fmt: skip
    unread = name_keys("谷 翔太", None).exact  # no name_kana: pykakasi reads it
    assert {"谷", "たに", "tani", "tanishota", "shotatani"} <= unread
    assert {"emmasmith", "smithemma", "smith"} <= name_keys("Emma Smith", None).exact
    split = name_keys("佐藤 太郎", "さとうたろう").exact  # a reading without its space
    assert {"さとう", "たろう"} <= split


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", 12),
        ("#12", 12),
        ("１２", 12),  # typed full-width on a Japanese keyboard
        ("⑫", 12),
        (" 7 ", 7),
        ("²", 2),  # NFKC makes it a plain 2, which int() takes; str.isdigit() alone did not
        ("0", None),
        ("-3", None),
        ("1e3", None),
        ("٣", None),  # Arabic-Indic digits: not what anyone here types
        ("2147483648", None),  # past an integer key: the database would fail on it
        ("99999999999999999999", None),
        ("", None),
    ],
)
def test_a_typed_id_is_read_once_for_every_handler(text: str, expected: int | None) -> None:
    assert number(text) == expected


@given(st.text(max_size=12))
def test_no_text_makes_reading_an_id_fail(text: str) -> None:
    found = number(text)
    assert found is None or 0 < found <= MAX_ID
