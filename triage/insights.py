"""Surge insight for ops: what the FAQ does not answer, what is new this hour, how often agents correct the model.

Pure functions over rows read once from the store (`load_rows`): `volume`,
`corrections`, `faq_gaps` and `emerging`. `compute` puts them together for
`triage insights`, the 状況 page and the Prometheus gauges; `cached` keeps the
result for a minute. Each inquiry's topic words are stored when it arrives
(`intake_fields`), from the tokenization the router has just done, and so is
its best FAQ score when a suggestion was made anyway; whatever is missing is
made once, when insight first reads the row, and stored.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from scipy import sparse
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import SQLAlchemyError

from .dataset import LABELS, DatasetError
from .redact import redact
from .store import Correction, Inquiry, Store, utcnow
from .text import analyse, normalize

log = logging.getLogger("triage.insights")

# At most the newest inquiries of the window are read: the page and the CLI
# must answer in seconds on the worst day, not scan a month.
MAX_ROWS = 20_000
CACHE_SECONDS = 60.0
# "This hour" for emerging topics: the last 60 minutes, against the rest of the window.
RECENT = timedelta(hours=1)
# Clustering keeps an n x n distance matrix: at most this many inquiries (the newest) per section.
MAX_CLUSTER_ROWS = 1_500
# Average-linkage clusters: members are on average at most this cosine distance apart.
MAX_DISTANCE = 0.88
MIN_CLUSTER = 3
MAX_CLUSTERS = 10
# A topic emerges when its share of the last hour is at least this many times its earlier share,
# an inquiry counting for a topic when its cosine similarity to the topic's centre is at least
# MIN_SIMILARITY (or higher for tight topics); earlier shares are measured on an even sample.
MIN_GROWTH = 2.0
MIN_SIMILARITY = 0.25
BASELINE_SAMPLE = 3_000
TERMS_PER_TOPIC = 6
EXAMPLES = 2
# Rows whose topic words or FAQ score were not stored at intake are analysed when read, at most
# this many per computation (about 0.5 ms each); the rest follow a minute later.
BACKFILL_LIMIT = 1_000

# Topic words: content words only; particles, auxiliaries and affixes say nothing about a topic.
TOPIC_POS = frozenset(["名詞", "動詞", "形容詞", "形状詞"])
# Words nearly every inquiry uses: they would make every inquiry look like every other.
STOP_WORDS = frozenset([
    # Verbs and adjectives of every request (UniDic lemmas: する is 為る, ください is 下さる).
    "為る", "居る", "有る", "成る", "出来る", "言う", "下さる", "頂く", "致す", "申す", "御座る", "存じる", "遣る",
    "貰う", "仕舞う", "来る", "行く", "見る", "思う", "知る", "分かる", "聞く", "教える", "願う", "掛かる", "取る",
    "入る", "付く", "無い", "良い",
    # Nouns that stand for something else (件, 事, 方), and the writer and the company.
    "件", "事", "物", "方", "様", "為", "所", "時", "度", "回", "内", "他", "前", "後", "今", "今回", "何", "気",
    "者", "分", "話", "感じ", "本当", "一", "二", "私", "自分", "御社", "貴社", "弊社", "さん", "皆様",
    # Greetings, signatures, and the labels of web forms and mail headers (【お名前】, 件名:).
    "世話", "御中", "担当", "株式", "宜しい", "失礼", "恐れ入る", "客", "問い合わせ", "問い合わせる", "問合せ",
    "種別", "名前", "氏名", "内容", "件名", "本文",
])
# How placeholders of personal data read on the page.
_PLACEHOLDER_JA = {
    "urladdr": "（URL）",
    "emailaddr": "（メールアドレス）",
    "cardnum": "（カード番号）",
    "phonenum": "（電話番号）",
    "postcode": "（郵便番号）",
    "idnum": "（番号）",
    "mynumber": "（マイナンバー）",
}


class Row(NamedTuple):
    """What insight reads of one inquiry (the text only where it must be analysed here)."""

    id: int
    received_at: datetime
    source: str
    label: str
    model_version: str
    faq_score: float | None
    terms: str | None
    corrected: str | None = None

    @property
    def route(self) -> str:
        """Return the route an agent settled on, else the predicted one."""
        return self.corrected or self.label


# -- at intake -----------------------------------------------------------------


_HIRAGANA = {c: None for c in range(0x3041, 0x3097)}


def _kanji_stem(word: str) -> str | None:
    """Return the kanji of a word written with kanji and kana (引き継ぐ, 引き継ぎ: 引継), if two or more."""
    stem = word.translate(_HIRAGANA)
    return stem if stem != word and len(stem) >= 2 and all("\u4e00" <= ch <= "\u9fff" for ch in stem) else None


def terms_of(text: str) -> str:
    """Return the topic words (content-word lemmas) of a text, space-separated."""
    words = []
    # The router analysed exactly this normalized text a moment ago: the per-thread cache answers.
    for tag, lemma, _ in analyse(normalize(text)):
        if tag in TOPIC_POS and lemma not in STOP_WORDS and any(ch.isalpha() for ch in lemma):
            words.append(lemma.replace(" ", ""))
            # The verb and its noun (引き継ぐ, 引き継ぎ) and spellings (買い替え, 買替) meet in the
            # kanji-only form, itself the usual spelling on forms (引継, 申込, 振込).
            stem = _kanji_stem(lemma)
            if stem:
                words.append(stem)
    return " ".join(words)


def best_faq_score(text: str, kb: Any) -> float | None:
    """Return the score of the best entry of a FAQ knowledge base for a text."""
    scores = kb.scores(text)
    return round(float(scores.max()), 4) if len(scores) else None


def intake_fields(text: str, result: dict[str, Any]) -> dict[str, Any]:
    """Return the columns insight needs of a new inquiry that cost nothing now: topic words, the best FAQ score."""
    suggestions = result.get("faq_suggestions") if result["label"] == "faq" else None
    # Scoring against the FAQ costs about 0.5 ms, a third of routing: only a score at hand (the
    # best suggestion) is stored here. The webhook path and faq routes without a suggestion are
    # scored by insight when it first reads them (load_rows), off the path contact systems wait on.
    return {"topic_terms": terms_of(text), "faq_score": suggestions[0]["score"] if suggestions else None}


# -- reading the store ---------------------------------------------------------


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything is stored in UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def window_start(now: datetime, hours: int) -> datetime:
    """Return the start of a window of `hours` whole hours, the current one included."""
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)


def load_rows(store: Store, since: datetime, cap: int = MAX_ROWS,
              settings: dict[str, Any] | None = None) -> list[Row]:
    """Return the newest inquiries received since `since` (at most `cap`), newest first, with latest corrections."""
    q = (
        select(Inquiry.id, Inquiry.received_at, Inquiry.source, Inquiry.label, Inquiry.model_version,
               Inquiry.faq_score, Inquiry.topic_terms)
        .where(Inquiry.received_at >= since)
        .order_by(Inquiry.received_at.desc(), Inquiry.id.desc())
        .limit(cap)
    )
    cq = (
        select(Correction.inquiry_id, Correction.label)
        .join(Inquiry, Correction.inquiry_id == Inquiry.id)
        .where(Inquiry.received_at >= since)
        .order_by(Correction.id)
    )
    with store.engine.connect() as conn:
        raw = conn.execute(q).all()
        latest = {inquiry_id: label for inquiry_id, label in conn.execute(cq)}
    rows = [Row(i, _aware(at), src, label, version, score, terms, latest.get(i))
            for i, at, src, label, version, score, terms in raw]
    return _complete(store, rows, settings)


def _complete(store: Store, rows: list[Row], settings: dict[str, Any] | None) -> list[Row]:
    """Fill in what intake did not store, from the text, and store it: each row costs this once.

    Topic words are missing on rows of an earlier release; FAQ scores on faq routes that had no
    suggestion at hand (the webhook path) and on inquiries agents corrected to faq. At most
    BACKFILL_LIMIT rows (the newest) per call, so that one look after a quiet day stays quick.
    """
    unscored = settings is not None and any(r.route == "faq" and r.faq_score is None for r in rows)
    kb = None
    if unscored:
        # Only then: building the FAQ index takes a moment. The active FAQ version, as agents see it.
        from . import faq

        try:
            version = faq.active_id(store)
            if version is not None:
                kb = faq.load_kb(store, version)
            else:  # no version imported yet (the service imports the bundled one on its first start)
                kb = faq.build(faq.read_entries(Path(settings["DATA_DIR"]) / "faq.csv"))  # type: ignore[index]
        except (DatasetError, faq.VersionError) as exc:
            log.warning("FAQ gaps need the FAQ: %s", exc)
    todo = [r for r in rows if r.terms is None or (kb is not None and r.route == "faq" and r.faq_score is None)]
    todo = todo[:BACKFILL_LIMIT]
    if not todo:
        return rows
    texts = fetch_texts(store, [r.id for r in todo])
    done: dict[int, tuple[str | None, float | None]] = {}
    for r in todo:
        text = texts.get(r.id)
        if text is None:  # purged meanwhile
            continue
        # Words first: scoring then finds the text's tokens in the tokenizer's cache.
        terms = terms_of(text) if r.terms is None else r.terms
        score = r.faq_score
        if kb is not None and r.route == "faq" and score is None:
            score = best_faq_score(text, kb)
        done[r.id] = (terms, score)
    _store_back(store, done)
    return [r._replace(terms=done[r.id][0], faq_score=done[r.id][1]) if r.id in done else r for r in rows]


def fetch_texts(store: Store, ids: set[int] | list[int]) -> dict[int, str]:
    """Return the stored texts of some inquiries by id."""
    ids = sorted(ids)
    out: dict[int, str] = {}
    with store.engine.connect() as conn:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            out.update((i, t) for i, t in conn.execute(select(Inquiry.id, Inquiry.text).where(Inquiry.id.in_(chunk))))
    return out


def _store_back(store: Store, done: dict[int, tuple[str | None, float | None]]) -> None:
    """Store topic words and FAQ scores made at read time (next time they are read, not made)."""
    if not done:
        return
    stmt = (update(Inquiry).where(Inquiry.id == bindparam("b_id"))
            .values(topic_terms=bindparam("b_terms"), faq_score=bindparam("b_score")))
    try:
        with store.engine.begin() as conn:
            conn.execute(stmt, [{"b_id": i, "b_terms": t, "b_score": sc} for i, (t, sc) in done.items()])
    except SQLAlchemyError as exc:  # a read-only replica still gets its answer
        log.warning("could not store topic words and FAQ scores of %d inquiries: %s", len(done), type(exc).__name__)


# -- topics --------------------------------------------------------------------


def _words(doc: str) -> list[str]:
    # Stored words are filtered at intake already; this applies stop words added since.
    return [w for w in doc.split() if w not in STOP_WORDS]


class Topics:
    """TF-IDF of the topic words of some of the rows (idf from those), each vector of unit length."""

    def __init__(self, rows: list[Row], positions: np.ndarray | None = None) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        positions = np.arange(len(rows)) if positions is None else np.unique(np.asarray(positions, dtype=np.intp))
        # Where each row's vector is in the matrix (-1: not vectorized).
        self.index = np.full(len(rows), -1, dtype=np.intp)
        self.index[positions] = np.arange(len(positions))
        docs = [rows[p].terms or "" for p in positions]
        vectorizer = TfidfVectorizer(analyzer=_words, sublinear_tf=True, dtype=np.float32)
        try:
            self.matrix: sparse.csr_matrix = vectorizer.fit_transform(docs).tocsr()
            self.vocabulary = vectorizer.get_feature_names_out()
        except ValueError:  # not one topic word in any of them
            self.matrix = sparse.csr_matrix((len(docs), 0), dtype=np.float32)
            self.vocabulary = np.array([], dtype=object)

    def vectors(self, positions: np.ndarray) -> sparse.csr_matrix:
        """Return the vectors of rows at some positions (all of them vectorized)."""
        idx = self.index[positions]
        if (idx < 0).any():
            raise ValueError("some rows were not vectorized")
        return self.matrix[idx]

    def centroid(self, positions: np.ndarray) -> np.ndarray:
        """Return the unit-length mean vector of some rows."""
        c = np.asarray(self.vectors(positions).mean(axis=0)).ravel()
        norm = float(np.linalg.norm(c))
        return c / norm if norm else c

    def terms(self, centroid: np.ndarray, k: int = TERMS_PER_TOPIC) -> list[str]:
        """Return the words that weigh most in a centroid, as agents read them (one form of each word)."""
        forms: dict[str, list[str]] = {}
        for i in np.argsort(-centroid, kind="stable")[: 3 * k]:
            if centroid[i] <= 0:
                break
            word = str(self.vocabulary[i])
            forms.setdefault(_kanji_stem(word) or word, []).append(word)
        # 引継 ranks with 引き継ぎ and 引き継ぐ: show the first form written as people write it.
        shown = [next((w for w in ws if _kanji_stem(w)), ws[0]) for ws in list(forms.values())[:k]]
        return [_PLACEHOLDER_JA.get(w, w) for w in shown]

    def closest(self, positions: np.ndarray, centroid: np.ndarray, k: int = EXAMPLES) -> list[int]:
        """Return the k positions whose rows are closest to the centroid (what the topic looks like)."""
        sims = self.vectors(positions) @ centroid
        return [int(positions[i]) for i in np.argsort(-sims, kind="stable")[:k]]


def cluster(matrix: sparse.csr_matrix, max_distance: float | None = None,
            min_size: int = MIN_CLUSTER) -> list[np.ndarray]:
    """Group unit-length rows by average-linkage clustering on cosine distance: groups of min_size or more, biggest
    first."""
    max_distance = MAX_DISTANCE if max_distance is None else max_distance
    n = matrix.shape[0]
    if n < max(2, min_size):
        return []
    from sklearn.cluster import AgglomerativeClustering

    distance = 1.0 - (matrix @ matrix.T).toarray()
    np.clip(distance, 0.0, 1.0, out=distance)
    np.fill_diagonal(distance, 0.0)
    labels = AgglomerativeClustering(
        n_clusters=None, metric="precomputed", linkage="average", distance_threshold=max_distance
    ).fit_predict(distance)
    order = np.argsort(labels, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)
    groups = [g for g in groups if len(g) >= min_size]
    # Biggest first; among equals the one with the newest inquiry (rows are newest first).
    groups.sort(key=lambda g: (-len(g), int(g.min())))
    return groups


def centroids(matrix: sparse.csr_matrix, groups: list[np.ndarray]) -> sparse.csr_matrix:
    """Return the unit-length mean vector of each group of rows, one row per group."""
    members = np.concatenate(groups)
    owner = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
    assign = sparse.csr_matrix((np.ones(len(members), dtype=np.float32), (owner, members)),
                               shape=(len(groups), matrix.shape[0]))
    sums = (assign @ matrix).tocsr()
    norms = np.sqrt(np.asarray(sums.multiply(sums).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return (sparse.diags(1.0 / norms) @ sums).tocsr()


def gap_candidates(rows: list[Row], threshold: float) -> np.ndarray:
    """Return the positions of the (newest) rows routed faq whose best FAQ entry scores below the threshold."""
    return np.array([i for i, r in enumerate(rows) if r.route == "faq" and r.faq_score is not None
                     and r.faq_score < threshold], dtype=np.intp)[:MAX_CLUSTER_ROWS]


def emerging_split(rows: list[Row], now: datetime,
                   recent: timedelta = RECENT) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Return the positions of the last hour's rows (newest, capped), an even sample of the earlier ones, and how
    many there are of each."""
    cut = now - recent
    is_recent = np.array([r.received_at >= cut for r in rows], dtype=bool)
    recent_idx, before_idx = np.flatnonzero(is_recent), np.flatnonzero(~is_recent)
    n_before = len(before_idx)
    if n_before > BASELINE_SAMPLE:
        # Shares are estimated on an even sample: every earlier hour is in it, and it costs the same every time.
        before_idx = before_idx[np.linspace(0, n_before - 1, BASELINE_SAMPLE).astype(np.intp)]
    return recent_idx[:MAX_CLUSTER_ROWS], before_idx, len(recent_idx), n_before


def faq_gaps(rows: list[Row], threshold: float, topics: Topics | None = None) -> dict[str, Any]:
    """Cluster the inquiries whose route is faq but whose best FAQ entry scores below `threshold`."""
    candidates = gap_candidates(rows, threshold)
    # Word weights from all the rows, not the candidates alone: among FAQ gaps about an app,
    # アプリ is everywhere, but it is what sets them apart from the day's other inquiries.
    topics = topics or Topics(rows)
    clusters = []
    # Only the biggest are described: each description costs a centroid and a look-up.
    groups = cluster(topics.vectors(candidates)) if len(candidates) else []
    for group in groups[:MAX_CLUSTERS]:
        idx = candidates[group]
        centroid = topics.centroid(idx)
        clusters.append({
            "size": len(idx),
            "terms": topics.terms(centroid),
            "inquiry_ids": [rows[i].id for i in idx],
            "mean_faq_score": round(float(np.mean([rows[i].faq_score for i in idx])), 4),
            "example_ids": [rows[i].id for i in topics.closest(idx, centroid)],
        })
    return {
        "threshold": threshold,
        "candidates": len(candidates),
        "unscored": sum(1 for r in rows if r.route == "faq" and r.faq_score is None),
        "clusters": clusters,
    }


def emerging(rows: list[Row], now: datetime, topics: Topics | None = None,
             recent: timedelta = RECENT) -> dict[str, Any]:
    """Find topics of the last hour whose share grew at least MIN_GROWTH times against the rest of the window."""
    recent_idx, before_idx, n_recent_all, n_before_all = emerging_split(rows, now, recent)
    # Shares are of the rows looked at: the newest of the last hour, a sample of the hours before.
    n_recent, n_before = len(recent_idx), len(before_idx)
    out: dict[str, Any] = {"recent_minutes": int(recent.total_seconds() // 60), "recent": n_recent_all,
                           "before": n_before_all, "min_growth": MIN_GROWTH, "clusters": []}
    if not n_before or n_recent < MIN_CLUSTER:
        return out  # nothing to compare with: every topic would look new
    topics = topics or Topics(rows, np.concatenate([recent_idx, before_idx]))
    recent_m, before_m = topics.vectors(recent_idx), topics.vectors(before_idx)
    groups = cluster(recent_m)
    if not groups:
        return out
    # Every topic at once: similarities of all rows to all centres in two products.
    centres = centroids(recent_m, groups)
    sims_recent = (recent_m @ centres.T).toarray()
    sims_before = (before_m @ centres.T).toarray()
    found = []
    for k, group in enumerate(groups):
        sims = sims_recent[:, k]
        # The same yardstick on both sides: closeness to the topic's centre, not cluster membership.
        bar = max(MIN_SIMILARITY, float(np.quantile(sims[group], 0.2)))
        hit = sims >= bar
        hits_before = int(np.count_nonzero(sims_before[:, k] >= bar))
        share_recent = int(hit.sum()) / n_recent
        # Add-one smoothing: a topic never seen before grows by a large but finite factor.
        growth = share_recent / ((hits_before + 1) / (n_before + 1))
        if hit.sum() < MIN_CLUSTER or growth < MIN_GROWTH:
            continue
        hits = recent_idx[hit][np.argsort(-sims[hit], kind="stable")]
        found.append({
            "size": len(hits),
            "growth": round(float(growth), 2),
            "share_recent": round(share_recent, 4),
            "share_before": round(hits_before / n_before, 4),
            "terms": topics.terms(centres[k].toarray().ravel()),
            "inquiry_ids": [rows[i].id for i in hits],
            "example_ids": [rows[i].id for i in hits[:EXAMPLES]],
        })
    found.sort(key=lambda c: (-c["growth"], -c["size"]))
    out["clusters"] = found[:MAX_CLUSTERS]
    return out


# -- corrections and volume ----------------------------------------------------


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def corrections(rows: list[Row], alert: float) -> dict[str, Any]:
    """Return how often agents changed the route, per predicted label and per model version, and the confusion."""
    index = {label: i for i, label in enumerate(LABELS)}
    matrix = [[0] * len(LABELS) for _ in LABELS]
    per_label = {label: {"inquiries": 0, "corrected": 0} for label in LABELS}
    per_version: dict[str, dict[str, int]] = {}
    confirmed = 0
    for r in rows:
        version = per_version.setdefault(r.model_version, {"inquiries": 0, "corrected": 0})
        version["inquiries"] += 1
        if r.label in per_label:
            per_label[r.label]["inquiries"] += 1
        if r.corrected is None:
            continue
        if r.label in index and r.corrected in index:
            matrix[index[r.label]][index[r.corrected]] += 1
        if r.corrected == r.label:
            confirmed += 1  # an agent confirmed the route: not a correction
            continue
        version["corrected"] += 1
        if r.label in per_label:
            per_label[r.label]["corrected"] += 1
    for d in (*per_label.values(), *per_version.values()):
        d["rate"] = _rate(d["corrected"], d["inquiries"])  # type: ignore[assignment]
    for d in per_label.values():
        d["alert"] = d["rate"] > alert  # type: ignore[assignment]
    return {
        "total": sum(d["corrected"] for d in per_label.values()),
        "confirmed": confirmed,
        "alert_rate": alert,
        "alerts": [label for label, d in per_label.items() if d["alert"]],
        "per_label": per_label,
        "per_version": dict(sorted(per_version.items())),
        "confusion": {"labels": list(LABELS), "matrix": matrix, "rows": "predicted", "columns": "corrected"},
    }


def volume(rows: list[Row], start: datetime, hours: int) -> dict[str, Any]:
    """Return inquiries per hour per route and per channel, over `hours` hourly slots from `start`."""
    origin = start.timestamp()
    slots = (np.fromiter((r.received_at.timestamp() for r in rows), dtype=np.float64, count=len(rows))
             - origin) // 3600
    inside = (slots >= 0) & (slots < hours)
    slot = slots.astype(np.intp)

    def per_hour(keys: list[str]) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        key_arr = np.array(keys, dtype=object)
        for key in sorted(set(key_arr[inside].tolist())):
            mask = inside & (key_arr == key)
            out[key] = np.bincount(slot[mask], minlength=hours).tolist()
        return out

    labels, sources = [r.label for r in rows], [r.source for r in rows]
    by_route = {label: [0] * hours for label in LABELS} | per_hour(labels)
    totals: dict[str, Counter[str]] = {}
    for i in np.flatnonzero(inside):
        totals.setdefault(sources[i], Counter())[labels[i]] += 1
    return {
        "hours": [(start + timedelta(hours=h)).isoformat() for h in range(hours)],
        "routes": {label: by_route[label] for label in (*LABELS, *sorted(set(by_route) - set(LABELS)))},
        "channels": per_hour(sources),
        "channel_routes": {src: {label: c[label] for label in LABELS} for src, c in sorted(totals.items())},
        "total": int(inside.sum()),
    }


# -- all together --------------------------------------------------------------


def _examples(store: Store, sections: list[list[dict[str, Any]]]) -> None:
    """Replace each cluster's example_ids with masked example texts."""
    ids = {i for clusters in sections for c in clusters for i in c["example_ids"]}
    texts = fetch_texts(store, ids) if ids else {}
    for clusters in sections:
        for c in clusters:
            c["examples"] = [{"inquiry_id": i, "text": redact(texts[i])} for i in c.pop("example_ids") if i in texts]


def compute(store: Store, hours: int, settings: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """Return volume, FAQ gaps, emerging topics and corrections over the last `hours` hours."""
    started = time.perf_counter()
    now = (now or utcnow()).astimezone(UTC)
    start = window_start(now, hours)
    rows = load_rows(store, start, settings=settings)
    # One vocabulary for both sections, over only the rows they look at.
    recent_idx, before_idx, _, _ = emerging_split(rows, now)
    topics = Topics(rows, np.concatenate([gap_candidates(rows, settings["FAQ_GAP_SCORE"]), recent_idx, before_idx]))
    gaps = faq_gaps(rows, settings["FAQ_GAP_SCORE"], topics)
    new = emerging(rows, now, topics)
    _examples(store, [gaps["clusters"], new["clusters"]])
    return {
        "window_hours": hours,
        "since": start.isoformat(),
        "until": now.isoformat(),
        "rows": len(rows),
        "capped": len(rows) >= MAX_ROWS,
        "max_rows": MAX_ROWS,
        "volume": volume(rows, start, hours),
        "faq_gaps": gaps,
        "emerging": new,
        "corrections": corrections(rows, settings["CORRECTION_ALERT"]),
        "seconds": round(time.perf_counter() - started, 3),
    }


_cache: dict[tuple[Any, ...], tuple[float, dict[str, Any]]] = {}
_cache_lock = threading.Lock()


def cached(store: Store, hours: int, settings: dict[str, Any]) -> dict[str, Any]:
    """Return `compute(...)`, reusing a result younger than a minute (one computation at a time)."""
    key = (store.url, hours, settings["FAQ_GAP_SCORE"], settings["CORRECTION_ALERT"], settings["DATA_DIR"])
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
            return hit[1]
        result = compute(store, hours, settings)
        for stale in [k for k, (at, _) in _cache.items() if time.monotonic() - at >= CACHE_SECONDS]:
            del _cache[stale]
        _cache[key] = (time.monotonic(), result)
        return result


def clear_cache() -> None:
    """Forget cached results (tests, and after a purge)."""
    with _cache_lock:
        _cache.clear()


def update_gauges(store: Store, settings: dict[str, Any]) -> None:
    """Set the Prometheus gauges from the (cached) insight of the default window."""
    from . import metrics

    result = cached(store, settings["INSIGHT_HOURS"], settings)
    for label, d in result["corrections"]["per_label"].items():
        metrics.CORRECTION_RATE.labels(label).set(d["rate"])
    clusters = result["faq_gaps"]["clusters"]
    metrics.FAQ_GAP_LARGEST.set(clusters[0]["size"] if clusters else 0)


def refresh_gauges() -> None:
    """Update the insight gauges before /metrics answers; a failure is logged, never raised."""
    from flask import current_app

    try:
        update_gauges(current_app.extensions["triage.store"], current_app.config)
    except Exception:  # the scrape must answer whatever insight runs into
        log.exception("insight gauges not updated")


def format_text(r: dict[str, Any]) -> str:
    """Render an insight result as `triage insights` prints it."""
    lines: list[str] = []
    v, c, gaps, new = r["volume"], r["corrections"], r["faq_gaps"], r["emerging"]
    capped = f" (the newest {r['max_rows']:,} only)" if r["capped"] else ""
    lines.append(f"Last {r['window_hours']} h since {r['since']}: {r['rows']:,} inquiries{capped}.")
    routes = ", ".join(f"{label} {sum(n)}" for label, n in v["routes"].items())
    channels = ", ".join(f"{src} {sum(n)}" for src, n in v["channels"].items()) or "-"
    lines.append(f"  by route: {routes}; by channel: {channels}")
    if v["total"]:
        busiest = max(range(len(v["hours"])), key=lambda h: sum(n[h] for n in v["routes"].values()))
        lines.append(f"  busiest hour: {v['hours'][busiest]} ({sum(n[busiest] for n in v['routes'].values())})")
    lines.append(f"\nCorrections: {c['total']} route(s) changed by agents, {c['confirmed']} confirmed.")
    for label, d in c["per_label"].items():
        warn = f"  <- above {c['alert_rate']:.0%}" if d["alert"] else ""
        lines.append(f"  {label:<13} {d['corrected']:>5} of {d['inquiries']:<6} {d['rate']:>7.1%}{warn}")
    for version, d in c["per_version"].items():
        lines.append(f"  model {version}: {d['corrected']} of {d['inquiries']} ({d['rate']:.1%})")
    lines.append(f"\nFAQ gaps: {gaps['candidates']} faq inquiries scored below {gaps['threshold']:.2f} "
                 f"against the FAQ; {len(gaps['clusters'])} topic(s):")
    lines += _cluster_lines(gaps["clusters"], lambda g: f"{g['size']} inquiries")
    lines.append(f"\nEmerging in the last {new['recent_minutes']} min ({new['recent']} inquiries, "
                 f"against {new['before']} earlier):")
    lines += _cluster_lines(new["clusters"], lambda e: f"x{e['growth']:g}, {e['size']} inquiries")
    return "\n".join(lines) + "\n"


def _cluster_lines(clusters: list[dict[str, Any]], head: Any) -> list[str]:
    lines = []
    if not clusters:
        lines.append("  none")
    for n, cl in enumerate(clusters, 1):
        lines.append(f"  {n}. {head(cl)}: {' '.join(cl['terms'])}")
        for ex in cl["examples"]:
            text = " ".join(ex["text"].split())
            lines.append(f"     #{ex['inquiry_id']}: {text[:80]}{'…' if len(text) > 80 else ''}")
    return lines
