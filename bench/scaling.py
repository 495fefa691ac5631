"""Section 4: training time and peak memory against the number of rows, one subprocess per size.

A fresh process per size makes the peak resident set size that size's own,
not the largest of the run. The timed work is
``triage.model.build_pipeline().fit`` (one fit); ``triage.model.train`` adds a
5-fold cross-validation, i.e. about five more fits on 80 % of the rows, which
the full run measures once at the smallest size.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from typing import Any

import numpy as np

from bench.common import ROOT, SEED, Settings


def _child(csv: str, rows: int, mode: str) -> None:
    from bench.common import rss_kb
    from triage import dataset
    from triage.model import build_pipeline, train

    table = dataset.read(csv)
    rng = random.Random(SEED + rows)
    # With replacement: 50k rows from a few thousand means many repeats; the
    # vocabulary stops growing, the matrices and the solver's work do not.
    picks = rng.choices(range(len(table.rows)), k=rows)
    texts = [table.rows[i].text for i in picks]
    labels = [table.rows[i].label or "" for i in picks]
    baseline = rss_kb()
    start = time.perf_counter()
    if mode == "train":
        result = train(texts, labels)
        pipe = result.pipeline
    else:
        pipe = build_pipeline().fit(texts, labels)
    seconds = time.perf_counter() - start
    peak = rss_kb("VmHWM")
    features = pipe.named_steps["features"]
    print(json.dumps({
        "rows": rows, "mode": mode, "seconds": seconds, "peak_rss_kb": peak, "baseline_rss_kb": baseline,
        "unique_rows": len(set(picks)), "features": sum(len(t.vocabulary_) for _, t in features.transformer_list),
        "iterations": int(np.max(pipe.named_steps["clf"].n_iter_)),
    }))


def _one(settings: Settings, rows: int, mode: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.scaling", str(settings.train_csv), str(rows), mode]
    try:
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=settings.size_timeout,
                             env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired:
        return {"rows": rows, "mode": mode, "error": f"timed out after {settings.size_timeout:.0f} s"}
    if out.returncode != 0:
        return {"rows": rows, "mode": mode, "error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def fit_power(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Return (a, b) of y = a * x**b fitted by least squares on log-log."""
    if len(xs) < 2:
        return float("nan"), float("nan")
    b, log_a = np.polyfit(np.log(xs), np.log(ys), 1)
    return float(np.exp(log_a)), float(b)


ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run(settings: Settings) -> dict[str, Any]:
    """Fit at each size in its own process, with triage's default BLAS threads and with one; fit power laws."""
    points, one = [], []
    for n in settings.sizes:
        # The two variants of a size run back to back, so that both meet similar load.
        points.append(_one(settings, n, "fit"))
        if n in settings.one_thread_sizes:
            one.append(_one(settings, n, "fit", env=ONE_THREAD))
    result: dict[str, Any] = {"points": points, "points_one_thread": one, "sizes": list(settings.sizes)}
    for key, series in (("fit_default", points), ("fit_one_thread", one)):
        ok = [p for p in series if "error" not in p]
        if ok:
            a, b = fit_power([p["rows"] for p in ok], [p["seconds"] for p in ok])
            growth = [max(1, p["peak_rss_kb"] - p["baseline_rss_kb"]) for p in ok]
            ma, mb = fit_power([p["rows"] for p in ok], growth)
            result[key] = {"time_a": a, "time_exponent": b, "memory_a_kb": ma, "memory_exponent": mb}
    by_rows = {p["rows"]: p for p in points}
    result["speedups"] = [by_rows[q["rows"]]["seconds"] / q["seconds"] for q in one
                          if "error" not in q and "error" not in by_rows[q["rows"]]]
    ok = [p for p in points if "error" not in p]
    if settings.cv_check and ok:
        n = ok[0]["rows"]
        cv = _one(settings, n, "train")
        result["train_with_cv"] = cv
        if "error" not in cv:
            result["train_over_fit"] = cv["seconds"] / ok[0]["seconds"]
            same = [q for q in one if q.get("rows") == n and "error" not in q]
            if same:
                result["train_over_fit_one_thread"] = cv["seconds"] / same[0]["seconds"]
    return result


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[3] not in ("fit", "train"):
        raise SystemExit("usage: python -m bench.scaling CSV ROWS fit|train")
    _child(sys.argv[1], int(sys.argv[2]), sys.argv[3])
