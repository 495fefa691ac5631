"""What the model sees of an inquiry: sentences (segments), lemmas, lexicon concepts, character n-grams.

A long message is read sentence by sentence: one sentence that carries an
escalation trigger must not be diluted by twenty routine ones. Each segment
gets its own features; the whole text's features are the sum of its
segments', so the same vocabulary scores both.

Pickled models import ``triage.features.Featurizer`` and ``Lexicon`` by
name: renaming them breaks saved models (bump ``TOKENIZER_VERSION`` in
``triage.text`` and retrain instead).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse

from . import dataset
from .native import Scorer, TermMatcher, segment_features
from .native import negated_clauses as _negated_clauses
from .native import split_segments as _split_segments
from .text import KEEP_POS, located, normalize
from .tfidf import Block

# Sentences end at 。!? (the normalized text has no ！？), line breaks and runs of spaces (SNS posts
# separate sentences with spaces): ``split_segments``.
# A piece shorter than this ("はい。", a signature's initial) joins the one before.
MIN_SEGMENT_CHARS = 6
# Highlights skip function words (ます, です, おり): they carry no reason an agent can read.
HIGHLIGHT_POS = frozenset(["名詞", "動詞", "形容詞", "形状詞", "副詞", "感動詞"])
# Verbs and nouns that only carry grammar (して, いる, おり, ください, できる, こと, ため; UniDic
# lemmas): the model may weigh them, but as a chip or a highlight they tell an agent nothing.
FUNCTION_LEMMAS = frozenset([
    "為る", "居る", "有る", "成る", "出来る", "下さる", "頂く", "致す", "申す", "御座る", "存じる", "遣る",
    "貰う", "仕舞う", "事", "物", "為", "様", "所",
])


def shown_word(lemma: str, tag: str) -> bool:
    """Return True if a token may be a chip or a highlight: a content word that is not only grammar."""
    return tag in HIGHLIGHT_POS and lemma not in FUNCTION_LEMMAS


CONCEPT_PREFIX = "§"
# Words of a clause that is negated ("弁護士を立てる予定はありません") also count as
# "¬word": the model can learn that a denied lawsuit is not a lawsuit.
NEGATED_PREFIX = "¬"
# Lemmas that negate their clause: ない/無い, ず (the ん of ません), ぬ, and 不要/無し.
NEGATORS = frozenset(["ない", "無い", "ず", "ぬ", "不要", "無し"])
# Words inside quotation brackets also count as "「word".
QUOTED_PREFIX = "「"
# Also quoted e-mail history: lines that start with ">" (docs/labels.md: quoted parts do not decide).
_QUOTES = re.compile(r"「[^「」]*」|『[^『』]*』|\"[^\"]*\"|“[^”]*”|^[ \t]*>.*$", re.MULTILINE)
_QUOTE_MARKS = "「『\"“>"
NEGATABLE_POS = frozenset(["名詞", "動詞", "形容詞", "形状詞"])
# A clause ends after 、 or a conjunctive particle that follows a predicate (…ませんが、…なら、…ければ).
_CLAUSE_PUNCT = frozenset(["、", ",", "，", "「", "」", "『", "』"])
# A negation asked as a question (参加しませんか, じゃないですか) invites or asserts: no denial.
_QUESTION_AFTER = frozenset(["です", "ます", "の", "ん", "だ"])
_CLAUSE_PARTICLES = frozenset(["が", "けど", "けれど", "けれども", "ので", "のに", "から", "ば", "たら", "し"])
_PREDICATE_POS = frozenset(["動詞", "助動詞", "形容詞", "形状詞"])

# The concepts of the lexicon, with the escalation reason each points to and
# the words agents see. Reasons are listed by severity (people at risk first).
CONCEPTS = {
    "risk": ("person_at_risk", "身の危険"),
    "threat": ("threat", "脅し・暴言"),
    "fraud_now": ("fraud_now", "いま起きている被害"),
    "legal": ("legal", "法的・公的な動き"),
    "press": ("press", "報道・公開"),
    "leadership": ("leadership", "責任者・経営陣の要求"),
    "records": ("records", "個別の記録の確認・削除要求"),
    "money": ("", "お金・補償"),
}
REASONS = ("person_at_risk", "threat", "fraud_now", "legal", "press", "leadership", "records", "other")


class LexiconError(dataset.DatasetError):
    """A lexicon file that cannot be used; the message names the line."""


@dataclass(frozen=True)
class Lexicon:
    """Terms that name a concept (法的手段, 報道...) in words the training rows may not have used."""

    terms: tuple[tuple[str, str], ...] = ()
    sha256: str = ""

    def __post_init__(self) -> None:
        self.__setstate__({"terms": self.terms, "sha256": self.sha256})

    def __getstate__(self) -> dict[str, object]:
        return {"terms": self.terms, "sha256": self.sha256}

    def __setstate__(self, state: dict[str, object]) -> None:
        object.__setattr__(self, "terms", state["terms"])
        object.__setattr__(self, "sha256", state["sha256"])
        concept_of: dict[str, str] = {}
        for concept, term in self.terms:
            concept_of.setdefault(term, concept)
        object.__setattr__(self, "_concept_of", concept_of)
        # A trie in C (triage/_fast.pyx): a regular expression shaped as a trie cost 25 µs per inquiry.
        object.__setattr__(self, "_matcher", TermMatcher(concept_of))

    def matches(self, normalized: str) -> list[tuple[str, int, int]]:
        """Return (concept, start, end) of every lexicon term in a normalized text.

        Scanning left to right, each place takes its longest term (集団訴訟 over 訴訟); an
        English term must start at a word boundary ("sue" must not match "issue"), and wins
        there over a longer term of other characters.
        """
        return self._matcher.matches(normalized)  # type: ignore[attr-defined,no-any-return]


def read_lexicon(path: str | Path) -> Lexicon:
    """Read a lexicon CSV (columns concept, term); every bad row is reported with its line."""
    table = dataset.read(path, require_label=False, text_column="term")
    if "concept" not in table.header:
        raise LexiconError(f"{path}: the lexicon needs the columns concept and term.")
    errors = []
    terms: list[tuple[str, str]] = []
    for row in table.rows:
        concept = row.extra.get("concept", "").strip()
        term = normalize(row.text).strip()
        if concept not in CONCEPTS:
            errors.append(f"line {row.line}: unknown concept {concept!r}; use one of {', '.join(CONCEPTS)}.")
        elif not term or (term.isascii() and len(term) < 2):
            errors.append(f"line {row.line}: the term {row.text!r} is too short to match safely.")
        else:
            terms.append((concept, term))
    if errors:
        raise LexiconError(f"{path}: {len(errors)} bad row(s); fix them and try again:", errors)
    return Lexicon(tuple(dict.fromkeys(terms)), table.sha256)


@dataclass
class Segment:
    """One sentence of an inquiry: where it is in the normalized text and its features."""

    start: int
    end: int
    words: list[str] = field(default_factory=list)
    chars: list[str] = field(default_factory=list)
    concepts: list[str] = field(default_factory=list)


@dataclass
class Analysis:
    """An inquiry as features: its normalized text and its segments."""

    normalized: str
    segments: list[Segment]
    # (lemma, surface, start, end, part of speech) of kept tokens, for explanations.
    tokens: list[tuple[str, str, int, int, str]] = field(default_factory=list)
    concept_spans: list[tuple[str, int, int]] = field(default_factory=list)


def split_segments(normalized: str) -> list[tuple[int, int]]:
    """Return the (start, end) of each sentence-like piece of a normalized text.

    Pieces end at a run of 。!? or line breaks, or at two or more spaces (SNS posts); a piece shorter
    than MIN_SEGMENT_CHARS joins the one before. The scan runs in C (triage/_fast.pyx).
    """
    return _split_segments(normalized, MIN_SEGMENT_CHARS)  # type: ignore[no-any-return]


def negated_clauses(tokens: Sequence[tuple[str, str, str, int, int]], bounds: Sequence[tuple[int, int]]
                    ) -> list[tuple[int, int]]:
    """Return the (start, end) of every clause that contains a negation, in text order.

    ``tokens`` are (part of speech, lemma, surface, start, end) of all tokens;
    clauses end at sentence ends, at 、 and after a conjunctive particle or a
    conditional なら that follows a predicate. A negator (助動詞, 形容詞, 形状詞
    or 名詞) marks its clause, unless the clause turns out to be a question
    (か right after it, or after です/ます/の/ん/だ). The loop runs in C (triage/_fast.pyx).
    """
    return _negated_clauses(list(tokens), list(bounds), NEGATORS, _CLAUSE_PUNCT, _QUESTION_AFTER,
                            _CLAUSE_PARTICLES, _PREDICATE_POS)


def quoted_spans(normalized: str) -> list[tuple[int, int]]:
    """Return the (start, end) of every quotation (「…」『…』"…", e-mail lines quoted with >) in a normalized text."""
    # Every quotation holds one of these: without them the scan (5 µs, tried at every place) finds nothing.
    if not any(mark in normalized for mark in _QUOTE_MARKS):
        return []
    return [(m.start(), m.end()) for m in _QUOTES.finditer(normalized)]


class Featurizer:
    """Turns a normalized text into per-segment features; holds only settings (it pickles)."""

    def __init__(self, lexicon: Lexicon | None = None, char_ngrams: tuple[int, int] = (1, 3),
                 concept_features: bool = True, negation: bool = False, quotes: bool = False) -> None:
        self.lexicon = lexicon or Lexicon()
        self.char_ngrams = char_ngrams
        # False: concepts are found (for the escalation reason) but are not features of the model.
        self.concept_features = concept_features
        # True: words and concepts of negated clauses also count as ¬word (see NEGATED_PREFIX).
        self.negation = negation
        # True: words and concepts inside quotation brackets also count as 「word.
        self.quotes = quotes

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update({"concept_features": True, "negation": False, "quotes": False, **state})

    def analyse(self, normalized: str, chars: bool = True, tokens: bool = True,
                every: list[tuple[str, str, str, int, int]] | None = None) -> Analysis:
        """Split into segments and list each segment's word, concept and (unless not ``chars``) character features.

        Without ``chars`` the segments' character n-grams stay empty: a model's ``Scorer`` can read them
        from the normalized text itself, faster than from a list of strings (``InquiryModel._one``).
        Without ``tokens`` the analysis lists no kept tokens (only explanations read them).
        ``every`` is ``located(normalized)`` when the caller has it already (a batch tokenizes first).
        """
        bounds = split_segments(normalized)
        segments = [Segment(a, b) for a, b in bounds]
        if every is None:
            every = located(normalized)
        # Scoped words: a denied clause (¬) and quoted words (「…」, someone else's words: a scam
        # mail that "names a lawyer" is not a lawyer writing).
        scopes = []
        if self.negation:
            scopes.append((NEGATED_PREFIX, negated_clauses(every, bounds)))
        if self.quotes:
            scopes.append((QUOTED_PREFIX, quoted_spans(normalized)))
        scopes = [(prefix, spans) for prefix, spans in scopes if spans]  # most texts have none
        concept_spans = self.lexicon.matches(normalized)
        # One pass in C (triage/_fast.pyx): each segment's lemmas, bigrams, scoped words, concepts and
        # character n-grams; the kept tokens, (lemma, surface, start, end, part of speech), for explanations.
        lo, hi = self.char_ngrams
        kept = segment_features(normalized, segments, every, KEEP_POS, NEGATABLE_POS, scopes, concept_spans,
                                self.concept_features, CONCEPT_PREFIX, lo, hi if chars else lo - 1, tokens)
        return Analysis(normalized, segments, kept, concept_spans)


def stack(analyses: Sequence[Analysis], words: Block, chars: Block, scorer: Scorer | None = None
          ) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """Return the TF-IDF rows of every whole text and of every segment (texts' segments in order).

    ``scorer``, the model's ``Scorer`` over these blocks, looks terms up faster (see ``Block.counts``).
    """
    seg_words = [s.words for a in analyses for s in a.segments]
    seg_chars = [s.chars for a in analyses for s in a.segments]
    sizes = [len(a.segments) for a in analyses]
    # texts × segments indicator: a text's counts are the sum of its segments'.
    owner = np.repeat(np.arange(len(analyses)), sizes)
    agg = sparse.csr_matrix((np.ones(len(owner)), (owner, np.arange(len(owner)))), shape=(len(analyses), len(owner)))
    blocks_whole = []
    blocks_seg = []
    for block, docs, of_chars in ((words, seg_words, False), (chars, seg_chars, True)):
        counts = block.counts(docs, scorer, of_chars)
        blocks_seg.append(block.tfidf(counts))
        blocks_whole.append(block.tfidf((agg @ counts).tocsr()))
    return sparse.hstack(blocks_whole, format="csr"), sparse.hstack(blocks_seg, format="csr")
