"""Writes tests/data/japanese_names.csv: 300 people with real, common Japanese names and readings,
in the people-import format, for tests/test_name_lookup.py.

    .venv/bin/python tests/data/make_japanese_names.py

Names: common surnames (the top of the usual frequency rankings, plus one-kanji surnames such as
谷, 東, 堀 and ones whose kanji have variants: 高橋, 山崎, 斉藤, 島田, 吉田, 渡辺, 沢田, 浜田) and
common given names of several generations. Readings come from pykakasi; where its reading of a
name is not the usual one (it reads 平野 as へいや, 陽菜 as はるな) the usual one is listed in
`USUAL`. Pairs are drawn with a fixed seed, so the file is the same on every run; two pairs are
repeated on purpose (namesakes, told apart by department and years). Every third person has no
`name_kana`, as in an import that lacks readings: the bot reads those with pykakasi."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pykakasi

SURNAMES = """佐藤 鈴木 高橋 田中 伊藤 渡辺 山本 中村 小林 加藤 吉田 山田 佐々木 山口
松本 井上 木村 林 斉藤 清水 山崎 森 池田 橋本 阿部 石川 山下 中島 石井
小川 前田 岡田 長谷川 藤田 後藤 近藤 村上 遠藤 青木 坂本 福田 太田 西村
藤井 金子 岡本 藤原 中野 三浦 原田 中川 松田 竹内 小野 田村 中山 和田 石田
森田 上田 原 柴田 酒井 工藤 横山 宮崎 宮本 内田 高木 安藤 谷口 大野 丸山
今井 河野 藤本 村田 武田 上野 杉山 増田 平野 大塚 千葉 久保 松井 小島 岩崎
桜井 野口 松尾 野村 木下 菊地 佐野 大西 杉本 新井 浜田 菅原 市川 水野 小松
島田 古川 小山 高野 西田 山内 西川 五十嵐 北村 安田 中田 川口 平田 川崎
飯田 吉川 本田 久保田 沢田 辻 関 吉村 岩田 中西 服部 樋口 福島 川上 永井
松岡 田口 山中 森本 土屋 矢野 広瀬 秋山 石原 松下 大橋 松浦 吉岡 小池 馬場
浅野 荒木 大久保 野田 小沢 田辺 川村 星野 黒田 堀 尾崎 望月 永田 熊谷 内藤
松村 西山 大谷 平井 大島 岩本 片山 本間 早川 横田 岡崎 大石 鎌田 成田 宮田
小田 石橋 篠原 須藤 河合 高田 谷 東 南 岸 堤 泉 岡 畑 峰 富田 吉野 園田
徳永 槙野""".split()
GIVEN = """太郎 一郎 健太 翔太 大輔 拓也 直樹 健一 誠 浩 隆 剛 亮 蓮 陽翔 悠真 湊
大和 翔 拓海 和也 達也 雄大 健二 修 学 実 豊 進 勇気 優太 航 大樹 陸
颯太 海斗 涼 光 純一 慎吾 花子 美咲 陽菜 結衣 葵 彩 真由美 恵 愛 優子
智子 裕子 由美 久美子 直美 明美 美穂 さくら 凛 結菜 芽依 莉子 美羽 七海 杏
楓 千尋 舞 香織 麻衣 沙織 綾香 理恵 京子 洋子 幸子 和子 恵子 陽子 美紀
真理 由香 加奈子 奈々 菜摘 ひかり 大介 亮太 正樹 秀樹 博 聡 勝 茂 清 悟
翼 蒼 樹 奏 美月 心春 紬""".split()
USUAL = {
    "平野": "ひらの", "関": "せき", "山中": "やまなか", "小山": "こやま", "熊谷": "くまがい",
    "畑": "はた", "蓮": "れん", "陽翔": "はると", "学": "まなぶ", "実": "みのる", "大樹": "だいき",
    "颯太": "そうた", "光": "ひかる", "陽菜": "ひな", "彩": "あや", "楓": "かえで",
    "千尋": "ちひろ",
    "七海": "ななみ", "杏": "あん", "真理": "まり", "勝": "まさる", "蒼": "あおい", "樹": "いつき",
    "奏": "かなで", "心春": "こはる", "亮": "りょう", "航": "わたる",
}  # fmt: skip
DEPARTMENTS = ["営業", "開発", "人事", "経理", "マーケティング", "法務", "カスタマーサクセス"]
HEADER = (
    "email,name,name_kana,department,title,joined_on,left_on,join_route,leave_reason,skills,"
    "location,locale,timezone,slack_user_id,telegram_user_id"
).split(",")
COUNT = 300


def main() -> None:
    kakasi = pykakasi.kakasi()  # type: ignore[no-untyped-call]

    def read(part: str) -> str:
        return USUAL.get(part) or "".join(i["hira"] for i in kakasi.convert(part))

    rng = random.Random(2026)
    pairs = [(rng.choice(SURNAMES), rng.choice(GIVEN)) for _ in range(COUNT - 2)]
    pairs += pairs[:2]  # namesakes
    rows = []
    for n, (surname, given) in enumerate(pairs, start=1):
        joined = rng.randint(1995, 2020)
        left = rng.choice([None, joined + rng.randint(1, 6)])
        rows.append(
            {
                "email": f"p{n:03}@example.com",
                "name": f"{surname} {given}",
                "name_kana": "" if n % 3 == 0 else f"{read(surname)} {read(given)}",
                "department": rng.choice(DEPARTMENTS),
                "joined_on": f"{joined}-04-01",
                "left_on": f"{min(left, 2025)}-03-31" if left else "",
                "locale": "ja",
                "timezone": "Asia/Tokyo",
            }
        )
    path = Path(__file__).with_name("japanese_names.csv")
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, HEADER, restval="")
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
