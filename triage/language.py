"""Is an inquiry written in Japanese? Decided offline from the script of its letters (no model, no network)."""

from __future__ import annotations

import unicodedata

# Below this share of Japanese letters (kana and kanji) a text is not treated as Japanese.
MIN_JAPANESE_SHARE = 0.3
# A kanji-only text this long without a single kana is more likely Chinese than Japanese.
MAX_KANJI_ONLY = 12

SCRIPT_JA = {"latin": "英語などラテン文字", "hangul": "韓国語", "han": "中国語", "cyrillic": "ロシア語などキリル文字",
             "other": "日本語以外の文字"}


def script_of(ch: str) -> str:
    """Return the script of one letter: kana, han, latin, hangul, cyrillic or other."""
    cp = ord(ch)
    if 0x3040 <= cp <= 0x30FF or 0x31F0 <= cp <= 0x31FF or 0xFF66 <= cp <= 0xFF9F:
        return "kana"
    if 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0xF900 <= cp <= 0xFAFF or cp in (0x3005, 0x3006):
        return "han"
    if 0xAC00 <= cp <= 0xD7AF or 0x1100 <= cp <= 0x11FF or 0x3130 <= cp <= 0x318F:
        return "hangul"
    if 0x0400 <= cp <= 0x04FF:
        return "cyrillic"
    if cp < 0x0250 or 0xFF21 <= cp <= 0xFF5A or 0x1E00 <= cp <= 0x1EFF:
        return "latin"
    return "other"


def detect(text: str) -> str:
    """Return "ja" for Japanese, "" when the text has no letters, else the main script of its letters."""
    counts: dict[str, int] = {}
    for ch in text:
        # Letters only: digits, punctuation, emoji and the long-vowel mark decide nothing.
        if unicodedata.category(ch).startswith("L") and ch != "ー":
            s = script_of(ch)
            counts[s] = counts.get(s, 0) + 1
    total = sum(counts.values())
    if total == 0:
        return ""
    kana, han = counts.get("kana", 0), counts.get("han", 0)
    if (kana + han) / total >= MIN_JAPANESE_SHARE and (kana > 0 or han <= MAX_KANJI_ONLY):
        return "ja"
    return max((s for s in counts if s != "kana"), key=lambda s: counts[s])


def review_reason(text: str) -> str | None:
    """Return why a text needs a second look for its language (in Japanese), or None for Japanese text."""
    found = detect(text)
    if found in ("ja", ""):
        return None
    return f"日本語以外の文章です（{SCRIPT_JA.get(found, SCRIPT_JA['other'])}）。分類の精度は保証されません"
