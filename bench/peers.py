"""Section 2: the same pipeline with Janome or SudachiPy as tokenizer, and a character-n-gram-only model."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.common import (
    CpuWatch,
    Inquiries,
    Settings,
    median,
    one_blas_thread,
    package_version,
    stratified_sample,
)


def _variants() -> list[tuple[str, str, Callable[[], Any] | None, str | None]]:
    """Return (name, tokenizer description, tokenizer factory or None, reason it is skipped)."""
    out: list[tuple[str, str, Callable[[], Any] | None, str | None]] = []
    for name, desc, module, cls in (
        ("Janome", "janome {v}, bundled IPADIC, base forms", "janome", "JanomeTokenizer"),
        ("SudachiPy", "sudachipy {v} + sudachidict-core {d}, mode A, dictionary forms", "sudachipy", "SudachiTokenizer"),
    ):
        try:
            __import__(module)
            if module == "sudachipy":
                __import__("sudachidict_core")
        except ImportError as exc:
            out.append((name, desc.format(v="-", d="-"), None,
                        f"{type(exc).__name__}: {exc} (install the bench extra: pip install -e '.[bench]')"))
            continue
        from bench import tokenizers

        out.append((name, desc.format(v=package_version(module), d=package_version("sudachidict-core")),
                    getattr(tokenizers, cls), None))
    return out


CHUNK = 50


def run(settings: Settings, data: Inquiries, main_pipeline: Any, main_fit_seconds: float) -> dict[str, Any]:
    """Train each peer on the same rows, score it on the same test rows, time it per inquiry."""
    from triage.model import build_pipeline, metrics
    from triage.text import JapaneseTokenizer, normalize_many

    test_texts, test_labels = data.test_texts, data.test_labels
    if settings.peer_test_rows is not None and settings.peer_test_rows < len(test_texts):
        idx = stratified_sample(test_labels, settings.peer_test_rows)
        test_texts, test_labels = [test_texts[i] for i in idx], [test_labels[i] for i in idx]
    normalized = normalize_many(test_texts)

    # (name, tokenizer description, fitted pipeline, fit seconds, tokenizer or None, skipped reason)
    models: list[dict[str, Any]] = [{
        "name": "triage (fugashi + unidic-lite)",
        "tokenizer": f"fugashi {package_version('fugashi')} + unidic-lite {package_version('unidic-lite')}, lemmas",
        "pipe": main_pipeline, "fit_seconds": main_fit_seconds, "tok": JapaneseTokenizer(), "skipped": None,
    }]
    for name, desc, factory, reason in _variants():
        if factory is None:
            models.append({"name": name, "tokenizer": desc, "skipped": reason})
            continue
        pipe = build_pipeline().set_params(features__words__tokenizer=factory())
        start = time.perf_counter()
        with one_blas_thread():
            pipe.fit(data.train_texts, data.train_labels)
        models.append({"name": name, "tokenizer": desc, "pipe": pipe, "fit_seconds": time.perf_counter() - start,
                       "tok": factory(), "skipped": None})
    pipe = build_pipeline().set_params(features__words="drop")
    start = time.perf_counter()
    with one_blas_thread():
        pipe.fit(data.train_texts, data.train_labels)
    models.append({"name": "char 1-3-grams only", "tokenizer": "none (character n-grams of the normalized text)",
                   "pipe": pipe, "fit_seconds": time.perf_counter() - start, "tok": None, "skipped": None})

    live = [m for m in models if not m["skipped"]]
    chunks = [(i, min(i + CHUNK, len(test_texts))) for i in range(0, len(test_texts), CHUNK)]
    times: dict[str, list[float]] = {m["name"]: [] for m in live}
    tok_times: dict[str, list[float]] = {m["name"]: [] for m in live}
    proba: dict[str, list[Any]] = {m["name"]: [] for m in live}
    clock = time.perf_counter
    with CpuWatch() as watch:
        for r in range(settings.peer_repeats):
            for c, (lo, hi) in enumerate(chunks):
                # All models on the same chunk back to back, in a rotating order:
                # load from elsewhere then hits every model alike.
                k = (c + r) % len(live)
                for m in live[k:] + live[:k]:
                    t0 = clock()
                    p = m["pipe"].predict_proba(test_texts[lo:hi])
                    t1 = clock()
                    if m["tok"] is not None:
                        for t in normalized[lo:hi]:
                            m["tok"](t)
                    t2 = clock()
                    times[m["name"]].append((t1 - t0) / (hi - lo))
                    tok_times[m["name"]].append((t2 - t1) / (hi - lo))
                    if r == 0:
                        proba[m["name"]].append(p)

    rows: list[dict[str, Any]] = []
    for m in models:
        if m["skipped"]:
            rows.append({"name": m["name"], "tokenizer": m["tokenizer"], "skipped": m["skipped"]})
            continue
        classes = list(m["pipe"].classes_)
        predicted = [classes[i] for i in np.vstack(proba[m["name"]]).argmax(axis=1)]
        score = metrics(test_labels, predicted)
        features = m["pipe"].named_steps["features"]
        rows.append({
            "name": m["name"],
            "tokenizer": m["tokenizer"],
            "fit_seconds": m["fit_seconds"],
            "ms_per_inquiry": median(times[m["name"]]) * 1e3,
            "tokenizer_ms_per_inquiry": median(tok_times[m["name"]]) * 1e3 if m["tok"] is not None else None,
            "macro_f1": score["macro_f1"],
            "accuracy": score["accuracy"],
            "escalation_recall": score["per_class"]["escalation"]["recall"],
            "vocabulary": {n: len(t.vocabulary_) for n, t in features.transformer_list if not isinstance(t, str)},
            "skipped": None,
        })
    base = rows[0]["ms_per_inquiry"]
    for r in rows:
        if not r["skipped"]:
            r["time_ratio"] = r["ms_per_inquiry"] / base
    return {"test_rows": len(test_texts), "train_rows": len(data.train_texts), "rows": rows,
            "chunk": CHUNK, "repeats": settings.peer_repeats, "cpu": watch.summary()}
