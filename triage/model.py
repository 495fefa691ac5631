"""The routing model: train, cross-validate by writer, calibrate, route, explain.

Design (compared with the alternatives in docs/model.md):

1. Features (``triage.features``): lemma 1–2-grams plus lexicon concept
   tokens (§legal, §press...), the words of denied clauses and of quotations
   once more as ¬word / 「word, and character 1–3-grams, TF-IDF, per sentence;
   a text's counts are the sum of its sentences'.
2. A base logistic regression scores the whole text and, with the same
   weights, every sentence of it: the most escalation-like (or compensation-
   like) sentence is the one the explanation shows, and its lexicon concepts
   give the escalation reason.
3. A small combiner (logistic regression on the whole text's log-
   probabilities, fitted on out-of-fold scores) calibrates them. It can also
   weigh the best sentences (``sentence_inputs``); folds grouped by writer
   showed that this did not route better than the whole text, so it is off
   by default (docs/model.md has the figures).
4. A routing policy on top (a lower bar for escalation, a review mark), with
   thresholds chosen on out-of-fold probabilities of folds grouped by writer,
   so that they are chosen on text written by someone else.

One picklable object, ``InquiryModel``, owns all of it (no scikit-learn
object inside: the fitted weights are plain arrays).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.model_selection import GroupKFold, StratifiedKFold
from threadpoolctl import threadpool_limits

from .dataset import LABELS, LABELS_JA
from .features import CONCEPT_PREFIX, CONCEPTS, REASONS, Analysis, Featurizer, Lexicon, shown_word, stack
from .native import Scorer, combine, softmax_rows
from .text import is_composing_mark, located_many, normalize, normalize_with_offsets, same_word
from .tfidf import Block

RANDOM_STATE = 0
# Escalations routed to a senior or marked 要確認, out of all escalations, on unfamiliar text.
ESCALATION_RECALL_TARGET = 0.96
# A missed escalation (a lawsuit threat, fraud happening now) costs this many other wrong routes.
ESCALATION_MISS_COST = 3.0
# Below this accuracy among confident cross-validation predictions, the review
# threshold rises: agents double-check the rest.
REVIEW_ACCURACY_TARGET = 0.95
# A wrong route at or above this confidence is a "confident error" in reports.
CONFIDENT = 0.7
FOLDS = 5
# Texts that ``predict_many`` takes through MeCab at once (their output is held): one batch request's worth.
PHASE_TEXTS = 100

Progress = Callable[[str], None]
_ESC = LABELS.index("escalation")


@dataclass
class Policy:
    """Routing on top of probabilities: a lower bar for escalation, and a review mark for doubtful routes."""

    escalation_threshold: float = 0.5
    review_threshold: float = 0.5
    # Not routed to escalation but at least this escalation-like: 要確認, so that a
    # senior looks before the scripted answer goes out.
    escalation_review_threshold: float = 1.0

    def route(self, probabilities: dict[str, float]) -> tuple[str, float, bool]:
        """Return (label, confidence, needs_review) for one inquiry's probabilities."""
        best = max(probabilities, key=probabilities.__getitem__)
        if probabilities["escalation"] >= self.escalation_threshold:
            best = "escalation"
        confidence = probabilities[best]
        doubtful = best != "escalation" and probabilities["escalation"] >= self.escalation_review_threshold
        return best, confidence, confidence < self.review_threshold or doubtful

    def to_dict(self) -> dict[str, float]:
        """Return the thresholds as stored in the model metadata."""
        return {"escalation_threshold": self.escalation_threshold, "review_threshold": self.review_threshold,
                "escalation_review_threshold": self.escalation_review_threshold}


def choose_policy(
    labels: Sequence[str], proba: np.ndarray, recall_target: float = ESCALATION_RECALL_TARGET,
    miss_cost: float = ESCALATION_MISS_COST,
) -> Policy:
    """Pick thresholds on out-of-fold probabilities (columns in LABELS order; never on a test set).

    The escalation bar minimises errors where a missed escalation costs ``miss_cost``
    wrong routes; a second, lower bar marks 要確認 so that escalations routed or
    marked reach ``recall_target``. A single bar tuned to that recall sent every
    plain question with a trace of risk to a senior (issue: "stop escalating plain questions").
    """
    y = np.asarray(labels)
    is_esc = y == "escalation"
    p_esc = proba[:, _ESC]
    argmax = proba.argmax(axis=1)
    best_cost, threshold = None, 0.5
    for t in np.round(np.arange(0.5, 0.04, -0.01), 2):
        routed_esc = (p_esc >= t) | (argmax == _ESC)
        pred = np.where(routed_esc, _ESC, argmax)
        misses = int(np.sum(is_esc & ~routed_esc))
        others = int(np.sum(pred != np.array([LABELS.index(v) for v in y]))) - misses
        cost = miss_cost * misses + others
        if best_cost is None or cost < best_cost:
            best_cost, threshold = cost, float(t)
    policy = Policy(escalation_threshold=threshold, review_threshold=0.0)
    routed_esc = (p_esc >= threshold) | (argmax == _ESC)
    flag = threshold
    for t in np.round(np.arange(threshold, -0.001, -0.01), 2):
        flag = float(t)
        caught = routed_esc | (p_esc >= t)
        if not is_esc.any() or float(np.mean(caught[is_esc])) >= recall_target:
            break
    policy.escalation_review_threshold = flag
    routed = [policy.route(dict(zip(LABELS, row, strict=True))) for row in proba]
    conf = np.array([r[1] for r in routed])
    correct = np.array([r[0] for r in routed]) == y
    review = 0.0
    for t in np.round(np.arange(0.0, 0.91, 0.01), 2):
        sure = conf >= t
        if not sure.any() or correct[sure].mean() >= REVIEW_ACCURACY_TARGET:
            review = float(t)
            break
    policy.review_threshold = review
    return policy


def metrics(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, Any]:
    """Return accuracy, macro-F1, per-class scores and the confusion matrix."""
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=list(LABELS), zero_division=0)
    per_class = {
        label: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
        for i, label in enumerate(LABELS)
    }
    present = [i for i, label in enumerate(LABELS) if s[i] > 0]
    macro = float(np.mean([f[i] for i in present])) if present else 0.0
    matrix = confusion_matrix(y_true, y_pred, labels=list(LABELS)).tolist()
    n = len(y_true)
    accuracy = float(sum(a == b for a, b in zip(y_true, y_pred, strict=True)) / n) if n else 0.0
    return {
        "n": n,
        "accuracy": accuracy,
        "macro_f1": macro,
        "per_class": per_class,
        "confusion": {"labels": list(LABELS), "matrix": matrix},
    }


def confident_errors(texts: Sequence[str], labels: Sequence[str], predictions: Sequence[Prediction],
                     shown: int = 5) -> dict[str, Any]:
    """Return the wrong routes made with confidence ≥ CONFIDENT, per true label, with a few examples."""
    out: dict[str, Any] = {"threshold": CONFIDENT, "total": 0, "per_label": {}}
    for label in LABELS:
        rows = [(t, p) for t, y, p in zip(texts, labels, predictions, strict=True)
                if y == label and p.label != label and p.confidence >= CONFIDENT]
        rows.sort(key=lambda r: -r[1].confidence)
        out["per_label"][label] = {
            "count": len(rows),
            "support": sum(1 for y in labels if y == label),
            "examples": [{"text": t[:160], "routed": p.label, "confidence": round(p.confidence, 3)}
                         for t, p in rows[:shown]],
        }
        out["total"] += len(rows)
    return out


def calibration_error(labels: Sequence[str], predictions: Sequence[Prediction], bins: int = 10) -> float:
    """Return the expected calibration error of the routes' confidence (0 = confidence means what it says)."""
    conf = np.array([p.confidence for p in predictions])
    right = np.array([p.label == y for p, y in zip(predictions, labels, strict=True)])
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for lo, hi in itertools.pairwise(edges):
        m = (conf >= lo) & ((conf < hi) if hi < 1.0 else (conf <= hi))
        if m.any():
            total += m.mean() * abs(right[m].mean() - conf[m].mean())
    return float(total)


@dataclass
class Prediction:
    """The route of one inquiry, ready for an API response."""

    label: str
    confidence: float
    needs_review: bool
    probabilities: dict[str, float]
    # For escalations: the trigger of docs/labels.md that the model found (see features.REASONS).
    reason: str | None = None
    # (start, end) in the normalized text of the sentence that decided, for multi-sentence texts.
    sentence: tuple[int, int] | None = None

    @property
    def label_ja(self) -> str:
        """Return the Japanese name agents see."""
        return LABELS_JA[self.label]


def _softmax(scores: np.ndarray) -> np.ndarray:
    scores = scores - scores.max(axis=1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=1, keepdims=True)
    return scores


def _lr_arrays(clf: LogisticRegression) -> tuple[np.ndarray, np.ndarray]:
    """Return a fitted multinomial regression's weights with classes in LABELS order."""
    order = [list(clf.classes_).index(label) for label in LABELS]
    return np.ascontiguousarray(clf.coef_[order].T), clf.intercept_[order].copy()


def concept_counts(analyses: Sequence[Analysis]) -> np.ndarray:
    """Return log(1 + how often each lexicon concept occurs) per text, leaving out denied and quoted ones.

    Unlike the concept's TF-IDF weight, this does not shrink as a message grows:
    one 弁護士 in a 1,000-character e-mail counts as much as in a short chat.
    """
    out = np.zeros((len(analyses), len(CONCEPTS)))
    for i, a in enumerate(analyses):
        found = Counter(c for s in a.segments for c in s.concepts)
        if not found:
            continue
        scoped = Counter(w[2:] for s in a.segments for w in s.words if w[1:2] == CONCEPT_PREFIX)
        for j, concept in enumerate(CONCEPTS):
            out[i, j] = np.log1p(max(0, found[concept] - scoped[concept]))
    return out


def _meta(whole: np.ndarray, seg: np.ndarray, sizes: Sequence[int], sentence_inputs: bool = True,
          concepts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return the combiner's inputs per text and, per text, the index of its most escalation-like sentence.

    Without ``sentence_inputs`` the combiner sees the whole text's log-probabilities only;
    ``concepts`` (``concept_counts``) adds how often each lexicon concept occurs.
    """
    out = np.empty((len(sizes), 2 * len(LABELS) + 1))
    top_esc = np.empty(len(sizes), dtype=np.intp)
    k = 0
    for i, n in enumerate(sizes):
        block = seg[k : k + n]
        top_esc[i] = int(block[:, _ESC].argmax())
        out[i, : len(LABELS)] = np.log(whole[i] + 1e-6)
        out[i, len(LABELS) : 2 * len(LABELS)] = np.log(block.max(axis=0) + 1e-6)
        out[i, -1] = np.log(n)
        k += n
    out = out if sentence_inputs else out[:, : len(LABELS)]
    if concepts is not None:
        out = np.hstack((out, concepts))
    return out, top_esc


class InquiryModel:
    """Features, weights, combiner and routing policy of one trained version (what is pickled)."""

    def __init__(self, featurizer: Featurizer, words: Block, chars: Block, coef: np.ndarray, intercept: np.ndarray,
                 comb_coef: np.ndarray, comb_intercept: np.ndarray, policy: Policy,
                 sentence_inputs: bool = False, concept_inputs: bool = False) -> None:
        self.featurizer = featurizer
        self.words = words
        self.chars = chars
        self.coef = coef
        self.intercept = intercept
        self.comb_coef = comb_coef
        self.comb_intercept = comb_intercept
        self.policy = policy
        # Whether the combiner also weighs the best sentences (see docs/model.md for why not by default).
        self.sentence_inputs = sentence_inputs
        # Whether the combiner also sees the lexicon concepts' counts (``concept_counts``).
        self.concept_inputs = concept_inputs
        self._word_names: list[str] | None = None
        self._word_pull: np.ndarray | None = None
        # The weights laid out for one text at a time (triage/_fast.pyx); rebuilt on load, never pickled.
        self._scorer = self._make_scorer()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_word_names"] = None
        state["_word_pull"] = None
        state.pop("_scorer", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({"concept_inputs": False, "_word_pull": None, **state})
        # Built here, when a worker loads the model (30-100 ms, the first in a process the slowest), not by
        # whichever request comes first.
        self._scorer = self._make_scorer()

    def _make_scorer(self) -> Scorer:
        return Scorer(self.words.vocabulary, self.chars.vocabulary, self.words.idf, self.chars.idf,
                      self.coef, self.intercept)

    # -- scoring ------------------------------------------------------------
    def analyse_texts(self, texts: Sequence[str]) -> list[Analysis]:
        """Normalize and featurize raw texts."""
        return [self.featurizer.analyse(normalize(t)) for t in texts]

    def _scores(self, analyses: Sequence[Analysis]) -> tuple[np.ndarray, np.ndarray, np.ndarray, sparse.csr_matrix]:
        """Return (final probabilities, per-sentence probabilities, top-escalation sentence, sentence rows)."""
        whole_x, seg_x = stack(analyses, self.words, self.chars, self._scorer)
        whole = _softmax(np.asarray(whole_x @ self.coef) + self.intercept)
        seg = _softmax(np.asarray(seg_x @ self.coef) + self.intercept)
        meta, top_esc = _meta(whole, seg, [len(a.segments) for a in analyses], self.sentence_inputs,
                              concept_counts(analyses) if self.concept_inputs else None)
        final = _softmax(meta @ self.comb_coef + self.comb_intercept)
        return final, seg, top_esc, seg_x

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Return the calibrated probabilities of raw texts (columns in LABELS order)."""
        if not texts:
            return np.zeros((0, len(LABELS)))
        return self._scores(self.analyse_texts(texts))[0]

    def probabilities(self, text: str) -> dict[str, float]:
        """Return the class probabilities of one raw inquiry (the single-text path)."""
        return self.predict(text).probabilities

    def _route(self, analysis: Analysis, final: np.ndarray | dict[str, float], seg: np.ndarray,
               routed: tuple[str, float, bool] | None = None) -> Prediction:
        probs = final if isinstance(final, dict) else dict(zip(LABELS, final.tolist(), strict=True))
        label, confidence, review = routed or self.policy.route(probs)
        sentence = None
        if len(analysis.segments) > 1 and label != "faq":
            j = int(seg[:, LABELS.index(label)].argmax())
            sentence = (analysis.segments[j].start, analysis.segments[j].end)
        reason = self._reason(analysis, seg) if label == "escalation" else None
        return Prediction(label, confidence, review, probs, reason, sentence)

    def _one(self, analysis: Analysis, explained: bool = True
             ) -> tuple[Prediction, list[tuple[np.ndarray, np.ndarray]]]:
        """Score one text with dictionary look-ups and small dot products (no sparse-matrix overhead).

        Gives the same probabilities as the batch path (a test checks). The
        whole text is scored first; its sentences are scored only when the
        route needs them (the deciding sentence and the reason of a
        multi-sentence compensation or escalation, the combiner's sentence
        inputs, or an explanation, which also gets each sentence's word features).
        """
        segments = analysis.segments
        # One C call (triage/_fast.pyx) looks up, counts and scores the whole text and every sentence:
        # in Python, a dozen small numpy calls per sentence cost more than the arithmetic.
        text_chars = self._text_chars()
        if not (explained or self.sentence_inputs or self.concept_inputs):
            return self._routed(analysis, text_chars), []
        if text_chars is None:
            whole_scores, seg_scores, seg_words = self._scorer.score(segments, explained)
        else:
            whole_scores, seg_scores, seg_words = self._scorer.score(segments, explained, analysis.normalized,
                                                                     *text_chars)
        if self.sentence_inputs or self.concept_inputs:
            whole = whole_scores[None, :]
            softmax_rows(whole)
            # Without sentence inputs the combiner reads the whole text only: its answer is final now.
            final = None if self.sentence_inputs else self._final(analysis, whole, whole)
        else:
            # The shipped design: both softmaxes and the combiner in one C call, not a dozen numpy calls.
            whole, final = combine(whole_scores, self.comb_coef, self.comb_intercept)
        probs = None if final is None else dict(zip(LABELS, final.tolist(), strict=True))
        routed = None if probs is None else self.policy.route(probs)
        if len(segments) == 1:
            # One sentence: its features are the whole text's.
            seg = whole
        elif explained or routed is None or routed[0] != "faq":
            softmax_rows(seg_scores)
            seg = seg_scores
        else:
            # A faq route of several sentences shows no sentence and no reason: _route reads no sentence.
            seg = whole
        if probs is None:
            return self._route(analysis, self._final(analysis, whole, seg), seg), seg_words or []
        return self._route(analysis, probs, seg, routed), seg_words or []

    def _routed(self, analysis: Analysis, text_chars: tuple[int, int] | None) -> Prediction:
        """``_one`` without an explanation, in the shipped design (the combiner reads the whole text alone).

        The scorer asks for the route as soon as the whole text is scored and scores the sentences
        one by one only when the route reads them: a text of one sentence, or a faq route (no deciding
        sentence, no reason), skips them, as about half of inquiries do.
        """
        segments = analysis.segments
        decided: list[tuple[np.ndarray, dict[str, float], tuple[str, float, bool]]] = []

        def need(whole_scores: np.ndarray) -> bool:
            whole, final = combine(whole_scores, self.comb_coef, self.comb_intercept)
            probs = dict(zip(LABELS, final.tolist(), strict=True))
            routed = self.policy.route(probs)
            decided.append((whole, probs, routed))
            return len(segments) > 1 and routed[0] != "faq"

        if text_chars is None:
            _, seg_scores, _ = self._scorer.score(segments, False, need=need)
        else:
            _, seg_scores, _ = self._scorer.score(segments, False, analysis.normalized, *text_chars, need=need)
        whole, probs, routed = decided[0]
        if seg_scores is None:
            seg = whole  # one sentence (its features are the whole text's), or a faq route, which reads none
        else:
            softmax_rows(seg_scores)
            seg = seg_scores
        return self._route(analysis, probs, seg, routed)

    def _text_chars(self) -> tuple[int, int] | None:
        """Return the n-gram sizes when the scorer reads a text's character n-grams from the text (1 to 3 characters)."""
        lo, hi = self.featurizer.char_ngrams
        return (lo, hi) if 1 <= lo <= hi <= 3 else None

    def _analyse(self, normalized: str, tokens: bool = True) -> Analysis:
        """Featurize a normalized text for ``_one``, without character n-gram strings when the scorer reads the text.

        Without ``tokens`` (a route without an explanation) the analysis lists no kept tokens.
        """
        return self.featurizer.analyse(normalized, chars=self._text_chars() is None, tokens=tokens)

    def _final(self, analysis: Analysis, whole: np.ndarray, seg: np.ndarray) -> np.ndarray:
        """Return the combiner's probabilities of one text from its whole-text and sentence probabilities."""
        concepts = concept_counts([analysis]) if self.concept_inputs else None
        if self.sentence_inputs:
            meta, _ = _meta(whole, seg, [len(seg)], True, concepts)
        else:
            # What _meta gives without sentence inputs, with one numpy call instead of a dozen.
            meta = np.log(whole + 1e-6)
            if concepts is not None:
                meta = np.hstack((meta, concepts))
        return _softmax(meta @ self.comb_coef + self.comb_intercept)[0]

    def _reason(self, analysis: Analysis, seg_proba: np.ndarray) -> str:
        """Return the most severe trigger named in the most escalation-like sentence (or the whole text)."""
        order = np.argsort(-seg_proba[:, _ESC])
        for j in order[:2]:
            reasons = {CONCEPTS[c][0] for c in analysis.segments[int(j)].concepts}
            for r in REASONS:
                if r in reasons:
                    return r
        return "other"

    def predict(self, text: str) -> Prediction:
        """Route one inquiry."""
        return self._one(self._analyse(normalize(text), tokens=False), explained=False)[0]

    def predict_many(self, texts: Sequence[str]) -> list[Prediction]:
        """Route a batch: each text as ``predict`` routes it (the same probabilities as ``predict_proba``)."""
        # The compiled single-text path is cheaper per text than one pass of sparse products over the
        # batch (scipy and numpy calls per batch, a Python loop of numpy calls per text): 0.25 against
        # 0.35 ms per text, paired in one process (docs/model.md). A part of the batch is normalized,
        # then goes through MeCab text after text, which then finds its dictionary in the caches (the
        # features and the scorer's tables evicted it between texts); then each text is read, featurized
        # and scored in turn (all texts' tokens at once set off the garbage collector: docs/model.md).
        out: list[Prediction] = []
        analyse, one, from_strings = self.featurizer.analyse, self._one, self._text_chars() is None
        for i in range(0, len(texts), PHASE_TEXTS):
            normalized = [normalize(t) for t in texts[i : i + PHASE_TEXTS]]
            for text, every in zip(normalized, located_many(normalized), strict=True):
                out.append(one(analyse(text, from_strings, False, every), explained=False)[0])
        return out

    # -- explanation ----------------------------------------------------------
    def predict_explained(self, text: str) -> tuple[Prediction, dict[str, Any]]:
        """Route one inquiry and explain the route, computing its features once."""
        normalized, offsets = normalize_with_offsets(text)
        analysis = self._analyse(normalized)
        prediction, seg_words = self._one(analysis)
        return prediction, self._explain(text, analysis, offsets, seg_words, prediction)

    def explain(self, text: str, label: str | None = None, top: int = 8) -> dict[str, Any]:
        """Return the words, text spans and deciding sentence behind the route (or behind ``label``)."""
        normalized, offsets = normalize_with_offsets(text)
        analysis = self._analyse(normalized)
        prediction, seg_words = self._one(analysis)
        if label is not None and label != prediction.label:
            prediction = Prediction(label, prediction.probabilities[label], False, prediction.probabilities)
        return self._explain(text, analysis, offsets, seg_words, prediction, top)

    def _names(self) -> list[str]:
        if self._word_names is None:
            names = [""] * len(self.words.vocabulary)
            for term, i in self.words.vocabulary.items():
                names[i] = term
            self._word_names = names
        return self._word_names

    def _pull(self) -> np.ndarray:
        """Return, per label (rows), how much each word pulls towards it against the labels' mean (computed once)."""
        if self._word_pull is None:
            words = self.coef[: len(self.words.vocabulary)]
            self._word_pull = np.ascontiguousarray((words - words.mean(axis=1, keepdims=True)).T)
        return self._word_pull

    def _explain(self, text: str, analysis: Analysis, offsets: list[int],
                 seg_words: list[tuple[np.ndarray, np.ndarray]], prediction: Prediction, top: int = 8
                 ) -> dict[str, Any]:
        k = LABELS.index(prediction.label)
        pull_all = self._pull()[k]
        # The deciding sentence, or the whole text when it is one sentence or faq.
        if prediction.sentence is not None:
            lo, hi = prediction.sentence
            rows = [i for i, s in enumerate(analysis.segments) if s.start == lo]
        else:
            lo, hi = 0, len(analysis.normalized)
            rows = list(range(len(analysis.segments)))
        weights: dict[int, float] = {}
        for r in rows:
            idx, val = seg_words[r]
            for i, w in zip(idx.tolist(), (val * pull_all[idx]).tolist(), strict=True):
                if w > 0:
                    weights[i] = max(weights.get(i, 0.0), w)
        names = self._names()
        # Terms are shown as the text wrote them (ｶｰﾄﾞ, 10万, not カード, 00万), and only content
        # words: 「説明 為る」, 「し」 or 「た です」 mean nothing to an agent.
        def written(start: int, end: int, surface: str) -> str:
            a, b = _original_range((start, end), offsets, text)
            # A placeholder (cardnum) stands for personal data: its raw slice is never shown.
            return text[a:b] if same_word(text[a:b], surface) else surface

        surfaces: dict[str, str] = {}
        tokens = [t for t in analysis.tokens if lo <= t[2] < hi]
        for lemma, surface, start, end, tag in tokens:
            if shown_word(lemma, tag):
                surfaces.setdefault(lemma, written(start, end, surface))
        for a, b in itertools.pairwise(tokens):
            if shown_word(a[0], a[4]) and shown_word(b[0], b[4]):
                surfaces.setdefault(f"{a[0]} {b[0]}", written(a[2], b[3], a[1] + b[1]) if a[3] == b[2]
                                    else f"{written(a[2], a[3], a[1])} {written(b[2], b[3], b[1])}")
        terms = []
        for i, w in sorted(weights.items(), key=lambda t: -t[1]):
            name = names[i]
            if name.startswith(CONCEPT_PREFIX):
                shown = f"〔{CONCEPTS[name[len(CONCEPT_PREFIX):]][1]}〕"
            elif name in surfaces:
                shown = surfaces[name]
            else:
                continue
            terms.append({"term": shown, "weight": round(w, 4)})
            if len(terms) >= top:
                break
        vocab = self.words.vocabulary
        hot: list[tuple[int, int, float]] = []
        for lemma, _surface, start, end, tag in tokens:
            i = vocab.get(lemma)
            if shown_word(lemma, tag) and i is not None and weights.get(i, 0.0) > 0:
                hot.append((start, end, weights[i]))
        for concept, start, end in analysis.concept_spans:
            i = vocab.get(CONCEPT_PREFIX + concept)
            if lo <= start < hi and i is not None and weights.get(i, 0.0) > 0:
                hot.append((start, end, weights[i]))
        spans = _to_original(hot, offsets, text)
        explanation: dict[str, Any] = {"label": prediction.label, "terms": terms, "spans": spans}
        if prediction.sentence is not None:
            start, end = _original_range(prediction.sentence, offsets, text)
            explanation["sentence"] = {"start": start, "end": end, "text": text[start:end]}
        if prediction.reason is not None:
            explanation["reason"] = prediction.reason
        return explanation


def _original_range(span: tuple[int, int], offsets: list[int], text: str) -> tuple[int, int]:
    """Map a (start, end) of the normalized text to the raw text."""
    if not offsets:
        return 0, 0
    start = offsets[min(span[0], len(offsets) - 1)]
    end = offsets[min(span[1] - 1, len(offsets) - 1)] + 1 if span[1] > span[0] else start
    # A half-width voicing mark (ﾄﾞ) composed into the character before it: the span takes it too.
    while span[1] > span[0] and end < len(text) and is_composing_mark(text[end]):
        end += 1
    return start, min(end, len(text))


def _to_original(hot: list[tuple[int, int, float]], offsets: list[int], text: str) -> list[dict[str, float]]:
    """Merge weighted normalized spans into sorted, non-overlapping spans of the raw text."""
    if not hot:
        return []
    top = max(w for _, _, w in hot)
    cut = 0.25 * top
    ranges = sorted((*_original_range((a, b), offsets, text), w) for a, b, w in hot if w >= cut)
    merged: list[list[float]] = []
    for start, end, w in ranges:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
            merged[-1][2] = max(merged[-1][2], w)
        else:
            merged.append([start, end, w])
    return [{"start": int(s), "end": int(e), "weight": round(float(w), 4)} for s, e, w in merged]


# -- training -------------------------------------------------------------------


@dataclass
class TrainResult:
    """A fitted model with its cross-validation report."""

    model: InquiryModel
    report: dict[str, Any]
    oof: list[Prediction] = field(default_factory=list)

    @property
    def oof_labels(self) -> list[str]:
        """Return the out-of-fold routes of the training rows."""
        return [p.label for p in self.oof]


def _fit_base(analyses: Sequence[Analysis], y: np.ndarray, c: float, min_df: int
              ) -> tuple[Block, Block, np.ndarray, np.ndarray]:
    words = Block.fit(([w for s in a.segments for w in s.words] for a in analyses), min_df)
    chars = Block.fit(([g for s in a.segments for g in s.chars] for a in analyses), min_df)
    whole_x, _ = stack(analyses, words, chars)
    clf = LogisticRegression(C=c, max_iter=2000, class_weight="balanced", random_state=RANDOM_STATE)
    clf.fit(whole_x, y)
    coef, intercept = _lr_arrays(clf)
    return words, chars, coef, intercept


def _splits(y: np.ndarray, groups: Sequence[str] | None, folds: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """Return folds grouped by writer when the data names enough writers, else stratified ones."""
    if groups is not None and len(set(groups)) >= folds:
        splitter = GroupKFold(n_splits=folds)
        return list(splitter.split(y, y, np.asarray(groups))), f"grouped by writer ({len(set(groups))} writers)"
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=RANDOM_STATE)
    return list(splitter.split(y, y)), "stratified (the CSV names no writers)"


def train(texts: Sequence[str], labels: Sequence[str], groups: Sequence[str] | None = None,
          lexicon: Lexicon | None = None, folds: int = FOLDS, c: float = 10.0, min_df: int = 2,
          progress: Progress | None = None, sentence_inputs: bool = False,
          concept_features: bool = True, negation: bool = True, quotes: bool = True,
          concept_inputs: bool = False) -> TrainResult:
    """Cross-validate (grouped by writer where known), fit the combiner and policy, then fit on all rows."""
    # One BLAS thread: on these small problems OpenBLAS's pool spins and, on a
    # busy machine (workers, other jobs), makes L-BFGS ten times slower.
    with threadpool_limits(limits=1, user_api="blas"):
        featurizer = Featurizer(lexicon, concept_features=concept_features, negation=negation, quotes=quotes)
        return _train(texts, labels, groups, featurizer, folds, c, min_df, progress, sentence_inputs, concept_inputs)


def _train(texts: Sequence[str], labels: Sequence[str], groups: Sequence[str] | None, featurizer: Featurizer,
           folds: int, c: float, min_df: int, progress: Progress | None, sentence_inputs: bool,
           concept_inputs: bool = False) -> TrainResult:
    say = progress or (lambda _m: None)
    y = np.asarray(labels)
    say(f"reading {len(texts)} texts into sentences and features")
    analyses = [featurizer.analyse(normalize(t)) for t in texts]
    splits, how = _splits(y, groups, folds)
    concepts = concept_counts(analyses) if concept_inputs else None
    meta = np.zeros((len(texts), ((2 * len(LABELS) + 1) if sentence_inputs else len(LABELS))
                     + (len(CONCEPTS) if concept_inputs else 0)))
    for k, (tr, te) in enumerate(splits, start=1):
        say(f"cross-validation fold {k}/{len(splits)} ({how})")
        words, chars, coef, intercept = _fit_base([analyses[i] for i in tr], y[tr], c, min_df)
        part = [analyses[i] for i in te]
        whole_x, seg_x = stack(part, words, chars)
        whole = _softmax(np.asarray(whole_x @ coef) + intercept)
        seg = _softmax(np.asarray(seg_x @ coef) + intercept)
        meta[te] = _meta(whole, seg, [len(a.segments) for a in part], sentence_inputs,
                         None if concepts is None else concepts[te])[0]
    # The combiner's own out-of-fold probabilities, on the same folds: what the
    # policy and the report see is text from writers the model did not learn from.
    oof = np.zeros((len(texts), len(LABELS)))
    for tr, te in splits:
        comb = LogisticRegression(C=1.0, max_iter=1000).fit(meta[tr], y[tr])
        oof[te] = comb.predict_proba(meta[te])[:, [list(comb.classes_).index(lab) for lab in LABELS]]
    policy = choose_policy(labels, oof)
    routed = []
    for row in oof:
        probs = dict(zip(LABELS, row.tolist(), strict=True))
        label, confidence, review = policy.route(probs)
        routed.append(Prediction(label, confidence, review, probs))
    report = metrics(list(labels), [p.label for p in routed])
    report["cross_validation"] = how
    report["needs_review_rate"] = float(np.mean([p.needs_review for p in routed]))
    report["argmax_macro_f1"] = metrics(list(labels), [LABELS[i] for i in oof.argmax(axis=1)])["macro_f1"]
    report["calibration_error"] = calibration_error(labels, routed)
    report["confident_errors"] = confident_errors(texts, labels, routed)
    if groups is not None:
        report["by_writer"] = {
            g: round(metrics([labels[i] for i in idx], [routed[i].label for i in idx])["macro_f1"], 4)
            for g, idx in sorted(_indices(groups).items())
        }
    say("fitting the final model on all rows")
    comb = LogisticRegression(C=1.0, max_iter=1000).fit(meta, y)
    comb_coef, comb_intercept = _lr_arrays(comb)
    words, chars, coef, intercept = _fit_base(analyses, y, c, min_df)
    model = InquiryModel(featurizer, words, chars, coef, intercept, comb_coef, comb_intercept, policy, sentence_inputs,
                         concept_inputs)
    return TrainResult(model, report, routed)


def _indices(values: Sequence[str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, v in enumerate(values):
        out.setdefault(v, []).append(i)
    return out
