"""The compiled loops (triage/_fast.pyx) against the plain tf-idf arithmetic they replace."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage.features import Segment
from triage.native import Scorer, char_ngrams
from triage.registry import Registry
from triage.tfidf import Block

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


def test_counts_keep_first_occurrence_order_and_drop_unknown_terms() -> None:
    docs = [["何", "補償", "?", "何"], [], ("返金",), ["?"]]
    m = Block(WORDS, WORD_IDF).counts(docs)
    assert m.shape == (4, len(WORDS))
    assert m.indptr.tolist() == [0, 2, 2, 3, 3]
    assert m.indices.tolist() == [WORDS["何"], WORDS["補償"], WORDS["返金"]]
    assert m.data.tolist() == [2.0, 1.0, 1.0]


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
