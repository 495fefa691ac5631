"""`python -m bench.request_profile`: where a request's server CPU goes, endpoint by endpoint, in one process.

    python -m bench.request_profile --models-dir models --requests 600 [--profile classify] [--top 30]

Builds the service as `triage serve` does (create_app on a fresh SQLite file, the active version of
--models-dir), then calls its WSGI entry point directly with ready-made requests: `GET /healthz`,
`POST /api/v1/classify` and signed `POST /api/v1/webhooks/inquiries` (each webhook a new id), texts
from --texts-csv. No HTTP, no gunicorn, no client in the process: what is timed is the app's own work
per request (thread CPU time, median and mean of --rounds rounds, endpoints interleaved), which a
gunicorn worker adds its HTTP parsing and writing to. --profile ENDPOINT also runs cProfile over that
endpoint's requests and prints the functions by their own time and the cumulative time of triage's.
Single-threaded: the locks and the GIL of a loaded worker are section 3 of `python -m bench`.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench import ROOT, loadgen

ENDPOINTS = ("healthz", "classify", "webhook")
SECRET = "whsec_" + "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="


def _environs(kind: str, texts: list[str], token: str, n: int, run: str) -> Iterator[dict[str, Any]]:
    """WSGI environs of n requests of one kind (bodies and signatures made here, outside the clock)."""
    from werkzeug.test import EnvironBuilder

    requests = loadgen.Requests(token, SECRET, texts, run)
    for i in range(n):
        method, path, body, headers, _ = requests.request(kind, i)
        builder = EnvironBuilder(path=path, method=method, data=body, headers=headers,
                                 environ_base={"REMOTE_ADDR": "127.0.0.1"})
        try:
            yield builder.get_environ()
        finally:
            builder.close()


def _caller(app: Any) -> Callable[[dict[str, Any]], int]:
    statuses: list[int] = []

    def start_response(status: str, _headers: Any, _exc: Any = None) -> None:
        statuses.append(int(status[:3]))

    def call(environ: dict[str, Any]) -> int:
        for _chunk in app(environ, start_response):
            pass
        return statuses.pop()

    return call


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.request_profile", description=__doc__.split("\n\n")[0])
    ap.add_argument("--models-dir", type=Path, default=ROOT / "models", help="its active version is served")
    ap.add_argument("--texts-csv", type=Path, default=ROOT / "data" / "inquiries.csv")
    ap.add_argument("--requests", type=int, default=300, help="requests per endpoint and round (default 300)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds, endpoints interleaved (default 5)")
    ap.add_argument("--profile", choices=ENDPOINTS, help="also cProfile this endpoint's requests")
    ap.add_argument("--top", type=int, default=30, help="functions shown per profile table")
    ap.add_argument("--json-out", type=Path)
    args = ap.parse_args(argv)

    import os

    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)  # in-process metrics, as in a single worker
    from triage import create_app
    from triage.auth import create_token

    with tempfile.TemporaryDirectory(prefix="triage-profile-") as tmp:
        app = create_app({"SECRET_KEY": "profile-secret-key", "WEBHOOK_SECRET": SECRET,
                          "MODELS_DIR": str(args.models_dir), "GATE_CSV": "", "LOG_LEVEL": "WARNING",
                          "DATABASE_URL": f"sqlite:///{Path(tmp) / 'triage.sqlite'}", "RELOAD_SECONDS": 3600})
        try:
            token = create_token(app.extensions["triage.store"], "profile")
            texts = loadgen.load_texts(400, 0, args.texts_csv)
            call = _caller(app.wsgi_app)
            expected = {k: loadgen.EXPECTED[k] for k in ENDPOINTS}
            # Warm-up outside the clock: lazy imports, first queries, the tokenizer's cache of this thread.
            for kind in ENDPOINTS:
                for env in _environs(kind, texts, token, 30, "warm"):
                    status = call(env)
                    if status != expected[kind]:
                        raise SystemExit(f"warm-up {kind} answered {status}")
            per: dict[str, list[float]] = {k: [] for k in ENDPOINTS}
            profiler = cProfile.Profile() if args.profile else None
            for r in range(args.rounds):
                for kind in ENDPOINTS:
                    envs = list(_environs(kind, texts, token, args.requests, f"r{r}"))
                    prof = profiler if kind == args.profile else None
                    t0 = time.thread_time()
                    if prof is not None:
                        prof.enable()
                    for env in envs:
                        call(env)
                    if prof is not None:
                        prof.disable()
                    per[kind].append((time.thread_time() - t0) * 1e3 / len(envs))
        finally:
            app.extensions["triage.live"].stop()
            app.extensions["triage.store"].engine.dispose()
    base = statistics.median(per["healthz"])
    print(f"app CPU per request (thread time, ms), {args.rounds} rounds of {args.requests}"
          f"{' (one endpoint under cProfile: its figures are inflated)' if args.profile else ''}:")
    print(f"{'endpoint':10} {'median':>8} {'mean':>8} {'min':>8} {'max':>8} {'× healthz':>10}")
    for kind, ms in per.items():
        print(f"{kind:10} {statistics.median(ms):8.3f} {statistics.mean(ms):8.3f} {min(ms):8.3f} {max(ms):8.3f} "
              f"{statistics.median(ms) / base:9.1f}×")
    if profiler is not None:
        for key, title in (("tottime", "own time"), ("cumulative", "cumulative")):
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(key)
            stats.print_stats(args.top)
            print(f"\n--- {args.profile}: by {title} ---")
            print("\n".join(line for line in out.getvalue().splitlines()[6:] if line.strip()))
    if args.json_out:
        args.json_out.write_text(json.dumps({"ms_per_request": per}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
