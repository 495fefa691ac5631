"""The one command: `python -m bench OUTDIR [--quick]`."""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from bench.common import ROOT, Settings, Stopwatch, load_inquiries, machine, one_blas_thread, source_digest


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line."""
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("outdir", type=Path, help="folder for report.md, results.json and the PNG plots")
    p.add_argument("--quick", action="store_true", help="smaller sizes and short load phases (under two minutes)")
    p.add_argument("--train-csv", type=Path, default=ROOT / "data" / "inquiries.csv",
                   help="labelled training rows (default: data/inquiries.csv)")
    p.add_argument("--test-csv", type=Path, default=ROOT / "data" / "test.csv",
                   help="labelled test rows; when missing, a fifth of the training CSV is held out")
    p.add_argument("--count", type=int, default=None, help="section 1: texts repeated to this count")
    p.add_argument("--phase-seconds", type=float, default=None, help="section 3: length of each load phase")
    p.add_argument("--sizes", type=lambda s: tuple(int(x) for x in s.split(",")), default=None,
                   help="section 4: training sizes, comma-separated")
    p.add_argument("--only", default="1,2,3,4,5", help="sections to run, e.g. 1,2 (3 and 5 share one server)")
    return p.parse_args(argv)


def _say(t0: float, msg: str) -> None:
    print(f"[{time.perf_counter() - t0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the sections, write the report; exit 1 if any section failed (skips are not failures)."""
    args = parse_args(argv)
    settings = Settings.make(args.outdir, args.quick, args.train_csv, args.test_csv, count=args.count,
                             phase_seconds=args.phase_seconds, sizes=args.sizes)
    only = {s.strip() for s in args.only.split(",")}
    out = settings.out
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    digest_start = source_digest()
    results: dict[str, Any] = {"machine": machine(), "mode": "quick" if settings.quick else "full",
                               "command": "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
                               "settings": {k: (str(v) if isinstance(v, Path) else v)
                                            for k, v in vars(settings).items() if k != "notes"}}
    errors: dict[str, str] = {}

    def section(key: str, fn: Any) -> Any:
        _say(t0, f"section {key} ...")
        try:
            return fn()
        except Exception:  # report the failure and go on with the other sections
            errors[key] = traceback.format_exc()
            _say(t0, f"section {key} FAILED:\n{errors[key]}")
            return None

    from triage.faq import KnowledgeBase, read_entries
    from triage.model import Policy, Router, build_pipeline

    data = load_inquiries(settings)
    results["data"] = {"train": data.train_source, "test": data.test_source}
    _say(t0, f"training the model on {len(data.train_texts)} rows")
    with Stopwatch() as fit, one_blas_thread():
        pipeline = build_pipeline().fit(data.train_texts, data.train_labels)
    results["fit_seconds"] = fit.seconds
    router = Router(pipeline, Policy())
    kb = KnowledgeBase(read_entries(ROOT / "data" / "faq.csv"))

    if "1" in only:
        from bench import floor

        results["floor"] = section("1", lambda: floor.run(settings, router, kb, data.test_texts))
        results["profile"] = section("1-profile", lambda: floor.profile(settings, router, kb, data.test_texts))
    if "2" in only:
        from bench import peers

        results["peers"] = section("2", lambda: peers.run(settings, data, pipeline, fit.seconds))
    if "3" in only or "5" in only:
        from bench import server

        pair = section("3", lambda: server.run(settings, data, pipeline))
        results["http"], results["start"] = pair if pair else (None, None)
        if pair is None:
            errors["5"] = "the server run of sections 3 and 5 failed (see section 3)"
    if "4" in only:
        from bench import scaling

        results["scaling"] = section("4", lambda: scaling.run(settings))
        if results["scaling"] and any("error" in p for p in results["scaling"]["points"]):
            errors["4"] = "; ".join(f"{p['rows']} rows: {p['error']}" for p in results["scaling"]["points"]
                                    if "error" in p)

    from bench import plots, report

    plot_files: dict[str, list[str]] = {}
    plot_problem = plots.available()
    if plot_problem is None:
        for key, fn in (("floor", plots.floor), ("peers", plots.peers), ("http", plots.http),
                        ("scaling", plots.scaling), ("start", plots.memory)):
            if results.get(key):
                try:
                    plot_files[key] = fn(results[key], out)
                except Exception:
                    errors[f"plot {key}"] = traceback.format_exc()
    results["plots"] = plot_files
    results["plot_problem"] = plot_problem
    results["errors"] = errors
    results["notes"] = settings.notes
    results["seconds"] = time.perf_counter() - t0
    results["source"] = {"start": digest_start, "end": source_digest()}
    if results["source"]["start"] != results["source"]["end"]:
        # The report says so at the top: figures from two versions must not pass for one run.
        _say(t0, "WARNING: triage/ changed while the benchmark ran; the report says so")
    (out / "results.json").write_text(json.dumps(_jsonable(results), ensure_ascii=False, indent=1), encoding="utf-8")
    (out / "report.md").write_text(report.render(results, only), encoding="utf-8")
    _say(t0, f"wrote {out / 'report.md'}" + (f"; FAILED: {', '.join(errors)}" if errors else ""))
    return 1 if errors else 0


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items() if k != "samples_ms"}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and obj != obj:
        return None
    if hasattr(obj, "item"):
        return obj.item()
    return obj
