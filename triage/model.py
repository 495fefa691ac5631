"""Building, training, evaluating and applying the routing model."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer
from threadpoolctl import threadpool_limits

from .dataset import LABELS, LABELS_JA
from .text import JapaneseTokenizer, normalize, normalize_many, normalize_with_offsets

RANDOM_STATE = 0
ESCALATION_RECALL_TARGET = 0.95
# Below this accuracy among confident cross-validation predictions, the review
# threshold rises: agents double-check the rest.
REVIEW_ACCURACY_TARGET = 0.95

Progress = Callable[[str], None]


def build_pipeline(
    c: float = 10.0, word_ngrams: tuple[int, int] = (1, 2), char_ngrams: tuple[int, int] = (1, 3), min_df: int = 2
) -> Pipeline:
    """Return the untrained pipeline: lemma n-grams and character n-grams into logistic regression."""
    words = TfidfVectorizer(
        tokenizer=JapaneseTokenizer(),
        token_pattern=None,
        lowercase=False,
        ngram_range=word_ngrams,
        min_df=min_df,
        sublinear_tf=True,
    )
    chars = TfidfVectorizer(analyzer="char", lowercase=False, ngram_range=char_ngrams, min_df=min_df,
                            sublinear_tf=True)
    return Pipeline(
        [
            ("normalize", FunctionTransformer(normalize_many)),
            ("features", FeatureUnion([("words", words), ("chars", chars)])),
            (
                "clf",
                LogisticRegression(C=c, max_iter=2000, class_weight="balanced", random_state=RANDOM_STATE),
            ),
        ]
    )


@dataclass
class Policy:
    """Routing on top of probabilities: a lower bar for escalation and a review mark."""

    escalation_threshold: float = 0.5
    review_threshold: float = 0.5

    def route(self, probabilities: dict[str, float]) -> tuple[str, float, bool]:
        """Return (label, confidence, needs_review) for one inquiry's probabilities."""
        best = max(probabilities, key=probabilities.__getitem__)
        if probabilities["escalation"] >= self.escalation_threshold:
            best = "escalation"
        confidence = probabilities[best]
        return best, confidence, confidence < self.review_threshold

    def to_dict(self) -> dict[str, float]:
        """Return the thresholds as stored in the model metadata."""
        return {"escalation_threshold": self.escalation_threshold, "review_threshold": self.review_threshold}


def choose_policy(
    labels: Sequence[str], proba: np.ndarray, classes: Sequence[str], recall_target: float = ESCALATION_RECALL_TARGET
) -> Policy:
    """Pick thresholds on out-of-fold probabilities (never on the test set)."""
    y = np.asarray(labels)
    esc = list(classes).index("escalation")
    is_esc = y == "escalation"
    p_esc = proba[:, esc]
    # The highest bar that still keeps escalation recall at the target.
    threshold = 0.5
    for t in np.round(np.arange(0.5, 0.04, -0.01), 2):
        recall = float(np.mean(p_esc[is_esc] >= t)) if is_esc.any() else 1.0
        threshold = float(t)
        if recall >= recall_target:
            break
    policy = Policy(escalation_threshold=threshold, review_threshold=0.0)
    routed = [policy.route(dict(zip(classes, row, strict=True))) for row in proba]
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


def metrics(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, object]:
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


@dataclass
class TrainResult:
    """A fitted pipeline with its cross-validation report and routing policy."""

    pipeline: Pipeline
    policy: Policy
    report: dict[str, object]
    oof_labels: list[str] = field(default_factory=list)


def cross_validate(
    texts: Sequence[str], labels: Sequence[str], folds: int = 5, progress: Progress | None = None
) -> np.ndarray:
    """Return out-of-fold probabilities (columns in LABELS order) from stratified k-fold."""
    y = np.asarray(labels)
    proba = np.zeros((len(texts), len(LABELS)))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=RANDOM_STATE)
    x = np.asarray(texts, dtype=object)
    for k, (train_idx, test_idx) in enumerate(splitter.split(x, y), start=1):
        if progress:
            progress(f"cross-validation fold {k}/{folds}")
        pipe = build_pipeline().fit(x[train_idx], y[train_idx])
        cols = [list(pipe.classes_).index(label) for label in LABELS]
        proba[test_idx] = pipe.predict_proba(x[test_idx])[:, cols]
    return proba


def train(
    texts: Sequence[str], labels: Sequence[str], folds: int = 5, progress: Progress | None = None
) -> TrainResult:
    """Cross-validate, choose the routing policy, then fit on all rows."""
    # One BLAS thread: on these small problems OpenBLAS's pool spins and, on a
    # busy machine (workers, other jobs), makes L-BFGS ten times slower.
    with threadpool_limits(limits=1, user_api="blas"):
        return _train(texts, labels, folds, progress)


def _train(texts: Sequence[str], labels: Sequence[str], folds: int, progress: Progress | None) -> TrainResult:
    proba = cross_validate(texts, labels, folds=folds, progress=progress)
    policy = choose_policy(labels, proba, LABELS)
    routed = [policy.route(dict(zip(LABELS, row, strict=True))) for row in proba]
    predicted = [r[0] for r in routed]
    report = metrics(list(labels), predicted)
    report["needs_review_rate"] = float(np.mean([r[2] for r in routed]))
    report["argmax_macro_f1"] = metrics(list(labels), [LABELS[i] for i in proba.argmax(axis=1)])["macro_f1"]
    if progress:
        progress("fitting the final model on all rows")
    pipeline = build_pipeline().fit(list(texts), list(labels))
    return TrainResult(pipeline, policy, report, predicted)


@dataclass
class Prediction:
    """The route of one inquiry, ready for an API response."""

    label: str
    confidence: float
    needs_review: bool
    probabilities: dict[str, float]

    @property
    def label_ja(self) -> str:
        """Return the Japanese name agents see."""
        return LABELS_JA[self.label]


def tfidf_row(terms: list[str], vocab: dict[str, int], idf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return one text's l2-normalised sublinear tf-idf as (indices, values), like TfidfVectorizer."""
    # Count in C first, then look up only the distinct terms.
    counts = Counter(terms)
    idx = np.fromiter(map(vocab.get, counts, repeat(-1)), dtype=np.intp, count=len(counts))
    known = idx >= 0
    if not known.any():
        return np.zeros(0, dtype=np.intp), np.zeros(0)
    idx = idx[known]
    tf = np.array(list(counts.values()), dtype=float)[known]
    val = (1.0 + np.log(tf)) * idf[idx]
    val /= math.sqrt(float(val @ val))
    return idx, val


class Router:
    """A fitted pipeline compiled into plain arrays for fast single predictions.

    scikit-learn's per-call validation costs about a millisecond; here a text
    goes through the pipeline's own analyzers and a dot product with the
    model's coefficients, which gives the same probabilities (a test checks).
    """

    def __init__(self, pipeline: Pipeline, policy: Policy) -> None:
        self.pipeline = pipeline
        self.policy = policy
        union: FeatureUnion = pipeline.named_steps["features"]
        clf: LogisticRegression = pipeline.named_steps["clf"]
        self.classes = [str(c) for c in clf.classes_]
        self._label_order = [self.classes.index(label) for label in LABELS]
        self._blocks = []
        offset = 0
        for _, vec in union.transformer_list:
            vocab = vec.vocabulary_
            self._blocks.append((vec.build_analyzer(), vocab, vec.idf_, offset))
            offset += len(vocab)
        self._coef = np.ascontiguousarray(clf.coef_.T)  # (n_features, n_classes)
        self._intercept = clf.intercept_.copy()
        # Mean over classes: a feature's pull toward a class is its weight
        # there minus its average weight (softmax is shift-invariant).
        self._pull = self._coef - self._coef.mean(axis=1, keepdims=True)
        # Names of word features, for the explanation's terms.
        self._word_terms = {i: term for term, i in self._blocks[0][1].items()}

    def _features(self, normalized: str) -> tuple[np.ndarray, np.ndarray]:
        """Return (feature indices, tf-idf values) exactly as the vectorizers would."""
        idx_all: list[np.ndarray] = []
        val_all: list[np.ndarray] = []
        for analyzer, vocab, idf, offset in self._blocks:
            idx, val = tfidf_row(analyzer(normalized), vocab, idf)
            if not len(idx):
                continue
            idx_all.append(idx + offset)
            val_all.append(val)
        if not idx_all:
            return np.zeros(0, dtype=np.intp), np.zeros(0)
        return np.concatenate(idx_all), np.concatenate(val_all)

    def probabilities(self, text: str) -> dict[str, float]:
        """Return the class probabilities of one raw inquiry."""
        return self._probabilities(*self._features(normalize(text)))

    def _probabilities(self, idx: np.ndarray, val: np.ndarray) -> dict[str, float]:
        scores = val @ self._coef[idx] + self._intercept
        scores = np.exp(scores - scores.max())
        scores /= scores.sum()
        return dict(zip(LABELS, scores[self._label_order].tolist(), strict=True))

    def _route(self, probs: dict[str, float]) -> Prediction:
        label, confidence, review = self.policy.route(probs)
        return Prediction(label, confidence, review, probs)

    def predict(self, text: str) -> Prediction:
        """Route one inquiry."""
        return self._route(self.probabilities(text))

    def predict_many(self, texts: Sequence[str]) -> list[Prediction]:
        """Route a batch through scikit-learn in one call (cheaper per text than one by one)."""
        if not texts:
            return []
        proba = self.pipeline.predict_proba(list(texts))
        cols = [self.classes.index(label) for label in LABELS]
        out = []
        for row in proba[:, cols]:
            probs = {label: float(p) for label, p in zip(LABELS, row, strict=True)}
            label, confidence, review = self.policy.route(probs)
            out.append(Prediction(label, confidence, review, probs))
        return out

    def predict_explained(self, text: str) -> tuple[Prediction, dict[str, object]]:
        """Route one inquiry and explain the route, computing its features once."""
        normalized, offsets = normalize_with_offsets(text)
        features = self._features(normalized)
        prediction = self._route(self._probabilities(*features))
        return prediction, self._explain(text, normalized, offsets, features, prediction.label)

    def explain(self, text: str, label: str, top: int = 8) -> dict[str, object]:
        """Return the terms and text spans that pushed the model toward ``label``."""
        normalized, offsets = normalize_with_offsets(text)
        return self._explain(text, normalized, offsets, self._features(normalized), label, top)

    def _explain(self, text: str, normalized: str, offsets: list[int], features: tuple[np.ndarray, np.ndarray],
                 label: str, top: int = 8) -> dict[str, object]:
        k = self.classes.index(label)
        idx, val = features
        pull = val * self._pull[idx, k]
        weights = dict(zip(idx.tolist(), pull.tolist(), strict=True))
        # Terms: the word features (lemmas and lemma pairs) with the largest pull.
        word_vocab_size = len(self._blocks[0][1])
        terms = sorted(
            ((self._word_terms[i], w) for i, w in weights.items() if i < word_vocab_size and w > 0),
            key=lambda t: -t[1],
        )[:top]
        # Per character of the normalized text: its tokens' and n-grams' pull.
        char_weight = np.zeros(len(normalized))
        tokenizer: JapaneseTokenizer = self.pipeline.named_steps["features"].transformer_list[0][1].tokenizer
        for lemma, start, end in tokenizer.spans(normalized):
            i = self._blocks[0][1].get(lemma)
            if i is not None:
                char_weight[start:end] += weights.get(i, 0.0)
        char_offset = self._blocks[1][3]
        char_vocab = self._blocks[1][1]
        n_lo, n_hi = self.pipeline.named_steps["features"].transformer_list[1][1].ngram_range
        for n in range(max(n_lo, 2), n_hi + 1):
            for start in range(len(normalized) - n + 1):
                i = char_vocab.get(normalized[start : start + n])
                if i is not None:
                    w = weights.get(i + char_offset)
                    if w:
                        char_weight[start : start + n] += w / n
        spans = _spans(char_weight, offsets, len(text))
        return {
            "label": label,
            "terms": [{"term": t, "weight": round(w, 4)} for t, w in terms],
            "spans": spans,
        }


def _spans(char_weight: np.ndarray, offsets: list[int], length: int) -> list[dict[str, float]]:
    """Merge positive per-character weights into spans of the original text."""
    if not len(char_weight) or char_weight.max() <= 0:
        return []
    cut = 0.25 * float(char_weight.max())
    original = np.zeros(length)
    np.maximum.at(original, np.asarray(offsets, dtype=np.intp), char_weight)
    spans: list[dict[str, float]] = []
    start = None
    for i in range(length + 1):
        hot = i < length and original[i] >= cut
        if hot and start is None:
            start = i
        elif not hot and start is not None:
            spans.append({"start": start, "end": i, "weight": round(float(original[start:i].max()), 4)})
            start = None
    return spans
