"""The FAQ knowledge base and answer suggestion for `faq` routes."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from . import dataset
from .text import JapaneseTokenizer, normalize
from .tfidf import tfidf_row

# Below this cosine similarity an entry is not suggested: an unrelated answer
# read out to a worried caller is worse than none.
MIN_SCORE = 0.12
PLACEHOLDER_SETTINGS = {
    "company": "COMPANY",
    "incident_date": "INCIDENT_DATE",
    "hotline": "HOTLINE",
    "hours": "HOURS",
    "url": "URL",
}
_PLACEHOLDER_RE = re.compile(r"\{(" + "|".join(PLACEHOLDER_SETTINGS) + r")\}")


@dataclass(frozen=True)
class Entry:
    """One FAQ entry."""

    id: str
    question: str
    answer: str
    keywords: str


def fill(template: str, settings: dict[str, Any]) -> str:
    """Fill the known {placeholders} of an answer from settings; leave other braces alone."""
    return _PLACEHOLDER_RE.sub(lambda m: str(settings.get(PLACEHOLDER_SETTINGS[m.group(1)], m.group(0))), template)


def read_entries(path: str | Path) -> list[Entry]:
    """Read faq.csv (columns id, question, answer, optional keywords)."""
    table = dataset.read(path, require_label=False, text_column="question")
    missing = [c for c in ("id", "answer") if c not in table.header]
    if missing:
        raise dataset.DatasetError(f"{path}: the FAQ file needs the columns id, question, answer (missing: {', '.join(missing)}).")
    entries = []
    seen: set[str] = set()
    for row in table.rows:
        entry_id = row.extra["id"].strip()
        if not entry_id or entry_id in seen:
            raise dataset.DatasetError(f"{path}: line {row.line}: missing or repeated id {entry_id!r}.")
        seen.add(entry_id)
        entries.append(Entry(entry_id, row.text, row.extra["answer"].strip(), row.extra.get("keywords", "").strip()))
    return entries


class KnowledgeBase:
    """FAQ entries indexed with the same text pipeline as the router."""

    def __init__(self, entries: list[Entry], settings: dict[str, Any] | None = None) -> None:
        self.entries = entries
        self.settings = settings or {}
        # The question and keywords describe what an entry answers; the answer
        # text adds the words a caller uses about the same topic.
        docs = [normalize(f"{e.question} {e.keywords} {e.keywords} {_PLACEHOLDER_RE.sub(' ', e.answer)}")
                for e in entries]
        self._words = TfidfVectorizer(tokenizer=JapaneseTokenizer(), token_pattern=None, lowercase=False,
                                      sublinear_tf=True)
        self._chars = TfidfVectorizer(analyzer="char", ngram_range=(2, 3), lowercase=False, sublinear_tf=True)
        # Dense entry matrices (a few dozen rows) and the analyzers: a query is
        # scored with dictionary look-ups and one gather, without sklearn's
        # per-call validation (about 4 ms a query otherwise).
        self._blocks = []
        for vec in (self._words, self._chars):
            matrix = vec.fit_transform(docs).toarray()
            self._blocks.append((vec.build_analyzer(), vec.vocabulary_, vec.idf_, matrix))

    def scores(self, text: str) -> np.ndarray:
        """Return the cosine similarity of the inquiry to every entry (words and characters averaged)."""
        q = normalize(text)
        total = np.zeros(len(self.entries))
        for analyzer, vocab, idf, matrix in self._blocks:
            idx, val = tfidf_row(analyzer(q), vocab, idf)
            if len(idx):
                total += matrix[:, idx] @ val
        return 0.5 * total

    def suggest(self, text: str, k: int = 3) -> list[dict[str, Any]]:
        """Return up to k entries with a score, best first; none if nothing fits."""
        s = self.scores(text)
        order = np.argsort(-s)[:k]
        return [
            {
                "id": self.entries[i].id,
                "question": self.entries[i].question,
                "answer": fill(self.entries[i].answer, self.settings),
                "score": round(float(s[i]), 4),
            }
            for i in order
            if s[i] >= MIN_SCORE
        ]


_cache: dict[tuple[str, float, tuple[Any, ...]], KnowledgeBase] = {}
_lock = threading.Lock()


def get_kb(settings: dict[str, Any]) -> KnowledgeBase:
    """Return the knowledge base of DATA_DIR/faq.csv, rebuilt when the file changes."""
    path = Path(settings["DATA_DIR"]) / "faq.csv"
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        raise dataset.DatasetError(f"{path}: no FAQ file; set TRIAGE_DATA_DIR to the folder with faq.csv.") from None
    key = (str(path), mtime, tuple(settings.get(v) for v in PLACEHOLDER_SETTINGS.values()))
    with _lock:
        kb = _cache.get(key)
        if kb is None:
            _cache.clear()
            kb = _cache[key] = KnowledgeBase(read_entries(path), settings)
        return kb
