"""Section 1: the classification pipeline against raw fugashi tokenization, plus a profile."""

from __future__ import annotations

import cProfile
import pstats
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ROOT, CpuWatch, Settings, dist, median, package_of, repeat_to

BATCH_SIZE = 100  # the same as one /api/v1/classify/batch request of the HTTP section
MAX_BATCH_RATIO = 2.5
MAX_SINGLE_MEDIAN_MS = 0.5
RAW = "raw fugashi tokenization"
BATCH = "batch pipeline"


def run(settings: Settings, router: Any, kb: Any, texts: list[str]) -> dict[str, Any]:
    """Time raw tokenization, the batch pipeline and its stages, and single calls on the same texts."""
    from triage.text import JapaneseTokenizer, normalize_many, raw_tokenize

    texts = repeat_to(texts, settings.count)
    pipe = router.pipeline
    words, chars = (t for _, t in pipe.named_steps["features"].transformer_list)
    clf = pipe.named_steps["clf"]
    tokenizer = JapaneseTokenizer()
    chunks = [texts[i : i + BATCH_SIZE] for i in range(0, len(texts), BATCH_SIZE)]
    normalized = [normalize_many(c) for c in chunks]
    features = [pipe.named_steps["features"].transform(c) for c in normalized]

    # Every path works on one chunk of BATCH_SIZE texts; the stage paths are
    # the fitted pipeline's own steps (what predict_proba runs), each alone.
    paths: dict[str, Callable[[int], object]] = {
        RAW: lambda i: [raw_tokenize(t) for t in chunks[i]],
        BATCH: lambda i: router.predict_many(chunks[i]),
        "normalize (NFKC, PII placeholders)": lambda i: normalize_many(chunks[i]),
        "JapaneseTokenizer alone (lemmas, POS filter)": lambda i: [tokenizer(t) for t in normalized[i]],
        "word 1-2-gram TF-IDF (tokenizer included)": lambda i: words.transform(normalized[i]),
        "char 1-3-gram TF-IDF": lambda i: chars.transform(normalized[i]),
        "logistic regression": lambda i: clf.predict_proba(features[i]),
    }
    # Warm up every path once (Tagger per thread, lazy imports, caches).
    for fn in paths.values():
        fn(0)
    router.predict(texts[0])
    router.explain(texts[0], "faq")
    kb.suggest(texts[0])

    times: dict[str, list[float]] = {k: [] for k in paths}
    ratios: list[float] = []
    names = list(paths)
    clock = time.perf_counter
    with CpuWatch() as watch:
        for r in range(settings.rounds):
            for i in range(len(chunks)):
                # Paths run back to back on the same chunk, in a rotating order, so
                # that a burst of load from elsewhere hits both sides of a ratio.
                k = (i + r) % len(names)
                for name in names[k:] + names[:k]:
                    t0 = clock()
                    paths[name](i)
                    times[name].append(clock() - t0)
                ratios.append(times[BATCH][-1] / times[RAW][-1])
    per_text_ms = {k: median(v) / BATCH_SIZE * 1e3 for k, v in times.items()}

    single = _single_calls(settings, router, kb, texts)
    ratio = median(ratios)
    single_median = single["predict"]["median"]
    stages = {k: v for k, v in per_text_ms.items() if k not in (RAW, BATCH)}
    return {
        "raw_doc": (raw_tokenize.__doc__ or "").strip().splitlines()[0] if raw_tokenize.__doc__ else "",
        "texts": len(texts),
        "distinct_texts": len(set(texts)),
        "rounds": settings.rounds,
        "pairs": len(ratios),
        "batch_size": BATCH_SIZE,
        "raw_ms_per_text": per_text_ms[RAW],
        "batch_ms_per_text": per_text_ms[BATCH],
        "ratio": ratio,
        "ratio_p10": float(np.percentile(ratios, 10)),
        "ratio_p90": float(np.percentile(ratios, 90)),
        "ratio_of_sums": sum(times[BATCH]) / sum(times[RAW]),
        # timeit's convention: the fastest run is the least disturbed one.
        "ratio_of_minimums": min(times[BATCH]) / min(times[RAW]),
        "stages_ms_per_text": stages,
        "stage_ratios": {k: v / per_text_ms[RAW] for k, v in stages.items()},
        "single": single,
        "cpu": watch.summary(),
        "targets": {
            "batch": {"limit": MAX_BATCH_RATIO, "value": ratio, "met": ratio <= MAX_BATCH_RATIO},
            "single": {"limit": MAX_SINGLE_MEDIAN_MS, "value": single_median,
                       "met": single_median <= MAX_SINGLE_MEDIAN_MS},
        },
    }


def analyse_fn(router: Any) -> Callable[[str], dict[str, Any]]:
    """Return the service's own per-request analysis (`triage.intake.analyse`) bound to this router.

    It needs a Flask application context only for its settings (the FAQ file,
    the answer placeholders); no request, database or server is involved.
    """
    from flask import Flask

    from triage import config
    from triage.intake import analyse
    from triage.registry import LoadedModel

    app = Flask("bench")
    app.config.update(config.from_env({}))
    app.config["DATA_DIR"] = str(ROOT / "data")
    loaded = LoadedModel("bench", router, {}, "")

    def run(text: str) -> dict[str, Any]:
        with app.app_context():
            return analyse(text, loaded=loaded)

    return run


def _single_calls(settings: Settings, router: Any, kb: Any, texts: list[str]) -> dict[str, Any]:
    """Latency of one inquiry at a time: the floor, route alone, its parts, and the whole per-request work."""
    from triage.text import raw_tokenize

    full = analyse_fn(router)
    full(texts[0])  # builds the FAQ index of the app's settings once
    sample = texts[: settings.single_calls]
    times: dict[str, list[float]] = {"raw_tokenize": [], "predict": [], "explain": [], "suggest": [], "full": []}
    clock = time.perf_counter
    faq_routes = 0
    for text in sample:
        t0 = clock()
        raw_tokenize(text)
        t1 = clock()
        p = router.predict(text)
        t2 = clock()
        router.explain(text, p.label)
        t3 = clock()
        kb.suggest(text)
        t4 = clock()
        # The API's per-request work: route, explanation, and FAQ suggestions
        # when the route is faq, exactly as the service computes them.
        result = full(text)
        t5 = clock()
        faq_routes += result["label"] == "faq"
        times["raw_tokenize"].append(t1 - t0)
        times["predict"].append(t2 - t1)
        times["explain"].append(t3 - t2)
        times["suggest"].append(t4 - t3)
        times["full"].append(t5 - t4)
    out: dict[str, Any] = {k: dist(v) for k, v in times.items()}
    out["faq_share"] = faq_routes / max(1, len(sample))
    out["samples_ms"] = {k: [round(x * 1e3, 4) for x in v] for k, v in times.items() if k in ("predict", "full")}
    return out


def profile(settings: Settings, router: Any, kb: Any, texts: list[str]) -> dict[str, Any]:
    """cProfile the batch path and the single-request path; return the top functions by own time."""
    sample = repeat_to(texts, settings.profile_calls)

    def batch() -> None:
        for i in range(0, len(sample), BATCH_SIZE):
            router.predict_many(sample[i : i + BATCH_SIZE])

    full = analyse_fn(router)
    full(sample[0])

    def single() -> None:
        for text in sample:
            full(text)

    def suggest() -> None:
        for text in sample:
            kb.suggest(text)

    result = {}
    for name, fn in (("batch: Router.predict_many", batch),
                     ("single request: triage.intake.analyse (route, explanation, FAQ on faq routes)", single),
                     ("KnowledgeBase.suggest alone", suggest)):
        prof = cProfile.Profile()
        prof.enable()
        fn()
        prof.disable()
        stats = pstats.Stats(prof)
        total = stats.total_tt  # type: ignore[attr-defined]
        rows = []
        packages: dict[str, float] = {}
        for (file, line, func), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
            key = package_of(file, func)
            packages[key] = packages.get(key, 0.0) + (tottime / total if total else 0.0)
            rows.append({
                "function": f"{_short(file)}:{line}({func})",
                "calls": ncalls,
                "own_ms_per_text": tottime / len(sample) * 1e3,
                "cum_ms_per_text": cumtime / len(sample) * 1e3,
                "own_share": tottime / total if total else 0.0,
            })
        rows.sort(key=lambda r: -r["own_ms_per_text"])
        result[name] = {"texts": len(sample), "total_ms_per_text": total / len(sample) * 1e3, "top": rows[:12],
                        "package_shares": dict(sorted(packages.items(), key=lambda kv: -kv[1])[:8])}
    return result


def _short(file: str) -> str:
    if file == "~":
        return "builtin"
    path = Path(file)
    for anchor in ("site-packages", "lib"):
        if anchor in path.parts:
            i = len(path.parts) - 1 - path.parts[::-1].index(anchor)
            return "/".join(path.parts[i + 1 :])
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return path.name
