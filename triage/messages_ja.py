"""Japanese for what ops read on the admin pages: CSV errors, training progress, the gate's reasons.

The CLI, logs and stored metadata keep the English messages (they are what
scripts and the README quote); the pages translate them here, one table of
(pattern, Japanese) per kind, so a message without a row shows in English
rather than not at all (tests/test_messages_ja.py checks every message the code writes).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .dataset import LABELS_JA

Rule = tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]


def _label_ja(value: str) -> str:
    value = value.strip("'\"")
    return LABELS_JA.get(value, value)


def _labels_in(text: str) -> str:
    return re.sub(r"\b(faq|compensation|escalation)\b", lambda m: LABELS_JA[m.group(1)], text)


_ROWS_JA = {"all rows": "全体", "escalation rows": "エスカレーションの行", "compensation rows": "補償請求の行"}

_USE_A_LABEL = "、".join(f"{k}（{v}）" for k, v in LABELS_JA.items()) + "のどれかにしてください。"


def _after(prefix: str, prefix_ja: str, rows: list[tuple[str, str | Callable[[re.Match[str]], str]]]) -> list[Rule]:
    """Rules for the messages that open with one prefix (a file name, a line number), kept before the Japanese."""
    def rule(pattern: str, ja: str | Callable[[re.Match[str]], str]) -> Rule:
        if callable(ja):
            return re.compile(f"^{prefix}{pattern}$"), lambda m: m.expand(prefix_ja) + ja(m)
        return re.compile(f"^{prefix}{pattern}$"), prefix_ja + ja
    return [rule(pattern, ja) for pattern, ja in rows]


# dataset.DatasetError writes "<file>: ..." for the file and "line N: ..." for a row.
_CSV: list[Rule] = [*_after(r"(?P<f>.+): ", r"\g<f>: ", [
    (r"this file is UTF-16\..*",
     "UTF-16 のファイルです。Excel の「名前を付けて保存」で「CSV UTF-8」を選んで保存し直してください。"),
    (r"this looks like a binary file, not a CSV text file\.", "CSV（テキスト）ではなくバイナリファイルのようです。"),
    (r"the file is neither UTF-8 nor CP932 \(Shift_JIS\)\..*",
     "文字コードが UTF-8 でも CP932（Shift_JIS）でもありません。「CSV UTF-8」で保存し直してください。"),
    (r"the file is empty; .*", "ファイルが空です。1行目に text と label の見出しが必要です。"),
    (r"line 1: cannot read the header \((?P<e>.*)\)\.", r"1行目: 見出し行を読めません（\g<e>）。"),
    (r"the header has no (?P<m>.+?) column \(found: (?P<h>.*)\)\..*",
     lambda m: f"見出しに {m['m'].replace(' and no ', ' と ')} の列がありません"
               f"（あった列: {m['h']}）。1行目は text,label のように列名にしてください。"),
    (r"(?P<n>\d+) bad row\(s\); fix them and try again:",
     r"誤りのある行が \g<n> 行あります。直してからもう一度アップロードしてください。"),
    (r"the file has a header but no rows\.", "見出し行だけで、データの行がありません。"),
]), *_after(r"line (?P<l>\d+): ", r"\g<l>行目: ", [
    (r"malformed CSV \((?P<e>.*)\); check the quotes on this line\.",
     "CSVとして読めません。この行の引用符（\"）が閉じているか確認してください。"),
    (r"the text is empty\.", "本文（text）が空です。"),
    (r"unknown label (?P<v>.+); use one of .*", r"ラベル \g<v> は使えません。" + _USE_A_LABEL),
    (r"the label is empty; .*", "ラベル（label）が空です。" + _USE_A_LABEL),
    (r"the same text as line (?P<o>\d+) but labelled (?P<a>\S+) there (?P<b>\S+); keep one label\.",
     lambda m: f"{m['o']}行目と同じ本文ですが、ラベルが違います（この行は {_label_ja(m['a'])}、"
               f"{m['o']}行目は {_label_ja(m['b'])}）。どちらかにそろえてください。"),
    (r"label (?P<v>.+) read as (?P<k>\w+) \((?P<ja>[^)]+)\); .*",
     r"ラベル \g<v> は \g<ja> として読みました。確実にするには \g<ja> と書いてください。"),
]), (re.compile(r"^too few rows to train: every label needs at least (?P<n>\d+) rows \((?P<c>.*)\)\..*$"),
     lambda m: f"学習には行が足りません: どのラベルも {m['n']} 行以上必要です（{_labels_in(m['c'])}）。"
               "ラベル付きの行を追加して学習し直してください。"),
]

_PROGRESS: list[Rule] = [
    (re.compile(r"^queued$"), "順番待ち"),
    (re.compile(r"^reading (?P<n>\d+) texts into sentences and features$"), r"\g<n> 件の本文を文と特徴量に分解中"),
    (re.compile(r"^reading (?P<p>.+)$"), r"読み込み中: \g<p>"),
    (re.compile(r"^cross-validation fold (?P<k>\d+)/(?P<n>\d+) \((?P<how>.*)\)$"),
     r"交差検証 \g<k>/\g<n> 回目（\g<how>）"),
    (re.compile(r"^cross-validation fold (?P<k>\d+)/(?P<n>\d+)$"), r"交差検証 \g<k>/\g<n> 回目"),
    (re.compile(r"^fitting the final model on all rows$"), "全件で最終モデルを学習中"),
    (re.compile(r"^scoring against the active model$"), "現行モデルと比較中（品質ゲート）"),
    (re.compile(r"^(?P<n>\d+) rows \((?P<c>.*)\)$"), lambda m: f"{m['n']} 行（{_labels_in(m['c'])}）"),
]

_GATE: list[Rule] = [
    (re.compile(r"^no active model yet: the first model is activated$"),
     "有効なモデルがまだないため、最初のモデルとして有効にしました。"),
    (re.compile(r"^no held-out CSV to compare on \((?P<p>.*)\); .*$"),
     r"比較に使う評価用CSVがありません（\g<p>）。TRIAGE_GATE_CSV を設定するか、理由を記録して手動で有効にしてください。"),
    (re.compile(r"^the active model cannot be loaded \((?P<e>.*)\); the candidate replaces it$"),
     r"現行モデルを読み込めません（\g<e>）。候補モデルに切り替えます。"),
    (re.compile(r"^(?P<name>all rows|\w+ rows): the candidate gets (?P<w>\d+) wrong that the active model gets right "
                r"and (?P<b>\d+) the other way \(p = (?P<p>[\d.]+) < (?P<a>[\d.]+)\): a real drop$"),
     lambda m: f"{_ROWS_JA.get(m['name'], m['name'])}: 現行モデルが正解し候補が誤った行が {m['w']} 件、"
               f"その逆が {m['b']} 件（p = {m['p']} < {m['a']}）。偶然では説明できない低下です。"),
    (re.compile(r"^macro-F1 (?P<a>[\d.]+) → (?P<c>[\d.]+); no drop beyond what (?P<n>\d+) held-out rows .*$"),
     r"macro-F1 \g<a> → \g<c>。評価用 \g<n> 行で偶然と区別できる低下はありません（McNemar 検定）。"),
    (re.compile(r"^what to do: .*$"),
     "次にすること: 下の「判定を分けた行」を読み、同じ種類の学習行を追加して学習し直す／現行モデルのまま使う／"
     "理由を記録して有効にする（CLI では --force REASON）のどれかを選んでください。"),
]


def _translate(message: str, rules: list[Rule]) -> str:
    text = str(message).strip()
    for pattern, replacement in rules:
        m = pattern.match(text)
        if m:
            return replacement(m) if callable(replacement) else m.expand(replacement)
    return text


def csv_error(message: str) -> str:
    """Return a CSV validation message (dataset.DatasetError) in Japanese."""
    return _translate(message, _CSV)


def progress(message: str) -> str:
    """Return a training progress message in Japanese."""
    return _translate(message, _PROGRESS)


def gate_reason(message: str) -> str:
    """Return one of the quality gate's reasons in Japanese."""
    return _translate(message, _GATE)
