"""Model designs compared by cross-validation grouped by writer (the figures of docs/model.md).

    python -m bench.designs [--out bench/results/designs.json] [--test data/test.csv data/test_far.csv]

Each design is trained with `triage.model.train` on data/inquiries.csv with
folds grouped by the `writer` column; the choice is made on those grouped
out-of-fold figures only, by the routing policy's own objective (`cost`: wrong
routes, a missed escalation counting ESCALATION_MISS_COST times). With --test, each design is then fitted on all
rows and scored on the given labelled CSVs, for the record (never for the
choice: a design picked on a test set would make its figures worthless).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from bench import ROOT, shown
from triage import dataset
from triage.features import read_lexicon
from triage.model import ESCALATION_MISS_COST, calibration_error, confident_errors, metrics, train

# Each design's arguments of `triage.model.train` beyond PLAIN (lexicon True: the shipped data/lexicon.csv).
PLAIN = {"sentence_inputs": False, "lexicon": False, "negation": False, "quotes": False}
SHIPPED = {"lexicon": True, "negation": True, "quotes": True}
DESIGNS: dict[str, dict[str, Any]] = {
    "whole text": {},
    "whole text + lexicon (previous design)": {"lexicon": True},
    "whole text + best sentences": {"sentence_inputs": True},
    "whole text + best sentences + lexicon": {"sentence_inputs": True, "lexicon": True},
    "whole text + lexicon + negated clauses": {"lexicon": True, "negation": True},
    "whole text + best sentences + lexicon + negated clauses": {"sentence_inputs": True, "lexicon": True,
                                                                 "negation": True},
    "whole text + lexicon + negated clauses + quotes (shipped)": SHIPPED,
    "whole text + lexicon + negated clauses + quotes + concept counts": {**SHIPPED, "concept_inputs": True},
    "whole text + best sentences + lexicon + negated clauses + quotes + concept counts": {
        **SHIPPED, "sentence_inputs": True, "concept_inputs": True},
    "whole text + lexicon + negated clauses + quotes, min_df=3": {**SHIPPED, "min_df": 3},
    "whole text + lexicon + negated clauses + quotes, C=3": {**SHIPPED, "c": 3.0},
    "whole text + lexicon + negated clauses + quotes, C=30": {**SHIPPED, "c": 30.0},
}


def _summary(labels: list[str], predictions: list[Any]) -> dict[str, Any]:
    m = metrics(labels, [p.label for p in predictions])
    conf = confident_errors([""] * len(labels), labels, predictions)
    esc = conf["per_label"]["escalation"]
    errors = sum(p.label != y for p, y in zip(predictions, labels, strict=True))
    misses = sum(p.label != "escalation" and y == "escalation" for p, y in zip(predictions, labels, strict=True))
    return {
        "n": m["n"],
        # The routing policy's own objective: a missed escalation counts as ESCALATION_MISS_COST wrong routes.
        "cost": round(ESCALATION_MISS_COST * misses + (errors - misses), 1),
        "accuracy": round(m["accuracy"], 4),
        "macro_f1": round(m["macro_f1"], 4),
        "escalation_recall": round(m["per_class"]["escalation"]["recall"], 4),
        "compensation_recall": round(m["per_class"]["compensation"]["recall"], 4),
        "confident_escalation_misses": round(esc["count"] / max(1, esc["support"]), 4),
        "needs_review": round(sum(p.needs_review for p in predictions) / max(1, len(predictions)), 4),
        "calibration_error": round(calibration_error(labels, predictions), 4),
    }


def _by(table: dataset.Table, column: str, labels: list[str], predictions: list[Any]) -> dict[str, float]:
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(table.rows):
        groups.setdefault(row.extra.get(column, ""), []).append(i)
    return {k: round(metrics([labels[i] for i in idx], [predictions[i].label for i in idx])["macro_f1"], 4)
            for k, idx in sorted(groups.items())}


def main() -> None:
    """Run every design and print (and optionally save) the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default=str(ROOT / "data" / "inquiries.csv"))
    parser.add_argument("--test", nargs="*", default=[])
    parser.add_argument("--out", default=None)
    parser.add_argument("--only", nargs="*", default=None, help="run only the designs with these names")
    args = parser.parse_args()
    data = dataset.load_training([args.train])
    lexicon = read_lexicon(ROOT / "data" / "lexicon.csv")
    tests = [dataset.read(p) for p in args.test]
    results: dict[str, Any] = {"train": shown(args.train), "rows": len(data.texts), "designs": {}}
    for name, spec in DESIGNS.items():
        if args.only and name not in args.only:
            continue
        t0 = time.perf_counter()
        kwargs = {**PLAIN, **spec}
        # The command-line args must survive this loop: the next design and --test read them.
        result = train(data.texts, data.labels, groups=data.groups, **{**kwargs, "lexicon": lexicon if kwargs["lexicon"] else None})
        entry: dict[str, Any] = {
            "grouped_cv": _summary(data.labels, result.oof),
            "cv_by_writer": result.report.get("by_writer", {}),
            "train_seconds": round(time.perf_counter() - t0, 1),
            "thresholds": result.model.policy.to_dict(),
        }
        for path, table in zip(args.test, tests, strict=True):
            texts = [r.text for r in table.rows]
            labels = [r.label or "" for r in table.rows]
            predictions = result.model.predict_many(texts)
            column = next((c for c in ("genre", "register") if c in table.header), None)
            entry[Path(path).name] = {**_summary(labels, predictions),
                                      **({f"by_{column}": _by(table, column, labels, predictions)} if column else {})}
        results["designs"][name] = entry
        print(json.dumps({name: entry}, ensure_ascii=False), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
