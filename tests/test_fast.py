"""The compiled loops (triage/_fast.pyx) against the plain Python and tf-idf arithmetic they replace."""

from __future__ import annotations

import functools
import itertools
import math
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage import dataset
from triage.features import (
    _CLAUSE_PARTICLES,
    _CLAUSE_PUNCT,
    _PREDICATE_POS,
    _QUESTION_AFTER,
    CONCEPT_PREFIX,
    NEGATABLE_POS,
    NEGATED_PREFIX,
    NEGATORS,
    QUOTED_PREFIX,
    Featurizer,
    Lexicon,
    Segment,
    quoted_spans,
    read_lexicon,
    split_segments,
)
from triage.model import _softmax
from triage.native import (
    Scorer,
    TermMatcher,
    char_ngrams,
    combine,
    digit_runs,
    locate,
    nfkc,
    read_located,
    read_tokens,
    softmax_rows,
)
from triage.registry import Registry
from triage.text import KEEP_POS, _line_tagger, located, located_many, normalize
from triage.tfidf import Block

from .conftest import DATA

TERMS = ["補償", "返金", "何", "漏れ", "弁護士", "x", "§legal", "¬返金"]
WORDS = {t: i for i, t in enumerate(TERMS[:6])}  # the last two are unknown
# Packed by code points (astral ones too); a term of four characters goes through the dict.
CHARS = {"a": 0, "b": 1, "ab": 2, "😀": 3, "a😀b": 4, "abcd": 5}
CHAR_TERMS = ["a", "b", "ab", "c", "😀", "a😀b", "abcd", "abc", ""]
RNG = np.random.default_rng(0)
COEF = np.ascontiguousarray(RNG.normal(size=(len(WORDS) + len(CHARS), 3)))
INTERCEPT = RNG.normal(size=3)
WORD_IDF = RNG.uniform(1, 5, size=len(WORDS))
CHAR_IDF = RNG.uniform(1, 5, size=len(CHARS))
SCORER = Scorer(WORDS, CHARS, WORD_IDF, CHAR_IDF, COEF, INTERCEPT)


def _reference(terms: list[str], vocab: dict[str, int], idf: np.ndarray) -> tuple[list[int], list[float]]:
    """Sublinear tf-idf, l2-normalised, distinct known terms in first-occurrence order."""
    c = Counter(t for t in terms if t in vocab)
    idx = [vocab[t] for t in c]
    val = [(1 + math.log(n)) * idf[vocab[t]] for t, n in c.items()]
    norm = math.sqrt(sum(v * v for v in val))
    return idx, [v / norm for v in val]


def _scores(words: list[str], chars: list[str]) -> np.ndarray:
    out = INTERCEPT.copy()
    for terms, vocab, idf, offset in ((words, WORDS, WORD_IDF, 0), (chars, CHARS, CHAR_IDF, len(WORDS))):
        idx, val = _reference(terms, vocab, idf)
        for i, v in zip(idx, val, strict=True):
            out += v * COEF[i + offset]
    return out


segments_st = st.lists(st.tuples(st.lists(st.sampled_from(TERMS), max_size=12),
                                 st.lists(st.sampled_from(CHAR_TERMS), max_size=12)),
                       min_size=1, max_size=5)


@settings(max_examples=200, deadline=None)
@given(segments_st)
def test_scores_equal_the_plain_arithmetic(parts: list[tuple[list[str], list[str]]]) -> None:
    segments = [Segment(0, 1, words=w, chars=c) for w, c in parts]
    whole, per_segment, seg_words = SCORER.score(segments, True)
    all_words = [t for w, _ in parts for t in w]
    all_chars = [t for _, c in parts for t in c]
    np.testing.assert_allclose(whole, _scores(all_words, all_chars), rtol=0, atol=1e-12)
    for (w, c), row, (idx, val) in zip(parts, per_segment, seg_words, strict=True):
        np.testing.assert_allclose(row, _scores(w, c), rtol=0, atol=1e-12)
        ref_idx, ref_val = _reference(w, WORDS, WORD_IDF)
        assert idx.tolist() == ref_idx
        np.testing.assert_allclose(val, ref_val, rtol=0, atol=1e-12)


def test_scores_without_words_and_without_any_known_term() -> None:
    whole, per_segment, seg_words = SCORER.score([Segment(0, 1, words=["?"], chars=["?"])], False)
    assert seg_words is None
    np.testing.assert_array_equal(whole, INTERCEPT)
    np.testing.assert_array_equal(per_segment, INTERCEPT[None, :])


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab😀c \u3000\n\t", max_size=30), st.lists(st.integers(0, 30), max_size=4),
       st.lists(st.sampled_from(TERMS), max_size=6), st.sampled_from([(1, 3), (1, 1), (2, 3), (3, 3), (1, 2)]))
def test_scores_read_from_the_text_equal_those_of_its_ngram_strings(
        text: str, cuts: list[int], words: list[str], sizes: tuple[int, int]) -> None:
    edges = sorted({0, len(text), *(min(c, len(text)) for c in cuts)})
    spans = list(itertools.pairwise(edges)) or [(0, 0)]
    listed = [Segment(a, b, words=words, chars=char_ngrams(" ".join(text[a:b].split()), *sizes)) for a, b in spans]
    bare = [Segment(a, b, words=words) for a, b in spans]
    expected = SCORER.score(listed, True)
    got = SCORER.score(bare, True, text, *sizes)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    for (idx, val), (ref_idx, ref_val) in zip(got[2], expected[2], strict=True):
        np.testing.assert_array_equal(idx, ref_idx)
        np.testing.assert_array_equal(val, ref_val)


@settings(max_examples=200, deadline=None)
@given(segments_st)
def test_scores_asked_for_the_route_first_score_the_sentences_only_when_it_needs_them(
        parts: list[tuple[list[str], list[str]]]) -> None:
    segments = [Segment(0, 1, words=w, chars=c) for w, c in parts]
    expected = SCORER.score(segments, True)
    seen: list[np.ndarray] = []
    for wanted in (True, False):
        got = SCORER.score(segments, True, need=lambda whole, wanted=wanted: seen.append(whole.copy()) or wanted)
        np.testing.assert_array_equal(seen.pop(), expected[0])  # asked with the whole text's scores
        np.testing.assert_array_equal(got[0], expected[0])
        if wanted:
            np.testing.assert_array_equal(got[1], expected[1])
            assert [i.tolist() + v.tolist() for i, v in got[2]] == [i.tolist() + v.tolist() for i, v in expected[2]]
        else:
            assert got[1] is None and got[2] is None


def test_ngrams_read_from_the_text_have_one_to_three_characters() -> None:
    with pytest.raises(ValueError, match="1 to 3"):
        SCORER.score([Segment(0, 4)], False, "abcd", 1, 4)


_PLAIN_BREAK = re.compile(r"[。!?\n]+|\s{2,}")


def _plain_split(text: str, shortest: int = 6) -> list[tuple[int, int]]:
    """split_segments as Python wrote it: the breaks a regular expression finds, short pieces joined."""
    pieces: list[list[int]] = []

    def add(start: int, end: int) -> None:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start >= end:
            return
        if pieces and end - start < shortest or pieces and pieces[-1][1] - pieces[-1][0] < shortest:
            pieces[-1][1] = end
        else:
            pieces.append([start, end])

    pos = 0
    for m in _PLAIN_BREAK.finditer(text):
        add(pos, m.start())
        pos = m.end()
    add(pos, len(text))
    return [(a, b) for a, b in pieces] or [(0, len(text))]


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab補。!?！\n \u3000\t\x0b\x1c\u2028", max_size=40))
def test_split_segments_finds_the_pieces_of_its_regular_expression(text: str) -> None:
    assert split_segments(text) == _plain_split(text)


def test_split_segments_on_every_training_row_as_before() -> None:
    for row in dataset.read(DATA / "inquiries.csv").rows[::5]:
        norm = normalize(row.text)
        assert split_segments(norm) == _plain_split(norm), row.text


def _plain_digit_runs(text: str, gap: int) -> tuple[int, int, int]:
    """Digits, longest run, most digits of one group whose digits lie at most ``gap`` characters apart."""
    places = [i for i, ch in enumerate(text) if ch in "0123456789"]
    runs = [len(m.group()) for m in re.finditer("[0-9]+", text)]
    groups, last = [], None
    for i in places:
        if last is not None and i - last - 1 <= gap:
            groups[-1] += 1
        else:
            groups.append(1)
        last = i
    return len(places), max(runs, default=0), max(groups, default=0)


@pytest.mark.parametrize(("text", "gap", "expected"), [
    ("", 5, (0, 0, 0)),
    ("3万円", 5, (1, 1, 1)),
    ("2026年12月3日", 5, (7, 4, 7)),
    ("090-1234-5678 と 03 (1234) 5678", 0, (21, 4, 4)),
    ("090-1234-5678 と 03 (1234) 5678", 3, (21, 4, 21)),
    ("０９０１２３４", 5, (0, 0, 0)),  # full-width digits are no ASCII digits
])
def test_digit_runs_examples(text: str, gap: int, expected: tuple[int, int, int]) -> None:
    assert digit_runs(text, gap) == expected == _plain_digit_runs(text, gap)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0129a -(\u3000０😀", max_size=40), st.integers(0, 6))
def test_digit_runs_counts_as_python_does(text: str, gap: int) -> None:
    assert digit_runs(text, gap) == _plain_digit_runs(text, gap)


# Half-width kana and voicing marks, combining marks, Hangul jamo, starters that compose as second
# characters (Tamil, Kannada), compatibility forms, astral characters.
_NFKC_ALPHABET = "aAｱｶﾞﾟかは\u3099\u309a\u0301\u0308eé\u1100\u1161\u11a8가\u0bc6\u0bbe\u0cbf\u0cd5①㈱ﬁＡ！\u3000😀𝐀Σ"


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=_NFKC_ALPHABET, max_size=30))
def test_nfkc_equals_unicodedata(text: str) -> None:
    assert nfkc(text) == unicodedata.normalize("NFKC", text)


def test_nfkc_of_every_bmp_character_in_context_and_of_every_training_row_equals_unicodedata() -> None:
    for cp in range(0x10000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        for text in (c, "か" + c + "ﾞ", "a" + c + "\u0301" + c, "\u1100" + c + "\u1161", "x" + c + "\u0bbe"):
            assert nfkc(text) == unicodedata.normalize("NFKC", text), hex(cp)
    for row in dataset.read(DATA / "inquiries.csv").rows:
        assert nfkc(row.text) == unicodedata.normalize("NFKC", row.text), row.text


def test_no_composition_takes_a_starter_nfkc_cuts_before_as_its_second_character() -> None:
    # nfkc cuts before a starter below U+0300 or in U+3000-U+9FFF: none may be the second character of a
    # canonical composition in this Python's Unicode data (Hangul's vowels and finals compose by rule).
    second = {chr(c) for c in [*range(0x1161, 0x1176), *range(0x11A8, 0x11C3)]}
    for cp in range(sys.maxunicode + 1):
        parts = unicodedata.decomposition(chr(cp)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            pair = "".join(chr(int(p, 16)) for p in parts)
            if unicodedata.normalize("NFC", pair) == chr(cp):
                second.add(pair[1])
    assert "\u0301" in second and "\u0bbe" in second
    cut = [c for c in second if unicodedata.combining(c) == 0 and (ord(c) < 0x300 or 0x3000 <= ord(c) < 0xA000)]
    assert cut == []


scores_st = st.lists(st.floats(-50, 50), min_size=3, max_size=3)


@settings(max_examples=200, deadline=None)
@given(st.lists(scores_st, min_size=1, max_size=6))
def test_softmax_rows_equals_the_numpy_softmax(rows: list[list[float]]) -> None:
    scores = np.array(rows)
    expected = _softmax(scores.copy())
    softmax_rows(scores)
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-15)


@settings(max_examples=200, deadline=None)
@given(scores_st)
def test_combine_equals_the_combiner_arithmetic(scores: list[float]) -> None:
    comb_coef = np.ascontiguousarray(RNG.normal(size=(3, 3)))
    comb_intercept = RNG.normal(size=3)
    whole, final = combine(np.array(scores), comb_coef, comb_intercept)
    expected_whole = _softmax(np.array([scores]))
    np.testing.assert_allclose(whole, expected_whole, rtol=0, atol=1e-15)
    expected = _softmax(np.log(expected_whole + 1e-6) @ comb_coef + comb_intercept)[0]
    np.testing.assert_allclose(final, expected, rtol=0, atol=1e-12)


def test_combine_refuses_a_combiner_that_reads_more_than_the_whole_text() -> None:
    with pytest.raises(ValueError, match="combiner"):
        combine(np.zeros(3), np.zeros((7, 3)), np.zeros(3))


def test_counts_keep_first_occurrence_order_and_drop_unknown_terms() -> None:
    docs = [["何", "補償", "?", "何"], [], ("返金",), ["?"]]
    m = Block(WORDS, WORD_IDF).counts(docs)
    assert m.shape == (4, len(WORDS))
    assert m.indptr.tolist() == [0, 2, 2, 3, 3]
    assert m.indices.tolist() == [WORDS["何"], WORDS["補償"], WORDS["返金"]]
    assert m.data.tolist() == [2.0, 1.0, 1.0]


@given(st.lists(st.lists(st.sampled_from(TERMS), max_size=8), max_size=4),
       st.lists(st.lists(st.sampled_from(CHAR_TERMS), max_size=8), max_size=4))
def test_the_scorers_counts_equal_the_dicts(words: list[list[str]], chars: list[list[str]]) -> None:
    for docs, block, of_chars in ((words, Block(WORDS, WORD_IDF), False), (chars, Block(CHARS, CHAR_IDF), True)):
        plain, fast = block.counts(docs), block.counts(docs, SCORER, of_chars)
        for part in ("data", "indices", "indptr"):
            assert getattr(fast, part).tolist() == getattr(plain, part).tolist()


def test_weights_that_do_not_match_the_vocabularies_are_refused() -> None:
    with pytest.raises(ValueError, match="do not match"):
        Scorer(WORDS, CHARS, WORD_IDF, CHAR_IDF, COEF[:-1], INTERCEPT)


@given(st.text(alphabet="ab 😀ｱ", max_size=12), st.integers(0, 4), st.integers(0, 4))
def test_char_ngrams_are_the_slices_in_order(piece: str, lo: int, more: int) -> None:
    hi = lo + more
    assert char_ngrams(piece, lo, hi) == [piece[i : i + n] for n in range(lo, hi + 1) for i in range(len(piece) - n + 1)]


def test_a_model_that_has_scored_pickles_as_before(models_dir: Path) -> None:
    import pickle

    model = Registry(models_dir).load(Registry(models_dir).active() or "").router
    model.predict("補償はありますか")
    state = model.__getstate__()
    assert "_scorer" not in state  # rebuilt on load, never stored: the file format is unchanged
    again = pickle.loads(pickle.dumps(model))
    assert again.predict("補償はありますか").probabilities == model.predict("補償はありますか").probabilities


# -- reading MeCab's output and building features (triage.text, triage.features) against the Python they replace --

def _plain_read(parsed: str) -> list[tuple[str, str, str]]:
    tokens = []
    for line in parsed.split("\n"):
        fields = line.split("\t")
        if len(fields) == 3:
            tag, lemma, surface = fields
            lemma = lemma.split("-", 1)[0] if lemma and lemma != "*" else ""
            tokens.append((tag, lemma or surface, surface))
    return tokens


def _plain_locate(text: str, tokens: list[tuple[str, str, str]]) -> list[tuple[str, str, str, int, int]]:
    out = []
    pos = 0
    for tag, lemma, surface in tokens:
        start = text.find(surface, pos)
        if start < 0:
            continue
        pos = start + len(surface)
        out.append((tag, lemma, surface, start, pos))
    return out


@functools.cache
def _plain_pattern(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    """The lexicon's former regular expression: an English and a Japanese trie, the English one at a word boundary."""

    def node_pattern(node: dict[str, dict]) -> str:
        branches = [re.escape(ch) + node_pattern(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" in node:
            return "(?:" + body + ")?" if len(branches) == 1 else body + "?"
        return body

    def trie(words: list[str]) -> str:
        root: dict[str, dict] = {}
        for word in words:
            node = root
            for ch in word:
                node = node.setdefault(ch, {})
            node[""] = {}
        return node_pattern(root)

    english = [t for t in terms if t.isascii()]
    japanese = [t for t in terms if not t.isascii()]
    parts = ([r"\b" + trie(english)] if english else []) + ([trie(japanese)] if japanese else [])
    return re.compile("|".join(parts)) if parts else None


def _plain_matches(concept_of: dict[str, str], text: str) -> list[tuple[str, int, int]]:
    pattern = _plain_pattern(tuple(concept_of))
    return [] if pattern is None else [(concept_of[m.group()], m.start(), m.end()) for m in pattern.finditer(text)]


def _plain_negated(tokens: list[tuple[str, str, str, int, int]], bounds: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    if not any(t[1] in NEGATORS for t in tokens):
        return out
    ends = {b for _, b in bounds}
    start, negative, previous, pending = 0, False, "", False
    for tag, lemma, surface, _s, end in tokens:
        if lemma in NEGATORS and tag in ("助動詞", "形容詞", "形状詞", "名詞"):
            negative = pending = True
        elif pending and tag == "助詞" and surface == "か":
            negative = pending = False
        elif pending and surface not in _QUESTION_AFTER:
            pending = False
        boundary = (surface in _CLAUSE_PUNCT
                    or (tag == "助詞" and surface in _CLAUSE_PARTICLES and previous in _PREDICATE_POS)
                    or (tag == "助動詞" and surface in ("なら", "ならば")) or end in ends)
        previous = tag
        if boundary:
            if negative:
                out.append((start, end))
            start, negative, pending = end, False, False
    if negative:
        out.append((start, max(ends, default=start)))
    return out


def _plain_inside(spans: list[tuple[int, int]], positions: list[int]) -> list[bool]:
    out, j = [], 0
    for pos in positions:
        while j < len(spans) and spans[j][1] <= pos:
            j += 1
        out.append(j < len(spans) and spans[j][0] <= pos)
    return out


def _plain_analyse(f: Featurizer, normalized: str) -> tuple[list[tuple[list[str], list[str], list[str]]], list]:
    """Featurizer.analyse as it was written in Python: (words, chars, concepts) per segment, and the kept tokens."""
    bounds = split_segments(normalized)
    starts = [a for a, _ in bounds]
    every = _plain_locate(normalized, _plain_read(_line_tagger().parse(normalized)))
    tokens = [(lemma, surface, start, end, tag) for tag, lemma, surface, start, end in every if tag in KEEP_POS]
    scopes = []
    if f.negation:
        scopes.append((NEGATED_PREFIX, _plain_negated(every, bounds)))
    if f.quotes:
        scopes.append((QUOTED_PREFIX, quoted_spans(normalized)))
    scopes = [(prefix, spans) for prefix, spans in scopes if spans]
    words: list[list[str]] = [[] for _ in bounds]
    concepts: list[list[str]] = [[] for _ in bounds]
    scoped: list[list[str]] = [[] for _ in bounds]
    marks = [(prefix, _plain_inside(spans, [t[2] for t in tokens])) for prefix, spans in scopes]
    k = 0
    for n, (lemma, _surface, start, _end, tag) in enumerate(tokens):
        while k + 1 < len(starts) and start >= starts[k + 1]:
            k += 1
        words[k].append(lemma)
        if marks and tag in NEGATABLE_POS:
            scoped[k] += [prefix + lemma for prefix, inside in marks if inside[n]]
    spans = _plain_matches(f.lexicon._concept_of, normalized)  # type: ignore[attr-defined]
    marks = [(prefix, _plain_inside(s, [c[1] for c in spans])) for prefix, s in scopes]
    k = 0
    for n, (concept, start, _end) in enumerate(spans):
        while k + 1 < len(starts) and start >= starts[k + 1]:
            k += 1
        concepts[k].append(concept)
        if marks and f.concept_features:
            scoped[k] += [prefix + CONCEPT_PREFIX + concept for prefix, inside in marks if inside[n]]
    out = []
    lo, hi = f.char_ngrams
    for (a, b), lemmas, extra, found in zip(bounds, words, scoped, concepts, strict=True):
        w = lemmas + [f"{x} {y}" for x, y in itertools.pairwise(lemmas)] + extra
        if f.concept_features:
            w += [CONCEPT_PREFIX + c for c in found]
        piece = " ".join(normalized[a:b].split())
        out.append((w, [piece[i : i + n] for n in range(lo, hi + 1) for i in range(len(piece) - n + 1)], found))
    return out, tokens


LEX = read_lexicon(DATA / "lexicon.csv")
# Denials, questions that only sound negative, quotations, quoted mail, loan words, digits, several sentences.
TEXTS = [
    "弁護士を立てる予定はありませんが、補償はありますか？", "参加しませんか。「弁護士に相談します」と書いたメールが届いた",
    "> 消費者センターに相談します\n返金してください", "パスワードを変えてないのに不正利用された!! 警察に行く",
    "sue you! issue of the refund, lawyer 集団訴訟なら考えます", "補償は不要です。じゃないですか", "",
    "ｶｰﾄﾞ情報 漏れた？  ｻｲﾄ 大丈夫？", "注文番号12345の返金はいつですか。『社長を出せ』と言われた",
]


@pytest.mark.parametrize("f", [Featurizer(LEX, negation=True, quotes=True), Featurizer(LEX),
                               Featurizer(LEX, (2, 4), concept_features=False, negation=True, quotes=True)],
                         ids=["shipped", "plain", "no-concepts"])
def test_analyse_gives_the_features_of_the_python_it_replaces(f: Featurizer) -> None:
    rows = [r.text for r in dataset.read(DATA / "inquiries.csv").rows][::40]
    for text in TEXTS + rows:
        norm = normalize(text)
        expected, tokens = _plain_analyse(f, norm)
        got = f.analyse(norm)
        assert [(s.words, s.chars, s.concepts) for s in got.segments] == expected, text
        assert got.tokens == tokens
        assert located(norm) == _plain_locate(norm, _plain_read(_line_tagger().parse(norm)))
        bare = f.analyse(norm, chars=False)  # what a model's Scorer reads the n-grams from the text for
        assert [(s.start, s.end, s.words, s.chars, s.concepts) for s in bare.segments] == [
            (s.start, s.end, s.words, [], s.concepts) for s in got.segments]
        assert bare.tokens == tokens
        routed = f.analyse(norm, chars=False, tokens=False)  # what predict and predict_many ask for
        assert [(s.start, s.end, s.words, s.chars, s.concepts) for s in routed.segments] == [
            (s.start, s.end, s.words, s.chars, s.concepts) for s in bare.segments]
        assert routed.tokens == [] and routed.concept_spans == bare.concept_spans


_LINES = st.lists(st.tuples(st.sampled_from(["名詞", "助動詞", "", "*"]),
                            st.sampled_from(["", "*", "-", "補償", "パスワード-password", "a-b-c", "**"]),
                            st.sampled_from(["", "補償", "パスワード", "x"]), st.sampled_from(["", "\textra"])),
                  max_size=6)


@given(_LINES, st.booleans())
def test_read_tokens_splits_mecabs_lines_as_python_did(lines: list[tuple[str, str, str, str]], tail: bool) -> None:
    parsed = "\n".join(f"{a}\t{b}\t{c}{d}" for a, b, c, d in lines) + ("\n" if tail else "")
    assert read_tokens(parsed) == _plain_read(parsed)


def test_read_tokens_gives_every_piece_right_when_its_recent_pieces_collide() -> None:
    # read_tokens hands out the string it made for an equal piece before, from a table of 16,384 slots:
    # 60,000 distinct pieces (of every width, a 17th character making one too long to keep) overwrite and
    # share its slots, and each is asked for twice.
    rng = np.random.default_rng(1)
    alphabet = list("abcdefgあいうえお漢字補償😀𝐀ｱ-*")
    lines = ["\t".join(["".join(rng.choice(alphabet, size=int(rng.integers(1, 18)))) for _ in range(3)])
             for _ in range(20000)]
    for chunk in (lines, lines[::-1], lines[::7]):
        parsed = "\n".join(chunk)
        got = read_tokens(parsed)
        assert got == _plain_read(parsed)
        assert [tuple(map(len, t)) for t in got] == [tuple(map(len, t)) for t in _plain_read(parsed)]


@given(st.text(alphabet="ab あ", max_size=10), st.lists(st.sampled_from(["a", "ab", "あ", " ", "", "c"]), max_size=6))
def test_locate_places_tokens_as_python_did(text: str, surfaces: list[str]) -> None:
    tokens = [("名詞", s, s) for s in surfaces]
    assert locate(text, tokens) == _plain_locate(text, tokens)


@given(_LINES, st.booleans(), st.text(alphabet="補償パスワードx *-\t", max_size=16))
def test_read_located_reads_and_places_in_one_pass_what_read_tokens_and_locate_give(
        lines: list[tuple[str, str, str, str]], tail: bool, text: str) -> None:
    parsed = "\n".join(f"{a}\t{b}\t{c}{d}" for a, b, c, d in lines) + ("\n" if tail else "")
    assert read_located(parsed, text) == _plain_locate(text, _plain_read(parsed))


def test_located_many_is_located_of_each_text_and_follows_a_swapped_tokenizer(monkeypatch: pytest.MonkeyPatch
                                                                              ) -> None:
    from triage import text as text_module

    texts = [normalize(t) for t in TEXTS + [r.text for r in dataset.read(DATA / "inquiries.csv").rows][::97]]
    assert list(located_many(texts)) == [located(t) for t in texts]
    # bench/tokenizers.py swaps triage.text.analyse for another tokenizer's: the batch must read with it too.
    monkeypatch.setattr(text_module, "analyse", lambda t: [("名詞", c, c) for c in t if not c.isspace()])
    assert list(located_many(texts)) == [locate(t, [("名詞", c, c) for c in t if not c.isspace()]) for t in texts]


_TERMS = ["訴訟", "集団訴訟", "弁護士", "sue", "sns", "sns拡散", "x-y", "_ab", "sue_"]


@settings(max_examples=300)
@given(st.lists(st.sampled_from(_TERMS + ["a", "_", " ", "issue", "訴", "集団", "拡散", "s", "-"]), max_size=8),
       st.sets(st.sampled_from(_TERMS)))
def test_the_lexicons_trie_finds_what_its_regular_expression_found(parts: list[str], terms: set[str]) -> None:
    concept_of = {t: f"c{i}" for i, t in enumerate(sorted(terms))}
    text = "".join(parts)
    assert TermMatcher(concept_of).matches(text) == _plain_matches(concept_of, text)


def test_the_shipped_lexicon_finds_on_every_training_row_what_its_regular_expression_found() -> None:
    pattern_matches = LEX._concept_of  # type: ignore[attr-defined]
    for row in dataset.read(DATA / "inquiries.csv").rows[::5]:
        norm = normalize(row.text)
        assert LEX.matches(norm) == _plain_matches(pattern_matches, norm), row.text
    assert Lexicon().matches("弁護士") == []


# -- claims' one-for-one folding (claims._norm) ---------------------------------------------------------------------


def test_fold_equals_translate_on_every_character_below_65536() -> None:
    from triage.claims import _TABLE, _norm

    every = "".join(chr(c) for c in range(1, 0x10000) if not 0xD800 <= c < 0xE000)
    assert _norm(every) == every.translate(_TABLE)
    assert _norm("") == "" and _norm("注文番号 A-1") == "注文番号 A-1"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80))
def test_fold_equals_translate(text: str) -> None:
    from triage.claims import _TABLE, _norm

    assert _norm(text) == text.translate(_TABLE)


def test_set_fold_refuses_what_translate_would_change_the_length_with() -> None:
    from triage.native import set_fold

    with pytest.raises(ValueError, match="one character"):
        set_fold({0x3000: "  "})
    with pytest.raises(ValueError, match="one character"):
        set_fold({0x1F600: "x"})
