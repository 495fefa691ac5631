"""Check that two code trees route alike: dump every prediction of one model, then compare two dumps.

    python -m bench.same_routes dump OUT.json data/test.csv data/gate.csv    # with the code under test
    python -m bench.same_routes diff BEFORE.json AFTER.json                  # exit 1 on any difference

The dump holds, per row, `predict`, `predict_explained` and `predict_many` (batches of 100): probabilities,
route, review mark, reason, deciding sentence and the explanation. Uses the active model of
TRIAGE_MODELS_DIR (or models/), so both runs read the same pickled model.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from triage import dataset
from triage.model import Prediction
from triage.registry import Registry

TOLERANCE = 1e-9


def _row(p: Prediction) -> dict[str, Any]:
    return {"probabilities": p.probabilities, "label": p.label, "confidence": p.confidence,
            "needs_review": p.needs_review, "reason": p.reason, "sentence": p.sentence}


def dump(out: str, csvs: list[str]) -> None:
    """Write every row's predictions to ``out``."""
    import os

    registry = Registry(os.environ.get("TRIAGE_MODELS_DIR", "models"))
    version = registry.active() or ""
    model = registry.load(version).router
    result: dict[str, Any] = {"version": version, "rows": {}}
    for csv in csvs:
        texts = [r.text for r in dataset.read(csv, require_label=False).rows]
        batch = []
        for i in range(0, len(texts), 100):
            batch += model.predict_many(texts[i : i + 100])
        rows = []
        for text, many in zip(texts, batch, strict=True):
            explained, explanation = model.predict_explained(text)
            rows.append({"predict": _row(model.predict(text)), "explained": _row(explained),
                         "explanation": explanation, "many": _row(many)})
        result["rows"][csv] = rows
    Path(out).write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")


def _differs(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) > TOLERANCE
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() != b.keys() or any(_differs(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) != len(b) or any(_differs(x, y) for x, y in zip(a, b, strict=True))
    return a != b


def diff(before: str, after: str) -> int:
    """Print the rows whose predictions differ (floats beyond TOLERANCE); return how many."""
    a = json.loads(Path(before).read_text(encoding="utf-8"))
    b = json.loads(Path(after).read_text(encoding="utf-8"))
    if a["version"] != b["version"]:
        print(f"different models: {a['version']} and {b['version']}")
        return 1
    bad = 0
    worst = 0.0
    for csv, rows in a["rows"].items():
        other = b["rows"].get(csv, [])
        if len(other) != len(rows):
            print(f"{csv}: {len(rows)} rows against {len(other)}")
            bad += 1
            continue
        for i, (x, y) in enumerate(zip(rows, other, strict=True)):
            for part in x:
                for label, p in x[part].get("probabilities", {}).items():
                    worst = max(worst, abs(p - y[part]["probabilities"][label]))
                if _differs(x[part], y[part]):
                    bad += 1
                    print(f"{csv} row {i + 1}: {part} differs")
        print(f"{csv}: {len(rows)} rows compared")
    print(f"largest probability difference {worst:.3g}; {bad} difference(s) beyond {TOLERANCE:g}")
    return bad


def main(argv: list[str]) -> int:
    """Run ``dump`` or ``diff``."""
    if len(argv) >= 3 and argv[0] == "dump":
        dump(argv[1], argv[2:])
        return 0
    if len(argv) == 3 and argv[0] == "diff":
        return 1 if diff(argv[1], argv[2]) else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
