"""Sections 3 and 5: `triage serve` under loopback load, its start time and its memory.

One server is launched per run: its launch is timed (section 5), its memory is
read when it is ready and again after the load phases, and the load phases run
against it in between (section 3).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import ROOT, Inquiries, Settings, package_of, smaps_rollup
from bench.load import RequestMaker, run_phase

from .procs import child_pids, free_port, http_status, launch_serve, stop_group
from .procs import server_env as procs_server_env

READY_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0
CLI_TIMEOUT = 60.0
TARGET_CLASSIFY_RPS = 1500


def save_model(pipeline: Any, models_dir: Path, train_source: str) -> str:
    """Register the benchmark's fitted pipeline as the active version of a fresh models directory."""
    from triage.lifecycle import library_versions
    from triage.model import Policy
    from triage.registry import Registry

    registry = Registry(models_dir)
    # The default policy (no cross-validation, which would cost five more fits):
    # thresholds change routes, not the work per request.
    version = registry.save(pipeline, Policy(), {"rows": None, "training_files": [train_source],
                                                 "versions": library_versions(), "note": "bench"})
    registry.activate(version, actor="bench", reason="benchmark")
    return version


def app_child(env: dict[str, str], workdir: Path, texts_csv: Path, n: int) -> dict[str, Any]:
    """In a fresh process: time the imports, the model load and `create_app()` (what the gunicorn master does
    before it forks) with their RSS, then cProfile n `POST /api/v1/classify` through Flask's test client."""
    penv = dict(env, TRIAGE_DATABASE_URL=f"sqlite:///{workdir / 'profile.sqlite'}")
    out = subprocess.run([sys.executable, "-m", "bench.server", "--app-child", str(n), str(texts_csv)], env=penv,
                         cwd=ROOT, capture_output=True, text=True, timeout=CLI_TIMEOUT + n * 0.1)
    if out.returncode != 0:
        raise RuntimeError(f"the in-process app check failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# (file suffix, function name) -> label: the parts of one classify request.
PARTS = {
    ("flask/app.py", "wsgi_app"): "whole request inside Flask (wsgi_app)",
    ("triage/auth.py", "token_owner"): "API token check (SHA-256 + SELECT)",
    ("triage/intake.py", "analyse"): "intake.analyse (route, explain, FAQ)",
    ("triage/model.py", "predict"): "  Router.predict",
    ("triage/model.py", "explain"): "  Router.explain",
    ("triage/model.py", "predict_explained"): "  Router.predict_explained (route + explanation)",
    ("triage/faq.py", "suggest"): "  KnowledgeBase.suggest (faq routes)",
    ("triage/intake.py", "keep"): "intake.keep (INSERT + COMMIT)",
    ("~", "<method 'commit' of 'sqlite3.Connection' objects>"): "  sqlite3 COMMIT",
    ("flask/json/__init__.py", "jsonify"): "jsonify",
}


def _app_child(n: int, texts_csv: str) -> None:
    t0 = time.perf_counter()
    from bench.common import rss_kb

    rss0 = rss_kb()
    import cProfile
    import pstats
    import tracemalloc

    import triage.cli  # noqa: F401 - what `python -m triage serve` imports first
    from triage import create_app, dataset
    from triage.auth import create_token
    from triage.registry import Registry

    t1 = time.perf_counter()
    rss1 = rss_kb()
    registry = Registry(os.environ["TRIAGE_MODELS_DIR"])
    registry.load(registry.active() or "")
    t2 = time.perf_counter()
    rss2 = rss_kb()
    # RSS growth of the first load includes the modules unpickling imports and
    # memory the allocator keeps; tracemalloc counts what a loaded model holds.
    tracemalloc.start()
    kept = registry.load(registry.active() or "")
    model_live = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del kept
    t3 = time.perf_counter()
    app = create_app()  # loads the model once more, as the master does
    t4 = time.perf_counter()
    build = {
        "import_s": t1 - t0, "model_load_s": t2 - t1, "create_app_s": t4 - t3, "model_live_kb": model_live // 1024,
        "rss_start_kb": rss0, "rss_imports_kb": rss1, "rss_model_kb": rss2, "rss_app_kb": rss_kb(),
        "model_file_kb": sum(p.stat().st_size for p in Path(os.environ["TRIAGE_MODELS_DIR"]).glob("*/model.joblib"))
        // 1024,
    }
    token = create_token(app.extensions["triage.store"], "profile")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    texts = [r.text for r in dataset.read(texts_csv).rows]
    for t in texts[:5]:  # warm up: FAQ index, tagger, first queries
        assert client.post("/api/v1/classify", json={"text": t}, headers=headers).status_code == 201
    prof = cProfile.Profile()
    start = time.perf_counter()
    prof.enable()
    for i in range(n):
        resp = client.post("/api/v1/classify", json={"text": texts[i % len(texts)]}, headers=headers)
        if resp.status_code != 201:
            raise SystemExit(f"classify answered {resp.status_code}: {resp.get_data(as_text=True)[:300]}")
    prof.disable()
    wall = time.perf_counter() - start
    stats = pstats.Stats(prof)
    total = stats.total_tt  # type: ignore[attr-defined]
    parts: dict[str, float] = {}
    packages: dict[str, float] = {}
    for (file, _line, func), (_cc, _nc, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        for (suffix, name), label in PARTS.items():
            if func == name and (file == suffix or file.endswith(suffix)):
                parts[label] = parts.get(label, 0.0) + cumtime / n * 1e3
        key = package_of(file, func)
        packages[key] = packages.get(key, 0.0) + tottime / n * 1e3
    print(json.dumps({"build": build, "profile": {
        "requests": n, "wall_ms_per_request": wall / n * 1e3, "profiled_ms_per_request": total / n * 1e3,
        "parts_ms": {label: parts.get(label) for label in PARTS.values()},
        "packages_ms": dict(sorted(packages.items(), key=lambda kv: -kv[1])[:12]),
    }}))


def server_env(workdir: Path, models_dir: Path) -> dict[str, str]:
    """Return a clean environment for the server and its CLI calls (own database, secrets, metrics folder)."""
    return procs_server_env(workdir, models_dir, workdir / "bench.sqlite")


def cli(env: dict[str, str], *args: str) -> str:
    """Run `python -m triage ARGS`; return its stdout or raise with its stderr."""
    out = subprocess.run([sys.executable, "-m", "triage", *args], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=CLI_TIMEOUT)
    if out.returncode != 0:
        raise RuntimeError(f"triage {' '.join(args)} exited {out.returncode}:\n{out.stderr[-2000:]}")
    return out.stdout


@dataclass
class Server:
    """A launched `triage serve`."""

    process: subprocess.Popen[bytes]
    port: int
    workers: int
    log_path: Path
    launched_at: float
    ready_seconds: float | None = None
    forked_seconds: float | None = None
    listening_seconds: float | None = None

    @property
    def pid(self) -> int:
        """Return the gunicorn master's pid."""
        return self.process.pid

    def worker_pids(self) -> list[int]:
        """Return the worker pids (children of the master)."""
        return sorted(child_pids(self.pid))

    def log(self) -> str:
        """Return the server's output so far."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
        except OSError:
            return ""




@contextmanager
def launched(env: dict[str, str], workdir: Path, workers: int, command: list[str] | None = None) -> Iterator[Server]:
    """Launch `triage serve`, time it until /readyz answers 200 and every worker is forked, stop it at the end.

    ``command`` replaces `python -m triage` (to try a variant of the service, e.g. another gunicorn hook).
    """
    port = free_port()
    log_path = workdir / "server.log"
    t0 = time.perf_counter()
    process = launch_serve(env, workdir, port, workers, log_path, command)
    server = Server(process, port, workers, log_path, t0)
    try:
        deadline = t0 + READY_TIMEOUT
        while time.perf_counter() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"triage serve exited with {process.returncode}:\n{server.log()}")
            status = http_status(port, "/readyz", timeout=1.0)
            now = time.perf_counter() - t0
            if status is not None and server.listening_seconds is None:
                server.listening_seconds = now
            if status == 200 and server.ready_seconds is None:
                server.ready_seconds = now
            if server.forked_seconds is None and len(server.worker_pids()) >= workers:
                server.forked_seconds = now
            if server.ready_seconds is not None and server.forked_seconds is not None:
                break
            time.sleep(0.02)
        else:
            raise RuntimeError(f"triage serve was not ready within {READY_TIMEOUT:.0f} s:\n{server.log()}")
        yield server
    finally:
        stop_group(process)


def memory(server: Server) -> dict[str, Any]:
    """Return RSS, PSS and shared/private memory of the master and each worker, in MB."""
    def one(pid: int) -> dict[str, float]:
        m = smaps_rollup(pid)
        shared = m.get("Shared_Clean", 0) + m.get("Shared_Dirty", 0)
        private = m.get("Private_Clean", 0) + m.get("Private_Dirty", 0)
        return {"rss": m.get("Rss", 0) / 1024, "pss": m.get("Pss", 0) / 1024, "shared": shared / 1024,
                "private": private / 1024}

    workers = [one(p) for p in server.worker_pids()]
    master = one(server.pid)
    total_rss = master["rss"] + sum(w["rss"] for w in workers)
    total_pss = master["pss"] + sum(w["pss"] for w in workers)
    return {"master": master, "workers": workers, "total_rss": total_rss, "total_pss": total_pss}


# -- requests ----------------------------------------------------------------


def request_makers(env: dict[str, str], token: str, texts: list[str], batch_items: int) -> dict[str, RequestMaker]:
    """Return the request of each endpoint under test (bodies prepared before the clock runs)."""
    from triage.webhook import sign

    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    bodies = [json.dumps({"text": t}, ensure_ascii=False).encode() for t in texts]
    batches = []
    for k in range(8):
        items = [{"text": texts[(k * batch_items + j) % len(texts)], "id": f"b{k}-{j}"} for j in range(batch_items)]
        batches.append(json.dumps({"items": items}, ensure_ascii=False).encode())
    secret = env["TRIAGE_WEBHOOK_SECRET"]
    run_id = uuid.uuid4().hex[:12]

    def healthz(idx: int, i: int) -> tuple[str, str, bytes | None, dict[str, str]]:
        return "GET", "/healthz", None, {}

    def classify(idx: int, i: int) -> tuple[str, str, bytes | None, dict[str, str]]:
        return "POST", "/api/v1/classify", bodies[(idx * 7919 + i) % len(bodies)], auth

    def batch(idx: int, i: int) -> tuple[str, str, bytes | None, dict[str, str]]:
        return "POST", "/api/v1/classify/batch", batches[(idx + i) % len(batches)], auth

    def webhook(idx: int, i: int) -> tuple[str, str, bytes | None, dict[str, str]]:
        body = bodies[(idx * 7919 + i) % len(bodies)]
        msg_id = f"msg_{run_id}_{idx}_{i}"  # unique: every delivery is a new inquiry, committed
        ts = int(time.time())
        return "POST", "/api/v1/webhooks/inquiries", body, {
            "Content-Type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(ts),
            "webhook-signature": sign(secret, msg_id, ts, body),
        }

    return {"GET /healthz": healthz, "POST /api/v1/classify": classify,
            f"POST /api/v1/classify/batch ({batch_items} items)": batch,
            "POST /api/v1/webhooks/inquiries (signed)": webhook}


def client_ceiling(settings: Settings) -> list[dict[str, Any]]:
    """Run the client against the stub server: what it can send when the server costs almost nothing."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.stub", str(port)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        line = proc.stdout.readline() if proc.stdout else b""  # "ready" once bound
        if line.strip() != b"ready":
            raise RuntimeError("the stub server did not start")
        make = lambda idx, i: ("GET", "/healthz", None, {})  # noqa: E731
        return [run_phase("127.0.0.1", port, make, c, settings.ceiling_seconds, server_pids=[proc.pid])
                for c in settings.concurrency]
    finally:
        stop_group(proc)


def run(settings: Settings, data: Inquiries, pipeline: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run sections 3 and 5 against one launched server; return (http, start_and_memory)."""
    t0 = time.perf_counter()

    def say(msg: str) -> None:
        print(f"    [{time.perf_counter() - t0:5.1f}s] {msg}", file=sys.stderr, flush=True)

    ceiling = client_ceiling(settings)
    say("client ceiling measured")
    with tempfile.TemporaryDirectory(prefix="triage-bench-") as tmp:
        workdir = Path(tmp)
        models_dir = workdir / "models"
        version = save_model(pipeline, models_dir, data.train_source)
        env = server_env(workdir, models_dir)
        token = cli(env, "tokens", "create", "bench").strip().splitlines()[-1]
        say("token created")
        child = app_child(env, workdir, settings.test_csv if settings.test_csv.is_file() else settings.train_csv,
                          settings.profile_calls)
        load, http_profile = child["build"], child["profile"]
        say("app build measured, classify profiled in process")
        makers = request_makers(env, token, data.test_texts, settings.batch_items)
        with launched(env, workdir, settings.workers) as server:
            start = {"listening_s": server.listening_seconds, "ready_s": server.ready_seconds,
                     "forked_s": server.forked_seconds}
            mem_ready = memory(server)
            say(f"server ready after {server.ready_seconds:.2f} s")
            pids = [server.pid, *server.worker_pids()]
            # Warm up every endpoint on both workers (lazy FAQ index, first-use imports) outside the clock.
            for make in makers.values():
                run_phase("127.0.0.1", server.port, make, settings.workers * 2, 0.5, max_requests=3)
            say("warmed up")
            phases: dict[str, list[dict[str, Any]]] = {}
            for name, make in makers.items():
                phases[name] = [run_phase("127.0.0.1", server.port, make, c, settings.phase_seconds,
                                          server_pids=pids) for c in settings.concurrency]
                say(f"{name}: " + ", ".join(f"{p['rps']:.0f} req/s" for p in phases[name]))
            mem_loaded = memory(server)
            alive = server.process.poll() is None
            log_tail = server.log()
        say("server stopped")
        shutil.rmtree(models_dir, ignore_errors=True)
    http_result = {"phases": phases, "ceiling": ceiling, "workers": settings.workers, "model_version": version,
                   "server_alive_after": alive, "log_tail": log_tail[-1500:], "profile": http_profile}
    health = max(p["rps"] for p in phases["GET /healthz"])
    classify = max(p["rps"] for p in phases["POST /api/v1/classify"])
    http_result["classify_best_rps"] = classify
    http_result["classify_fraction_of_healthz"] = classify / health if health else float("nan")
    http_result["target"] = {"limit": TARGET_CLASSIFY_RPS, "value": classify, "met": classify >= TARGET_CLASSIFY_RPS}
    start_result = {"start": start, "memory_ready": mem_ready, "memory_after_load": mem_loaded, "app_build": load}
    return http_result, start_result


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--app-child":
        _app_child(int(sys.argv[2]), sys.argv[3])
    else:
        raise SystemExit("usage: python -m bench.server --app-child N TEXTS_CSV (with the server's TRIAGE_* environment)")
