"""The text pipeline: normalisation, placeholders, and a tokenizer safe to pickle and share."""

from __future__ import annotations

import pickle
import threading

import pytest
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer

from triage import text
from triage.text import JapaneseTokenizer, normalize, normalize_with_offsets


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ﾊﾟｽﾜｰﾄﾞ", "パスワード"),  # half-width kana with voicing marks
        ("ＡＢＣ１２３", "abc000"),  # full-width letters and digits
        ("①㈱～髙", "0(株)~髙"),
        ("がぎぐ", "がぎぐ"),  # voicing survives (strip_accents would lose it)
    ],
)
def test_normalize_width_and_case(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("raw", "placeholder", "gone"),
    [
        ("連絡は taro.yamada@example.jp まで", "emailaddr", "example"),
        ("電話は090-1234-5678です", "phonenum", "1234"),
        ("電話は０９０－１２３４－５６７８です", "phonenum", "1234"),
        ("電話は(03)1234-5678です", "phonenum", "1234"),
        ("+81 90 1234 5678 に", "phonenum", "1234"),
        ("詳しくは https://example.jp/notice?id=7 を", "urladdr", "example"),
        ("カード 4111 1111 1111 1111 が", "cardnum", "4111"),
        ("末尾****-1234のカード", "cardnum", "1234"),
        ("注文番号 A-20261103-0042 の件", "idnum", "2026"),
        ("会員番号12345678です", "idnum", "1234"),
        ("〒150-0001 東京都", "postcode", "150"),
    ],
)
def test_personal_data_becomes_placeholder(raw: str, placeholder: str, gone: str) -> None:
    out = normalize(raw)
    assert placeholder in out
    assert gone not in out


@pytest.mark.parametrize("raw", ["ｶﾞｷﾞ ﾃｽﾄ 090-1234-5678", "①㈱ test@example.jp ＡＢＣ", "", "漏洩😡😡"])
def test_offsets_align_with_normalize(raw: str) -> None:
    # normalize remembers this thread's last text: compute it afresh before the offsets' version runs.
    text._local.normalized = None
    expected = normalize(raw)
    text._local.normalized = None
    normalized, offsets = normalize_with_offsets(raw)
    assert normalized == expected
    # The offsets' version leaves its result as the remembered one: the same text.
    assert normalize(raw) == expected
    assert len(offsets) == len(normalized)
    assert offsets == sorted(offsets)


def test_tokenizer_returns_lemmas_of_kept_parts_of_speech() -> None:
    tokens = JapaneseTokenizer()(normalize("パスワードを変更したいです。弁護士に相談しました"))
    assert tokens[:2] == ["パスワード", "変更"]
    assert "相談" in tokens
    assert "を" not in tokens and "。" not in tokens  # particles and symbols dropped
    assert all(type(t) is str for t in tokens)


def test_tokenizer_pickles_and_clones_inside_a_vectorizer() -> None:
    tok = JapaneseTokenizer(keep_pos=["名詞"])
    again = pickle.loads(pickle.dumps(tok))
    assert again("漏洩した情報") == tok("漏洩した情報")
    vec = TfidfVectorizer(tokenizer=tok, token_pattern=None)
    cloned = clone(vec)
    assert cloned.tokenizer is not tok
    assert cloned.tokenizer.keep_pos == ["名詞"]
    fitted = pickle.loads(pickle.dumps(vec.fit(["個人情報の漏洩", "補償の請求"])))
    assert set(fitted.vocabulary_) == {"個人", "情報", "漏洩", "補償", "請求"}


def test_two_threads_get_the_same_tokens_as_serial_runs() -> None:
    tok = JapaneseTokenizer()
    texts_a = [f"{i}回目：弁護士に相談して集団訴訟を起こします" for i in range(300)]
    texts_b = [f"{i}回目：パスワードの変更方法を教えてください" for i in range(300)]
    serial = {"a": [tok(normalize(t)) for t in texts_a], "b": [tok(normalize(t)) for t in texts_b]}
    results: dict[str, list[list[str]]] = {}
    barrier = threading.Barrier(2)

    def run(name: str, texts: list[str]) -> None:
        barrier.wait()
        results[name] = [tok(normalize(t)) for t in texts]

    threads = [threading.Thread(target=run, args=("a", texts_a)), threading.Thread(target=run, args=("b", texts_b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == serial


def test_token_spans_point_at_their_surfaces_in_order() -> None:
    from triage import dataset

    from .conftest import DATA

    tok = JapaneseTokenizer()
    for row in dataset.read(DATA / "test.csv").rows[::5]:
        text = normalize(row.text)
        spans = tok.spans(text)
        assert [lemma for lemma, _, _ in spans] == tok(text)
        ends = 0
        for _, start, end in spans:
            assert ends <= start < end <= len(text) and text[start:end].strip()
            ends = end
