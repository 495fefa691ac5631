"""`python -m bench.claims`: what claims extraction costs next to classifying the same inquiry.

Issue 15 allows the extraction at most 20% of the classify time per inquiry.
Each path runs over every text of the CSV in its own pass (so that no path
profits from another's per-thread tokenizer cache), several rounds; a text's
time is its fastest round (the others are the shared machine's noise).

Two baselines, both reported:

- "route": ``Router.predict`` alone, the leanest classification (the batch
  API and the webhook need no explanation);
- "answer": ``Router.predict_explained`` plus FAQ suggestions for faq
  routes, what ``/api/v1/classify`` and the agent page compute besides the claim.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

TARGET = 0.20


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.claims", description=__doc__.split("\n\n")[0])
    p.add_argument("--csv", default=str(ROOT / "data" / "test.csv"), help="texts to time (column 'text')")
    p.add_argument("--models-dir", default=None, help="model versions (default: TRIAGE_MODELS_DIR or models/; "
                   "the bundled default is trained there first when it holds none)")
    p.add_argument("--rounds", type=int, default=5, help="passes over the texts per path (the fastest counts)")
    p.add_argument("--limit", type=int, default=0, help="use only the first N texts (0: all)")
    p.add_argument("--out", default=None, help="also write every figure as JSON to this file")
    p.add_argument("--check", action="store_true", help=f"exit 1 when extraction exceeds {TARGET:.0%} of classify")
    return p.parse_args(argv)


def _load(models_dir: str | None) -> Any:
    from triage import config
    from triage.lifecycle import ensure_model
    from triage.registry import Registry

    settings = config.from_env()
    registry = Registry(models_dir or settings["MODELS_DIR"])
    version, trained = ensure_model(registry, Path(settings["DATA_DIR"]), settings["GATE_CSV"] or None,
                                    progress=lambda m: print(f"  first run: {m}", file=sys.stderr))
    if trained:
        print(f"trained the default model {version} into {registry.root}/", file=sys.stderr)
    return registry.load(version), settings


def _fastest(fn: Any, texts: list[str], rounds: int) -> list[float]:
    """Return each text's fastest time in seconds over the rounds (one whole pass per round)."""
    clock = time.perf_counter
    best = [float("inf")] * len(texts)
    for _ in range(rounds):
        for i, text in enumerate(texts):
            t0 = clock()
            fn(text)
            best[i] = min(best[i], clock() - t0)
    return best


def _dist(seconds: list[float]) -> dict[str, float]:
    us = sorted(s * 1e6 for s in seconds)
    return {"mean_us": statistics.fmean(us), "p50_us": us[len(us) // 2], "p95_us": us[int(len(us) * 0.95)],
            "max_us": us[-1]}


def main(argv: list[str] | None = None) -> int:
    """Time extraction against both classify baselines; print a table (and JSON with --out)."""
    args = parse_args(argv)
    from triage import claims, dataset
    from triage.faq import build, read_entries

    texts = [r.text for r in dataset.read(args.csv, require_label=False).rows]
    if args.limit:
        texts = texts[: args.limit]
    loaded, settings = _load(args.models_dir)
    # The bundled FAQ, as a fresh install serves it (the benchmark needs no database).
    router, kb = loaded.router, build(read_entries(Path(settings["DATA_DIR"]) / "faq.csv"))

    def answer(text: str) -> None:
        p, _ = router.predict_explained(text)
        if p.label == "faq":
            kb.suggest(text)

    paths = {"extract": claims.extract, "route": router.predict, "answer": answer}
    for fn in paths.values():  # warm up: Tagger per thread, compiled patterns, lazy imports
        fn(texts[0])
    times: dict[str, list[float]] = {}
    load_before = os.getloadavg()[0]
    for name, fn in paths.items():
        times[name] = _fastest(fn, texts, args.rounds)
    figures: dict[str, Any] = {name: _dist(t) for name, t in times.items()}
    for base in ("route", "answer"):
        per_text = sorted(e / c for e, c in zip(times["extract"], times[base], strict=True) if c > 0)
        figures[f"extract_vs_{base}"] = {
            "ratio_of_means": statistics.fmean(times["extract"]) / statistics.fmean(times[base]),
            "median_ratio": per_text[len(per_text) // 2],
            "p95_ratio": per_text[int(len(per_text) * 0.95)],
        }
    shown = Path(args.csv).resolve()
    csv_name = str(shown.relative_to(ROOT)) if shown.is_relative_to(ROOT) else args.csv
    report = {"csv": csv_name, "texts": len(texts), "rounds": args.rounds, "model_version": loaded.version,
              "target": TARGET, "machine_load": {"loadavg_1min_before": load_before, "loadavg_1min_after": os.getloadavg()[0]}, **figures,
              "meets_target": all(figures[f"extract_vs_{b}"]["ratio_of_means"] <= TARGET for b in ("route", "answer"))}

    print(f"Claims extraction vs classify, {len(texts)} texts of {csv_name}, fastest of {args.rounds} rounds "
          f"(model {loaded.version}; load average {os.getloadavg()[0]:.1f})\n")
    print("| path | mean µs | p50 µs | p95 µs |")
    print("|---|---:|---:|---:|")
    labels = {"extract": "claims.extract", "route": "Router.predict (route)",
              "answer": "predict_explained + FAQ (classify answer)"}
    for name, label in labels.items():
        d = figures[name]
        print(f"| {label} | {d['mean_us']:.0f} | {d['p50_us']:.0f} | {d['p95_us']:.0f} |")
    print("\n| extraction as a share of | mean/mean | median per text | p95 per text |")
    print("|---|---:|---:|---:|")
    for base in ("route", "answer"):
        r = figures[f"extract_vs_{base}"]
        print(f"| {labels[base]} | {r['ratio_of_means']:.1%} | {r['median_ratio']:.1%} | {r['p95_ratio']:.1%} |")
    verdict = "within" if report["meets_target"] else "OVER"
    print(f"\nTarget: at most {TARGET:.0%} of the classify time per inquiry (mean/mean, both baselines): {verdict}.")
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 1 if args.check and not report["meets_target"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
