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

from bench import ROOT, shown

TARGET = 0.20


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.claims", description=__doc__.split("\n\n")[0])
    p.add_argument("--csv", default=str(ROOT / "data" / "test.csv"), help="texts to time (column 'text')")
    p.add_argument("--models-dir", default=None, help="model versions (default: TRIAGE_MODELS_DIR or models/; "
                   "the bundled default is trained there first when it holds none)")
    p.add_argument("--rounds", type=int, default=5, help="passes over the texts per path (the fastest counts)")
    p.add_argument("--limit", type=int, default=0, help="use only the first N texts (0: all)")
    p.add_argument("--out", default=None, help="also write every figure as JSON to this file")
    p.add_argument("--check", action="store_true", help=f"exit 1 when extraction exceeds {TARGET:.0%}% of classify")
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


def _spread(values: list[float]) -> tuple[float, float, float]:
    """Mean, median and 95th percentile."""
    return statistics.fmean(values), statistics.median(values), statistics.quantiles(values, n=20)[-1]


def main(argv: list[str] | None = None) -> int:
    """Time extraction against both classify baselines; print a table (and JSON with --out)."""
    args = parse_args(argv)
    from triage import claims, dataset
    from triage.faq import build, read_entries

    texts = [r.text for r in dataset.read(args.csv, require_label=False).rows][: args.limit or None]
    loaded, settings = _load(args.models_dir)
    # The bundled FAQ, as a fresh install serves it (the benchmark needs no database).
    router, kb = loaded.router, build(read_entries(Path(settings["DATA_DIR"]) / "faq.csv"))

    def answer(text: str) -> None:
        p, _ = router.predict_explained(text)
        if p.label == "faq":
            kb.suggest(text)

    paths = {"extract": claims.extract, "route": router.predict, "answer": answer}
    labels = {"extract": "claims.extract", "route": "Router.predict (route)",
              "answer": "predict_explained + FAQ (classify answer)"}
    for fn in paths.values():  # warm up: Tagger per thread, compiled patterns, lazy imports
        fn(texts[0])
    load_before = os.getloadavg()[0]
    times = {name: _fastest(fn, texts, args.rounds) for name, fn in paths.items()}
    report: dict[str, Any] = {"csv": shown(args.csv),
                              "texts": len(texts), "rounds": args.rounds, "model_version": loaded.version,
                              "target": TARGET, "machine_load": {"loadavg_1min_before": load_before,
                                                                 "loadavg_1min_after": os.getloadavg()[0]}}
    print(f"Claims extraction vs classify, {len(texts)} texts of {report['csv']}, fastest of {args.rounds} rounds "
          f"(model {loaded.version}; load average {os.getloadavg()[0]:.1f})\n")
    print("| path | mean µs | p50 µs | p95 µs |\n|---|---:|---:|---:|")
    for name, t in times.items():
        report[name] = dict(zip(("mean_us", "p50_us", "p95_us"), _spread([s * 1e6 for s in t]), strict=True))
        print(f"| {labels[name]} | " + " | ".join(f"{v:.0f}" for v in report[name].values()) + " |")
    print("\n| extraction as a share of | mean/mean | median per text | p95 per text |\n|---|---:|---:|---:|")
    for base in ("route", "answer"):
        per_text = [e / c for e, c in zip(times["extract"], times[base], strict=True) if c > 0]
        _, median, p95 = _spread(per_text)
        r = report[f"extract_vs_{base}"] = {"ratio_of_means": statistics.fmean(times["extract"])
                                            / statistics.fmean(times[base]), "median_ratio": median, "p95_ratio": p95}
        print(f"| {labels[base]} | " + " | ".join(f"{v:.1%}" for v in r.values()) + " |")
    report["meets_target"] = all(report[f"extract_vs_{b}"]["ratio_of_means"] <= TARGET for b in ("route", "answer"))
    print(f"\nTarget: at most {TARGET:.0%} of the classify time per inquiry (mean/mean, both baselines): "
          f"{'within' if report['meets_target'] else 'OVER'}.")
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 1 if args.check and not report["meets_target"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
