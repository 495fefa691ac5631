"""TF-IDF as plain arrays: what the router and the FAQ index both use (no scikit-learn call per request)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat

import numpy as np
from scipy import sparse

from .native import Scorer
from .native import counts as _counts


def tfidf_row(terms: list[str], vocab: dict[str, int], idf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return one text's l2-normalised sublinear tf-idf as (indices, values), like TfidfVectorizer."""
    # Count in C first, then look up only the distinct terms.
    return tfidf_counts(Counter(terms), vocab, idf)


def tfidf_counts(counts: Counter[str], vocab: dict[str, int], idf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the l2-normalised sublinear tf-idf of term counts as (indices, values)."""
    idx = np.fromiter(map(vocab.get, counts, repeat(-1)), dtype=np.intp, count=len(counts))
    known = idx >= 0
    if not known.any():
        return np.zeros(0, dtype=np.intp), np.zeros(0)
    idx = idx[known]
    tf = np.array(list(counts.values()), dtype=float)[known]
    val = (1.0 + np.log(tf)) * idf[idx]
    val /= math.sqrt(float(val @ val))
    return idx, val


@dataclass
class Block:
    """One TF-IDF vocabulary (words or characters) as plain arrays."""

    vocabulary: dict[str, int]
    idf: np.ndarray

    @classmethod
    def fit(cls, documents: Iterable[Iterable[str]], min_df: int = 2) -> Block:
        """Learn a vocabulary and smoothed idf like scikit-learn's TfidfVectorizer(min_df, smooth_idf)."""
        df: Counter[str] = Counter()
        n = 0
        for doc in documents:
            df.update(set(doc))
            n += 1
        kept = sorted(t for t, c in df.items() if c >= min_df)
        vocabulary = {t: i for i, t in enumerate(kept)}
        idf = np.array([math.log((1 + n) / (1 + df[t])) + 1.0 for t in kept])
        return cls(vocabulary, idf)

    def counts(self, docs: Sequence[Sequence[str]], scorer: Scorer | None = None, chars: bool = False
               ) -> sparse.csr_matrix:
        """Return the term counts of each document (rows) over this vocabulary.

        ``scorer``, a model's ``Scorer`` built over this block (its characters with ``chars``),
        looks the terms up in its own tables: the same counts, found faster.
        """
        # Counted and looked up in C (triage/_fast.pyx), terms in first-occurrence order within a row.
        data, indices, indptr = _counts(docs, self.vocabulary) if scorer is None else scorer.counts(docs, chars)
        return sparse.csr_matrix((data, indices, indptr), shape=(len(docs), len(self.vocabulary)))

    def tfidf(self, counts: sparse.csr_matrix) -> sparse.csr_matrix:
        """Sublinear tf times idf, each row scaled to unit length (TfidfVectorizer's defaults here)."""
        out = counts.copy()
        out.data = (1.0 + np.log(out.data)) * self.idf[out.indices]
        norms = np.sqrt(np.asarray(out.multiply(out).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sparse.diags(1.0 / norms) @ out
