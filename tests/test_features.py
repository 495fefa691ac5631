"""Sentences, the concept lexicon, TF-IDF blocks, and the model's use of them (buried sentences, grouped folds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from triage import dataset
from triage.features import _QUOTES, Featurizer, Lexicon, LexiconError, quoted_spans, read_lexicon, split_segments
from triage.model import _splits, train
from triage.text import normalize
from triage.tfidf import Block

from .conftest import DATA, write_csv

LEXICON = read_lexicon(DATA / "lexicon.csv")


def _pieces(text: str) -> list[str]:
    norm = normalize(text)
    return [norm[a:b] for a, b in split_segments(norm)]


@pytest.mark.parametrize(("text", "expected"), [
    ("何が漏れたのですか", ["何が漏れたのですか"]),
    ("漏れた情報を教えてください。補償はありますか？", ["漏れた情報を教えてください", "補償はありますか"]),
    ("一行目の文章です\n二行目の文章です", ["一行目の文章です", "二行目の文章です"]),
    # SNS posts separate sentences with runs of spaces.
    ("アカウント乗っ取られた  運営なにしてんの", ["アカウント乗っ取られた", "運営なにしてんの"]),
    # A piece too short to stand alone joins its neighbour.
    ("はい。パスワードの変え方を教えて", ["はい。パスワードの変え方を教えて"]),
    ("", [""]),
])
def test_split_segments(text: str, expected: list[str]) -> None:
    assert _pieces(text) == expected


@pytest.mark.parametrize(("text", "concepts"), [
    ("出るとこ出ますからね", ["legal"]),
    ("法テラスに相談に行きます", ["legal"]),
    ("集団訴訟に加わります", ["legal"]),  # the longest term wins: one match, not 集団訴訟 and 訴訟
    ("○○編集部の者です", ["press"]),
    ("注文していない商品が届いた", ["fraud_now"]),
    ("元夫に住所を知られたら困る", ["risk"]),
    ("I will sue you", ["legal"]),
    ("There is an issue with my login", []),  # "sue" only at a word's start
    ("パスワードの変え方を教えて", []),
])
def test_lexicon_finds_concepts_in_words_the_training_rows_never_used(text: str, concepts: list[str]) -> None:
    segments = Featurizer(LEXICON).analyse(normalize(text)).segments
    assert [c for s in segments for c in s.concepts] == concepts
    assert all(f"§{c}" in s.words for s in segments for c in s.concepts)


@pytest.mark.parametrize(("text", "denied"), [
    # The denial covers its own clause only: the request after が stays plain.
    ("訴訟を起こすつもりはありませんが、電話代を払ってほしい", ["¬訴訟", "¬起こす", "¬積り", "¬有る", "¬§legal"]),
    # A condition (…ないなら) is its own clause: the threat after it is not denied.
    ("返金しないなら訴えます", ["¬返金", "¬為る", "¬§money"]),
    ("補償は不要です", ["¬補償", "¬不要", "¬§money"]),
    ("弁護士に相談します", []),
    ("パスワードの変え方を教えて", []),
])
def test_words_of_a_negated_clause_also_count_as_denied(text: str, denied: list[str]) -> None:
    segments = Featurizer(LEXICON, negation=True).analyse(normalize(text)).segments
    assert [w for s in segments for w in s.words if w.startswith("¬")] == denied
    plain = Featurizer(LEXICON).analyse(normalize(text)).segments
    assert [w for s in plain for w in s.words if w.startswith("¬")] == []


def test_quoted_words_also_count_as_quoted_and_a_negated_question_denies_nothing() -> None:
    featurizer = Featurizer(LEXICON, negation=True, quotes=True)
    text = "弁護士を名乗るメールで「集団訴訟に参加しませんか」と来ました\n> 以前のメール：訴訟します"
    words = [w for s in featurizer.analyse(normalize(text)).segments for w in s.words]
    assert [w for w in words if w.startswith("「")] == ["「集団", "「訴訟", "「参加", "「為る", "「§legal",
                                                         "「以前", "「メール", "「訴訟", "「為る", "「§legal"]
    # 参加しませんか invites: a question, not a denial.
    assert not [w for w in words if w.startswith("¬")]


def test_concept_counts_do_not_shrink_with_length_and_leave_out_denied_concepts() -> None:
    from triage.features import CONCEPTS
    from triage.model import concept_counts

    featurizer = Featurizer(LEXICON, negation=True, quotes=True)
    legal = list(CONCEPTS).index("legal")
    short = featurizer.analyse(normalize("弁護士に相談します"))
    long = featurizer.analyse(normalize("パスワードの変え方を教えてください。" * 30 + "弁護士に相談します"))
    denied = featurizer.analyse(normalize("弁護士に相談するつもりはありません"))
    counts = concept_counts([short, long, denied])
    assert counts[0, legal] == counts[1, legal] == pytest.approx(np.log(2))
    assert counts[2, legal] == 0


def test_a_bad_lexicon_is_refused_with_line_numbers(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "lex.csv", [{"concept": "legal", "term": "弁護士"},
                                            {"concept": "gossip", "term": "うわさ"},
                                            {"concept": "press", "term": "x"}])
    with pytest.raises(LexiconError) as info:
        read_lexicon(path)
    assert [e.split(":")[0] for e in info.value.errors] == ["line 3", "line 4"]


def test_lexicon_survives_pickling() -> None:
    import pickle

    lex = pickle.loads(pickle.dumps(LEXICON))
    assert lex.matches(normalize("弁護士に相談")) == LEXICON.matches(normalize("弁護士に相談"))
    assert Lexicon().matches("弁護士") == []


def test_block_equals_scikit_learns_tfidf() -> None:
    docs = [["補償", "補償", "返金"], ["漏れ", "何"], ["補償", "何"], ["新しい"]]
    block = Block.fit(docs, min_df=1)
    vec = TfidfVectorizer(analyzer=lambda d: d, min_df=1, sublinear_tf=True).fit(docs)
    ours = block.tfidf(block.counts(docs)).toarray()
    theirs = vec.transform(docs).toarray()[:, [vec.vocabulary_[t] for t in sorted(block.vocabulary, key=block.vocabulary.get)]]
    np.testing.assert_allclose(ours, theirs, atol=1e-12)


ROUTINE = ("いつもお世話になっております。先日お知らせのメールを受け取りました。"
           "登録しているメールアドレスを変更したいのですが、手順を教えていただけますか。"
           "また、今後のお知らせはどのように届くのかも知りたいです。よろしくお願いいたします。")
BURIED = "実は弁護士に相談していて、訴訟を起こす準備をしています。"


@pytest.fixture(scope="module")
def router() -> object:
    """A model on 1,200 bundled rows (the session's 120-row model is too small to read long mails).

    Drawn from the first three rounds' writers only (as conftest's tiny_rows), so that rows added
    later do not change which 1,200 rows this small model learns from.
    """
    import random

    table = dataset.read(DATA / "inquiries.csv")
    rng = random.Random(3)
    early = [r for r in table.rows if r.extra.get("writer", "").startswith(("r1-", "r2-", "r3-"))]
    rows = [r for label in dataset.LABELS for r in rng.sample([r for r in early if r.label == label], 400)]
    return train([r.text for r in rows], [r.label or "" for r in rows], lexicon=LEXICON, folds=3).model


def test_a_buried_sentence_changes_the_route_and_removing_it_changes_it_back(router: object) -> None:
    parts = ROUTINE.split("。")
    with_trigger = "。".join(parts[:2]) + "。" + BURIED + "。".join(parts[2:])
    plain, _ = router.predict_explained(ROUTINE)
    buried, explanation = router.predict_explained(with_trigger)
    assert plain.label == "faq"
    assert buried.label == "escalation" and buried.reason == "legal"
    sentence = explanation["sentence"]
    assert BURIED.rstrip("。") in sentence["text"] and with_trigger[sentence["start"]:sentence["end"]] == sentence["text"]
    assert buried.probabilities["escalation"] > plain.probabilities["escalation"] + 0.3


def test_folds_are_grouped_by_writer_when_writers_are_named() -> None:
    y = np.array(["faq", "compensation", "escalation"] * 20)
    groups = [f"w{i % 6}" for i in range(60)]
    splits, how = _splits(y, groups, 5)
    assert how.startswith("grouped by writer")
    for train_idx, test_idx in splits:
        assert not {groups[i] for i in train_idx} & {groups[i] for i in test_idx}
    _, how = _splits(y, None, 5)
    assert how.startswith("stratified")


def test_thresholds_are_chosen_on_grouped_folds(tiny_csv: Path) -> None:
    table = dataset.read(tiny_csv)
    texts = [r.text for r in table.rows]
    labels = [r.label or "" for r in table.rows]
    groups = [f"writer{i % 5}" for i in range(len(texts))]
    result = train(texts, labels, groups=groups, lexicon=LEXICON)
    assert result.report["cross_validation"] == "grouped by writer (5 writers)"
    assert set(result.report["by_writer"]) == {f"writer{i}" for i in range(5)}
    assert 0 < result.model.policy.escalation_threshold <= 0.5
    assert result.report["confident_errors"]["threshold"] == 0.7
    assert 0.0 <= result.report["calibration_error"] <= 1.0


# Half-width kana (old systems, some phones) and the same text in full width: one normalized text.
HALF_WIDTH = [
    "ｶｰﾄﾞ情報が漏れた",
    "ﾍﾞﾝｺﾞｼに相談します",
    "ﾊﾟｽﾜｰﾄﾞを忘れました。ﾛｸﾞｲﾝできません",
    "ｸﾚｼﾞｯﾄｶｰﾄﾞが不正利用されて10万円引き落とされています。ﾍﾝｷﾝしてください",
]


@pytest.mark.parametrize("half", HALF_WIDTH)
def test_half_width_kana_explain_like_full_width_with_spans_of_the_raw_text(router: object, half: str) -> None:
    import unicodedata

    full = unicodedata.normalize("NFKC", half)
    assert full != half
    p_half, e_half = router.predict_explained(half)
    p_full, e_full = router.predict_explained(full)
    assert p_half.label == p_full.label and e_half["spans"] and e_half["terms"]
    # Each highlight is a whole word of the raw text: ﾄﾞ is two characters, and the span keeps both.
    assert [unicodedata.normalize("NFKC", half[s["start"]:s["end"]]) for s in e_half["spans"]] == [
        full[s["start"]:s["end"]] for s in e_full["spans"]]
    assert [s["weight"] for s in e_half["spans"]] == [s["weight"] for s in e_full["spans"]]
    for s in e_half["spans"]:
        assert half[s["start"]] not in "ﾞﾟ" and half[s["end"]:s["end"] + 1] not in ("ﾞ", "ﾟ")
    # Chips are the words as the text wrote them.
    assert [unicodedata.normalize("NFKC", t["term"]) for t in e_half["terms"]] == [t["term"] for t in e_full["terms"]]
    for t in e_half["terms"]:
        assert t["term"].startswith("〔") or all(w in half for w in t["term"].split(" ")), t


@pytest.mark.parametrize(("raw", "span", "expected"), [
    ("ｶｰﾄﾞ", (0, 3), (0, 4)),  # カード: the voicing mark belongs to ド
    ("ﾊﾟｽﾜｰﾄﾞを", (0, 5), (0, 7)),
    ("ﾊﾟｽﾜｰﾄﾞを", (5, 6), (7, 8)),
    ("カード", (0, 3), (0, 3)),
    ("ｶﾞ", (0, 0), (0, 0)),
])
def test_normalized_spans_map_to_whole_characters_of_the_raw_text(raw: str, span: tuple[int, int],
                                                                  expected: tuple[int, int]) -> None:
    from triage.model import _original_range
    from triage.text import normalize_with_offsets

    _, offsets = normalize_with_offsets(raw)
    assert _original_range(span, offsets, raw) == expected


GRAMMAR_ONLY = {"し", "い", "おり", "ます", "です", "ください", "でき", "さ", "れ", "こと", "ため", "ある", "なり"}


@pytest.mark.parametrize("text", [
    "弁護士に相談しておりますので、至急ご連絡ください。対応できない場合は訴えることになります",
    "ｶｰﾄﾞが不正利用されています。ｹｲｻﾂに相談したため、すぐに止めてください",
    "パスワードの変更ができないので、変更方法を教えてください",
])
def test_chips_and_highlights_are_never_grammar_only(router: object, text: str) -> None:
    _, explanation = router.predict_explained(text)
    chips = {w for t in explanation["terms"] for w in t["term"].split(" ")}
    marks = {text[s["start"]:s["end"]] for s in explanation["spans"]}
    assert explanation["terms"] and not chips & GRAMMAR_ONLY, chips
    assert not marks & GRAMMAR_ONLY, marks


@pytest.mark.parametrize("text", ["「弁護士」と名乗る電話", "『返金』とは", 'メールに"至急"とあった', "“補償”の件", "> 先日の件\n返金は",
                                  "引用なしの文。", "「閉じていない", ""])
def test_quoted_spans_are_what_the_regular_expression_finds(text: str) -> None:
    assert quoted_spans(text) == [(m.start(), m.end()) for m in _QUOTES.finditer(text)]
