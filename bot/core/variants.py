"""Variant kanji (itaiji) folded to one form: 「髙橋」 finds 「高橋」, 「齋藤」 finds 「斉藤」.

Where the pairs come from:
- `OLD_FORMS`: the traditional forms (旧字体) that Japan's family register allows in names next to
  their 常用漢字 form — the 人名用漢字 list, 戸籍法施行規則 別表第二 (二), each written as
  "old new". NFKC already folds the CJK compatibility ideographs (祐, 都, 塚…), so they are absent.
- `SURNAME_FORMS`: variants that are not in that list but are common in surnames (嶋, 𠮷, 﨑, 髙,
  邉, 冨, 峯, 舘, 薗…), paired as Unicode's Unihan database pairs them (kZVariant or
  kSemanticVariant). 齋, 齊 and 斎 all become 斉, as people write 斉藤 for any of them.

Folding two different names together only ever costs a question ("which one?"), never a wrong
log, so the table errs on the side of folding."""

from __future__ import annotations

OLD_FORMS = """
    亞亜 惡悪 壓圧 圍囲 爲為 醫医 壹壱 稻稲 飮飲 隱隠 營営 榮栄 衞衛 驛駅
    圓円 艷艶 應応 歐欧 毆殴 櫻桜 奧奥 溫温 價価 假仮 畫画 會会 壞壊 懷懐
    繪絵 擴拡 殼殻 覺覚 學学 嶽岳 樂楽 渴渇 卷巻 陷陥 寬寛 關関 歡歓 觀観
    氣気 僞偽 戲戯 犧犠 舊旧 據拠 擧挙 峽峡 狹狭 曉暁 區区 驅駆 勳勲 徑径
    惠恵 溪渓 經経 繼継 莖茎 螢蛍 輕軽 鷄鶏 藝芸 儉倹 劍剣 圈圏 檢検 權権
    獻献 縣県 險険 顯顕 驗験 嚴厳 效効 廣広 恆恒 鑛鉱 號号 國国 濟済 碎砕
    劑剤 雜雑 參参 慘惨 棧桟 蠶蚕 贊賛 殘残 絲糸 齒歯 兒児 辭辞 濕湿 實実
    舍舎 寫写 釋釈 壽寿 收収 從従 澁渋 獸獣 縱縦 肅粛 處処 緖緒 敍叙 奬奨
    將将 燒焼 稱称 證証 乘乗 剩剰 壤壌 孃嬢 條条 淨浄 疊畳 穰穣 讓譲 釀醸
    囑嘱 觸触 寢寝 愼慎 眞真 盡尽 粹粋 醉酔 穗穂 隨随 髓髄 數数 樞枢 聲声
    靜静 攝摂 竊窃 專専 戰戦 淺浅 潛潜 纖繊 錢銭 禪禅 雙双 壯壮 搜捜 插挿
    爭争 總総 聰聡 莊荘 裝装 騷騒 藏蔵 臟臓 屬属 續続 墮堕 體体 對対 帶帯
    滯滞 臺台 瀧滝 擇択 澤沢 單単 擔担 膽胆 團団 彈弾 斷断 癡痴 遲遅 晝昼
    蟲虫 鑄鋳 廳庁 聽聴 鎭鎮 遞逓 鐵鉄 轉転 點点 傳伝 黨党 盜盗 燈灯 當当
    鬪闘 德徳 獨独 讀読 屆届 繩縄 貳弐 惱悩 腦脳 霸覇 廢廃 拜拝 賣売 麥麦
    發発 髮髪 拔抜 蠻蛮 祕秘 濱浜 甁瓶 拂払 佛仏 竝並 變変 邊辺 辨弁 瓣弁
    辯弁 舖舗 寶宝 萠萌 豐豊 沒没 飜翻 每毎 萬万 滿満 默黙 彌弥 藥薬 譯訳
    豫予 餘余 與与 譽誉 搖揺 樣様 謠謡 來来 賴頼 亂乱 覽覧 龍竜 兩両 獵猟
    綠緑 壘塁 淚涙 勵励 禮礼 靈霊 齡齢 戀恋 爐炉 勞労 樓楼 郞郎 錄録 灣湾
    黑黒 增増 瀨瀬 鄕郷 龜亀 曾曽 涉渉 巖巌
"""

SURNAME_FORMS = """
    槇槙 峯峰 冨富 嶋島 嶌島 𠮷吉 舘館 薗園 髙高 﨑崎 嵜崎 邉辺 濵浜 齋斉
    齊斉 斎斉 桒桑 𡈽土 栁柳 檜桧 邨村 槗橋 舩船 埜野 蘆芦 逹達 禰祢 廸迪
    崗岡 凜凛 淵渕 鷗鴎 竈竃 籠篭 﨔欅

"""


def _table() -> dict[int, str]:
    pairs = {pair[0]: pair[1] for pair in (OLD_FORMS + SURNAME_FORMS).split()}
    # A chain (A → B, B → C) would make folding depend on how often it runs: resolve it here.
    resolved: dict[int, str] = {}
    for old, new in pairs.items():
        while new in pairs and pairs[new] != new:
            new = pairs[new]
        resolved[ord(old)] = new
    return resolved


VARIANT_KANJI = _table()
