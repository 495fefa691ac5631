"""`python -m bench OUTDIR [--quick] [--only http] [--models-dir DIR]`: the measurements, then OUTDIR/report.md and results.json.

1. trains the model under test into a temporary models folder (what `triage train` does, without the
   gate), or copies the active version of --models-dir;
2. runs bench/timings.py under pytest-benchmark (in-process timings, claims extraction against classify,
   the tokenizer comparison);
3. starts `triage serve` with the test suite's launcher and drives it with locust (keep-alive, concurrency 8);
4. runs bench/loadgen.py against the same server (open-loop mixed traffic, exactly-once webhook check).

`--only http` runs sections 3 and 4 alone on an already trained model (about two minutes), so that a change
of the serving path can be measured several times, interleaved with the code it replaces.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import http.client
import importlib.util
import io
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bench import ROOT, loadgen, own_env, report, shown, tokenizers

LEXICON = ROOT / "data" / "lexicon.csv"
CONCURRENCY = 8
WORKERS = 2
QUICK_ROWS, QUICK_PEER_ROWS = 1000, 300  # training rows in quick mode (Janome reads 10 ms a row)
PACKAGES = ("numpy", "scipy", "scikit-learn", "fugashi", "unidic-lite", "flask", "gunicorn", "sqlalchemy",
            "pytest-benchmark", "locust", "janome", "sudachipy", "sudachidict-core")
SECTIONS = ("timings", "http")  # what --only can choose; the model is always there
ENDPOINTS = {"Healthz": "GET /healthz", "Classify": "POST /api/v1/classify",
             "Webhook": "POST /api/v1/webhooks/inquiries"}


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def _machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    git = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True,
                         check=False).stdout.strip()
    return {"cpu": cpu, "cores": len(os.sched_getaffinity(0)), "python": platform.python_version(),
            "kernel": platform.release(), "load_average_start": os.getloadavg(), "commit": git or "unknown",
            "versions": {p: _version(p) for p in PACKAGES}}


def _subset_csv(src: Path, rows: int, dest: Path) -> Path:
    """A stratified, seeded sample of a training CSV (quick mode trains on fewer rows)."""
    from triage import dataset

    data = dataset.load_training([src])
    rng = random.Random(0)
    keep: list[int] = []
    for label in dataset.LABELS:
        idx = [i for i, y in enumerate(data.labels) if y == label]
        keep += rng.sample(idx, min(len(idx), round(rows * len(idx) / len(data.labels))))
    with open(dest, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label", dataset.WRITER_COLUMN])
        w.writerows([data.texts[i], data.labels[i], data.groups[i]] for i in sorted(keep))
    return dest


def train_model(models: Path, train_csv: Path, source: str) -> dict[str, Any]:
    """Train and activate one version, as `triage train` would (without the quality gate)."""
    from triage.lifecycle import train_version
    from triage.registry import Registry

    start = time.perf_counter()
    outcome = train_version([train_csv], Registry(models), gate_csv=None, activate="force", lexicon_csv=LEXICON)
    return {"version": outcome.version, "rows": len(outcome.data.texts), "csv": source,
            "seconds": round(time.perf_counter() - start, 1), "cv_macro_f1": round(outcome.report["macro_f1"], 4)}


def copy_model(models: Path, source: Path) -> dict[str, Any]:
    """Copy the active version of a models folder (the server must not touch the caller's folder)."""
    import shutil

    from triage.registry import Registry

    if not Registry(source).active():
        raise RuntimeError(f"{source} has no active model version; train one with `triage train data/inquiries.csv` "
                           "or leave out --models-dir")
    shutil.copytree(source, models)
    registry = Registry(models)
    meta = registry.metadata(registry.active() or "")
    return {"version": meta["version"], "rows": meta.get("rows", 0), "csv": f"copied from {shown(source)}",
            "copied": True, "cv_macro_f1": meta.get("metrics", {}).get("macro_f1", float("nan"))}


def timings(out: Path, tmp: Path, train_csv: Path, test_csv: Path, quick: bool) -> dict[str, Any]:
    """Run bench/timings.py under pytest-benchmark; return each benchmark's statistics in ms, and its table."""
    peer_csv = _subset_csv(train_csv, QUICK_PEER_ROWS, tmp / "peers.csv") if quick else train_csv
    env = own_env(BENCH_MODELS_DIR=str(tmp / "models"), BENCH_PEER_CSV=str(peer_csv), BENCH_TEST_CSV=str(test_csv),
                  BENCH_LEXICON=str(LEXICON), BENCH_QUICK="1" if quick else "0")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "bench" / "timings.py"), "-q", "-p", "no:cacheprovider",
         f"--benchmark-json={out / 'timings.json'}", "--benchmark-columns=min,median,iqr,rounds",
         "--benchmark-sort=name"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False)
    sys.stderr.write(proc.stdout)
    if proc.returncode != 0:
        raise RuntimeError(f"pytest bench/timings.py exited {proc.returncode}:\n{proc.stdout[-4000:]}")
    results = {b["name"]: {**{k: b["stats"][k] * 1e3 for k in ("min", "median", "mean")}, **b["extra_info"]}
               for b in json.loads((out / "timings.json").read_text(encoding="utf-8"))["benchmarks"]}
    lines = proc.stdout.splitlines()
    table = [line for line in lines if line.startswith(("Name (time in", "test_", "---"))]
    skipped = [line.split("] ", 1)[-1] for line in lines if line.startswith("SKIPPED")]
    return {"benchmarks": results, "table": "\n".join(table), "skipped": skipped,
            "tokenizers": {n: tokenizers.describe(n) for n in tokenizers.TOKENIZERS}}


def _cpu_seconds(pids: set[int]) -> float:
    """User + system CPU of these processes so far, in seconds."""
    import psutil  # locust's dependency

    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            total += sum(psutil.Process(pid).cpu_times()[:2])
    return total


def _keeps_alive(host: str, port: int) -> bool:
    """Whether the server leaves a connection open after an answer."""
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        resp.read()
        return not resp.will_close
    finally:
        conn.close()


def http_and_load(tmp: Path, test_csv: Path, quick: bool, threads: int | None = None) -> dict[str, Any]:
    """Sections 3 and 4 on one `triage serve` (the test suite's launcher, WORKERS workers)."""
    texts = loadgen.load_texts(400, 0, test_csv)
    (tmp / "texts.json").write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    seconds = 4.0 if quick else 20.0
    settings = {"TRIAGE_THREADS": str(threads)} if threads else {}
    with loadgen.serving(tmp / "models", WORKERS, settings) as (server, creds):
        env = own_env(BENCH_TOKEN=creds["token"], BENCH_WEBHOOK_SECRET=creds["webhook_secret"],
                      BENCH_TEXTS=str(tmp / "texts.json"))
        host, port = "127.0.0.1", int(server.base_url.rsplit(":", 1)[1])
        loadgen.warm_up(host, port, loadgen.Requests(creds["token"], creds["webhook_secret"], texts, "warmup"),
                        ("classify", "batch"), 20)
        phases = []
        for user, endpoint in ENDPOINTS.items():
            pids = {server.pid, *server.worker_pids()}
            cpu = _cpu_seconds(pids)
            # One closed-loop phase: CONCURRENCY users, each on its own kept connection, back to back.
            got = loadgen.locust(user, server.base_url, {**env, "BENCH_SECONDS": str(seconds)}, tmp / user.lower(),
                                 CONCURRENCY, seconds + 120, reset_stats=True)
            row = next((r for r in got["rows"] if r["name"] == endpoint), None)
            if row is None:
                raise RuntimeError(f"locust sent no {endpoint}:\n{got['printed'][-3000:]}")
            phases.append({"endpoint": endpoint, **{k: v for k, v in row.items() if k not in ("type", "name")},
                           "client_cpu_s": got["client_cpu_s"], "server_cpu_s": _cpu_seconds(pids) - cpu})
        result: dict[str, Any] = {"workers": WORKERS, "threads": threads, "concurrency": CONCURRENCY, "seconds": seconds,
                                  "keep_alive": _keeps_alive(host, port), "phases": phases}
        # Section 4: the open-loop mixed traffic and its exactly-once check, on the same server.
        plan = ["--rate", "40", "--duration", "4", "--spike-rate", "150", "--spike-duration", "2"] if quick else \
            ["--rate", "50", "--duration", "20", "--spike-rate", "300", "--spike-duration", "5"]
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            # Secrets as --name=value: a URL-safe token may start with "-".
            code = loadgen.main([f"--url={server.base_url}", f"--json-out={tmp / 'load.json'}", *plan,
                                 *(f"--{k.replace('_', '-')}={v}" for k, v in creds.items())])
        if code == 2:
            raise RuntimeError(f"bench.loadgen could not start:\n{printed.getvalue()}")
        result["load"] = {"exit_status": code, "command": "python -m bench.loadgen " + " ".join(plan),
                          "printed": printed.getvalue().strip(),
                          **json.loads((tmp / "load.json").read_text(encoding="utf-8"))}
        result["server_alive"] = server.process.poll() is None
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--quick", action="store_true",
                    help=f"{QUICK_ROWS} training rows, fewer rounds, 4 s load phases (under two minutes)")
    ap.add_argument("--train-csv", type=Path, default=ROOT / "data" / "inquiries.csv")
    ap.add_argument("--test-csv", type=Path, default=ROOT / "data" / "test.csv")
    ap.add_argument("--only", choices=SECTIONS, action="append",
                    help="run only this section (repeatable); the model is still trained unless --models-dir")
    ap.add_argument("--models-dir", type=Path,
                    help="serve and time the active version of this models folder (copied) instead of training one")
    ap.add_argument("--threads", type=int, help="TRIAGE_THREADS of the served workers (default: the setting's)")
    args = ap.parse_args(argv)
    out = args.outdir.resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    def say(msg: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {msg}", file=sys.stderr, flush=True)

    mode = "quick" if args.quick else "full"
    if args.only:
        mode += f", only {' and '.join(args.only)}"
    results: dict[str, Any] = {"mode": mode, "command": "python -m bench "
                               + " ".join(argv if argv is not None else sys.argv[1:]),
                               "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": _machine(),
                               "test_csv": shown(args.test_csv)}
    missing = [m for m in ("pytest_benchmark", "locust") if importlib.util.find_spec(m) is None]
    if missing:
        ap.error(f"{' and '.join(missing)} not installed: pip install -e '.[bench]'")
    with tempfile.TemporaryDirectory(prefix="triage-bench-") as tmp_name:
        tmp = Path(tmp_name)  # the model, locust's files: nothing of it belongs in OUTDIR
        train_csv = _subset_csv(args.train_csv, QUICK_ROWS, tmp / "train.csv") if args.quick else args.train_csv
        sections: list[tuple[str, Callable[[], dict[str, Any]]]] = [
            ("model", (lambda: copy_model(tmp / "models", args.models_dir.resolve())) if args.models_dir else
             (lambda: train_model(tmp / "models", train_csv, f"a {QUICK_ROWS:,}-row stratified sample of "
                                  f"{shown(args.train_csv)}" if args.quick else shown(args.train_csv)))),
            ("timings", lambda: timings(out, tmp, train_csv, args.test_csv, args.quick)),
            ("http", lambda: http_and_load(tmp, args.test_csv, args.quick, args.threads)),
        ]
        if args.only:
            results.update({n: {"not_run": f"Not run (`--only {' --only '.join(args.only)}`)."}
                            for n, _ in sections if n != "model" and n not in args.only})
            sections = [(n, f) for n, f in sections if n == "model" or n in args.only]
        failed = False
        for name, section in sections:
            say(f"{name} ...")
            try:
                results[name] = section()
            except Exception:
                results[name] = {"error": traceback.format_exc()}
                failed = True
                say(f"{name} failed:\n{results[name]['error']}")
                if name == "model":
                    break
    results["machine"]["load_average_end"] = os.getloadavg()
    results["seconds"] = round(time.perf_counter() - started)
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "report.md").write_text(report.render(results), encoding="utf-8")
    say(f"wrote {out / 'report.md'}")
    return 1 if failed else 0
