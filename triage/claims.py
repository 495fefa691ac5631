"""Claims intake: amounts, dates, reference numbers and the remedies asked for, from one inquiry's raw text.

Pure and offline: regular expressions over a length-preserving normalisation
(full-width digits, letters and punctuation to ASCII, half-width kana to
full-width), so every ``text`` in the result is the exact substring of the
inquiry. No fugashi here: every form the claims desk needs is lexical
(digits, 万/千/百, 円, 月/日, labels such as 注文番号), and a second MeCab pass
over the raw text would cost more than all the patterns together.

A full card number never leaves this module: a card gives only its last four
digits (``card_last4``), and every string of the result is scrubbed of
anything that looks like a card (``scrub``).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from datetime import date, datetime, timedelta, timezone
from typing import Any

from .native import fold, set_fold
from .redact import find as find_personal_data
from .redact import luhn_ok, redact

# A call centre in Japan: "昨日" and "11月20日" are read on the Japanese calendar (no DST).
JST = timezone(timedelta(hours=9), "JST")

REQUESTS = ("refund", "reissue_fee", "consolation", "damages", "points", "voucher", "fee_waiver", "expense", "other")
REQUESTS_JA = {
    "refund": "返金", "reissue_fee": "再発行手数料", "consolation": "慰謝料", "damages": "損害賠償",
    "points": "ポイント", "voucher": "商品券・クーポン", "fee_waiver": "料金の免除・割引", "expense": "実費",
    "other": "その他",
}
REFERENCE_KINDS = ("order", "member", "ticket", "reservation", "card_last4", "other")
FIELDS = ("amounts", "dates", "references", "requests")


def empty() -> dict[str, list[Any]]:
    """Return a claim with nothing found."""
    return {"amounts": [], "dates": [], "references": [], "requests": []}


# -- normalisation ------------------------------------------------------------------------------


def _build_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for cp in range(0xFF01, 0xFF5F):  # full-width ASCII
        table[cp] = chr(cp - 0xFEE0)
    for cp in range(0xFF61, 0xFFA0):  # half-width kana and marks, one character each
        n = unicodedata.normalize("NFKC", chr(cp))
        if len(n) == 1:
            table[cp] = n
    table[0xFF9E] = "\u309b"  # ﾞ as a spacing mark, so that the length stays
    table[0xFF9F] = "\u309c"  # ﾟ
    table.update({0x3000: " ", 0xFFE5: "¥", 0xA5: "¥", 0x2212: "-", 0x2010: "-", 0x2011: "-", 0x2013: "-",
                  0x2014: "-", 0x2015: "-", 0x2012: "-", 0xFE63: "-", 0x2215: "/", 0x3007: "〇"})
    return table


_TABLE = _build_table()
set_fold(_TABLE)


def _norm(text: str) -> str:
    """Return the text with ASCII digits, letters and punctuation; same length, same offsets."""
    return fold(text)  # text.translate(_TABLE), in C (a dict look-up per character cost 9 µs an inquiry)


def _kana_variants(pattern: str) -> str:
    """Return a regex source where each voiced kana also matches its base and a spacing mark (ﾀﾞ -> タ゛)."""
    out = []
    depth = 0  # inside a character class the source is left alone
    for i, ch in enumerate(pattern):
        if ch == "[" and (i == 0 or pattern[i - 1] != "\\"):
            depth += 1
        elif ch == "]" and depth and pattern[i - 1] != "\\":
            depth -= 1
        decomposed = unicodedata.normalize("NFD", ch)
        if depth == 0 and len(decomposed) == 2 and decomposed[1] in "\u3099\u309a" and "\u3040" <= ch <= "\u30ff":
            mark = "\u309b" if decomposed[1] == "\u3099" else "\u309c"
            out.append(f"(?:{ch}|{decomposed[0]}{mark})")
        else:
            out.append(ch)
    return "".join(out)


# -- numbers ------------------------------------------------------------------------------------

_KDIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
            "壱": 1, "弐": 2, "参": 3}
_SMALL = {"十": 10, "百": 100, "千": 1000}
_BIG = {"万": 10_000, "億": 100_000_000, "兆": 1_000_000_000_000}
_K = "〇零一二三四五六七八九壱弐参"
_NUMCHARS = rf"0-9,.{_K}十百千万億兆"


def number(run: str) -> float | None:
    """Return the value of a Japanese number (12,800 / 1万2千 / 四万八千 / 1.5万 / 二〇二六), or None."""
    run = run.replace(",", "")
    if not run or run[0] in _BIG or run.count(".") > 1 or run.startswith(".") or run.endswith("."):
        return None
    total = 0.0
    section = 0.0
    digits = ""
    for ch in run:
        if ch.isdigit() or ch == ".":
            digits += ch if ch.isascii() else str(_KDIGITS.get(ch, ch))
        elif ch in _KDIGITS:
            digits += str(_KDIGITS[ch])
        elif ch in _SMALL:
            section += (float(digits) if digits else 1.0) * _SMALL[ch]
            digits = ""
        elif ch in _BIG:
            block = section + (float(digits) if digits else 0.0)
            if block == 0:
                return None
            total += block * _BIG[ch]
            section, digits = 0.0, ""
        else:
            return None
    try:
        return total + section + (float(digits) if digits else 0.0)
    except ValueError:
        return None


# -- amounts ------------------------------------------------------------------------------------

_UNITS = (
    ("円", "円"), ("ポイント", "ポイント"), ("ホ゜イント", "ポイント"), ("pt", "ポイント"), ("Pt", "ポイント"),
    ("PT", "ポイント"), ("P", "ポイント"), ("p", "ポイント"), ("マイル", "マイル"), ("ドル", "ドル"),
    # Written in kana or English: "2,480えん", "3,300ｴﾝ", "500ぽいんと", "18,000 yen", "1,000 miles".
    ("えん", "円"), ("エン", "円"), ("ぽいんと", "ポイント"), ("yen", "円"), ("Yen", "円"), ("JPY", "円"),
    ("points", "ポイント"), ("point", "ポイント"), ("miles", "マイル"), ("mile", "マイル"),
    ("dollars", "ドル"), ("dollar", "ドル"), ("USD", "ドル"),
)
_UNIT_OF = dict(_UNITS)
_UNIT_RE = "|".join(re.escape(k) for k, _ in sorted(_UNITS, key=lambda u: -len(u[0])))
# A currency written before the number: ¥5,500, $120, US$89, USD 240.
_CURRENCY_BEFORE = re.compile(r"(?:¥|\\|US\$|\$|USD|JPY)\s?$")
_CURRENCY_UNIT = {"¥": "円", "\\": "円", "JPY": "円"}
# Every pattern below starts with a literal or a character class, so that `re` skips
# ahead to candidates in C; the checks on what comes before a match are in Python.
_AMOUNT = re.compile(
    rf"(?P<num>[0-9{_K}十百千][{_NUMCHARS}]*+)"
    rf"(?:\s?(?P<unit>{_UNIT_RE})(?![A-Za-z]))?"
    rf"(?P<times>\s?[×xX*✕]\s?(?P<n>[0-9]{{1,3}})(?![0-9]))?"
)
_APPROX = re.compile(r"(?:約|およそ|概ね|大体|だいたい|ほぼ)$")
# Not a number's tail, a code (A-123, #12), or a vague amount (数万円, 何千円).
_NOT_BEFORE_AMOUNT = frozenset("0123456789,.ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_#数何幾" + _K + "十百千万億兆")
# 13 digits or more is never an amount people write; it is a card or an account.
_MAX_AMOUNT = 10**12


def _amounts(norm: str, text: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: dict[tuple[int, str], int] = {}  # (value, unit) -> index in out
    for m in _AMOUNT.finditer(norm):
        start = m.start()
        before = norm[start - 1] if start else ""
        currency = _CURRENCY_BEFORE.search(norm, max(0, start - 4), start) if before in "¥\\$DY " else None
        if currency is not None and currency.start() and norm[currency.start() - 1].isalnum() \
                and currency.group().strip() in ("USD", "JPY"):
            currency = None  # "XUSD": a code
        yen = currency is not None
        unit_written = m.group("unit")
        if not unit_written and not yen:
            continue
        if not yen and before in _NOT_BEFORE_AMOUNT:
            continue
        run = m.group("num").rstrip(",.")
        value = number(run)
        if value is None or value <= 0 or value >= _MAX_AMOUNT or value != int(value):
            continue
        if unit_written in ("P", "p") and not run.replace(",", "").isdigit():
            continue  # "三P" is no points
        if yen:
            assert currency is not None
            sign = currency.group().strip()
            unit = _CURRENCY_UNIT.get(sign, "ドル")
            if unit_written and _UNIT_OF[unit_written] != unit:
                continue
            start = currency.start()
        else:
            unit = _UNIT_OF[unit_written]
        end = m.end("unit") if unit_written else m.end("num")
        approx = _APPROX.search(norm, max(0, start - 4), start)
        if approx:
            start = approx.start()
        key = (int(value), unit)
        if key not in seen:
            seen[key] = len(out)
            out.append({"value": int(value), "unit": unit, "text": text[start:end]})
        elif out[seen[key]].get("derived"):
            out[seen[key]] = {"value": int(value), "unit": unit, "text": text[start:end]}  # written beats derived
        if m.group("times"):
            product = int(value) * int(m.group("n"))
            key = (product, unit)
            if product < _MAX_AMOUNT and key not in seen:
                seen[key] = len(out)
                # The issue asks for the unit price; the product is the desk's total, marked as derived.
                out.append({"value": product, "unit": unit, "text": text[start : m.end()], "derived": "product"})
    return out


# -- dates --------------------------------------------------------------------------------------

_KN = "一二三四五六七八九十"
_MD = rf"(?:[0-9]{{1,2}}|[{_KN}]{{1,3}})"
_WEEKDAYS = "月火水木金土日"
# Written with digits (or kanji digits) first: 2026年11月20日, 2026/11/20, 11月20日, 11/20, 3日前.
_NUMERIC_DATE = re.compile(
    rf"(?P<y>[0-9]{{4}}|[〇{_KN}]{{4}})\s?(?P<ys>[年/.\-])\s?(?P<fm>{_MD})\s?[月/.\-]\s?(?P<fd>{_MD})(?![0-9])\s?日?"
    rf"|(?P<m>{_MD})\s?月\s?(?P<d>{_MD})\s?日(?!間|分)"
    rf"|(?P<sm>[0-9]{{1,2}})/(?P<sd>[0-9]{{1,2}})(?![0-9/])"
    rf"|(?P<an>[0-9]{{1,2}}|[{_KN}]{{1,3}})\s?(?P<au>日|週間?)前(?!後)"
)
_ERA_DATE = re.compile(
    rf"(?P<era>令和|平成|昭和)\s?(?P<ey>[0-9]{{1,2}}|元|[{_KN}]{{1,3}})\s?年\s?(?P<m>{_MD})\s?月\s?(?P<d>{_MD})\s?日"
    rf"|(?P<eraL>[RH])(?P<eyL>[0-9]{{1,2}})(?P<sep>[./])(?P<ml>[0-9]{{1,2}})(?P=sep)(?P<dl>[0-9]{{1,2}})(?![0-9])"
)
_RELATIVE_DATE = re.compile(
    rf"(?P<rel>一昨年|去年|昨年|今年|来年|先月|今月|来月)の?\s?(?:(?P<m>{_MD})\s?月\s?)?(?P<d>{_MD})\s?日(?!間|分)"
)
_DAY_OFFSETS = {"一昨々日": -3, "一昨日": -2, "おととい": -2, "昨日": -1, "きのう": -1, "昨夜": -1, "昨晩": -1,
                "ゆうべ": -1, "今日": 0, "きょう": 0, "本日": 0, "今朝": 0, "明日": 1, "あした": 1, "明後日": 2,
                "あさって": 2, "yesterday": -1, "Yesterday": -1, "today": 0, "Today": 0, "tomorrow": 1, "Tomorrow": 1}
_GREETING = r"(?!(?:は|も)[、,]?\s?(?:どのよう|どういった|いかが|何の|ご用件|お電話|お問い?合わせ|ご連絡))"
_WORD_DATE = re.compile("|".join(sorted(_DAY_OFFSETS, key=len, reverse=True)).replace("きょう", "きょう(?!だい|ふ|い|か|と)")
                        .replace("本日", "本日" + _GREETING))  # "本日はどのようなご用件でしょうか": a greeting, no day
_WEEKDAY_DATE = re.compile(rf"(?P<week>先々週|先週|今週|来週)の?\s?(?P<wd>[{_WEEKDAYS}])曜日?|(?P<wd2>[{_WEEKDAYS}])曜日?")
_YEAR_OFFSETS = {"一昨年": -2, "去年": -1, "昨年": -1, "今年": 0, "来年": 1}
_MONTH_OFFSETS = {"先月": -1, "今月": 0, "来月": 1}
_WEEK_OFFSETS = {"先々週": -14, "先週": -7, "今週": 0, "来週": 7}
_ERAS = {"令和": 2018, "平成": 1988, "昭和": 1925, "R": 2018, "H": 1988}
# "11月14日〜16日", "12月3日と4日": the second day of a range or a list in the same month.
_RANGE_DAY = re.compile(rf"\s?(?:〜|~|～|-|から|より|と|、|・|,)\s?(?P<d>{_MD})\s?日(?!間|分|後|以内)")
# English: "Nov 22", "on Dec. 5th", "October 3, 2026"; a date without a year resolves like 11月22日.
_EN_MONTHS_TITLE = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_EN_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_EN_MONTH_WORDS = frozenset(_EN_MONTHS) | {"sept", "january", "february", "march", "april", "june", "july", "august",
                                           "september", "october", "november", "december"}
# Found by the month word, case-sensitively (IGNORECASE would make `re` try every position).
_EN_MONTH = re.compile(
    "(?:" + "|".join(m + "|" + m.upper() + "|" + m.lower() for m in _EN_MONTHS_TITLE) + ")"
    r"(?:[a-z]{0,6})\.?(?![A-Za-z])"
)
_EN_DAY_AFTER = re.compile(r"\s(?P<d>[0-9]{1,2})(?:st|nd|rd|th)?(?![0-9:])(?:,?\s(?P<y>20[0-9]{2})(?![0-9]))?")
_EN_DAY_BEFORE = re.compile(r"(?<![0-9A-Za-z.,])(?P<d>[0-9]{1,2})(?:st|nd|rd|th)?\s$")
_EN_YEAR_AFTER = re.compile(r",?\s(?P<y>20[0-9]{2})(?![0-9])")
# "今週の月曜から水曜まで": the end of a range in the week named at its start.
_WEEK_RANGE_END = re.compile(rf"\s?(?:〜|~|～|-|から)\s?(?P<wd>[{_WEEKDAYS}])曜日?")
_WEEKDAY_RANGE_AFTER = re.compile(rf"\s?(?:〜|~|～|-|・|、|から)\s?[{_WEEKDAYS}]曜")
_WEEKDAY_RANGE_BEFORE = re.compile(rf"[{_WEEKDAYS}]曜日?\s?(?:〜|~|～|-|・|、|から)\s?$")
_NOT_BEFORE_YEAR = frozenset("0123456789")
# Every numeric date starts a run of digits: look there only (much cheaper than a scan with the whole pattern).
_DIGIT_RUN = re.compile(rf"[0-9〇{_KN}]+")
_NOT_BEFORE_SLASH = frozenset("0123456789/.-:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_NOT_BEFORE_AGO = frozenset("0123456789、,〜~月数" + _KN)


def _int(s: str) -> int | None:
    v = number(s) if s != "元" else 1.0
    return int(v) if v is not None and v == int(v) else None


def _valid(y: int | None, m: int | None, d: int | None) -> date | None:
    if y is None or m is None or d is None:
        return None
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _latest(m: int | None, d: int | None, today: date) -> date | None:
    """Return the latest m/d not after today (a date written without a year)."""
    for back in range(9):
        found = _valid(today.year - back, m, d)
        if found is not None and found <= today:
            return found
    return None


def _add_months(today: date, months: int) -> tuple[int, int]:
    n = today.year * 12 + today.month - 1 + months
    return n // 12, n % 12 + 1


def _numeric(m: re.Match[str], norm: str, today: date) -> tuple[date | None, bool]:
    """Return (date, has a month) of a _NUMERIC_DATE match, or (None, False) where it is no date."""
    before = norm[m.start() - 1] if m.start() else ""
    g = m.group
    if g("y"):
        if before in _NOT_BEFORE_YEAR:
            return None, False
        return _valid(_int(g("y")), _int(g("fm")), _int(g("fd"))), True
    if g("m"):
        if before.isdigit():
            return None, False
        return _latest(_int(g("m")), _int(g("d")), today), True
    if g("sm"):
        month, day = int(g("sm")), int(g("sd"))
        if before == ":" and m.start() > 1 and not norm[m.start() - 2].isdigit():
            before = ""  # "日時：12/8", "詳細:12/2の": a label, not a time
        if before in _NOT_BEFORE_SLASH or not (1 <= month <= 12 and 1 <= day <= 31):
            return None, False
        return _latest(month, day, today), False
    if before in _NOT_BEFORE_AGO:
        return None, False
    n = _int(g("an"))
    if n is None:
        return None, False
    return today - timedelta(days=n * (7 if g("au").startswith("週") else 1)), False


def _relative(m: re.Match[str], today: date) -> date | None:
    rel, day = m.group("rel"), _int(m.group("d"))
    if m.group("m"):
        if rel not in _YEAR_OFFSETS:
            return None  # "先月11月3日" makes no sense
        return _valid(today.year + _YEAR_OFFSETS[rel], _int(m.group("m")), day)
    if rel not in _MONTH_OFFSETS:
        return None  # 去年20日
    y, mo = _add_months(today, _MONTH_OFFSETS[rel])
    return _valid(y, mo, day)


def _era(m: re.Match[str]) -> date | None:
    era = _ERAS[m.group("era") or m.group("eraL")]
    ey = _int(m.group("ey") or m.group("eyL"))
    if not ey:
        return None
    return _valid(era + ey, _int(m.group("m") or m.group("ml")), _int(m.group("d") or m.group("dl")))


def _weekday(m: re.Match[str], norm: str, today: date) -> date | None:
    if m.group("week"):
        monday = today - timedelta(days=today.weekday())
        return monday + timedelta(days=_WEEK_OFFSETS[m.group("week")] + _WEEKDAYS.index(m.group("wd")))
    start = m.start()
    if "毎" in norm[max(0, start - 3) : start] or _WEEKDAY_RANGE_AFTER.match(norm, m.end()) or \
            _WEEKDAY_RANGE_BEFORE.search(norm, max(0, start - 6), start):
        return None  # 毎週月曜, 月曜〜金曜: opening hours, not a day
    weekday = _WEEKDAYS.index(m.group("wd2"))
    return today - timedelta(days=(today.weekday() - weekday) % 7)


def _dates(norm: str, text: str, today: date) -> list[dict[str, Any]]:
    # (start, end, date, kind): found by five patterns, merged leftmost-longest.
    found: list[tuple[int, int, date | None, str]] = []
    for m in _ERA_DATE.finditer(norm):
        found.append((m.start(), m.end(), _era(m), "full"))
    for m in _RELATIVE_DATE.finditer(norm):
        found.append((m.start(), m.end(), _relative(m, today), "rel"))
    for run in _DIGIT_RUN.finditer(norm):
        starts = [run.start()]
        first_ascii = next((i for i, ch in enumerate(run.group()) if ch.isascii()), 0)
        if first_ascii:
            starts.append(run.start() + first_ascii)  # 第一11月20日: the kanji belong to the word before
        for pos in starts:
            m = _NUMERIC_DATE.match(norm, pos)
            if m:
                d, has_month = _numeric(m, norm, today)
                found.append((m.start(), m.end(), d, "month" if has_month else "num"))
                break
    for m in _EN_MONTH.finditer(norm):
        word = m.group().rstrip(".").lower()
        before_word = norm[m.start() - 1] if m.start() else ""
        if word not in _EN_MONTH_WORDS or (before_word.isascii() and before_word.isalpha()):
            continue  # "Marketing 3" is no month
        month = _EN_MONTHS.index(word[:3]) + 1
        after = _EN_DAY_AFTER.match(norm, m.end())
        before = None if after else _EN_DAY_BEFORE.search(norm, max(0, m.start() - 6), m.start())
        if after is not None:  # "Nov 22", "November 22nd, 2026"
            day, year, start, end = int(after.group("d")), after.group("y"), m.start(), after.end()
        elif before is not None:  # "3 June", "12th October 2026"
            y = _EN_YEAR_AFTER.match(norm, m.end())
            day, year, start = int(before.group("d")), y.group("y") if y else None, before.start()
            end = y.end() if y else m.end()
        else:
            continue
        d = _valid(int(year), month, day) if year else _latest(month, day, today)
        found.append((start, end, d, "month"))
    if "曜" in norm:
        for m in _WEEKDAY_DATE.finditer(norm):
            found.append((m.start(), m.end(), _weekday(m, norm, today), "weekday"))
            if m.group("week") and (r := _WEEK_RANGE_END.match(norm, m.end())):
                monday = today - timedelta(days=today.weekday()) + timedelta(days=_WEEK_OFFSETS[m.group("week")])
                found.append((r.start("wd"), r.end(), monday + timedelta(days=_WEEKDAYS.index(r.group("wd"))), "weekday"))
    for m in _WORD_DATE.finditer(norm):
        found.append((m.start(), m.end(), today + timedelta(days=_DAY_OFFSETS[m.group()]), "word"))
    if not found:
        return []
    found.sort(key=lambda f: (f[0], -f[1]))
    out: list[dict[str, Any]] = []
    seen: set[str] = set()

    def add(d: date, start: int, end: int) -> None:
        iso = d.isoformat()
        if iso not in seen:
            seen.add(iso)
            out.append({"date": iso, "text": text[start:end]})

    last_end = -10
    for start, end, d, kind in found:
        if start < last_end:
            continue  # inside a longer date already read ("先月20日" holds "20日")
        if kind == "weekday" and not norm[last_end:start].strip(" (") and start - last_end <= 2 and last_end >= 0:
            last_end = end
            continue  # 11月20日(金曜日): the weekday of the date just read
        if d is None:
            if kind in ("full", "rel", "month"):
                last_end = end  # a malformed date: none of its parts is another date
            continue
        add(d, start, end)
        last_end = end
        if kind in ("full", "month") or (kind == "rel" and d):
            r = _RANGE_DAY.match(norm, end)
            if r:
                second = _valid(d.year, d.month, _int(r.group("d")))
                if second is not None and second > d:
                    add(second, r.start("d"), r.end())
                    last_end = r.end()
    return out


# -- references ---------------------------------------------------------------------------------

# Every label ends in one of these words; the word before it says the kind.
# Case-sensitive on purpose: IGNORECASE stops `re` from skipping ahead on the first character.
_LABEL_END = re.compile(_kana_variants(r"番号|No\.?|NO\.?|no\.|ID|Id|id|コード|#|number|Number|code|Code|CODE"
                                       r"|ばんごう|バンゴウ"))
_LABEL_KINDS: tuple[tuple[str, str], ...] = (
    ("order", r"(?:ご|お)?(?:注文|受注|購入)(?:確認)?|オーダー|ちゅうもん|チュウモン|order\s?"),
    ("reservation", r"(?:ご)?予約(?:確認)?|よやく|ヨヤク|booking\s?|reservation\s?"),
    ("ticket", r"受付|(?:お)?問い?合わ?せ|問合|チケット|ケース|案件|うけつけ|ウケツケ|ticket\s?|case\s?"),
    ("member", (r"会員|お客様|お客さま|顧客|契約者|利用者|ユーザー|ユーザ|アカウント|加入者|会員証|組合員|受講者|ログイン"
                r"|かいいん|カイイン|member\s?|customer\s?|account\s?|user\s?")),
    ("other", (r"(?:ご)?契約|(?:保険)?証券|(?:お)?申(?:し)?込(?:み)?|伝票|追跡|請求(?:書)?|申請|管理|登録|患者|診察券|カルテ"
               r"|受験|整理|取引|決済|明細|引換|contract\s?|policy\s?")),
)
_LABEL_PREFIX = re.compile("(?:" + "|".join(f"(?P<{k}>{_kana_variants(p)})" for k, p in _LABEL_KINDS) + r")\s?$",
                           re.IGNORECASE)
# Any other noun before 番号 / ID / コード names an `other` reference (生徒番号, 店舗ID, 受理番号, 定期便番号) ...
_OTHER_LABEL = re.compile(r"(?P<word>[一-龥々ァ-ヴー゛゜]{2,7})\s?$")
# ... except the numbers that are no case's reference: phones, addresses, accounts, products, codes to log in or pay.
_NOT_A_LABEL = re.compile(
    r"(?:電話|携帯|ケータイ|郵便|口座|暗証|認証|確認|製造|商品|型|品|部屋|座席|車両|個人|マイナンバー|カード|証明|識別|番|内線|自宅"
    r"|代表|連絡先|ダイヤル|ダイアル|クーポン|プロモ|キャンペーン|割引|招待|紹介|セキュリティ|ワンタイム|バー|QR|パス|端末|機種|製品"
    r"|シリアル|背|社員|従業員|免許|保険証|住民|基礎年金|年金|口座振替)$"
)
_VALUE = r"[A-Za-z0-9][A-Za-z0-9\-_]*[A-Za-z0-9]|[0-9]"
_PAREN_REF = r"(?:\s?[（(][^）)\n]{0,20}[）)])?"
_FILLER = r"(?:ええと|えーと|えっと|えー|あー|うーんと?|あった|はい)"
_AFTER_LABEL = re.compile(
    rf"(?:\s?[(][^)\n]{{1,12}}[)])?(?:\s?[)\]】〕」』>:]|\s?(?:は|が|も|の)|\s(?:is|was)(?=\s))?\s?[:\-]?\s?[(\[【〔「『]?\s?[#№]?\s?(?:\n\s?[・*●•]\s?)?"
    rf"(?:[、,…]\s?{_FILLER}[、,…]*\s?)?(?P<value>{_VALUE})"
)
# A label asked for in one turn and answered in the next: "会員番号をお伺いできますか。\n客：NG58812047です".
# The answer may carry a time stamp ("[13:21] お客様: 7730-2291-04") or start over ("…ＭＲ－…はい、MR-55012").
_ANSWER = re.compile(
    rf"[^\n]{{0,30}}?(?:[?？。…]|\n)\s?(?:\[?[0-9]{{1,2}}:[0-9]{{2}}(?::[0-9]{{2}})?\]?\s?)?(?:[^\s:：\n]{{1,10}}[:：])?\s?"
    rf"(?:[^\n。?？0-9]{{0,12}}?[…、,]+\s?){{0,2}}(?:{_FILLER}[、,…。\s]*)*(?=[A-Za-z\-_]*[0-9])(?P<value>{_VALUE})"
    r"(?![0-9,]*\s?[円年月日時%])"
)
# The value a few words after its label in the same sentence: "注文番号はですね、えー、W-61-2290",
# "会員番号は口頭で 62-1190-5", "証券番号：ＫＬ－… いえ、KL-7789-1102".
# The gap names no other number (電話, 口座, 末尾, another label) and no unit follows the value (an amount, a count).
_NEAR = re.compile(
    # Atomic: the first value after the shortest gap is the one judged, never a shorter part of it.
    r"(?>(?P<gap>(?:(?!番号|ID|No|コード|末尾|下|桁|けた|ケタ|電話|携帯|TEL|Tel|tel|FAX|郵便|〒|口座|カード|金額|合計|期限|日時|日付)"
    rf"[^\n。！!？?0-9]){{0,18}}?)(?<![A-Za-z0-9\-_])(?P<value>{_VALUE}))"
    r"(?!\s?(?:[円年月日時分%件回個人歳枚泊階]|ヶ|か月|カ月|ポイント|pt|マイル|ドル|yen|miles))"
)
_PHONE = re.compile(r"0[0-9]{1,4}-[0-9]{1,4}-[0-9]{3,4}|0[5-9]0[0-9]{8}|0120[0-9]{6}")
# A code written in groups: "SK 4471 0093", "8801 223 4" (at most 12 digits: a card is never read here).
_SPACED = re.compile(r"(?:[A-Za-z]{1,4}|[0-9]{2,6})(?: [0-9]{2,6}){1,3}(?=\s?(?:$|\n|[、,。)]|です|で|の件))")
# An ID with no digit, only after an ID label: "ユーザーID：eng_yuki", "ID: vid-ayumi".
_HANDLE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_][A-Za-z0-9]+)+")
_MORE_VALUES = re.compile(rf"{_PAREN_REF}\s?(?:と|、|,|/|・|及び|および|&)\s?[#]?(?P<value>{_VALUE})")
# The last four digits of a card, as people write them.
_LAST4 = re.compile(
    r"(?:下|末尾|最後の?|おしり|お尻)\s?(?:の)?\s?(?:4|四)\s?(?:桁|けた|ケタ)(?:の番号)?\s?(?:は|が|:|=)?\s?[\"「『(]?\s?"
    r"(?P<a>[0-9]{4})(?![0-9])"
    r"|末尾(?:が|は|:)?\s?(?P<c>[0-9]{4})(?![0-9])"
    r"|(?:下|末尾|最後の?)\s?(?:の)?\s?(?:4|四)\s?(?:桁|けた|ケタ)[^\n0-9]{0,20}?(?:[?？]|か。|\n)\s?(?:[^\s:：\n0-9]{1,10}[:：])?\s?"
    r"(?:(?:ええと|えーと|えっと|えー|あー|はい)[、,…\s]*)?(?P<f>[0-9]{4})(?![0-9])"
    r"|(?:ending|ends)(?:\s?in)?\s?(?:[:#]\s?)?(?P<e>[0-9]{4})(?![0-9])"
    r"|[*xX•●](?:[*xX•●]{3}[\s\-]?){1,4}(?P<d>[0-9]{4})(?![0-9])"
)
# 13-19 digits as cards are laid out: in a row, 4-4-4-(1..7), or 4-6-5.
_CARD = re.compile(
    r"(?<![0-9])(?:[0-9]{13,19}|[0-9]{4}([ \-])[0-9]{4}\1[0-9]{4}\1[0-9]{1,7}|[0-9]{4}([ \-])[0-9]{6}\2[0-9]{5})(?![0-9])"
)
_CARD_WORD = re.compile(_kana_variants(r"カード|クレジット|クレカ|card|visa|master|jcb|amex"), re.IGNORECASE)
_OTHER_NUMBER = re.compile(r"(?:番号|ID|No\.?)\s?(?:の|は)?\s?$")
_LETTERS = re.compile(r"[A-Za-z]+")
_DIGIT_GROUPS = re.compile(r"[0-9]+")
_CODE = re.compile(r"(?<![A-Za-z0-9\-_])[A-Za-z]{1,6}-?[0-9][A-Za-z0-9\-_]*(?![A-Za-z0-9\-_])")


def _shape(value: str) -> str:
    """Return a value's skeleton: HK-302118 and HK-320012 share "A-9", 3,300 has another."""
    return _DIGIT_GROUPS.sub("9", _LETTERS.sub("A", value))


def _prefix(value: str) -> str:
    return value[: len(value) - len(value.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-"))]


def _card_digits(s: str) -> str:
    return re.sub(r"[^0-9]", "", s)


def _label(norm: str, hit: re.Match[str]) -> tuple[str, int]:
    """Return (kind, where the label starts) of a label ending at hit, or ("", 0) where it is none."""
    label = _LABEL_PREFIX.search(norm, max(0, hit.start() - 13), hit.start())
    if label is not None:
        return next(k for k, _ in _LABEL_KINDS if label.group(k)), label.start()
    if hit.group() == "#":
        return "", 0
    other = _OTHER_LABEL.search(norm, max(0, hit.start() - 8), hit.start())
    if other is not None and not _NOT_A_LABEL.search(other.group("word")):
        return "other", other.start()
    before = norm[hit.start() - 1] if hit.start() else "\n"
    if hit.group() in ("ID", "Id") and before in "\n (【「[:、,。":
        return "member", hit.start()  # a bare "ID: vid-ayumi" in a form
    return "", 0


def _label_value(norm: str, pos: int, is_id: bool) -> tuple[str, int, int] | None:
    """Return (value, start, end) of the reference a label ending at pos introduces, or None."""
    m = _AFTER_LABEL.match(norm, pos)
    if m is not None:
        spaced = _SPACED.match(norm, m.start("value"))
        if spaced is not None and sum(c.isdigit() for c in spaced.group()) <= 12:
            return spaced.group(), spaced.start(), spaced.end()
        value = m.group("value")
        if any(c.isdigit() for c in value) or (is_id and _HANDLE.fullmatch(value) and len(value) >= 4):
            return value, m.start("value"), m.end("value")
    m = _ANSWER.match(norm, pos)
    if m is not None and sum(c.isdigit() for c in m.group("value")) >= 4:
        return m.group("value"), m.start("value"), m.end("value")
    m = _NEAR.match(norm, pos)
    if m is None:
        return None
    value = m.group("value")
    digits = sum(c.isdigit() for c in value)
    coded = "-" in value and any(c.isalpha() for c in value)
    if (digits < 4 and not (coded and digits >= 2)) or _PHONE.fullmatch(value) \
            or (norm[m.end() : m.end() + 1] in ",." and norm[m.end() + 1 : m.end() + 2].isdigit()):
        return None  # an amount, a date, a count or a phone number
    return value, m.start("value"), m.end("value")


def _references(norm: str, text: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    taken: list[tuple[int, int]] = []

    def add(kind: str, value: str, start: int, end: int) -> None:
        taken.append((start, end))
        key = (kind, value.upper())
        if key not in seen:
            seen.add(key)
            out.append({"kind": kind, "value": value, "text": text[start:end]})

    n_digits = sum(map(norm.count, "0123456789"))  # ten C calls, no generator
    if n_digits >= 13:
        for m in _CARD.finditer(norm):
            digits = _card_digits(m.group())
            if luhn_ok(digits) or _CARD_WORD.search(norm, max(0, m.start() - 20), m.start()):
                add("card_last4", digits[-4:], m.start(), m.end())
    if n_digits >= 4:
        for m in _LAST4.finditer(norm):
            if any(s <= m.start() < e for s, e in taken):
                continue
            if not m.group("d") and not _CARD_WORD.search(norm, max(0, m.start() - 25), m.end() + 12) and not (
                    m.group("a") and _CARD_WORD.search(norm)
                    and not _OTHER_NUMBER.search(norm, max(0, m.start() - 10), m.start())):
                continue  # "末尾1234" or "下4桁" of something that is not a card (会員番号の下4桁)
            start = m.start()
            for card in _CARD_WORD.finditer(norm, max(0, m.start() - 12), m.start()):
                start = card.start()  # the nearest card word before the digits
            add("card_last4", m.group("a") or m.group("c") or m.group("d") or m.group("e") or m.group("f"), start, m.end())
    for hit in _LABEL_END.finditer(norm):
        kind, label_start = _label(norm, hit)
        if not kind:
            continue
        is_id = hit.group() in ("ID", "Id", "id")
        found = _label_value(norm, hit.end(), is_id)
        if found is None or any(s <= found[1] < e for s, e in taken):
            continue
        first, first_start, pos = found
        values = [(first, first_start, pos)]
        # Further values of a list share the first one's shape: "、3,300円" after HK-302118 is no order.
        while (more := _MORE_VALUES.match(norm, pos)) and _shape(more.group("value")) == _shape(values[0][0]):
            values.append((more.group("value"), more.start("value"), more.end("value")))
            pos = more.end()
        for value, vstart, vend in values:
            handle = is_id and vstart == first_start and _HANDLE.fullmatch(value) is not None and len(value) >= 4
            if not (any(c.isdigit() for c in value) or handle) or (norm[vend : vend + 1] in ("@", ".")
                                                                    and re.match(r"[@.][A-Za-z0-9]", norm[vend:])):
                continue  # a word, or the start of an e-mail address
            if value.isdigit() and len(value) < 3 and kind != "ticket":
                continue  # "会員番号の3桁目": too short to be a reference
            add(kind, value, label_start if vstart == first_start else vstart, vend)
    # The same kind of code again, unlabelled: "注文番号 HK-320011 は届きました。HK-320012 の方が…".
    coded = {(_prefix(r["value"]).upper(), _shape(r["value"])): r["kind"] for r in out
             if r["kind"] != "card_last4" and _prefix(r["value"])}
    if coded:
        for m in _CODE.finditer(norm):
            kind = coded.get((_prefix(m.group()).upper(), _shape(m.group())))
            if kind and not any(s <= m.start() < e for s, e in taken):
                add(kind, m.group(), m.start(), m.end())
    return out


# -- requests -----------------------------------------------------------------------------------
#
# A remedy is named by a noun (慰謝料, ポイント, クーポン, 免除, 再送) or asked for with a verb whose
# object decides the remedy: "返して" after a card's reissue fee is reissue_fee, after a cost paid to
# someone else (タクシー代, 自費で買った薬) expense, after what was paid to the company a refund;
# "補償して" without such an object is compensation for a loss (damages).

NOUN, REFUND_VERB, COVER_VERB, GENERIC = "noun", "refund_verb", "cover_verb", "generic"
# "返して", "戻して": a refund of money, but points when points were taken, a service when an item was.
RETURN_VERB = "return_verb"
# "復元して", "復活して": what was lost comes back (points, an item, a service); money only when money was named.
RESTORE_VERB = "restore_verb"
# "取り消して": a charge billed and not paid is waived, a charge already taken is refunded, an order is nothing.
CANCEL_VERB = "cancel_verb"
# "年会費も取っておいて…素敵なサービスですね", "それでも送料はちゃんと取るんですね": a charge the company takes,
# disputed in irony or despite the failure (not a bare "保険料はきっちり取るくせに").
TAKE_VERB = "take_verb"
# The charge taken is the last one named before the verb: a fee the company would charge is waived, a price refunded.
_BACKGROUND = re.compile(r"[^。\n]{0,4}?(?:くせに|くせして|のに|けど|けれど|おいて|おきながら|ながら)")
_DESPITE = re.compile(r"それでも|のに")  # "来なかったのに…料金も取る": the failure first, then the charge
_TAKEN_FEE = re.compile(r"(?:手数料|キャンセル料|違約金|解約金|延滞金|延滞料)[^。\n料代金額円費]{0,12}$")
# "パソコンの方はどうなりますか": damages when the customer's property was damaged, otherwise nothing named.
DAMAGE_ASK = "damage_ask"
# "付与してください": points (or a voucher) granted, from the object named before.
GRANT_VERB = "grant_verb"
# "もう一度送って": goods sent again, unless a remedy named right before is what is sent (クーポンをもう一度送って).
SEND_VERB = "send_verb"
REPAIR_VERB = "repair_verb"  # "直して": a repair when the text tells of something damaged
_CANCEL_BILLED = re.compile(r"請求|キャンセル料|違約金|解約金|手数料|扱い|延滞|損害金|遅延")
_CANCEL_TAKEN = re.compile(r"不正利用|引き落と|決済|課金|二重|重複|チャージ|[二2２]件|片方|明細")
_ANCHORS: dict[str, list[tuple[str, str | None, str | None, int, str]]] = {
    # anchor: [(remedy, required before (ends at the anchor), required after, how far before to look, kind), ...]
}


def _anchor(remedy: str, words: str, before: str | None = None, after: str | None = None, reach: int = 12,
            kind: str = NOUN) -> None:
    """Add anchor words of a remedy (a verb's remedy is resolved from its object when it is found)."""
    for word in words.split():
        _ANCHORS.setdefault(word, []).append((remedy, before, after, reach, kind))


_FEE = r"(?:手数料|てすうりょう|テスウリョウ|費用|料金?|代|のお金|おかね)"
_AMOUNT_WORD = r"[(（]?\s?[¥]?[0-9,.万千百十一二三四五六七八九]+\s?円[)）]?"
_AMOUNT_GAP = rf"(?:{_AMOUNT_WORD})?"
_anchor("reissue_fee", "再発行 再交付 さいはっこう", after=rf"^\s?(?:の|に(?:かかった|掛かった|要した))?{_AMOUNT_GAP}の?\s?{_FEE}")
_anchor("reissue_fee", "作り直し 交換 再発行", before=r"(?:カード|クレジットカード)の?$",
        after=r"^(?:に(?:かかった|掛かった))?の?(?:手数料|費用|代)|^た(?:分|時|とき)の?(?:お金|費用|代|手数料)")
_anchor("reissue_fee", "発行手数料", before=r"(?<!再)$", reach=1)
_anchor("reissue_fee", "reissue fee", before=r"(?i:card\s)$", reach=5)
_anchor("consolation", "慰謝料 いしゃりょう 見舞金 見舞い金 迷惑料 お詫び金 おわび金 詫び料 お詫びのお金 おわびのお金 consolation")
_anchor("consolation", "お詫びの額 お詫びの金額 おわびの額 和解金 解決金")
# Cash instead of the apology offered ("ギフト券ではなく現金で", "現金がいいの"); not "現金で返金" (a refund).
_anchor("consolation", "現金 お金で 銀行振込 振込で 振り込みで", kind="cash",
        after=r"^(?!書留|を(?:下ろ|おろ|引き出)|に(?:換え|替え|交換|変え)|化|で?(?:の)?(?:返金|返し|返還|払い戻|払戻|返って|戻っ|戻して|返す))")
_anchor("damages", "損害賠償 賠償 弁償 休業補償 休業損害 damages")
# "ルーターが壊れて…パソコンの方はどうなりますか": the customer's damaged property, asked about.
_anchor("damages", "どう対応 どのように対応 どのような対応 どういう対応 どう責任 どのように責任", kind=DAMAGE_ASK)
_anchor("damages", "どうなりますか どうなるんですか どうなるのでしょう どうなるんでしょう どうなるのか どうなっています どうなってます どうなってい", before=r"(?:の方|のほう|(?:修理|弁償|補償|賠償)の件)(?:は|って)?[、,]?\s?$",
        reach=6, kind=DAMAGE_ASK)
# "この傷の分はどうしてくれるんですか": the loss asked to be made good.
_anchor("damages", "どうしてくれる どうしてくれん", kind=GENERIC)
_anchor("damages", "損害 損失 被害", after=r"^[^0-9。\n]{0,12}?(?:補填|補償|負担|支払|払|賠償|弁償|請求)")
_anchor("points", "ポイント", after=r"^(?!カード|サイト)")
_anchor("points", "マイル ぽいんと miles points")
_anchor("points", "pt P PT Pt", before=r"[0-9]$", after=r"^(?![A-Za-z])")
_anchor("voucher", "商品券 ギフト券 ギフトカード クーポン 割引券 図書カード QUOカード クオカード 金券 Amazonギフト アマゾンギフト "
                   "お買物券 買物券 買い物券 お買い物券 優待券 無料券 カタログギフト プリペイドカード 電子マネー 電子ギフト "
                   "図書券 招待券 お詫び券 おわび券 食事券 宿泊券 利用券 旅行券 しょうひんけん ギフトけん voucher coupon")
# The customer's own discount to a client is no waiver asked: "取引先に値引きを求められ、2万円値引きしました".
_anchor("fee_waiver", "値引", after=r"^(?!き?(?:した|しました|を求められ|を要求され|させられ))")
# Refusing to pay: "見積もりを超えた差額は払いません" (not the company's refusal it was told of).
_anchor("fee_waiver", "払いません 支払いません お支払いしません 払う気はない 払う気はありません 払うつもりはない 払うつもりはありません",
        after=r"^(?!か(?!ら)|と(?:言|いわ|の|いう)|って|[^\n]{0,20}?(?:詐欺|サギ|架空請求))")
_anchor("fee_waiver", "免除 割り引 減額 相殺 タダに waive Waive "
                      "払わなくて 払わなくても 支払わなくて 払わずに 払わないで")
_anchor("fee_waiver", "まけて まけろ まけと まけてくれ", before=r"(?:料|代|金|額|円|分|費)(?:を|は|も|、)?[^。\n]{0,8}$", reach=16)
_anchor("fee_waiver", "差し引 差引", after=r"^(?!かず|かない|かれ|きせず)")
# "送料無料で送って": the charge is not made.
_anchor("fee_waiver", "無料で", before=r"(?:送料|手数料|費用|料金)$", reach=4)
# A repair or an exchange free of charge: "無料で修理か交換をしていただけますか".
_anchor("fee_waiver", "無料で 無償で タダで", after=r"^\s?(?:修理|交換|直|対応|再|取り替え|取替|やり直|使わせ|使え|利用させ|利用でき|泊め|泊まら|乗せ|受講|参加させ)")
# A wrong bill made right: "正しい金額で請求し直してください", "正しい金額に直してもらう".
_anchor("fee_waiver", "請求し直 請求をし直 請求書を作り直 請求を訂正 請求を修正 請求額を訂正 請求額を修正 正しい金額に 正しい金額で 正しい額に "
                      "正しい額で 正しい料金に 正しい料金で")
_anchor("fee_waiver", "割引", after=r"^(?!券|クーポン|で|価格|後|率|が適用|が消え|が外れ|を継続|の継続|を続け)")
_anchor("fee_waiver", "引き落とさない 引き落とさず 引き落としをしない 引き落としを止め 引き落としを停止 請求しない 請求を止め")
# A charge already made, cancelled: "二重になった1件分の取消", "2回分を取り消して" is a refund.
_anchor("refund", "取消 取り消 キャンセルし", before=r"(?:[0-9一二三]\s?(?:回|件)分|重複分|二重分|二重決済|二重請求|重複決済|決済分|課金分)(?:の|を|は|も)?\s?$",
        reach=14, kind=REFUND_VERB)
# "取り消して" elsewhere: the object decides ("キャンセル料の請求…取り消して" a waiver, "不正利用…取り消して" a refund).
_anchor("refund", "取り消 取消", kind=CANCEL_VERB)
_anchor("fee_waiver", "無料", after=r"^(?:に|化|(?:です|でしょう|になる|になります|になりません|になるん|だ)(?:よね|ね|か|[?？]))")
# "N円引き" and "料金から引いて"; not 代引き (cash on delivery), not a coupon's "800円引き", not the past.
_anchor("fee_waiver", "引い 引き 引け", before=r"(?:(?:[0-9]円|料金|額|分|料)(?:から|を)?|代(?:から|を)|請求(?:額|書)?から)$",
        after=r"^(?!落|出|継|取|続|上|受|た)")
_anchor("fee_waiver", "引いて", before=r"(?:料金|料|代|額|費)(?:[^。\n]{0,24}|[^。\n]{0,20}[。\n][^。\n]{0,4})$", reach=30,
        after=r"^(?:もら|ください|下さい|ほし|欲し|いただ|頂|くれ(?!へんかった|なかった|ませんでした))")
_anchor("fee_waiver", "請求", after=r"^(?:を)?(?:しない|止め|取り?消|取りやめ|なしに|無しに|撤回)")
# A charge of the company's, named in this sentence or the one before, taken off, cut or not made:
# "キャンセル料が載っていましたが外してください", "その分はなしにしていただけますよね", "今月の料金、安くしてくれるよね",
# "キャンセル料の請求はご容赦いただけますか", "点検料は今回いただかないということで", "請求は取り下げてください".
_CHARGE_BEFORE = r"(?:料|代|金(?!曜)|額|円|分|費|請求)[^\n]{0,30}$"
_anchor("fee_waiver", "外して 外した金額 外した額 外していただ 取り下げ 安くして 安くしてもら なしにして なしにしていただ 無しにして "
                      "ご容赦 容赦して いただかない 頂かない", before=_CHARGE_BEFORE, reach=40)
# "会費8,250円/月は止めてもらえますか": the charge itself stopped.
_anchor("fee_waiver", "止めて 止めていただ", before=r"(?:料|代|会費|金額|円|円/月|月額|料金)(?:は|を|も)\s?$", reach=10)
# A threat or a worry about a charge: "違約金を請求するなら出るところに出ます", "違約金とられるの？".
_anchor("fee_waiver", "請求するなら 請求したら とられる 取られる とられん 取られん",
        before=r"(?:違約金|解約金|キャンセル料|手数料|延滞金|延滞料)(?:を|は|も|って|ば)?\s?$", reach=12)
_anchor("refund", "取る 取って 取っと お取り", kind=TAKE_VERB, reach=30,
        before=r"(?:料|代|金(?!曜)|額|円|費)(?:を|は|も|まで)?\s?(?:(?:も|まで(?:も)?)|[^。\n]{0,6}?(?:ちゃんと|しっかり|きっちり|きちんと|満額|全額|まるまる|丸々))\s?$")
# The customer bore it, said in irony or as a complaint: "手数料も私持ち", "通話料は全部こっち持ち".
_anchor("expense", "私持ち こっち持ち 自分持ち うち持ち 客持ち", kind=COVER_VERB,
        after=r"^(?!って|と(?:言|いわ|の|いう|説明|案内))")  # "こっち持ちって言われた": the company's rule, told
# A charge not made: "キャンセル料は取らないで", "延滞手数料がつかないように", "設置費用5,500円はかからないように".
_anchor("fee_waiver", "キャンセル料 違約金 手数料 解約金 延滞金 延滞料 延滞手数料 追加料金 費用 送料 返送料 料金",
        after=rf"^(?:{_AMOUNT_GAP}(?:を|は|が|も|って)?|{_AMOUNT_WORD}[、,]\s?)(?:取り?消|なしに|無しに|なしで|無しで|無料に|免除|ゼロ|タダ|かからない|つかない|付かない"
              r"|取らない|とらない|取られない|請求しない|引かない)")
_anchor("expense", "電話代 通話料 通信費 通話代 交通費 タクシー代 電車代 電車賃 バス代 バス賃 ガソリン代 駐車代 駐車場代 医療費 治療費 診察代 診察料 "
                   "診察費 診療費 薬代 通院費 病院代 郵送料 切手代 実費 自腹 立て替え 立替え 立替 鍵交換 鍵の交換 鍵を交換 "
                   "電話料金 電話の料金 通信料")
_anchor("expense", "自費", after=r"^(?!扱い)")  # "自費扱いで請求された": the company's own charge
_anchor("expense", "引越 引っ越", after=r"^し?(?:の)?(?:費用|代)")
_anchor("expense", "転居", after=r"^(?:の)?費用")
_anchor("expense", "カウンセリング", after=r"^(?:代|料|費)")
_anchor("expense", "変更 交換", before=r"(?:番号|アドレス|メアド|鍵|錠)の?$",
        after=r"^[、,\s]?(?:の|に(?:かかった|掛かった))?(?:手数料|費用|代)")
# Non-monetary remedies: a service done again or instead.
_SERVICE_ASK = (r"^.{0,10}?(?:ください|下さい|ほしい|欲しい|もらえ|貰え|いただけ|頂け|くれ(?![、,][^。\n]{0,30}?(?:ました|た[。、]))|お願い|希望|願"
                 r"|依頼(?:です|します|いたします|になります|を(?:お願い|します|いたします)|[。!！]|$)"
                 r"|して(?:よ|ね|[〜~ー!！。]|\s?$))"
                 # A plain imperative: "すぐ交換して。", "交換してや。", "取り替えて！" (not a bare noun: "口座振替。").
                 r"|^し?て(?:や|よ|ね|な|ってば)?\s?(?:[!！。〜~ー]|$)"
                 # Asked whether it is done or possible: "振替って、どうなりますか", "振替授業があるのか".
                 r"|^[^。\n]{0,8}?(?:どうなり|どうなる|どうなっ|(?<!必要)(?:が|は)(?:ある|あります|できる|できます|可能)(?:の|ん(?:です|でしょう))?か)"
                 # Accepted, preferred, needed, or welcome if done: "再配達は明日でいいです", "替えてもらう方がありがたい",
                 # "持ってきてくれんと困る", "持ってきてくれたらそれでいい" (one lazy prefix: the after of many anchors).
                 r"|^[^。\n]{0,14}?(?:で(?:いい|良い|構い|かまい|結構)(?:です|ので|から|[。!！]|$)|方が(?:ありがた|いい|良い|助か|嬉し|うれし)"
                 r"|(?:くれ(?:ないと|んと|なきゃ)|もらわ(?:ないと|んと|なきゃ))(?:困|こま)"
                 r"|(?:くれたら|もらえたら|もらえれば|いただければ|いただけたら)[、,]?\s?(?:それで|助か|ありがた|嬉し|うれし))"
                 # One side of a choice: the sentence's ask covers both ("交換か、値引きをしてください").
                 r"|^\s?(?:す|する|る)?(?:か[、,]|かまたは|[、,]?\s?(?:または|もしくは|あるいは|それとも)|か(?=[^。\n]{0,20}?(?:どちらか|いずれか)))"
                 r"|^[^。\n]{0,12}?[、,]\s?(?:どちらか|いずれか)"
                 # "延長していただくか、返金か": one side of a choice asked with its own verb.
                 r"|^.{0,12}?(?:いただく|頂く|もらう|貰う)か[、,]"
                 # One item of a list the sentence asks for ("作り直しと、薬代を出していただけますか": the sentence's
                 # ask is checked later), or the first choice before its fallback ("交換できないなら返金して").
                 r"|^\s?と[、,]"
                 r"|^(?:が|は)?\s?(?:でき|無理|難し|不可)[^。\n]{0,6}?(?:なら|場合|ようなら)")
_anchor("other", "再送 送り直 贈り直 届け直 再配送 再配達 再発送 出し直 振り替え 振替 アップグレード 優先 取り直 無料期間 "
                 "交換し 交換を 交換の 取り替え 取替え 取替 取り換え お取り替え 刷り直 縫い直 仕立て直 再ダウンロード 再インストール "
                 "再施工 再工事 修理し 修理を 修理か 無償修理 無料修理 再修理",
        after=_SERVICE_ASK)
_anchor("other", "延長", after=r"^(?!保証|保育|料|コード|ケーブル|戦)(?:" + _SERVICE_ASK + ")")
# A bare "交換" asked right away or offered as one side of a choice ("交換お願いできますか", "交換か返金を").
_anchor("other", "交換 修理 取り替え", after=r"^(?:を|は)?\s?(?:お願い|希望|でも|で(?:いい|構|\s?[。!！]|$)|して(?:ください|下さい|ほし|欲し|もら|いただ|頂|くれ))"
                              r"|^\s?(?:か(?!ら|っ|け|な|も)[、,]?|[、,]?\s?(?:または|もしくは|あるいは))|^(?:が|は)?\s?(?:でき|無理|難し|不可)[^。\n]{0,6}?(?:なら|場合|ようなら)")
# Goods sent instead or what is missing: "交換品を送ってほしい", "新しいのを送って", "足らん分送ってくれへん",
# "蓋だけ送ってもらえれば", "交換品はいつ届きますか", "Please send a replacement".
_GOODS = (r"(?:交換品|代替品|代わりの(?:品|商品|もの|物)?|代わり|新しい(?:の|もの|物|商品|品)|新品|正しい[^。\n、]{0,8}?(?:商品|品|もの|物|の)"
          r"|代わりの(?:やつ|奴)|足ら?ん分|足りない分|足りない物|不足分|不足している分|欠品|残りの?(?:分|商品|品)|部品|付属品|パーツ|蓋|ふた|中身|中味)")
_anchor("other", "送って 送り 送る 届けて 発送して 発送を 送付して 届き 届く 届か",
        before=_GOODS + r"[一-龥ァ-ヴー]{0,4}(?:を|は|が|も|だけ|のみ|、|\s)*(?:いつ|まだ|早く|はよ|早う|至急|すぐ|今すぐ|急いで)?[、\s]?$", reach=30)
# Sent again, or what was missing sent: "もう一回送ってもらうのが一番", "入っていませんでした。充電器だけでいいので送って".
_anchor("other", "送って 送り直 届けて 発送して", before=r"(?:もう一(?:回|度)|もう1(?:回|度)|再度|改めて|あらためて)[^。\n]{0,6}$"
        r"|(?:入って(?:い)?(?:ませ|な)|同梱されて(?:い)?(?:ませ|な)|付いて(?:い)?(?:ませ|な)|欠けて|足りな|不足)[^\n]{0,30}(?<!分を)(?<!円を)(?<!分)(?<!円)$", reach=50,
        after=r"^(?!た|き|しま|もら(?:った|いました)|いただ(?:いた|きました)|くれ(?:た|ました))", kind=SEND_VERB)
# Brought now: "明日の朝一番に持ってきて".
_anchor("other", "持ってきて 持って来て",
        after=r"^(?:ください|下さい|ほしい|欲しい|もらえ(?!た)|いただけ(?!た)|頂け(?!た)|くれ(?:ない|ます|る|ませ|よ|んと|たら)|くん(?:な|さ|ろ)|くだせ|よ|や|ね|[。!！]|$)")
_anchor("other", "replacement Replacement resend Resend reship", after=r"^(?!\s?card)")
_anchor("other", "upgrade Upgrade", after=r"^\s?(?:my|me|the|our|to)\b")
# Anything else made again (a lens, a print), not a card (its fee is reissue_fee above).
_anchor("other", "作り直 作り直し", before=r"(?<!カード)(?<!カードの)(?<!証)(?<!証の)$", reach=4, after=_SERVICE_ASK)
_anchor("other", "お詫びの品 おわびの品")
_anchor("other", "延ば のば 伸ば", before=r"(?:期限|期間|期日|有効期限|猶予)[^。\n]{0,30}$", reach=36)
_anchor("other", "発行し直 植え直 貼り直 張り直 塗り直 組み直 詰め直 印刷し直 作成し直 手配し直 再手配",
        kind=SEND_VERB, after=r"^[^。\n]{0,24}?(?:ください|下さい|ほしい|欲しい|もらえ|貰え|いただけ|頂け|くれ|お願い|希望|願|たい"
                 r"|(?:もらう|いただく)か[、,])")
_anchor("other", "期間延長 期限延長 撮り直 やり直 受け直 再受講 再受験 無料受験 復旧させ 継続して 継続を 代わりの品 代替品 代品 同じ商品 正しい商品 "
                 "別の日に 別日に 旧料金で 代替機 代わりの機械", after=r"^[^。\n]{0,24}?(?:ください|下さい|ほしい|欲しい|もらえ|貰え|いただけ|頂け|くれ|お願い|希望|願|たい"
                 r"|(?:もらう|いただく)か[、,])")
_anchor("refund", "返金 払い戻 払戻 返還 へんきん ヘンキン refund Refund REFUND", kind=REFUND_VERB,
        after=r"^(?!し?(?:手数料|料))")  # "払戻手数料が3,000円": a fee, not the refund
# "返して" is a refund when money was named shortly before ("5千円払ってんだども それって返してもらえ").
_anchor("other", "復活 復元 付け直 付与し直 再付与", kind=RESTORE_VERB)
_anchor("points", "付与して 付与を", kind=GRANT_VERB, after=r"^(?:ください|下さい|ほしい|欲しい|もらえ|いただけ|頂け|くれ|お願い|[。!！])")
_anchor("refund", "返し 返せ 返っ 戻し 戻っ 返す 戻す 戻る 返る",
        before=r"(?:代|料|金(?!曜)|費|円|分|額|ドル|\$|ポイント|マイル|pt|アイテム|ジェム|石|チケット)", reach=40, kind=RETURN_VERB,
        after=r"^(?!っ?て?き(?:まし)?た|ってくる|ってきて|\s?(?:費用|ための|ため)|[^。\n]{0,3}もの(?:では|じゃ))")  # "壊れて返ってきました": the item came back;
# "お金で戻るものではありませんが": nothing money brings back
_COVER_AFTER = r"^(?!した|しま|して(?:い(?!ただ)|お(?!願))|する(?!の|ん)|が|感|を考え|を思|になる|も大き|を[^。\n]{0,8}?(?:押し?つけ|押し付け|強い))"
_anchor("expense", "負担 reimburse Reimburse", after=_COVER_AFTER, kind=COVER_VERB)
_anchor("damages", "補填 穴埋め 埋め合わせ 埋めあわせ", after=_COVER_AFTER, kind=GENERIC)
_anchor("expense", "精算して 精算を ご精算 精算され 精算でき", kind=COVER_VERB, after=r"^(?!ました|た|済)")
_anchor("damages", "何とかして なんとかして どうにかして どうにかなり どうにかなら なんとかなり 何とかなり なんとかなら 何とかなら", kind=GENERIC)
_anchor("refund", "reverse Reverse", after=r"^\s?(?:the|one of the|this|that|these|both|my)?\s?(?:duplicate\s|double\s)?(?:charge|payment|transaction)",
        kind=REFUND_VERB)
# "I want my annual fee back": money named before "back".
_anchor("refund", "back", before=r"(?i:fee|money|charge|payment|deposit|price|[0-9])\b[^.\n]{0,20}\s$", reach=30, kind=REFUND_VERB)
_anchor("expense", "cover pay", after=r"^\s?(?:the\s)?(?:cost|it|this|that|for|difference|taxi|hotel|train|fare|bill|fee)",
        kind=COVER_VERB)
_anchor("expense", "covered reimbursed", before=r"(?i:should|must|to)\s(?:be\s)?$", reach=12, kind=COVER_VERB)
# "そちら持ち" asks the company to bear it; "こっち持ち" says the customer does.
_anchor("expense", "持って 持ち もって もち", before=r"(?:そちら|そっち|御社|貴社|お宅|おたく|さん|社|側|店|ショップ|学校|病院|会社)(?:で|が|の|に)?$",
        after=_COVER_AFTER, kind=COVER_VERB)
# A cost named right before an asking phrase: "皮膚科代だけお願いします", "その費用はどうなるのか", "その費用は見てもらえますか".
_COST_BEFORE = (r"(?:代金|代|費|料|賃|費用|分|手数料|差額|前金|手付金|頭金|内金|予約金|保証金|預り金|預かり金|デポジット|お釣り|おつり|釣り銭)"
                r"(?:(?:の|は)?\s?[0-9,.万千]+\s?円)?(?:の(?:話|件))?(?:だけ|のみ|も|は|を|って|[、,])\s?(?:追加で|別途|改めて)?\s?$")
_anchor("expense", "お願いします お願いしたい お願いでき お願い致します どうなりますか どうなるのか どうなるんですか どうなるんでしょう "
                   "どうなるのでしょう どうなっている どうなってい どうなってる 見てもらえ 見ていただけ 見てください", before=_COST_BEFORE, reach=20,
        kind=COVER_VERB)
# "この費用はそちらの責任でお願いします": the company is asked to bear what was named.
_anchor("expense", "責任で", before=r"(?:そちら|そっち|御社|貴社|お宅|おたく|さん|社|側|店)の?$", reach=6, kind=COVER_VERB,
        after=r"^\s?(?:お願い|払|支払|負担|対応|持|弁償|修理|直|処理)")
# "どこで請求すればいいですか": how to claim a cost.
_anchor("expense", "請求すれば 請求したい", kind=COVER_VERB)
# "お金をくれるって書いてあるのかね", "何か出るの？": money for the incident, nothing named (damages).
_anchor("damages", "お金をくれ お金をもらえ お金がもらえ お金が出 お金は出", kind=GENERIC)
# Dialect of "払って": "それはそっちで払うてくれるんじゃろうね".
_anchor("expense", "払うて 払ろて", kind=COVER_VERB)
# "振込手数料もそちらでお願いします": the company is asked to bear what was named.
_anchor("expense", "そちらで そちら側で 御社で 貴社で 御社側で 貴社側で", kind=COVER_VERB,
        after=r"^\s?(?:お願い|願|よろしく|対応して|持って|もって|見て|みて|払って|支払って|出して|精算)")
_anchor("expense", "払って 支払って お支払い 出して", kind=COVER_VERB,
        after=r"^(?:ください|下さい|くださ|下さる|くれ|ほし|欲し|もら|いただ|頂|ちょうだい|頂戴|ね|よ[!！。]|\s?[?？]|$)")
# "皮膚科の費用の支払いを求めます": the payment asked, its object named before.
_anchor("expense", "支払い 支払", kind=COVER_VERB, after=r"^を\s?(?:求め|要求|請求|お願い|希望)")
_anchor("expense", "出ます", kind=COVER_VERB, after=r"^(?:か|よね)")
_anchor("expense", "出る 払う", kind=COVER_VERB, after=r"^(?:の|ん(?:です|だ|でしょう)?か|\s?[?？])")
_anchor("expense", "出せ 払え", after=r"^(?!ず|ない|なかった|なく|る)", kind=COVER_VERB)
# What the company ought to bear: "そっちが出すのが筋".
_anchor("expense", "出す", after=r"^(?:のが|とが|べき|んが)", kind=COVER_VERB)
_anchor("expense", "請求し 請求いたし 請求でき 請求させ", after=r"^(?!ない|ません|された|されて)", kind=COVER_VERB)
_anchor("damages", "補償 ほしょう 償い compensat Compensat", after=r"^(?!方針|が切れ|期間|規定|規約|制度|オプション|プラン|サービス|パック|付き|内容|対象外|の?(?:窓口|担当|部署|係|ページ))", kind=GENERIC)
_anchor("damages", "何らかの", after=r"^(?:形|対応|補償|措置)", kind=GENERIC)
_anchor("damages", "金銭", kind=GENERIC)
# -- vocabulary read from claims_test8's misses (each a class of words, not one row's wording) --
# A charge cut, pro-rated or brought to nothing: "宿泊料金を少しでも減らして", "今月分はゼロにして", "日割りにしてもらえますか".
_anchor("fee_waiver", "減らして 減らしてもら 下げて 下げてもら 安くなら", reach=12,
        before=r"(?:料|代|金(?!曜)|額|円|分|費)(?:を|は|も|、)?\s?(?:少しでも|少し|もう少し|ちょっと|いくらか|せめて)?\s?$")
_anchor("fee_waiver", "ゼロに タダにして", before=_CHARGE_BEFORE, reach=40, after=r"^(?:し|な(?!っ)|でき)")
_anchor("fee_waiver", "0円に", before=r"(?<![0-9,.])$", reach=1, after=r"^(?:し|な(?!っ)|でき)")
_anchor("fee_waiver", "日割り 日割", after=r"^(?:に|計算に|計算を|計算して(?:ください|下さい|ほし|もら|いただ))(?!なっ|なりました|しました)")
# The price it should have been: "セール価格で買わせてください", "キャンペーンの適用をお願いします".
_anchor("fee_waiver", "セール価格 割引価格 通常価格 元の価格 旧価格 キャンペーン価格 当初の価格 表示価格 掲載価格 キャンペーンの適用 キャンペーン適用 "
                      "特典の適用 割引の適用 割引適用",
        after=r"^(?:で|に|を|は)?[^。\n]{0,10}?(?:ください|下さい|ほしい|欲しい|もらえ|いただけ|頂け|お願い|希望|させて)")
# A worry about a charge the company would make: "キャンセル料がかかるなら納得できません", "違約金を取るんですか".
_anchor("fee_waiver", "かかるなら かかるん かかる場合 かかったら 発生するなら 取るなら 取るん",
        before=r"(?<!振込)(?<!振り込み)(?:違約金|解約金|キャンセル料|手数料|延滞金|延滞料)(?:を|が|は|も|って)?\s?$", reach=12)
# Sent or brought when it has not come: "ZB-2002 がまだです。早く送ってください", "今朝も来てねえ…持ってきて".
_anchor("other", "送って 届けて 発送して 持ってきて 持って来て", kind=SEND_VERB, reach=40,
        before=r"(?:まだ(?:です|届|来)|届いて(?:い)?(?:ませ|な)|届かな|来て(?:い)?(?:ませ|な|ねえ|ねぇ)|来ません|来ない|来なかった)[^\n]{0,30}(?<!分を)(?<!円を)(?<!分)(?<!円)$",
        after=r"^(?!た|き|しま|もら(?:った|いました)|いただ(?:いた|きました)|くれ(?:た|ました))")
# Exchanged or repaired in plain verbs: "はよ新しいのと替えてや", "壊していったがや。直してちょーよ".
_anchor("other", "と替え と換え に替え に換え と取り替え と取り換え", reach=14, after=_SERVICE_ASK,
        before=r"(?:新しい|新品|別の|正しい|良品|ちゃんとした|まともな|壊れてない|傷のない|傷の無い|正常な|同等の)[^。\n]{0,6}$")
_anchor("other", "直して 直しに来", kind=REPAIR_VERB, before=r"(?:^|[をはも、。！!\s]|早く|はよ|すぐ|すぐに|ちゃんと|きちんと)$", reach=4,
        after=r"^(?:ください|下さい|ほしい|欲しい|もらえ|貰え|いただけ|頂け|くれ|ちょう|ちょー|お願い|よ|や|ね|[。!！]|$)")
# What was there restored: "元に戻してください", "元のプランに戻して" (money or points back resolve from their object).
_anchor("other", "元に戻し 元に戻せ 元通りにし 元どおりにし 原状回復", kind=RESTORE_VERB)
_anchor("other", "に戻して に戻してもら に戻してほし", reach=12,
        before=r"元の(?![^。\n、]{0,8}(?:金額|料金|額|ポイント|残高|マイル|値段|価格))[^。\n、]{0,8}$")
# E-money put back on the card: "チャージし直すか返金を".
_anchor("voucher", "チャージし直 再チャージ", after=_SERVICE_ASK)
_anchor("voucher", "鑑賞券 無料鑑賞券 無料チケット 招待チケット 無料招待券")
# The money back, in a plain imperative or a threat: "1回分はさっさと戻せ", "もし戻らないなら解約します".
_anchor("refund", "戻ら 返ら", before=r"(?:代|料|金(?!曜)|費|円|分|額|ドル|\$)", reach=90, kind=RETURN_VERB,
        after=r"^(?:ない|なかったら|なければ)(?:なら|ら|と|場合)")
_anchor("refund", "戻せ", before=r"(?:代|料|金(?!曜)|費|円|分|額|ドル|\$|ポイント|マイル|pt)", reach=40, kind=RETURN_VERB)
# Lost wages named as what is owed: "その時の交通費と半日休んだ分、何か考えてもらえませんか".
_anchor("damages", "休んだ分 休業分 有給を使った分 有休を使った分 欠勤した分", after=r"^(?!の(?:日当|給料|給与|日給))")
# How much is paid out: "結局いくら出るの？", "いくらもらえるんですか".
_anchor("damages", "いくら出 いくらもらえ いくら貰え いくら補償", kind=GENERIC,
        after=r"^(?!せ|し|さ|そう)")  # "いくら出せば直りますか": what the customer would pay
# Who bears a cost: "氷代がかかります。これ、どなたが持つんでしょう？".
_anchor("expense", "持つ 持って 払う 出す", before=r"(?:誰|だれ|どなた|どちら|どっち|どこ)(?:が|で)\s?$", reach=5, kind=COVER_VERB)
# -- vocabulary read from claims_test9's misses (classes of words and forms, not one row's wording) --
# Distress named as what is owed: "精神的苦痛に対して、どう責任を取るおつもりですか".
_anchor("consolation", "精神的苦痛 精神的な苦痛 精神的ダメージ")
# A charge not made, named a few words before ("キャンセル料が…と言われましたが、何とか取らないで"), or its worry asked.
_anchor("fee_waiver", "取らないで 取らずに とらないで 取らんで 取らんといて 請求しないで", before=_CHARGE_BEFORE, reach=40,
        after=r"^(?!ほしかった|欲しかった|もらいたかった)")  # "取らないでほしかったし、返して": the charge was taken
_anchor("fee_waiver", "取られない 取られません", reach=12,
        before=r"(?:違約金|解約金|キャンセル料|手数料|延滞金|延滞料)(?:を|は|も|って|ば)?\s?$")
# Refusing to pay a charge in other words: "上乗せ分は払いたくありません", "新聞代…満額は払えません", "そのまま払うのはちょっと".
_anchor("fee_waiver", "払いたくない 払いたくありません 支払いたくない 支払いたくありません 払えません 払えない 払えん 支払えません "
                      "払うのはちょっと 払うのは納得 払うのはおかしい 支払うのは納得 払わないといけない 払わないかん 払わなあかん "
                      "払わなければならない 払わなきゃいけない", before=r"(?:料|代|金(?!曜)|額|円|分|費|請求|こっち|私|うち)[^。\n]{0,20}$", reach=30,
        after=r"^(?!と(?:言|いわ|の)|って|の?か|ん(?:です|だ)?か|\s?[?？])")  # "1万円くらい払えないのか": the company's refusal
# A charge taken off in other words, or from the next bill: "卵代だけ今回の会計から抜いておいて", "日割りで引いといて".
_anchor("fee_waiver", "抜いて 抜いといて 抜いておいて 引いといて 引いておいて 引いとい 抜いとい",
        before=r"(?:料|代|金(?!曜)|額|円|分|費|会計|請求)[^。\n]{0,30}$", reach=40,
        after=r"^(?:ください|下さい|もら|いただ|頂|ほし|欲し|くれ|ね|よ|[。!！]|$)")
_anchor("fee_waiver", "引いて 引い 差し引 相殺", reach=12,
        before=r"(?:次の|次回の|今回の|来月の)(?:請求|お支払い|支払い|会計|お会計|注文|ご注文|精算)(?:で|から|の際に|時に)\s?$")
# A charge cut to one of several taken: "入会金を一回分にしてください" (a refund when it was taken, else a waiver).
_anchor("fee_waiver", "回分に 回分だけに 回分のみに", before=r"[0-9一二１]$", reach=1, after=r"^(?:し|な(?!っ)|でき)")
# Overpaid: "多く取った分はどうなるんですか", "払いすぎた分".
_anchor("refund", "多く取った分 多く取られた分 多く払った分 余計に払った分 余分に払った分 余計に取られた分 払いすぎた分 払い過ぎた分 過払い分 過払い金")
# Goods handed back for the money: "返品できるか聞いといて".
_anchor("refund", "返品", after=r"^(?:でき(?:る|ます)(?:か|の|ん)|は(?:でき|可能)|させて(?:ください|もら|いただ|ほし))")
# A charge of the company's asked to be free: "次回の治療費はいらないですよね".
_anchor("fee_waiver", "いらない いりません", before=r"(?:料|代|費|料金)(?:は|も)\s?$", reach=8,
        after=r"^(?:ですよね|よね|でしょう|ですか|んですよね|んですか|の(?:ですか|でしょうか)|\s?[?？])")
# Taken into account: "差額分くらいは考えてもらっても", "せめて席料の分は考えてもらえませんか".
_anchor("refund", "考えてもら 考えていただ 考えてほし 考えて欲し 考えてください 考慮して 考慮いただ", kind=RETURN_VERB, reach=12,
        before=r"(?:代|料|金(?!曜)|費|円|分|額)(?:くらい|ぐらい)?(?:は|も|を)\s?(?:少し|せめて|多少)?$")
# How a cost will be handled: "差額について、どのようにお考えでしょうか", "この費用の取り扱いについてご相談したく", "コンビニの分については相談させて".
_anchor("expense", "どのようにお考え どうお考え どう考え どのようにお取り計らい ご相談したく 相談させて ご相談させて 相談したい ご相談です",
        before=r"(?:代金|代|費|料|費用|分|手数料|差額|円)(?:の(?:取り扱い|取扱い|扱い|件))?(?:について|については|は|って|に関して)[、,]?\s?$",
        reach=16, kind=COVER_VERB)
# Borne in other words: "そっちで面倒見てくれますよね", "この8,200円、そちらで肩代わりしてもらえますか", "これを持っていただけないなら".
_anchor("expense", "面倒見て 面倒をみて 面倒を見て 面倒みて 面倒見てもら 肩代わり", after=_COVER_AFTER, kind=COVER_VERB)
_anchor("expense", "持っていただ 持ってもら 持ってくれ", kind=COVER_VERB, reach=12,
        before=r"(?:これ|それ|その分|この分|代|費|料|円|分)(?:を|は|も)?[、,]?\s?$")
# Money back for what was named sentences before: "一日券5,800円を買った…さすがにこれは返してもらえますよね".
_anchor("refund", "返して 戻して", before=r"(?:これ|それ|その分|この分|そのお金|このお金)(?:は|を|も|って)?[、,]?\s?(?:全額|ちゃんと|きちんと|すぐ|早く)?$",
        reach=14, kind=RETURN_VERB)
# Made again or brought again: "もう一度手配してもらえますか", "明日もう一度来てもらえますか", "良い席を用意してもらうか".
_anchor("other", "手配し 手配を 回収に 回収し", before=r"(?:もう一(?:回|度)|もう1(?:回|度)|再度|改めて|あらためて)[^。\n]{0,4}$",
        reach=12, after=_SERVICE_ASK)
_anchor("other", "もう一度来て もう一回来て もう1回来て 再度来て 改めて来て", after=_SERVICE_ASK)
_anchor("other", "ご用意", before=r"(?:席|部屋|代わり|代替品|代車|同等品|新品|新しい[^。\n]{0,4}|別の[^。\n]{0,4})を?\s?$", reach=16,
        after=_SERVICE_ASK)
_anchor("other", "変えて 替えて 換えて かえて", before=r"(?:部屋|席|客室|座席|商品|品物|機種|端末)(?:を|は)?\s?$", reach=6, after=_SERVICE_ASK)
# Shipped back is no money back: "余分な二つは送り返しますが" (the anchor never applies, "送り" is then tried).
_anchor("other", "送り返 送りかえ", before=r"(?!)")
# English: "I'd just like the resort fee taken off the bill", "the 1,000-point apology", "the difference could be returned".
_anchor("fee_waiver", "off", before=r"(?i:taken|take|knock|knocked|remove|removed)\s$", reach=10,
        after=r"^\s?(?:the|my|our|this)?\s?(?:bill|invoice|charge|statement|total)")
_anchor("points", "point", before=r"[0-9]-?$|[0-9]\s$", reach=2, after=r"^(?![A-Za-z])")
_anchor("refund", "returned refunded", before=r"(?i:could|can|would|should|must|to)\s(?:be\s)$", reach=12, kind=REFUND_VERB)
# Money for distress in plain words: "気持ちの分として何か包んでもらいたい".
_anchor("consolation", "何か包 いくらか包 お包み", before=r"(?:気持ち|お詫び|誠意|迷惑|振り回|として)[^。\n]{0,12}$", reach=16)
# Something given for the trouble, nothing named: "普通は何かあるものじゃないんですか", "何かつけてもらうのが普通".
_anchor("damages", "何かあるもの", kind=GENERIC, after=r"^(?:じゃ|では|でしょう|なんじゃ)")
_anchor("damages", "何かつけて 何かつけてもら", kind=GENERIC, before=r"(?:分|せめて|お詫びに|代わりに)[、,]?\s?$", reach=10)
_anchor("damages", "何か考えてもら 何か考えていただ 何かしらの形で", kind=GENERIC)
# Others got it: "ほかの生徒さんは振替レッスンを入れてもらったそうですが、私は？" (the comparison decides).
_anchor("other", "振替 振り替え 再配達 交換",
        after=r"^[^。\n]{0,16}?(?:もらった|いただいた)(?:そう|と(?:聞|いう))[^。\n]{0,8}?(?:私|わたし|うち|自分|僕|俺)(?:は|も|には|にも)")
# A lost balance restored: "電子マネー3,000円分が消えました…元の残高に戻してもらえますか".
_anchor("voucher", "に戻して に戻してもら に戻してほし 戻して", before=r"(?:残高|金額)(?:を)?\s?$", reach=4, kind=RESTORE_VERB)
# The customer's share made nothing: "自己負担なしにしてください" (the bare 自己負担 is the company's charge, no cost borne).
_anchor("fee_waiver", "自己負担なし 自己負担をなし 自己負担ゼロ 自己負担金なし 自己負担金をなし 自己負担を無し 自己負担無し")
_anchor("expense", "自己負担", before=r"(?!)")
# An item of the bill taken off: "請求書に取り外し費用16,500円が入っていました。この項目を消してください".
_anchor("fee_waiver", "項目を消して 項目を削除して 項目を外して 項目は消して 項目は削除して", before=r"(?:請求|明細|料|代|費)[^\n]{0,40}$", reach=50)
# A friend paid for now is no cost asked: "同行した友人に立て替えてもらい、帰宅後に現金で返しています".
_anchor("expense", "立て替え 立替え 立替", after=r"^(?!てもらい(?!たい)|てもらっ(?!て(?:も|いい))|てくれ(?:た|まし))")
# A charge deducted from the rent or the bill: "この分、家賃から引いてもいいですか".
_anchor("fee_waiver", "引いて 引い 差し引", reach=8, before=r"(?:家賃|賃料|月謝|会費|料金|代金|請求額?|会計|利用料)から\s?$",
        after=r"^(?:も(?:いい|よろし|構)|ください|下さい|もら|いただ|頂|ほし|欲し|くれ|て(?:も(?:いい|よろし|構)|ください|下さい|もら|いただ|ほし|くれ))")
# -- classes read from claims_test10's misses (each a class of forms, narrow anchors: not tried at every position) --
# English: an amount named as the object of "cover" or "back" ("cover the ¥2,400 I spent", "I want the full amount back").
_anchor("expense", "cover", after=r"^\s?(?:the\s)?(?:[¥$]|US\$|[0-9])", kind=COVER_VERB)
_anchor("refund", "back", reach=40, kind=REFUND_VERB,  # not "got the full amount back"
        before=r"(?i:(?:want|need|like|expect|get|have|send|give|pay)\s(?:me\s)?(?:the|my|our)\s(?:full\s|whole\s|entire\s)?(?:amount|sum|total))\s(?:[^.\n]{0,20}\s)?$")
# English: a charge not made ("please don't charge me for your own error"); not a question of whether it is.
_anchor("fee_waiver", "charge", before=r"(?i:don't|do not|not|never)\s$", reach=8, after=r"^\s(?:me|us)\b(?!\?)")
# A charge not deducted, or made as if it never was: "手数料880円…その分は引かないでください",
# "オプション代1,650円は、なかったことにしてもらえませんか".
_anchor("fee_waiver", "引かないで 引かんといて 引かんで なかったことにし 無かったことにし", before=_CHARGE_BEFORE, reach=40,
        after=r"^[^。\n]{0,8}?(?:ください|下さい|ほし|欲し|もら|いただ|頂|くれ|お願い)")  # not "連絡がなかったことについて"
# A bill kept from coming: "カードに請求がいかないようにしてください", "請求が来ないようにして".
_anchor("fee_waiver", "請求がいかない 請求が行かない 請求が来ない 請求がこない 請求がかからない", after=r"^よう")
# A deadline moved back: "有効期限も後ろにずらしていただけると" (as 延ばして above).
_anchor("other", "ずらし", before=r"(?:期限|期間|期日|有効期限|猶予)[^。\n]{0,30}$", reach=36, after=_SERVICE_ASK)
# Moved to another room or seat: "暖かい部屋に移してもらえないかい".
_anchor("other", "に移して に移らせて に替えて", before=r"(?:部屋|客室|席|座席|号室)\s?$", reach=4,
        after=r"^(?:ください|下さい|ほしい|欲しい|もらえ(?!た)|貰え(?!た)|いただけ(?!た)|頂け(?!た)|くれ(?!た|まし)|ちょう|お願い|よ|や|ね|[。!！]|$)")
# Overpaid, the amount named instead of 分: "多く取った13,770円を父の口座に振り込んでください".
_anchor("refund", "多く取った 多く取られた 余計に取られた 余分に取られた 多く払った 余計に払った 払いすぎた 払い過ぎた",
        after=rf"^\s?{_AMOUNT_WORD}\s?(?:を|は|も|、)")
# Money for the hurt in plain words: "お金で気持ちを示してください", "その気持ちの分もお金で考えてもらいたい".
_anchor("consolation", "お金で気持ち 気持ちの分も 気持ちの分を お金の形で示 お金という形で", after=r"^(?!は(?:いりません|結構|いらない))")
for _word in [w for w in _ANCHORS if all("\u3041" <= ch <= "\u3096" for ch in w)]:
    _ANCHORS.setdefault("".join(chr(ord(ch) + 0x60) for ch in _word), list(_ANCHORS[_word]))


def _first_char_alternation(words: list[str]) -> str:
    """Return a regex source matching the longest of the words, branching on the first character.

    re tries a flat alternation's branches one by one at every position; grouped by their first
    character, each position tries only the words that can start there.
    """
    groups: dict[str, list[str]] = {}
    for w in words:
        groups.setdefault(w[0], []).append(w[1:])
    return "|".join(re.escape(first) + "(?:" + "|".join(re.escape(r) for r in sorted(rests, key=len, reverse=True)) + ")"
                    for first, rests in groups.items())


_REQUEST = re.compile(_first_char_alternation(list(_ANCHORS)))
# Each anchor with the shorter anchors it starts with, longest first.
_PREFIXES = {w: [w[:n] for n in range(len(w), 0, -1) if w[:n] in _ANCHORS] for w in _ANCHORS}
_RULES = {word: [(remedy, re.compile(b) if b else None, re.compile(a) if a else None, reach, kind)
                 for remedy, b, a, reach, kind in rules]
          for word, rules in _ANCHORS.items()}

# What a verb asks for, read from the nearest object before it.
# Nouns only: the last one named before the verb is its object ("延滞金が330円つきました。これを負担して"
# is about the late fee, whatever card was reissued before); a bare amount counts only when no noun does.
_OBJECT = re.compile(
    r"(?P<reissue>再発行|作り直|再交付|さいはっこう|発行手数料|(?:もう一度|再度)発行|取り直|(?i:reissue))"
    # A loss the customer suffered, made good: damages ("被害額は¥15,000です。いつ補填されますか").
    # Lost wages are a loss too (the brief lists 休業補償 under damages): "休んだ分の日当を補償して".
    r"|(?P<loss>損失|損害(?!金)|逸失|値下がり|売上|被害|不正利用|盗まれ|補償金|日当|日給|時給|休んだ分|給料|給与|有給|有休)"
    r"|(?P<points>ポイント|マイル|pt(?![A-Za-z]))"
    r"|(?P<item>アイテム|ジェム|ガチャ石|[有無]償石|キャラ|チケット(?!代))"
    # A charge the company would make, waived when it is asked to bear it: the postage of its own resend, its own
    # cancellation fee ("こちらのホテルのキャンセル料"); a bare キャンセル料 is usually another's (a train's, a venue's).
    r"|(?P<waive>(?:再送|再発送|再配達|再配送|送り直し)の?送料"
    r"|(?:こちら|そちら|御社|貴社|お宅|おたく|貴店|貴ホテル)の[^。\n、]{0,8}?(?:キャンセル料|違約金|解約金))"
    # What was lost coming back as what it was: e-money or a voucher restored.
    r"|(?P<voucher>電子マネー|ギフト券|ギフトカード|商品券|クーポン|プリペイド)"
    r"|(?P<borne>振込手数料|振り込み手数料|変更手数料|事務手数料|延滞金|延滞料|延滞手数料|遅延損害金|利息|自費(?!扱い)|自腹|実費"
    r"|立て?替|通話料|電話代|交通費|運賃|タクシー|差額|[1一]日分|上がった分|増えた分|負担分|新幹線|郵送料|返送料"
    r"|返送の送料|送料|切手代|書留|(?i:difference|taxi|hotel|train|phone bill|transport)|(?<!料)費用?|代(?!金|引|替|わ|理|表)"
    r"|(?<![手数送険謝])料(?!金))"
    r"|(?P<fee>(?<![込更務約])手数料)"
    r"|(?P<charge>チケット代|追加料金|料金|受講料|月謝|会費|利用料|保険料|代金|解約手数料|入会金|登録料|入学金|受験料|席料|入場料|観覧料"
    r"|(?:宿泊|利用|受講|乗車)分)"
    r"|(?P<paid>注文|キャンセル|課金|お金|現金|払った|払いました|支払った|支払いました)"
    # Paid in advance to the company: "前金5,000円はどうなりますか" is its refund.
    r"|(?P<deposit>前金|手付金|頭金|内金|予約金|保証金|預り金|預かり金|デポジット|お釣り|おつり|釣り銭)"
    r"|(?P<amount>円|ドル|\$|¥|yen|USD)"
)
# A cost the customer bore, strong enough to turn "返して" into expense rather than a refund.
_BORNE_STRONG = re.compile(r"病院に行|かかっ|かかり|掛かっ|掛かり|自費(?!扱い)|自腹|実費|返送料|往復(?:の)?送料|立て?替|通話料|電話代|交通費|タクシー|購入し|買い|買っ|加入"
                           r"|振込手数料|振り込み手数料|延滞金|延滞料|延滞手数料|利息"
                           r"|別の(?:病院|薬局|ホテル|店|クリニック|便|業者)")
# The customer's property damaged, and what repairing it costs: a loss made good (damages), not a cost borne.
_DAMAGED = re.compile(r"壊れ|壊さ|壊し|傷(?!病)|破損|ぶつけ|ぶつか|当てられ|当て逃げ|ひび|ヒビ|亀裂|水漏れ|浸水|水浸し|はげ|剥げ|焦げ|焦が|割れ|割ら|へこ|凹|穴を|穴が|破れ|破ら|折れ|欠け|汚さ|シミ|染み")
_REPAIR = re.compile(r"修理|修繕|補修|塗装|塗り直|張り替え|張替|交換代|交換費|見積")
# Getting a service from someone else: staying, hiring, renting, buying.
_NOT_MONEY_OBJECT = re.compile(r"(?:責任者|上司|上の(?:人|者|方)|担当者?|社長|店長|支配人|代表者?|謝罪文?|説明|回答|返事|結論|答え|誠意)を\s?$")
_PAID_ELSEWHERE = re.compile(r"別の|他の|他社|ほかの|よその|近くの|近所の|買い直|買いなお|で買い|を買います|を買いました|に(?:払|支払)|かかっ|かかり|掛かっ|借り|預け|泊ま|(?:に|を)頼ん|(?:に|を)依頼し|買っ|購入"
                             r"|市販|飲んだ|薬局|ドラッグストア")
_REISSUE_CONTEXT = re.compile(
    r"(?:カード|クレジット|クレカ|かーど|card)[^\n]{0,40}?(?:再発行|作り直|再交付|発行し直|さいはっこう)"
    r"|(?:再発行|作り直|再交付|さいはっこう)[^。\n]{0,12}?(?:カード|かーど)|再発行手数料"
    # Any card or document made again after a leak: 会員証, パスポート, 住民票 (its 発行手数料 is then a reissue fee).
    r"|(?:会員証|パスポート|旅券|免許証|保険証|住民票|証明書|通帳|印鑑証明|学生証|社員証|診察券|戸籍|謄本|抄本|書類)[^\n]{0,80}?(?:再発行|作り直|再交付|取り直|発行し直)"
    r"|(?:もう一度|再度)発行|(?:再発行|再交付)[^。\n]{0,20}?手数料"
    # A new card or document in place of one lost or leaked: "新しいカードの発行手数料", "新しい会員証を作るのに1,000円",
    # "カード…新しくするのにお金がかかるの", "パスポート…再発給を申請し".
    r"|新しい(?:カード|会員証|学生証|社員証|診察券|保険証|通帳|免許証)[^。\n]{0,12}?(?:発行|作る|作り|作成)"
    r"|(?:カード|会員証|学生証|社員証|診察券|保険証)[^\n]{0,60}?新しく(?:する|し)|再発給"
    r"|(?i:reissue|replacement card)",
    re.IGNORECASE,
)
# What makes a sentence ask for something (or press for what was promised).
# The long rule sets are verbose patterns: one group of alternatives per line, comments among them,
# literal spaces escaped ("can\ you").
_ASK = re.compile(r"""
    ください|下さい|くださ|ほしい|欲しい|たい|お願い|願い|頂け|いただけ|いただき|頂き|もらえ|貰え|もらい|貰い|くれ|求め(?!られ)
    |請求(?:を|も)?(?:し(?!ない)|いた|させ|でき|する|考え|検討|予定|について|の件|に関して)
    |要求(?!され)|希望|要望|依頼(?:です|します|いたします|になります)|ちょうだい|頂戴|手を打|で(?:納得|我慢|勘弁)(?:し|す)|がいい|が良い|でも(?:構い|かまい|いい|良い)|で(?:構い|かまい)ません|でいい(?:ので|から|です)|持ちで(?:[。!！\s]|$)|でも\s?[。!！]?\s?$
    |オネガイ|クダサイ|ホシイ|モラエ|イタダケ  # written in (half-width) katakana
    |ちょーよ|ちょうよ|ちょーだい|ちょーでぁ
    |べき|しろ|せよ|払え|返せ|出せ|寄越|よこせ|か[?？。]|か$|\?|？|でしょうか|ですか|ますか|のか|んですか|だろう|かな|まだ|いつ(?!も)|いくら|どう
    |(?:反映され|届い|入っ|振り?込まれ|付与され|付い|戻っ|され)て(?:い)?(?:ない|ませ)|届かない|届きませ|ありません|ないの|検討|対応して
    |負担して|支払って|払って|出ますか|対象|申請|申し込|手続き|納得|少な|足りな|安すぎ|ふざけ|払いません|支払いません|払う気は|払うつもりは
    # Consulting about a remedy asks whether it is given: "ご用件：返金のご相談".
    |(?<!と)の(?:ご)?相談|について(?:の)?(?:ご)?相談|の(?:こと|件)で(?:ご)?相談
    # Pressing: threats, waiting, a plain "〜して".
    |しないなら|されないなら|しなければ|されなければ|がなければ|がなかったら|しなかったら|されなかったら|が済むまで|されるまで|待って(?:い)?ます|待たされ|待ってる
    # A condition with a threat ("払わないなら裁判", "タダにしねえなら"), a negative imperative ("請求しないで。"),
    # an elided verb ("代金の返金を。").
    |(?:ない|ねえ|ねぇ|なきゃ|ん)なら|ないで(?:よ|ね|な)?\s?(?:[!！。]|$)|(?:を|も)\s?(?:[!！。]|$)
    # Asked as what is only right or owed: "そっちが払うとが筋やろ", "返してもらうのが当然だと思います",
    # "タダにしてもらってもいいのでは", "出してもらってもバチは当たらない", "よろしいですよね", "迷惑料もらわな".
    |(?:の|と|が)筋|筋(?:として|だ|でしょ|やろ|じゃ)|のが当然|当然(?:だと|です|でしょ|や)|もいいのでは|もいいんじゃ
    |バチは当たら|罰は当たら|よろしい(?:です)?(?:よね|ですね|でしょうか)|もらわな|もろても(?:よろし|ええ)|(?:くらい|ぐらい)は(?:ね|ねえ|ねぇ|さ|さあ)?[、,]?\s?[…‥]
    # Hoping or disputing rather than asking: "ポイントがあれば嬉しいです", "私が払うものではないと思います".
    |(?:あれば|あると|いただけると|頂けると|もらえると|いただければ|頂ければ)(?:嬉し|うれし|助か|幸い|ありがた)
    # Asked as fair, as a confirmation, as a reluctance or as whether it can be done: "考えてもらってもいいと思うんですが",
    # "今回の修理は当然無料ですよね", "そのまま払うのはちょっと", "返品できるか聞いといて".
    |(?:ても|でも)(?:いい|良い)と思|(?:無料|タダ|免除|対象|なし|無し|ゼロ|不要|当然|もらえる|いただける|頂ける|くれる|される)(?:です|ます|でしょう|なん(?:です|だ)|んです)?よね|のは(?:ちょっと|どうか|いかがなもの)|でき(?:る|ます)か(?:どうか)?[、,]?\s?(?:聞|教え|知り|確認|問い合わせ)
    |(?:もの|筋合い)(?:では|じゃ|は)(?:ない|ありませ|なかろう)|おかしい|おかしくない
    |して(?!い|お|あ|しま|た|から|も|は)|て(?:よ|ね|な|や|って)?[!！。?？\s]*$
    # ... and the plain imperative: "額を考え直せ。", "払え！"
    |[えけせてへめれげべろ]よ?[!！。]
    |(?i:please|can\ you|could\ you|would\ you|i\ want|i\ (?:just|really|only|simply)\ want|i'd\ (?:just|really)\ like|appreciate\ it\ if|would\ appreciate|i\ request|we\ request|i\ demand|we\ demand|kindly|i'd\ like|i\ would\ like|waiting\ for|still\ wait|i\ expect|expect\ you
    |should\ be\ (?:covered|paid|refunded|reimbursed|waived)|you\ should|you\ must|have\ to\ (?:cover|pay|refund))
    # Accepting one remedy: "ギフト券で結構です", "クーポンでも我慢します".
    |で(?:結構|けっこう)です|でも(?:納得|我慢|がまん|勘弁)(?:し|す)
""", re.VERBOSE)
# The fallback of a choice, read over the whole sentence: "再ダウンロードできないなら返金で。", "振替が無理なら全額払い戻しで".
_FALLBACK = re.compile(r"なら[^。\n]{0,24}?で\s?(?:[!！。]|$)")
# Irony asks too: praise for a failure ("お客様思いの素晴らしい窓口ですね", "ありがたくて涙が出ます") around a remedy or a cost.
_IRONY = re.compile(r"さすが(?!に)|流石(?!に)|素晴らし|すばらし|素敵な|ステキな|ご親切|親切な(?:会社|対応|お店|窓口|サービス)|ありがたくて|涙が出"
                    r"|お客様思い|お客様想い|顧客思い|エンジョイ|勉強になりました|いいご身分|結構なご身分|大したもん|お見事|恐れ入り"
                    r"|一流(?:ホテル|企業|の会社|のお店)?は違")
# Comparing with what others got: "隣の人は見舞金をもらったそうです。うちも同じ被害なんですが" asks the same.
_OTHERS_BEFORE = re.compile(r"(?:人|方|友達|友人|知人|知り合い|同僚|親戚|家族|周り|隣(?:の[^。、\n]{0,6})?|近所の[^。、\n]{0,6}|他の[^。、\n]{0,6}|ほかの[^。、\n]{0,6})"
                            r"(?:は|が|も|には|では)[、,]?[^。\n]{0,40}$")
_OTHERS_GOT = re.compile(r"(?<=もら)|(?<=いただ)|[^。\n]{0,16}?(?:もら|貰|配られ|受け取|いただい|頂い|支給され|付与され|して(?:もら|いただ))")
_GOT_BY_OTHERS = re.compile(r"[^。\n]{0,14}?(?:配られ|もらっ|貰っ|受け取っ|支給され)た(?:人|方|お客|客)(?:が|も)")
_ME_TOO = re.compile(r"(?:私|わたし|うち|自分|僕|俺|我が家)(?:は|も|には|にも|の(?:家|ところ)(?:は|には|も))")
# A header over a list of claims: "【ご請求内容】", "ご要望："; every line after it asks.
# A list closed by "以上、よろしくお願いします": every item before it asks.
_ASK_FOOTER = re.compile(r"(?:^|\n)\s?以上[、,]?\s?[^\n]{0,10}(?:お願い|よろしく)")
_ASK_HEADER = re.compile(r"[【<\[〈《][^】>\]〉》\n]{0,10}(?:請求|要望|希望|依頼)[^】>\]〉》\n]{0,6}[】>\]〉》]|(?:ご請求|ご要望|ご希望|請求内容|請求項目)[^\n]{0,6}[:：]"
                         r"|(?:^|\n)\s?(?:要望|希望|リクエスト|依頼内容|ご依頼|要求)\s?[:：]"
                         r"|(?:^|\n)\s?[■□◆◇●○▼▽★☆◎#]?\s?(?:件名\s?[:：]\s?)?(?:ご)?(?:請求|要望|希望|依頼)(?:内容|項目|事項)?\s?[:：]?\s?(?=\n)"
                         r"|(?:以下|下記)[^\n。]{0,15}?(?:請求|お願い|求め|要望|希望|補償|負担)")
_PAREN = r"(?:[（(][^）)\n]{0,20}[）)])?"
# Up to N steps of the same sentence after a remedy, a parenthesis ("費用（1,100円）は結構です") being one step.
_SAME_SENTENCE = r"(?:[^。！!？?\n（(]|[（(][^）)\n]{0,20}[）)])"
# A remedy turned down anywhere in the inquiry is not asked for: "クーポンは使い道がないので不要です".
_REJECTED = re.compile(rf"""
    ^{_PAREN}{_SAME_SENTENCE}{{0,12}}?(?:要ら|いら(?:ない|ん|ね)|要りませ|いりませ|は結構|はけっこう|は不要(?!と)|不要です|不要なので|では意味が|じゃ意味が
    |意味がない|使い道が|使う予定がない|辞退|ではなく|じゃなくて|じゃなく|でなく|より.{{0,4}}がいい|でごまかさ|でごまかす
    |[てで]も困|では困|じゃ困|自分で(?:払い|払う|支払|負担|出し|出す)|自己負担(?:します|で(?:構|かま|いい))
    |(?:した|頼んだ|申し込んだ|お願いした|求めた|言った)(?:こと|覚え)(?:は|が|も)?(?:ない|ありませ|ございませ)
    |というほど(?:では|じゃ)(?:ない|ありませ)|^より(?:も)?[、,]|はいいので|はいいです|はいいから|はいいけど|はもういい|はもう(?:結構|けっこう)(?:です|だ|なので|ですので|ですから|だから|[。、,!！]|$)
    |(?:と|って|とか)言われても困|(?:とか|など|なんか)?送られても|使わない(?:ので|から|し)|使いません
    # "何も返金を頼んでいません", "補償等は求めておりません": not asked, whatever the politeness.
    |(?:求め|お願いし|依頼し|要求し|請求し)て(?:い|お)?(?:り)?(?:ませ|ない|ねえ)|(?:望ん|頼ん)で(?:い|お)?(?:り)?(?:ませ|ない|ねえ)|求めるつもり|必要(?:は)?(?:ありませ|ない)
    |つもりは(?:あり|な)|わけ(?:では|じゃ)(?:あり|な)|ても気が済|でも気が済|で誤魔化|でごま化
    |(?:は|とか|など|なんて)[、,]?\s?(?:そういうこと|そういうの)?(?:は|も)?\s?考えて(?:い|お)?(?:り)?(?:ませ|ない)
    |の請求は(?:あり|いたし|し)ませ
    # "慰謝料とまでは言いませんが", "迷惑料を払えとは言いません", "返金までは求めませんが"
    |(?:まで|(?<!こ)と|とまで)は(?:言い|いい|申し|求め|望み|要求し|請求し)ませ|(?:まで|(?<!こ)と|とまで)は(?:言わ|いわ|求め)(?:ない|ん|ず)
    # A resignation is no threat: "慰謝料が出ないなら仕方ないです", "返金されないなら諦めます".
    |ない(?:の)?なら(?:ば)?[、,]?[^。\n]{{0,6}}?(?:仕方|しかた|しょうがな|諦め|あきらめ|結構|構いませ|かまいませ|いいです)
    |求めませ|要求しませ|請求しませ)
""", re.VERBOSE)
# English puts the decline before the remedy: "I don't want points or coupons", "no need for a voucher".
_DECLINED_BEFORE = re.compile(r"(?i:don't want|do not want|don't need|do not need|no need for|not interested in|not asking for)(?:\s(?:any|a|the|your|or|\w+,?)){0,4}\s?$")
# Named as not enough: this mention asks for nothing ("クオカードだけでは納得できません"), a later one may ("1,000ptにして").
_INSUFFICIENT = re.compile(rf"^{_PAREN}{_SAME_SENTENCE}{{0,12}}?(?:では少な|じゃ少な|だけでは|だけじゃ|では納得|じゃ納得|では足り|じゃ足り"
                           r"|^(?:なんて|なんか)[、,]"
                           r"|(?:では|じゃ)[、,]?\s?(?:とても|到底|とうてい|全然|全く|まったく|ちょっと)(?:納得|足り|少な)"
                           r"|(?:って|なんて|とは)[、,]?\s?(?:正直|さすがに|あまりに|ちょっと|いくらなんでも)?[、,]?\s?(?:少な|安すぎ))")
# The next sentence says nothing is sought: "病院代は8,620円でした。請求するつもりはないけど、記録に残して",
# "手続きも済ませたので、特に追加で求めることはありません".
_NOT_SEEKING = re.compile(r"(?:請求|要求|求め)(?:する|る)?(?:つもり|気)(?:は|も)(?:ない|ありませ|ござい)|(?:求め|請求し|要求し)(?:ませ|ていませ|てない)"
                          r"|(?:求める|請求する|要求する|お願いする)ことは(?:ない|ありませ|ございませ)")
_NON_REMEDY_ASK = re.compile(r"(?:説明|謝罪|回答|返事|連絡|報告|改善|周知|再発防止|知らせ|お知らせ|教え)(?:を|して|て|は)?[^。\n]{0,6}?"
                             r"(?:ください|下さい|ほしい|欲しい|いただけ|願い)|今後は|次から(?:は)?|以後")
# Money set aside as a whole: "お金のことはもう大丈夫です" (a service asked beside it stays).
_MONEY_DECLINED = re.compile(r"(?:お金|金銭|費用)(?:のこと|の話|の件|面)?(?:は|も)[、,]?\s?(?:もう|別に|特に)?[、,]?\s?"
                             r"(?:大丈夫|いい(?:です|ので|から|んです)|結構|けっこう|気にして(?:い)?ません|求めません|要りません|いりません|言いません)")
# A generic "何とかして" after the customer said nothing is sought: "特に何かしてほしいわけではありません".
_NOTHING_SOUGHT = re.compile(r"(?:特に|別に)?何か(?:して)?(?:ほしい|欲しい|求め|要求|してもらいたい)[^。\n]{0,6}?わけ(?:では|じゃ)"
                             r"|特に(?:何も)?(?:求め|要求|望み)(?:ませ|ない|ていませ)")
_MORE = re.compile(r"上乗せ|増額|増やして|積み増|追加(?:で|して)(?:ください|下さい|ほし|欲し|もら|いただ)|もう少し(?:多く|出し|足し|上げ)")
# Mentioned but not asked: received, free already, done
# (offers and quotes are _OFFERED and _QUOTE, which let pressing through).
_NOT_ASKED = re.compile(
    rf"^{_PAREN}.{{0,10}}?(?:(?:送って|お送り|お届け|ご送付)(?:いただいた|頂いた|くださった|下さった|もらった)|を?受け取りました|は受け取|受領し|を?頂きました|をいただきました|が届きました|を?もらいました"
    r"|は無料だった|は無料でした|はかからなかった|されました。|済みです"
    # Thanked for: "QUOカードをお送りいただきありがとうございました", "補償のご案内ありがとうございます".
    r"|(?:お送り|ご送付|お届け|ご提供|付与|ご案内|案内)?(?:を)?(?:いただき|頂き|くださり|下さり)?(?:まして)?[、,]?\s?(?:ありがと|感謝)"
    r"|(?:は|も)[^。\n]{0,12}?で無料(?:でした|だった|になりました)"
    # Paid by someone else already: "治療費は保険で出ましたが", "交通費は会社から支払われました".
    r"|(?:で|から)(?:出ました|出た|出て(?:い)?ます|支払われ|払われ|補償され|カバーされ|賄われ|まかなわれ)"
    # Seen to have arrived: "口座への返金も確認できました".
    r"|確認(?:でき|し|いたし)(?:まし)?た(?:[。、,!！]|が|けど|ので|$))"
)
# Told by the company: "返金は振込でと言われましたが".
_TOLD = re.compile(r"^[^。\n]{0,10}?、?(?:と|って)(?:言われ|いわれ|案内され|説明され)(?:まし)?た(?:が|けど)")
# Done, or told by the company, rather than asked: "航空券は払い戻されましたが", "代金は戻ったんですけど",
# "返金していただきました", "返金いただけると伺っています", "全額戻ってくることになりました".
_DONE = re.compile(
    r"し?(?:金|分|額|手続き)?(?:を|は|が|も)?\s?(?:"
    r"(?:され|し|っ)?(?:て(?:もらい|もらえ|いただき|いただけ|頂き|頂け|くれ)|いただき|頂き|もらい)?(?:まし)?た(?![いくらりめ])"
    r"(?:が|けど|けれど|ものの|[。、,]|の[でにはも]|ん|\s|$)"
    # Asked before, and the answer is what follows: "払い戻しをお願いしたところ、手数料が3,000円かかると".
    r"|(?:を|は)?(?:お願い|依頼|申請|相談)し(?:まし)?た(?:ところ|ら|が|けど|のに)"
    r"|(?:いただける|頂ける|される|してもらえる|できる|する|します|いたします|してくれる|い?てくれる|い?ていただける)(?:と|って|との|という)"
    r"(?:伺|聞|言われ|書|案内|連絡|説明|お話|話|回答|返事|こと(?:で|です|でした|だ|[、,]))"
    r"|(?:てくる|される|する)?ことに(?:なりました|なった)|(?:の|される|いたす)?予定(?:です|とのこと|と(?:の|伺|聞))"
    r"|不可|不能)"
)
# ... unless the customer presses for it: "送ると書いてありましたが、まだ届いていません", "いつ届きますか".
_PRESSING = re.compile(
    r"まだ|どうなって|届いて(?:い)?(?:ない|ませ)|届かない|届きませ|入って(?:い)?(?:ない|ませ)|付与されて(?:い)?(?:ない|ませ)"
    r"|いつ(?:届|頃|ごろ|になり|まで|入|付与|振り?込|もらえ|反映|戻)|両方|申請|申し?込|希望し|手続き|どうやって|どうすれば"
    # Not yet paid or sent, or asked to hurry: "お約束のお詫び金が未入金です。至急", "本当に届くのでしょうか".
    r"|(?:振込先|振り込み先|振込口座|送付先)[^。\n]{0,12}?(?:どこ|どちら|どう|教え|か[?？。]|[?？])|(?:どこ|どちら)に(?:お伝え|伝え)|未入金|未払い?|未着|未送付|未付与|至急|早急|早く|届くの(?:でしょうか|ですか|か)|もらえるの(?:でしょうか|ですか|か|\s?[?？])"
    # A promise not kept, or how to receive it: "と言われたのに入金がありません", "どういう方法で受け取れますか".
    r"|入金が(?:ありませ|ない)|(?:言われた|聞いた|約束した|書いてあった)のに|受け取れ(?:ます|る)|受け取り方"
    # The rest of what was promised: "780円しか入金されていません。不足分を振り込んでください".
    r"|不足分|足りない分|残りの?(?:分|金額)"
)
# Offered, or only described, not asked: "500ポイントを付与するというメールが来ましたが", "500円のクーポンで済ませる気か".
_OFFERED = re.compile(
    r"^[^。\n]{0,10}?、?と言われ(?:ました)?が"
    r"|^[^。\n]{0,8}?(?:を|が|は)?(?:付与|送付|お送り|お届け|進呈|配布|プレゼント|支給|お支払い|郵送)"
    r"(?:する|します|いたします|して(?:おり|い)|される|させていただ|とのこと|と(?:の|書|あ|見|聞))"
    # Handed over or proposed by the company: "割引券を渡されましたが", "宿泊割引を提案いただきましたが".
    r"|^[^。\n]{0,8}?(?:を|が|は)?(?:渡され|手渡され|提示され|提案され|ご提案いただ|提案いただ|提案して(?:くれ|いただ|もら))"
    r"|^[^。\n]{0,6}?(?:を|が|は)?(?:発表|公表|告知)(?:し|され)"
    r"|^[^。\n]{0,12}?(?:って|と)(?:書いて|書かれ|あった|ありました|ある|話|言われ|言って|聞い|聞き|伺|言う(?:けど|けれど|が|のに))"
    # Told it will be borne: "鍵の交換費用は全額そちらで負担いただけると伺いました".
    r"|^[^。\n]{0,16}?(?:いただける|頂ける|される|してもらえる|してくれる)(?:と|って|との|という)(?:伺|聞|言われ|案内|連絡|説明|お話|回答|返事|こと)"
    r"|^[^。\n]{0,10}?で(?:済ませ|済ます|済むと|済まそう|終わり|おしまい)"
    # A notice of what was done: "3,000マイルを積算したとの案内が届いていました".
    r"|^[^。\n]{0,12}?(?:した|された|しました|いたしました)(?:との|という)(?:ご)?(?:案内|連絡|お知らせ|通知|メール)"
)
# A remedy's name used for something else: a balance, a validity date, a code, what was stolen or spent.
_STATE = re.compile(
    r"^(?:[(（][^）)\n]{0,20}[）)])?(?:を|は)(?:使っ|利用し|使用し)(?:た|て)"
    r"|^(?:の|が|は|を)?(?:残高|履歴|数|の?有効期限|の?期限|コード|番号|サイト|アプリ|カード|での?支払|の支払|決済)"
    r"|^で(?:払っ|支払っ|購入し|買っ|決済し)(?:た|ている|ていた)"
    # A cost as the reason for something else: "電話代がかさむので折り返しを", "交通費がもったいないので送って".
    r"|^[^。\n]{0,4}?が(?:かさむ|かさみ|もったいない|勿体ない|高い|高く)(?:ので|から|し|[、,])"
    r"|^[^。\n]{0,8}?(?:が|は|を|も)(?:今も|まだ|勝手に|不正に|全部)?(?:減|消え|表示|使われ|盗まれ|失効|切れ|抜かれ|乗っ取)"
    r"|^[^。\n]{0,4}?(?:は|を|って)?、?(?:いつまでに|どこで|どうやって|どう)?使(?:え|う|い|っ)"
    r"|^\s?(?:あり|ある|あっ|残って|貯ま|たま|→|->)"
    r"|^[^。\n]{0,6}?が(?:適用され|使えな|使えず)|^適用(?:後|前)|^[^。\n]{0,4}?(?:を|は)(?:利用し|使用し|買っ|買わ|購入し)"
)
# Already given: "付与された1,000ポイント、有効期限が…", "届いたクーポン".
_GIVEN_BEFORE = re.compile(r"(?:付与された|付与いただいた|いただいた|頂いた|もらった|貰った|届いた|受け取った|送られてきた"
                           r"|使われた|盗まれた|→|->)(?:お詫びの?)?\s?[0-9,]*\s?$")
# Reported speech: "「補償金をお支払いするので…」というSMS", "「返金のため…」と言われました".
_QUOTE = re.compile(r"[「『\"“]([^」』\"”\n]{1,120})[」』\"”]")
_REPORTED = re.compile(r"\s?(?:と(?:は)?(?:はっきり|きっぱり|すぐに?|一方的に|あっさり|丁寧に|何度も)[、,]?(?:言われ|いわれ|言って|断ら)|と(?:ご|お)(?:連絡|案内|説明|回答|返事|電話|話)|という|といった|とのこと|との(?:連絡|案内|電話|メール|声|話|説明)|と(?:言われ|いわれ|言って|書い|書か|あり|あっ|名乗|称|の|電話|メール|SMS|連絡|通知|\s?。)"
                       r"|って(?:言われ|いわれ|書い|あっ|話|電話|メール)|の(?:電話|メール|SMS))")
# Words that are not the customer's, one rule a line: (a string the text must hold for the rule to be tried,
# the pattern, whether the span runs on to the end of the text). The company's or a scammer's words ask nothing
# unless the customer presses right after them.
_NOT_CUSTOMER: tuple[tuple[str, re.Pattern[str], bool], ...] = tuple((needle, re.compile(source), to_end) for needle, source, to_end in (
    # A quoted e-mail: "> このたびはご迷惑をおかけしました。お詫びとしてQUOカード…".
    (">", r"(?:^|\n)\s?[>＞][^\n]*", False),
    # The subject of a mail replied to or forwarded: "Re: 返金手続きのご案内".
    (":", r"(?:^|\n)\s?(?:件名\s?[:：]\s?)?(?:Re|RE|Fw|FW|Fwd|FWD)\s?[:：][^\n]*", False),
    # A forwarded message, to its end.
    ("-", r"-{3,}\s?(?:Forwarded|Original|転送|元の)|Forwarded message|-----Original", True),
    # The company's words reported without quotes: "御社からは、全額返金しキャンセル料もいただかないとのご案内をいただき".
    ("と", r"(?:御社|貴社|そちら|担当(?:者|の方)|係の方|お店)(?:から|より)(?:は|も)?[、,]?[^。\n]{0,80}?"
          r"(?:との|という|と)(?:ご)?(?:案内|連絡|説明|回答|お知らせ|返事|お返事|言われ|いわれ)", False),
    # The agent's turn of a call or chat: "オペ：今月の基本料金を無料にさせていただきます。".
    (":", r"(?:^|\n)\s?(?:\[?[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?\]?\s?)?(?:オペ(?:レーター)?|担当(?:者)?|係(?:員)?|スタッフ|窓口|店員|店長?|フロント|受付|駅員|乗務員|職員|社員|販売員|薬剤師|配達員|ドライバー|サポート"
          r"|Agent|agent|Operator|operator|Staff|staff)\s?[:：][^\n]*", False),
))
# What makes cash an apology rather than a refund: an apology offered, in kind or in points.
_APOLOGY_CONTEXT = re.compile(r"お詫び|おわび|お見舞|見舞金|迷惑料|慰謝|クーポン|ポイント|ギフト|商品券|金券|品物|図書カード|QUOカード|クオカード|電子マネー")
# A refund asked in the same sentence makes cash its form, not an apology.
_REFUND_WORD = re.compile(r"返金|払い戻|払戻|返還|返し|返せ|返して|戻して")
_SENTENCE_END = re.compile(r"[。！!？?\n]+")
_SCAM = re.compile(r"^(?:詐欺|サギ|を装|をかた|と称|のメール|の電話|SMS)")
# "返金などの補償", "お詫びとしての補償": the generic word sums up the remedy just named.
_GENERIC_OF = re.compile(r"(?:など|等|といった|として|としての|という|の形で|で)の?\s?$")
_SPECIFIC = frozenset({"reissue_fee", "expense", "points", "voucher", "fee_waiver", "consolation", "damages"})


def _sentences(norm: str) -> list[tuple[int, int]]:
    spans, pos = [], 0
    for m in _SENTENCE_END.finditer(norm):
        spans.append((pos, m.end()))
        pos = m.end()
    if pos < len(norm):
        spans.append((pos, len(norm)))
    return spans


def _paren_chars(norm: str, a: int, b: int) -> int:
    """Return how many characters between a and b are parentheses and what they hold ("費用（1,100円）は")."""
    return sum(len(m.group()) for m in re.finditer(r"[（(][^）)\n]{0,20}[）)]", norm[a:b])) if "(" in norm[a:b] or "（" in norm[a:b] else 0


def _remedy(word: str, norm: str, start: int, end: int) -> tuple[str, str] | None:
    for remedy, before, after, reach, kind in _RULES[word]:
        if before is not None and not before.search(norm, max(0, start - reach), start):
            continue
        if after is not None and not after.match(norm[end : end + 24]):
            continue
        return remedy, kind
    return None


_MONEY_SENT = re.compile(r"見舞金|見舞い金|お詫び金|おわび金|迷惑料|慰謝料|補償金|返金|お金|現金|クーポン|商品券|ギフト券|ギフトカード|QUOカード|クオカード|図書カード|金券|ポイント")
# Property lost or stolen in the company's care, asked about: "腕時計がなくなっていて…どう対応してくれるのか".
_LOST_PROPERTY = re.compile(r"なくなっ|無くなっ|紛失|盗まれ|盗難|置き忘れ|行方不明")
# A verb that refers back to what was named before: "これは返して", "その分を支払って".
# The company's own price or bill, which a difference is of: "通常価格の4,180円で引き落とされていました。差額は".
_COMPANY_PRICE = re.compile(r"引き落と|請求され|価格|定価|通常料金|会計|明細")
_BACK_REF = re.compile(r"これ|それ|その分|この分|そのお金|このお金")
_LOST = re.compile(r"消え|失効|なくな|無くな|使われ|減っ|盗まれ|抜かれ")
_POINTS_WORD = re.compile(r"ポイント|マイル|[0-9]\s?(?:P|pt|PT)(?![A-Za-z])")
_E_MONEY = re.compile(r"電子マネー|プリペイド|ギフトカード|ギフト券|商品券|クーポン")
_UNCHECKED = re.compile(r"[□☐]\s?$")
_APART = re.compile(r"[^。\n]{0,24}?(?:それ|これ)とは別に")
_WITHOUT = re.compile(r"[^\s、。,]{1,10}?(?:なし|無し|抜き)で")


def _resolve(kind: str, norm: str, start: int, reissue: bool) -> str:
    """Return what a verb asks for, from the nearest object named in the 45 characters before it."""
    window = norm[max(0, start - 45) : start]
    if _NOT_MONEY_OBJECT.search(window):
        return ""  # "責任者を出してください", "回答を出して": a person or an answer, nothing to pay
    if kind == SEND_VERB:
        # "見舞金を…お送りいただけるとのことでしたが…いつ送っていただけるのでしょうか": the money named is what is sent.
        money = [m.end() for m in _MONEY_SENT.finditer(window)]
        return "" if money and not any(m.start() > money[-1] for m in re.finditer(_GOODS, window)) else "other"
    if kind == REPAIR_VERB:
        return "other" if _DAMAGED.search(norm, max(0, start - 90), start) else ""  # not "システムは直して"
    if kind == DAMAGE_ASK:
        return "damages" if _DAMAGED.search(norm, max(0, start - 90), start) or _LOST_PROPERTY.search(norm, max(0, start - 90), start) else ""
    if kind == TAKE_VERB:
        return "fee_waiver" if _TAKEN_FEE.search(window) else "refund"
    if kind == CANCEL_VERB:
        if _CANCEL_TAKEN.search(window):
            return "refund"
        return "fee_waiver" if _CANCEL_BILLED.search(window) else ""
    if norm[start : start + 1].isascii() and norm[start : start + 1].isalpha():
        # English takes more letters, and names the object after the verb: "cover the difference ... for a taxi".
        window = norm[max(0, start - 90) : start] + " " + norm[start : start + 60]
    if kind in (RETURN_VERB, COVER_VERB, REFUND_VERB, GENERIC) and _BACK_REF.search(window, max(window.rfind("。"), window.rfind("\n")) + 1) \
            and not any(m.lastgroup != "amount" for m in _OBJECT.finditer(window)):
        # "一日券5,800円を買った…一本も乗っていません。さすがにこれは返して": the object is named sentences before.
        window = norm[max(0, start - 120) : start]
    if "なし" in window or "無し" in window or "抜き" in window:
        window = _WITHOUT.sub("", window)  # "振込手数料なしで返金して": not the object
    group = None
    obj = ""
    previous = None
    at = 0  # where the object found starts
    reissue_end = 0
    # An amount in the verb's own sentence wins over a noun of an earlier one:
    # "ポイントはいりません。それより二重に引き落とされた2,980円を返して" returns money, not points.
    own = max(window.rfind("。"), window.rfind("\n")) + 1
    for m in _OBJECT.finditer(window):
        if m.lastgroup == "voucher" and kind not in (RETURN_VERB, RESTORE_VERB, GRANT_VERB):
            continue  # "クーポンではなく現金で払って": only what comes back or is granted is the voucher
        if group == "reissue" and m.lastgroup in ("borne", "fee") and re.fullmatch(r"\S{0,3}?の?", window[reissue_end : m.start()]):
            continue  # "会員証の作り直し費用": the reissue's own fee
        if m.lastgroup == "reissue":
            reissue_end = m.end()
        if m.lastgroup != "amount" or group in (None, "amount") or (at < own <= m.start()):
            if group not in (None, "amount"):
                previous = group
            group, at, obj = m.lastgroup, m.start(), m.group()
    if group == "paid" and previous in ("borne", "fee") and m.group().startswith(("払", "支払")):
        group = previous  # "振込手数料を220円払いました。返して": the fee, not the payment to the company
    if group is None and _BORNE_STRONG.search(window):
        group = "borne"  # "千円かかりました。それ、出して"
    if group == "borne" and obj == "差額" and _COMPANY_PRICE.search(norm, max(0, start - 120), start) \
            and not _PAID_ELSEWHERE.search(norm, max(0, start - 120), start):
        group = "charge"  # "通常価格で引き落とされていました。差額はどうなりますか": the company's price, not a cost borne elsewhere
    if group == "reissue" and not reissue:
        group = None  # "クーポンを再発行して": no card, no fee
    if group == "reissue" or (reissue and group in ("fee", "paid", "amount")):
        return "reissue_fee"
    if kind in (RETURN_VERB, RESTORE_VERB, GRANT_VERB) and group == "voucher" and (kind == GRANT_VERB or _LOST.search(window)):
        return "voucher"  # "消えた電子マネーを元に戻して" (a charge taken twice is money back)
    if kind == GRANT_VERB:
        if group is None:  # named further back: "300P付与が漏れています。…付与してください", "電子マネーの…チャージ分を付与して"
            return "points" if _POINTS_WORD.search(norm) else "voucher" if _E_MONEY.search(norm) else ""
        return "points" if group == "points" else ""
    if group == "waive" and kind in (COVER_VERB, GENERIC):
        # "再送の送料はそちらで負担して", "こちらのホテルのキャンセル料はどうなりますか": the company's own charge, waived.
        return "fee_waiver"
    if kind in (RETURN_VERB, RESTORE_VERB) and group in ("points", "item"):
        return "points" if group == "points" else "other"  # "マイルを戻して", "消えたアイテムを戻して"
    if kind == RESTORE_VERB:
        return "refund" if group in ("paid", "charge", "waive") else "other"
    if group == "deposit":
        return "refund"
    if group == "loss" and kind in (COVER_VERB, GENERIC):
        return "damages"
    if kind in (COVER_VERB, GENERIC) and group in ("borne", "amount") and _DAMAGED.search(norm) \
            and (_REPAIR.search(window) or group == "amount") and "鍵" not in window:
        return "damages"  # "ミラー交換代27,500円、払って", "修繕費用は約12万円です。補償を": the customer's property made good
    if kind in (REFUND_VERB, RETURN_VERB):
        # "注文分を返金して" stays a refund even after "近所の店で買いました"; "自費で買った薬代を返して" does not.
        # The word 返金 itself turns into expense only for a cost named in its own sentence.
        reach = window[max(window.rfind("。"), window.rfind("\n")) + 1 :] if kind == REFUND_VERB else window
        return "expense" if group == "borne" and _BORNE_STRONG.search(reach) else "refund"
    if kind == GENERIC:
        if group == "charge" and norm.startswith(("何とか", "なんとか", "どうにか"), start) and not _DAMAGED.search(norm, max(0, start - 90), start) \
                and not _PAID_ELSEWHERE.search(norm, max(0, start - 90), start):
            return "refund"  # "今回の宿泊分でなんとかしてほしい": the charge paid, made good
        return "expense" if group == "borne" or group == "amount" and _BORNE_STRONG.search(window, own) else "damages"
    if group == "charge":
        # A charge paid to someone else is a cost borne ("別のホテルの料金", "税理士に追加料金を払う"),
        # otherwise the company bears its own charge: "追加料金はそちらで負担して".
        # The place paid may be named a sentence earlier ("別のサロンで直してもらいました（6,600円）。…直しの代金だけ").
        if _PAID_ELSEWHERE.search(norm, max(0, start - 90), start):
            return "expense"
        # "今月の会費8,800円はどうなりますか": what happens to a charge paid asks for it back.
        return "refund" if norm.startswith("どうな", start) else "fee_waiver"
    if group in ("borne", "fee", "paid", "amount"):
        return "expense"
    if group == "points":
        return "points"  # "ポイントで補填して"
    return ""  # "社長を出せ": nothing to pay


def _hits(norm: str) -> list[tuple[int, int, str, str]]:
    """Return (start, end, remedy, kind) of every anchor whose conditions hold, trying shorter anchors too."""
    out = []
    for m in _REQUEST.finditer(norm):
        start = m.start()
        # "請求しないで": the longest anchor (請求し, a verb) does not apply, the shorter 請求 (a waiver) does.
        for word in _PREFIXES[m.group()]:
            if (rule := _remedy(word, norm, start, start + len(word))) is not None:
                out.append((start, start + len(word), *rule))
                break
    return out


_DEDUCT = ("差し引", "差引", "相殺", "引い", "引き", "抜い", "回分に", "件分に", "回分だけ", "件分だけ", "回分のみ")
# What a deduction is of: a cost borne elsewhere ("スーパーで買いました…この分、次回の注文で差し引いて"), a charge already taken
# ("2,500円引かれていました。次の請求で相殺して"), or else a charge billed (a waiver).
_BORNE_ELSEWHERE = re.compile(r"で買い|で購入|買い直|病院|薬代|薬局|通院|タクシー|交通費|電車")
_ALREADY_TAKEN = re.compile(r"引かれ|引き落とされ|取られ|払いました|払った|支払った|支払いました|決済され")


def _deducted(norm: str, start: int) -> str:
    """Return what a charge deducted is: expense, refund or fee_waiver (read from the 120 characters before)."""
    window = norm[max(0, start - 120) : start]
    if _BORNE_ELSEWHERE.search(window):
        return "expense"
    return "refund" if _ALREADY_TAKEN.search(window) else "fee_waiver"


def _names_cost(norm: str, start: int) -> bool:
    """Return True if a cost the customer bore is named just before a verb (its own remedy then)."""
    window = norm[max(0, start - 45) : start]
    group = None
    for m in _OBJECT.finditer(window):
        if m.lastgroup != "amount":
            group = m.lastgroup
    return group in ("borne", "fee")


_MEMO = re.compile(r"\s?[【\[(]?[^】\]\n)]{0,8}?(?:メモ|記録|対応履歴|応対履歴|受付内容)")
# A text holding none of these has no words of anyone else (the cheap test first).
_NOT_CUSTOMER_CHARS = "「『\"“" + "".join(needle for needle, _p, _e in _NOT_CUSTOMER)


def _not_customer_spans(norm: str) -> list[tuple[int, int]]:
    """Return the spans of words that are not the customer's: reported speech, quoted or forwarded mail."""
    # In an agent's memo of a call, what is quoted is the customer's own words ("「迷惑料を払え」との要求").
    memo = _MEMO.match(norm) is not None
    spans = [(m.start(), m.end()) for m in _QUOTE.finditer(norm) if not memo and _REPORTED.match(norm, m.end())]
    for needle, pattern, to_end in _NOT_CUSTOMER:
        if needle in norm:
            spans += [(m.start(), len(norm) if to_end else m.end()) for m in pattern.finditer(norm)]
    return spans


# An item of a list under a header of claims: "【ご請求内容】\n・商品代金 5,480円\n・返送料 1,210円".
_BULLET = re.compile(r"(?:^|\n)\s?(?:[・\-*●•]|[0-9]{1,2}[.)．）])\s?(?P<item>[^\n]{1,40})")
_LISTED = {"charge": "refund", "paid": "refund", "borne": "expense", "fee": "expense", "loss": "damages"}


_SERVICE_ITEM = re.compile(r"交換|取り替え|再送|再配達|再発送|送り直|代替品|代わりの|貸し出し|貸出|修理|振替|延長|作り直|やり直")
_HEADER_WORDS = ("請求", "要望", "希望", "依頼", "リクエスト", "要求", "お願い", "求め", "補償", "負担")


def _listed(norm: str, header: re.Match[str], hits: list[tuple[int, int, str, str]]) -> set[str]:
    """Return the remedies named only by a cost in the bulleted items under a header of claims (no remedy word)."""
    out = set()
    for m in _BULLET.finditer(norm, header.end()):
        if any(m.start("item") <= h[0] < m.end("item") for h in hits):
            continue  # the item names its remedy ("・慰謝料")
        groups = [o.lastgroup for o in _OBJECT.finditer(norm, m.start("item"), m.end("item")) if o.lastgroup != "amount"]
        if groups and groups[0] in _LISTED:
            out.add(_LISTED[groups[0]])
        elif not groups and _SERVICE_ITEM.search(m.group("item")):
            out.add("other")  # "1) 破損品の交換", "2) 代替品の貸し出し"
    return out


# The first item of a list asked for in one breath, named by its cost alone: "その水代と、基本料金の免除をお願いします",
# "設置費用と慰謝料を請求します" (the ask that follows covers both).
# Found by its end (a cost word, then と), the item's words read back from there: a pattern that starts with
# a negated class would be tried at every position.
_FIRST_ITEM = re.compile(r"(?:代金|代|料金|料|費用|費|差額)(?:\s?[(（][^)）\n]{0,20}[)）]|\s?[0-9,.万千百]+\s?円)?"
                         r"(?:と(?!言|いわ|いう|の|思|して|なっ|なり|なる|聞|書|伺|か|は|も)|(?=[、,]\s?(?:それとも|または|もしくは|あるいは)))[、,]?\s?"
                         r"(?:それとも|または|もしくは|あるいは)?")
_ITEM_STOP = frozenset("、,。\n \t")


def _first_items(norm: str, sentences: list[tuple[int, int]], hits: list[tuple[int, int, str, str]],
                 sentence_of: list[int], named_at: dict[str, set[int]]) -> set[str]:
    """Return the remedies of costs listed first before a remedy asked in the same sentence."""
    asked = set().union(*named_at.values()) if named_at else set()
    out = set()
    for k in asked:
        s, e = sentences[k]
        if "と" not in norm[s:e]:
            continue
        for m in _FIRST_ITEM.finditer(norm, s, e):
            cost_end = m.start() + (2 if norm.startswith(("代金", "料金", "費用", "差額"), m.start()) else 1)
            start = m.start()
            while start > s and m.start() - start < 12 and norm[start - 1] not in _ITEM_STOP:
                start -= 1
            item = norm[start:cost_end]
            if any(start <= h[0] < m.end() for h in hits):
                continue  # the item names its own remedy
            if not any(j == k and 0 <= h[0] - m.end() <= 24 and h[3] == NOUN for h, j in zip(hits, sentence_of, strict=True)):
                continue  # the list goes on into no remedy named (a verb after "A代とB代を" resolves both itself)
            groups = [o.lastgroup for o in _OBJECT.finditer(item) if o.lastgroup != "amount"]
            if "reissue" in groups or groups and groups[-1] == "fee" and _REISSUE_CONTEXT.search(norm, max(0, start - 60), cost_end):
                out.add("reissue_fee")  # "再発行の手数料と、…", "書類を取り直して、合計で手数料900円と"
            elif groups and groups[-1] == "charge" and _PAID_ELSEWHERE.search(item):
                out.add("expense")  # "停電で氷を買った代金と": paid elsewhere
            elif groups and groups[-1] in _LISTED:
                out.add(_LISTED[groups[-1]])
    return out


def _next_own_index(sentences: list[tuple[int, int]], i: int, outside: list[tuple[int, int]]) -> int | None:
    """Return the index of the next sentence after i that is not in someone else's words (an agent's turn)."""
    for j in range(i + 1, len(sentences)):
        if not any(q[0] <= sentences[j][0] < q[1] and q[1] - q[0] < 200 for q in outside):
            return j
    return None


def _next_own(norm: str, sentences: list[tuple[int, int]], i: int, outside: list[tuple[int, int]]) -> str:
    """Return the customer's next sentence after sentence i, past the agent's turns ("" at the end)."""
    j = _next_own_index(sentences, i, outside)
    return "" if j is None else norm[slice(*sentences[j])]


def _outside(norm: str) -> list[tuple[int, int]]:
    """Return the spans of words that are not the customer's (none without a quote or a reporting word)."""
    return _not_customer_spans(norm) if any(c in norm for c in _NOT_CUSTOMER_CHARS) else []


def _requests(norm: str, learned: bool = True) -> list[str]:
    """Return the remedies asked for: the rules' findings, and what the learned part adds to them."""
    found, hits, reissue = _rule_requests(norm)
    if learned and not found:
        found = claims_learned.added(norm, hits, found, reissue=reissue)
    return [r for r in REQUESTS if r in found]


def _rule_requests(norm: str) -> tuple[set[str], list[tuple[int, int, str, str]], bool | None]:
    """Return the remedies the rules find asked for, the anchors they read them from, and if a card is made again.

    The last is None when there is no anchor (it was not needed).
    """
    hits = _hits(norm)
    # _REISSUE_CONTEXT costs about 20 us over a whole text: looked for once, and only when an anchor needs it.
    if any(norm[h[0] : h[1]] == "発行手数料" for h in hits) and _REISSUE_CONTEXT.search(norm) is None and not any(
            h[2] == "reissue_fee" and norm[h[0] : h[1]] != "発行手数料" for h in hits):
        # "発行手数料" alone (a certificate, a first card) is no reissue.
        hits = [h for h in hits if norm[h[0] : h[1]] != "発行手数料"]
    # Every header of claims holds one of these words: look for one only then.
    header = _ASK_HEADER.search(norm) if any(w in norm for w in _HEADER_WORDS) else None
    listed = _listed(norm, header, hits) if header is not None else set()
    if not hits:
        return listed, hits, None
    outside = _outside(norm)
    sentences = _sentences(norm)
    ends = [e for _s, e in sentences]
    sentence_of = [bisect_right(ends, h[0]) for h in hits]  # the sentences tile the text
    # Sentences naming a remedy of their own (a verb such as "払って" refers back instead).
    with_hits = {i for h, i in zip(hits, sentence_of, strict=True) if h[3] in (NOUN, "cash")}
    apology = any(h[3] == "cash" for h in hits) and _APOLOGY_CONTEXT.search(norm) is not None
    footer = _ASK_FOOTER.search(norm)
    reissue = any(h[2] == "reissue_fee" for h in hits) or _REISSUE_CONTEXT.search(norm) is not None
    waivers = [h[0] for h in hits if h[2] == "fee_waiver"]
    vouchers = [h[1] for h in hits if h[2] == "voucher"]

    def verbs_ask(k: int, name: str) -> bool:
        """Return True unless sentence k's verbs ask for another remedy than name, each on an object of its own.

        "治療費…請求されました。差額を返して" asks the refund, not the 治療費; "これも出して" refers back.
        """
        asks = {_resolve(kind, norm, start, reissue) for (start, _e, _n, kind), j in zip(hits, sentence_of, strict=True)
                if j == k and kind not in (NOUN, "cash", GENERIC)
                and any(m.lastgroup in ("borne", "fee", "charge", "reissue", "loss")
                        for m in _OBJECT.finditer(norm, sentences[k][0], start))} - {""}
        return not asks or name in asks
    found: set[str] = set()
    rejected: set[str] = set()
    generic = False
    nouns: list[int] = []  # where remedies named by a noun end (a verb right after them adds nothing)
    generic_at: list[int] = []  # sentences of a generic "補償して"
    named_at: dict[str, set[int]] = {}  # sentences where each remedy was found
    irony = [_IRONY.search(norm, s, e) is not None for s, e in sentences] if _IRONY.search(norm) else []
    for (start, end, name, kind), i in zip(hits, sentence_of, strict=True):
        after = norm[end : end + 32]
        if _UNCHECKED.search(norm, max(0, start - 2), start) or (kind == NOUN and _APART.match(after)) \
                or (kind == TAKE_VERB and _BACKGROUND.match(after) and not any(irony[max(0, i - 1) : i + 2])):
            # "□商品券" of a form left unticked; "治療費は自分で払いましたが、それとは別に賠償を";
            # "会費は取るくせに、電話はつながらないの？": the charge is the background of another question.
            continue
        # The bounded patterns first: _ME_TOO reads on to the end of the text.
        if kind == NOUN and (
                (_OTHERS_GOT.match(norm, end) and _OTHERS_BEFORE.search(norm, sentences[i][0], start))
                or _GOT_BY_OTHERS.match(norm, end)) and _ME_TOO.search(norm, end):
            found.add(name)  # what others got, compared: asked, however it was told
            named_at.setdefault(name, set()).add(i)
            continue
        declined = _REJECTED.match(after)
        if declined is not None and any(end < h[0] < end + declined.end() and _REJECTED.match(norm[h[1] : h[1] + 32])
                                        and re.fullmatch(r"し?\s?(?:は|を|が)\s?", norm[end : h[0]])
                                        for h in hits if h[3] in (NOUN, "cash")):
            # "返金はクーポンではなく現金で": the coupon is declined, not the refund it is the topic of
            # (but "ポイントもクーポンもいらない" declines both).
            declined = None
        if declined is not None:
            # "ポイントではなくマイルで": the same remedy named again right after is still asked.
            if kind in (NOUN, "cash") and not any(h[2] == name and 0 < h[0] - end <= 20 and "。" not in norm[end : h[0]] for h in hits):
                rejected.add(name)
            elif kind in (REFUND_VERB, RETURN_VERB, COVER_VERB) and declined.group().find("まで") >= 0:
                # "バス代が無駄になりました。返してほしいとまでは言わない": the cost named before is set aside too.
                if (object_of := _resolve(kind, norm, start, reissue)) not in ("", "refund"):
                    rejected.add(object_of)
                rejected.update(h[2] for h in hits if h[3] == NOUN and 0 <= start - h[1] <= 40)
            continue
        if (kind == NOUN or kind == REFUND_VERB and norm[start].isascii()) and _DECLINED_BEFORE.search(norm, max(0, start - 24), start):
            rejected.add(name)  # "I don't want points or coupons": English declines before the noun
            continue
        if kind in (NOUN, "cash") and _INSUFFICIENT.match(after) and not _MORE.search(norm, end, sentences[i][1]):
            continue
        if _NOT_ASKED.match(after) or (kind in (REFUND_VERB, RETURN_VERB) and _SCAM.match(after)):
            continue
        if kind == REFUND_VERB and re.match(r"し?(?:は|を|も)", norm[end : end + 2]) and any(
                h[2] in ("voucher", "points") and h[3] == NOUN and 0 < h[0] - end <= 3
                and re.match(r"で(?!は|な)", norm[h[1] : h[1] + 2]) for h in hits):
            continue  # "返金は電子マネーでも構いません": the remedy asked is the voucher
        if kind != NOUN and kind != "cash" and _TOLD.match(after):
            rest = norm[end : sentences[i][1]] + _next_own(norm, sentences, i, outside)
            if not _PRESSING.search(rest):
                continue  # "返金は振込でと言われましたが": the company's words
        if kind in (NOUN, "cash") and _STATE.match(after):
            continue
        quoted = next((q for q in outside if q[0] <= start < q[1]), None)
        if quoted is not None:
            # In the company's (or a scammer's) words: asked only when the customer presses right after.
            # Two sentences on: "…と言われました。その後どうなっていますか？まだ振り込まれていません".
            stop = sentences[min(i + 2, len(sentences) - 1)][1]
            if not any(not any(q[0] <= p.start() < q[1] for q in outside)  # a word of another quote is no pressing
                       for p in _PRESSING.finditer(norm, quoted[1], max(quoted[1], stop))):
                continue
        elif _DONE.match(after) or (kind in (NOUN, "cash") and (
                _OFFERED.match(after) or _GIVEN_BEFORE.search(norm, max(0, start - 14), start))):
            # Offered, given or done: asked only when the customer presses for it.
            rest = norm[end : sentences[i][1]] + _next_own(norm, sentences, i, outside)
            if not _PRESSING.search(rest):
                continue
        if kind == "cash" and not apology:
            continue  # "現金で払いました": how it was paid
        if kind == "cash" and _REFUND_WORD.search(norm, *sentences[i]):
            continue  # "返金はクーポンではなく現金で", "現金で1,500円を返金して": how the refund is paid
        if name == "expense" and kind == COVER_VERB and norm[max(0, start - 1) : start] == "再":
            continue  # "再請求して": the company bills again
        s, e = sentences[i]
        # The next sentence asks for this one only when it names no remedy itself ("3,300円かかりました。出して").
        asked = (any(irony[max(0, i - 1) : i + 2]) or (kind == TAKE_VERB and _DESPITE.search(norm, s, start) is not None)
                 or _ASK.search(norm, s, start) or _ASK.search(norm, start, e) or _FALLBACK.search(norm, s, e)
                 or ((j := _next_own_index(sentences, i, outside)) is not None and j not in with_hits and _ASK.search(norm, *sentences[j])
                     and not _NOT_SEEKING.search(norm, *sentences[j]) and not _NON_REMEDY_ASK.search(norm, *sentences[j])
                     and verbs_ask(j, name))
                 or (header is not None and header.start() < start) or (footer is not None and start < footer.start()))
        if not asked:
            continue
        if kind == "cash":
            kind = NOUN
        if name == "expense" and kind == NOUN and re.match(r"の?\s?(?:払い戻|払戻)", after):
            continue  # "バス代の払い戻し": a fare paid to the company, refunded (the verb names the remedy)
        if name == "expense" and kind == NOUN and any(0 <= w - end <= 8 or end <= w < e for w in waivers):
            continue  # "この通話料だけ免除して", "今月の通信料、…のぶんは引いてくれるんですよね": the charge is waived
        if name == "fee_waiver" and norm.startswith(("正しい", "請求し直", "請求をし直", "請求書を作り直", "請求を訂正", "請求を修正", "請求額を"), start) \
                and _REFUND_WORD.search(norm, end, sentences[i][1]):
            continue  # "正しい金額で再請求して、多く払った分は返金して": the bill made right is the refund asked
        if name == "fee_waiver" and reissue and (norm.startswith("手数料", start) or re.search(
                r"(?:手数料|[0-9千百万]円)(?:\s?[0-9,.]+\s?円)?(?:を|は|も|ば|まで)?[、,]?\s?(?:[^。\n]{0,8}?(?:が|は|では))?\s?$",
                norm[max(0, start - 24) : start])
                or norm.startswith(("無料", "タダ", "無償"), start) and re.search(r"(?:再発行|再交付|作り直し?)(?:は|って|も)?\s?$",
                                                                            norm[max(0, start - 8) : start])) \
                and re.search(r"再発行|再交付|作り直", norm[max(0, start - 60) : start]):
            name = "reissue_fee"  # "カードの再発行は有料と言われましたが、手数料無料にして": the reissue fee waived
        if name == "fee_waiver" and kind == NOUN and norm.startswith(_DEDUCT, start):
            name = _deducted(norm, start)
        if name == "fee_waiver" and any(0 <= start - v <= 12 for v in vouchers):
            continue  # "クーポン（800円引き）": the coupon's face value
        if kind != NOUN:
            if any(0 <= start - n - _paren_chars(norm, n, start) <= 14 and not re.search(r"なし|無し|抜き", norm[n:start])
                   # a cost named between asks of its own; not the noun's own fee ("作り直し費用（1,100円）を負担して")
                   and not any(m.lastgroup in ("charge", "paid", "borne", "loss") and m.start() > n + 1
                               for m in _OBJECT.finditer(norm, n, start))
                   # nor a noun of another item of a list, or the other side of a choice ("弁償するか、もう一度送って")
                   and "\n" not in norm[n:start] and not re.search(r"か[、,]|または|もしくは|それとも", norm[n:start])
                   for n in nouns):
                continue  # 再発行手数料を返金して, 慰謝料を払って: the noun is the remedy (not "手数料なしで返金して")
            name = _resolve(kind, norm, start, reissue)
            if not name or (name in ("expense", "damages") and any(0 <= start - n <= 45 for n in nouns)
                            and kind != GENERIC and not _names_cost(norm, start)):
                continue  # "慰謝料2万円では低すぎます。最低でも5万円は払って": still the consolation
            if kind == GENERIC and _NOTHING_SOUGHT.search(norm, 0, start):
                continue
            if kind == GENERIC and name == "damages":
                generic = True
                # With an object of its own ("値引きした分の補償", "変更補償金") it asks besides the others.
                if (norm[start - 1 : start] == "の" or norm.startswith("金", end)
                        or norm[max(0, start - 2) : start] == "分も") \
                        and not _GENERIC_OF.search(norm, max(0, start - 8), start) \
                        and not re.match(r"\s?(?:件名|Subject|【)", norm[sentences[i][0] : sentences[i][0] + 10]):
                    generic_at.append(i)
                continue
        found.add(name)
        named_at.setdefault(name, set()).add(i)
        if (name in _SPECIFIC or name == "refund") and kind == NOUN:
            nouns.append(end)
    found |= listed | _first_items(norm, sentences, hits, sentence_of, named_at)
    found -= rejected
    if found - {"other"} and _MONEY_DECLINED.search(norm):
        found &= {"other"}
    # "補償して" alone is damages; next to another remedy it is usually that remedy's word ("返金などの補償"),
    # unless it asks in a sentence of its own ("料金は返して。値引きした分の補償もお願いします").
    others = set().union(*(named_at.get(n, set()) for n in found)) if found else set()
    if (generic and not found) or any(g not in others for g in generic_at):
        found.add("damages")
    return found, hits, reissue


# -- the whole claim ----------------------------------------------------------------------------


def arrival_date(received_at: datetime | date | None) -> date:
    """Return the Japanese calendar day an inquiry arrived (naive datetimes are taken as JST)."""
    if received_at is None:
        return datetime.now(JST).date()
    if isinstance(received_at, datetime):
        if received_at.tzinfo is None:
            return received_at.date()
        return received_at.astimezone(JST).date()
    return received_at


def _request_norm(text: str, norm: str | None = None) -> str:
    """Return the text the requests are read from: no offsets needed, so half-width ﾎﾟｲﾝﾄ is composed by a full NFKC."""
    norm = _norm(text) if norm is None else norm
    return unicodedata.normalize("NFKC", text) if "\u309b" in norm or "\u309c" in norm else norm


def extract(text: str, received_at: datetime | date | None = None) -> dict[str, list[Any]]:
    """Return the amounts, dates, references and requests of one inquiry's raw text."""
    norm = _norm(text)
    claim = {
        "amounts": _amounts(norm, text),
        "dates": _dates(norm, text, arrival_date(received_at)),
        "references": _references(norm, text),
        "requests": _requests(_request_norm(text, norm)),
    }
    return scrub(claim)


def _mask_cards(s: str) -> str:
    if len(s) < 13:
        return s  # a card number is 13 digits at least, and the normalisation keeps the length
    norm = _norm(s)
    if not re.search(r"[0-9]{4}", norm):
        return s
    out, pos = [], 0
    for m in _CARD.finditer(norm):
        digits = _card_digits(m.group())
        out.append(s[pos : m.start()])
        out.append("*" * (len(digits) - 4) + digits[-4:])
        pos = m.end()
    out.append(s[pos:])
    return "".join(out)


def scrub(claim: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """Mask every card-like number in the strings of a claim, keeping only its last four digits."""
    for field in ("amounts", "dates", "references"):
        for item in claim.get(field, []):
            for key, value in item.items():
                if isinstance(value, str):
                    item[key] = _mask_cards(value)
    return claim


def redacted(claim: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """Return a copy of a claim with personal data in its strings masked (for storage and exports)."""
    out = empty()
    for field in ("amounts", "dates", "references"):
        for item in claim.get(field, []):
            out[field].append({k: redact(v) if isinstance(v, str) and find_personal_data(v) else v
                               for k, v in item.items()})
    out["requests"] = list(claim.get("requests", []))
    return out


# -- presentation: one cell per column, for the pages and the claims desk's spreadsheet --------

COLUMNS = ("amounts", "dates", "order", "member", "ticket", "reservation", "card_last4", "other_refs", "requests")
COLUMNS_JA = {"amounts": "金額", "dates": "日付", "order": "注文番号", "member": "会員番号", "ticket": "受付番号",
              "reservation": "予約番号", "card_last4": "カード下4桁", "other_refs": "その他の番号", "requests": "請求内容"}


def _amount(item: dict[str, Any]) -> str:
    shown = f"{item['value']:,}{item['unit']}"
    return f"{shown}（{item['text']}）" if item.get("derived") else shown


def cells(claim: dict[str, list[Any]] | None, japanese: bool = False) -> dict[str, str]:
    """Return a claim as one string per column of COLUMNS (several values joined with '; ')."""
    claim = claim or empty()
    out = {
        "amounts": "; ".join(_amount(a) for a in claim.get("amounts", [])),
        "dates": "; ".join(d["date"] for d in claim.get("dates", [])),
    }
    for kind in REFERENCE_KINDS:
        column = "other_refs" if kind == "other" else kind
        out[column] = "; ".join(r["value"] for r in claim.get("references", []) if r["kind"] == kind)
    names = claim.get("requests", [])
    out["requests"] = "; ".join(REQUESTS_JA.get(n, n) if japanese else n for n in names)
    return {c: out[c] for c in COLUMNS}


def rows_ja(claim: dict[str, list[Any]] | None) -> list[tuple[str, str]]:
    """Return the non-empty cells of a claim as (Japanese heading, value) for the agents' pages."""
    return [(COLUMNS_JA[c], v) for c, v in cells(claim, japanese=True).items() if v]


# -- evaluation ---------------------------------------------------------------------------------

# The issue's bar per field (precision and recall alike).
BARS = {"amounts": 0.95, "dates": 0.95, "references": 0.95, "requests": 0.90}


def _keys(field: str, items: list[Any]) -> tuple[set[Any], set[Any]]:
    """Return (keys that count, keys that may match but never count against) of one field's items."""
    keys: set[Any] = set()
    optional: set[Any] = set()
    for item in items:
        if field == "amounts":
            key: Any = (int(item["value"]), str(item.get("unit", "円")))
        elif field == "dates":
            key = str(item["date"])
        elif field == "references":
            key = (str(item["kind"]), _norm(str(item["value"])).strip().upper())
        else:
            key = str(item)
        # "440円×2": the issue asks for 440 and allows the product as a second amount.
        (optional if isinstance(item, dict) and item.get("derived") else keys).add(key)
    return keys, optional - keys


def score(pairs: list[tuple[dict[str, list[Any]], dict[str, list[Any]]]]) -> dict[str, Any]:
    """Return precision, recall and F1 per field over (predicted, expected) claims, counted per item."""
    fields: dict[str, dict[str, Any]] = {}
    for field in FIELDS:
        tp = fp = fn = exact = 0
        for predicted, expected in pairs:
            got, optional = _keys(field, predicted.get(field, []))
            want, _ = _keys(field, expected.get(field, []))
            tp += len(got & want) + len(optional & want)
            fp += len(got - want)
            fn += len(want - got - optional)
            exact += got == (want - optional)
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        fields[field] = {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
                         "tp": tp, "fp": fp, "fn": fn, "support": tp + fn, "rows_exact": exact,
                         "bar": BARS[field], "meets_bar": precision >= BARS[field] and recall >= BARS[field]}
    return {"n": len(pairs), "fields": fields, "meets_bars": all(f["meets_bar"] for f in fields.values())}


def differences(predicted: dict[str, list[Any]], expected: dict[str, list[Any]]) -> dict[str, dict[str, list[Any]]]:
    """Return, per field, what was extracted but not expected and what was expected but missed."""
    out: dict[str, dict[str, list[Any]]] = {}
    for field in FIELDS:
        got, optional = _keys(field, predicted.get(field, []))
        want, _ = _keys(field, expected.get(field, []))
        extra, missed = sorted(map(str, got - want)), sorted(map(str, want - got - optional))
        if extra or missed:
            out[field] = {"extra": extra, "missed": missed}
    return out


# The learned part reads this module's patterns: imported once they all exist.
from . import claims_learned  # noqa: E402
