"""Render results.json as the Markdown report (fixed section headings, targets as MET / NOT MET)."""

from __future__ import annotations

from typing import Any

from bench.common import verdict

HEADINGS = {
    "1": "## 1. Pipeline vs floor",
    "2": "## 2. Peers",
    "3": "## 3. HTTP",
    "4": "## 4. Training scaling",
    "5": "## 5. Start and memory",
}


def _f(x: Any, nd: int = 2) -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "–"
    if isinstance(x, int):
        return f"{x:,}"
    return f"{x:,.{nd}f}"


def _range(xs: list[float]) -> str:
    lo, hi = min(xs), max(xs)
    return f"{lo:.1f}" if f"{lo:.1f}" == f"{hi:.1f}" else f"{lo:.1f}–{hi:.1f}"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def _img(res: dict[str, Any], key: str, name: str) -> list[str]:
    if name in res.get("plots", {}).get(key, []):
        return ["", f"![{name}]({name})"]
    return []


def _failed(res: dict[str, Any], key: str) -> list[str]:
    err = res["errors"].get(key)
    if not err:
        return []
    last = err.strip().splitlines()[-1]
    return [f"**FAILED**: `{last}`", "", "<details><summary>traceback</summary>", "", "```", err.strip(), "```",
            "", "</details>"]


def render(res: dict[str, Any], only: set[str]) -> str:
    """Return report.md."""
    lines: list[str] = []
    m = res["machine"]
    lines += [
        "# triage benchmark report",
        "",
        f"`{res['command']}` — {res['mode']} mode, {m['date']}, {res['seconds']:.0f} s in all. "
        "Everything below ran in this one run on the same inquiries; compare figures as the ratios given, "
        "absolute times move with the machine's load. "
        + _source(res),
        "",
        "## Machine",
        "",
        *_table(["", ""], [
            ["CPU", m["cpu"]],
            ["cores", f"{m['cores_usable']} usable ({m['cores_online']} online)"],
            ["memory", f"{m['memory_gb']} GB"],
            ["kernel", m["kernel"]],
            ["Python", m["python"]],
            ["load average at start", " / ".join(f"{x:.2f}" for x in m["loadavg_at_start"])],
            *[[name, v] for name, v in m["libraries"].items()],
        ]),
        "",
        f"Data: trained on {res['data']['train']}; inquiries from {res['data']['test']}. "
        f"The model is `triage.model.build_pipeline().fit` on those rows ({_f(res['fit_seconds'], 1)} s, fitted "
        "with one BLAS thread, see section 4) with the default routing policy (thresholds 0.5; cross-validated "
        "thresholds change routes, not the work per request). Sections 1, 3 and 5 use this one model; section 2 "
        "trains each peer on the same rows.",
    ]
    for note in res.get("notes", []):
        lines += ["", f"Note: {note}."]
    if res.get("plot_problem"):
        lines += ["", f"Plots skipped: {res['plot_problem']}."]
    lines += ["", "## Targets", "", *_targets(res), ""]

    for key, fn in (("1", _floor), ("2", _peers), ("3", _http), ("4", _scaling), ("5", _start)):
        lines += [HEADINGS[key], ""]
        if key not in only:
            lines += ["Not run in this invocation (`--only`).", ""]
            continue
        lines += _failed(res, key)
        try:
            lines += fn(res)
        except Exception as exc:  # a missing figure must not hide the other sections
            lines += [f"(could not render this section: {type(exc).__name__}: {exc})"]
        lines.append("")
    lines += ["## Findings and suggested changes to triage/", "",
              "From the figures above; triage's code is left unchanged by the benchmark.", "", *_findings(res), ""]
    if res.get("profile") or (res.get("http") or {}).get("profile"):
        lines += ["## Hot spots (cProfile)", "", *_profile(res), ""]
    lines += ["## Method and caveats", "", *_method(res), ""]
    other = {k: v for k, v in res["errors"].items() if k not in HEADINGS}
    if other:
        lines += ["## Other failures", ""]
        for k, v in other.items():
            lines += [f"- {k}: `{v.strip().splitlines()[-1]}`"]
    return "\n".join(lines) + "\n"


def _source(res: dict[str, Any]) -> str:
    src = res.get("source") or {}
    if not src:
        return ""
    if src["start"] == src["end"]:
        return f"Code measured: triage/ sources with SHA-256 `{src['start']}…` (unchanged during the run)."
    return (f"**Warning: triage/ changed during the run** (SHA-256 `{src['start']}…` at the start, `{src['end']}…` "
            "at the end): sections measured different code; run again.")


def _targets(res: dict[str, Any]) -> list[str]:
    rows = []
    fl = res.get("floor")
    if fl:
        t = fl["targets"]
        rows.append(["1", "batch pipeline ≤ 2.5× raw tokenization time", f"{t['batch']['value']:.2f}×",
                     verdict(t["batch"]["met"])])
        rows.append(["1", "single-inquiry classification median ≤ 0.5 ms (in process)",
                     f"{t['single']['value']:.3f} ms", verdict(t["single"]["met"])])
    h = res.get("http")
    if h:
        t = h["target"]
        rows.append(["3", f"POST /api/v1/classify ≥ {t['limit']:,} requests/s with {h['workers']} workers",
                     f"{t['value']:,.0f} requests/s", verdict(t["met"])])
    if not rows:
        return ["No targets were measured in this run."]
    return _table(["section", "target", "measured", "verdict"], rows)


def _floor(res: dict[str, Any]) -> list[str]:
    fl = res["floor"]
    if not fl:
        return []
    t = fl["targets"]
    s = fl["single"]
    lines = [
        f"- Target: batch pipeline at most {t['batch']['limit']}× the raw tokenization time: "
        f"**{verdict(t['batch']['met'])}** — {fl['ratio']:.2f}× (median of {fl['pairs']} paired chunk timings; "
        f"p10–p90 {fl['ratio_p10']:.2f}–{fl['ratio_p90']:.2f}×; ratio of total times {fl['ratio_of_sums']:.2f}×, "
        f"of fastest chunks {fl['ratio_of_minimums']:.2f}×).",
        f"- Target: single-inquiry classification (route and probabilities, `Router.predict`) at most "
        f"{t['single']['limit']} ms median in process: **{verdict(t['single']['met'])}** — "
        f"{s['predict']['median']:.3f} ms median (p90 {s['predict']['p90']:.3f}, p99 {s['predict']['p99']:.3f} ms; "
        f"{s['predict']['median'] / fl['raw_ms_per_text']:.1f}× the raw tokenization of the same text).",
        "",
        f"{fl['texts']:,} inquiries ({fl['distinct_texts']} distinct, repeated to a fixed count) in chunks of "
        f"{fl['batch_size']} (the size of one batch request in section 3), {fl['rounds']} rounds. For each chunk every "
        "path runs back to back in a rotating order; ms per inquiry is the median over chunks. Raw = "
        f"`triage.text.raw_tokenize` on the raw text, the floor as triage defines it"
        + (f" (“{fl['raw_doc'].rstrip('.')}”)" if fl.get("raw_doc") else "")
        + "; batch = `Router.predict_many`. "
        "Stage rows time the fitted pipeline's own steps, each alone (the word vectorizer includes the "
        f"tokenizer). {_cpu(fl.get('cpu'))}",
        "",
    ]
    rows = [["raw tokenization (`raw_tokenize`, the floor)", _f(fl["raw_ms_per_text"], 3), "1.00×"]]
    for name, ms in fl["stages_ms_per_text"].items():
        rows.append([f"stage: {name}", _f(ms, 3), f"{fl['stage_ratios'][name]:.2f}×"])
    rows.append(["**batch pipeline** (`predict_many`: normalise, tokenize, vectorize, predict, policy)",
                 f"**{_f(fl['batch_ms_per_text'], 3)}**", f"**{fl['ratio']:.2f}×**"])
    lines += _table(["path", "ms per inquiry", "× raw"], rows)
    lines += ["", "Single inquiries, one call at a time (in process, after warm-up):", ""]
    names = {
        "raw_tokenize": "raw tokenization (`raw_tokenize`, the floor)",
        "predict": "**`Router.predict`** (route + probabilities)",
        "explain": "`Router.explain` (terms and spans)",
        "suggest": "`KnowledgeBase.suggest` (FAQ answers)",
        "full": f"**full per-request work**: `triage.intake.analyse` (route, explanation, FAQ suggestions on "
                f"faq routes, {s['faq_share']:.0%} here)",
    }
    lines += _table(["call", "p10 ms", "median ms", "p90 ms", "p99 ms", "n"],
                    [[names[k], _f(s[k]["p10"], 3), _f(s[k]["median"], 3), _f(s[k]["p90"], 3), _f(s[k]["p99"], 3),
                      s[k]["n"]] for k in names])
    lines += ["", "p10 is close to the undisturbed cost of a call; the median is the target's measure, and it rises "
              "when other processes compete for the cores (see the note on load above)."]
    lines += _img(res, "floor", "floor.png") + _img(res, "floor", "single_latency.png")
    return lines


def _cpu(c: dict[str, Any] | None) -> str:
    if not c:
        return ""
    return (f"While this ran, the benchmark used {c['own_cores']:.2f} cores and other processes on the machine "
            f"{c['other_cores']:.2f} cores (load average {c['loadavg_1min']:.1f}).")


def _peers(res: dict[str, Any]) -> list[str]:
    pr = res.get("peers")
    if not pr:
        return []
    lines = [
        "No target is set for this section. Each row is `triage.model.build_pipeline()` with only the word "
        "tokenizer changed (Janome, SudachiPy) or the word branch dropped (character n-grams only), trained on "
        f"the same {pr['train_rows']:,} rows and scored on the same {pr['test_rows']} test rows. Macro-F1 is of the "
        "plain argmax (no routing policy) for every row, so the rows compare like for like. Time per inquiry is "
        f"`predict_proba` on chunks of {pr['chunk']} test rows, every model on the same chunk back to back in rotating "
        f"order, median over chunks ({pr['repeats']} pass{'es' if pr['repeats'] != 1 else ''}); tokenizer time is the tokenizer alone on the normalized "
        f"text of the same chunk. {_cpu(pr.get('cpu'))}",
        "",
    ]
    rows = []
    for r in pr["rows"]:
        if r["skipped"]:
            rows.append([r["name"], r["tokenizer"], "skipped", "", "", "", "", "", "", ""])
            continue
        vocab = ", ".join(f"{k} {v:,}" for k, v in r["vocabulary"].items())
        rows.append([r["name"], r["tokenizer"], _f(r["ms_per_inquiry"], 3), f"{r['time_ratio']:.2f}×",
                     _f(r["tokenizer_ms_per_inquiry"], 3), f"{r['macro_f1']:.3f}", f"{r['accuracy']:.3f}",
                     f"{r['escalation_recall']:.3f}", _f(r["fit_seconds"], 1), vocab])
    lines += _table(["model", "tokenizer", "ms/inquiry", "× triage", "tokenizer ms", "macro-F1", "accuracy",
                     "escalation recall", "fit s", "features"], rows)
    skipped = [r for r in pr["rows"] if r["skipped"]]
    for r in skipped:
        lines += ["", f"**{r['name']} skipped**: {r['skipped']}."]
    lines += _img(res, "peers", "peers.png")
    return lines


def _http(res: dict[str, Any]) -> list[str]:
    h = res.get("http")
    if not h:
        return []
    t = h["target"]
    phases = h["phases"]
    health = phases["GET /healthz"]
    classify = phases["POST /api/v1/classify"]
    best_c = max(classify, key=lambda p: p["rps"])
    ceiling = max(h["ceiling"], key=lambda p: p["rps"])
    lines = [
        f"- Target: `POST /api/v1/classify` at least {t['limit']:,} requests/s with {h['workers']} workers: "
        f"**{verdict(t['met'])}** — {t['value']:,.0f} requests/s at best (concurrency {best_c['concurrency']}, "
        f"p50 {best_c['p50_ms']:.1f} ms, p99 {best_c['p99_ms']:.1f} ms).",
        f"- Classify throughput is **{h['classify_fraction_of_healthz']:.1%}** of `GET /healthz` "
        f"({max(p['rps'] for p in health):,.0f} requests/s), the framework's ceiling on this machine.",
        f"- The load client's own ceiling (the same client against a stub server that answers at once, in its own "
        f"process): {ceiling['rps']:,.0f} requests/s at concurrency {ceiling['concurrency']}, "
        f"{ceiling['client_cpu_us_per_request']:.0f} µs of client CPU per request. "
        + _client_bound(h, ceiling),
        "",
        f"`triage serve --workers {h['workers']}` (gunicorn sync workers, model loaded before fork) on a free "
        "127.0.0.1 port; a threaded `http.client` client with 8 or 32 connections, each phase bounded in time. "
        "Server CPU is the master's and the workers' user+system time during the phase (/proc/PID/stat).",
        "",
    ]
    rows = []
    for name, ps in phases.items():
        for p in ps:
            bad = {k: v for k, v in p["statuses"].items() if not k.startswith("2")}
            rows.append([name, p["concurrency"], _f(p["rps"], 0), _f(p["p50_ms"], 1), _f(p["p90_ms"], 1),
                         _f(p["p99_ms"], 1), f"{p['ok']:,}/{p['requests']:,}",
                         ", ".join(f"{k}×{v}" for k, v in bad.items()) or "–",
                         ", ".join(f"{k}×{v}" for k, v in p["errors"].items()) or "–",
                         f"{p['connects'] / max(1, p['requests']):.2f}",
                         _f(p["server_cpu_ms_per_request"], 2), f"{p['server_cores']:.2f}",
                         f"{p['client_cores']:.2f}", f"{p['other_cores']:.2f}"])
    lines += _table(["endpoint", "conc.", "req/s", "p50 ms", "p90 ms", "p99 ms", "2xx/sent", "non-2xx",
                     "client errors", "connects/req", "server CPU ms/req", "server cores", "client cores",
                     "other processes' cores"], rows)
    batch = next(v for k, v in phases.items() if "batch" in k)
    items = res["settings"]["batch_items"]
    best_batch = max(batch, key=lambda p: p["rps"])
    lines += [
        "",
        f"Batch: {best_batch['rps'] * items:,.0f} inquiries/s at best ({items} per request), against "
        f"{t['value']:,.0f}/s one by one through `/classify`.",
        "",
        "Client ceiling against the stub server:",
        "",
    ]
    lines += _table(["concurrency", "req/s", "p50 ms", "p99 ms", "client CPU µs/req", "client cores", "stub cores",
                     "other processes' cores"],
                    [[p["concurrency"], _f(p["rps"], 0), _f(p["p50_ms"], 2), _f(p["p99_ms"], 2),
                      _f(p["client_cpu_us_per_request"], 0), f"{p['client_cores']:.2f}", f"{p['server_cores']:.2f}",
                      f"{p['other_cores']:.2f}"] for p in h["ceiling"]])
    cpu = best_c["server_cpu_ms_per_request"]
    cores = res["machine"]["cores_usable"]
    if cpu == cpu and cpu:
        lines += ["", f"Capacity estimate without the client on the same cores: classify costs {cpu:.2f} ms of "
                  f"server CPU per request, so {h['workers']} workers on {h['workers']} dedicated cores would top "
                  f"out near {h['workers'] * 1000 / cpu:,.0f} requests/s; the {t['limit']:,} requests/s target "
                  f"needs at most {h['workers'] * 1000 / t['limit']:.2f} ms per request, "
                  f"{cpu / (h['workers'] * 1000 / t['limit']):.1f}× less than measured. "
                  f"(This machine has {cores} cores for client and server together.)"]
    if not h.get("server_alive_after", True):
        lines += ["", "**The server was not running after the load phases.** Log tail:", "", "```",
                  h["log_tail"], "```"]
    lines += _img(res, "http", "http.png")
    return lines


def _client_bound(h: dict[str, Any], ceiling: dict[str, Any]) -> str:
    health = max(h["phases"]["GET /healthz"], key=lambda p: p["rps"])
    share = health["rps"] / ceiling["rps"] if ceiling["rps"] else float("nan")
    if share > 0.7:
        return (f"`/healthz` reached {share:.0%} of that, so the /healthz figure is bounded by the client, not "
                "by the server: the framework's true ceiling is higher.")
    return (f"`/healthz` reached {share:.0%} of that, so the client is not what limits the server here, but it "
            f"does take {health['client_cores']:.2f} of the machine's cores away from the workers during the "
            "/healthz phase.")


def _scaling(res: dict[str, Any]) -> list[str]:
    sc = res.get("scaling")
    if not sc:
        return []
    from bench.common import source_mentions

    limited = source_mentions("model.py", "threadpool_limits")
    lines = [
        "No target is set for this section. Timed: `triage.model.build_pipeline().fit` (one fit, no "
        "cross-validation) in a fresh subprocess per size, on rows sampled with replacement from the training "
        "CSV, with the default BLAS threads and, right after, with `OPENBLAS_NUM_THREADS=1` (every size in the "
        "full run, the smallest in quick mode). "
        + ("`triage.model.train` limits BLAS to one thread itself, so the second column is what `triage train` "
           "pays per fit." if limited else "`triage train` runs with the default threads (the first column).")
        + " Peak memory is the subprocess's peak RSS (`VmHWM`, which unlike "
        "`ru_maxrss` does not inherit the parent's peak across exec); baseline is its RSS after reading the data.",
        "",
    ]
    rows = []
    one = {q["rows"]: q for q in sc["points_one_thread"] if "error" not in q}
    for p in sc["points"]:
        if "error" in p:
            rows.append([f"{p['rows']:,}", "–", f"failed: {p['error']}", "", "", "", "", "", "", ""])
            continue
        q = one.get(p["rows"])
        rows.append([f"{p['rows']:,}", f"{p['unique_rows']:,}", _f(p["seconds"], 2), _f(q["seconds"], 2) if q else "–",
                     f"{p['seconds'] / q['seconds']:.1f}×" if q else "–", _f(p["seconds"] / p["rows"] * 1e6, 0),
                     _f(p["peak_rss_kb"] / 1024, 0), _f((p["peak_rss_kb"] - p["baseline_rss_kb"]) / 1024, 0),
                     f"{p['features']:,}", p["iterations"]])
    lines += _table(["rows", "distinct rows", "fit s (default threads)", "fit s (1 BLAS thread)", "slowdown",
                     "µs per row (default)", "peak RSS MB", "peak − baseline MB", "features", "LR iterations"], rows)
    d, o = sc.get("fit_default"), sc.get("fit_one_thread")
    if d:
        lines += ["", f"Fitted power law (least squares on log-log): time ∝ rows^**{d['time_exponent']:.2f}** with the "
                  "default threads"
                  + (f", rows^**{o['time_exponent']:.2f}** with one BLAS thread (the steadier figure: thread waits "
                     "depend on the machine's other load)" if o and o["time_exponent"] == o["time_exponent"] else "")
                  + f"; peak memory above baseline ∝ rows^**{d['memory_exponent']:.2f}**."]
    if sc.get("speedups"):
        lines += ["", f"Fit time with the default threads over fit time with one BLAS thread: {_range(sc['speedups'])}× "
                  "(see Findings)."]
    cv = sc.get("train_with_cv")
    if cv:
        if "error" in cv:
            lines += ["", f"`triage.model.train` (5-fold CV + final fit) at {cv['rows']:,} rows failed: {cv['error']}"]
        else:
            ratio = sc.get("train_over_fit_one_thread") if limited else sc["train_over_fit"]
            column = "one-BLAS-thread" if limited else "default-threads"
            lines += ["", f"`triage.model.train` (5-fold cross-validation + final fit, what `triage train` runs) at "
                      f"{cv['rows']:,} rows took {cv['seconds']:.1f} s, **{_f(ratio, 1)}×** the {column} fit of the "
                      "same size; multiply that column by this for `triage train`."]
    lines += _img(res, "scaling", "training_scaling.png")
    return lines


def _start(res: dict[str, Any]) -> list[str]:
    st = res.get("start")
    if not st:
        return []
    s = st["start"]
    ab = st["app_build"]
    ready, loaded = st["memory_ready"], st["memory_after_load"]
    model_mb = ab["model_live_kb"] / 1024
    first_load_mb = (ab["rss_model_kb"] - ab["rss_imports_kb"]) / 1024
    app_mb = ab["rss_app_kb"] / 1024
    w_ready = ready["workers"]
    # A worker that had loaded the app and the model itself would hold them in
    # private pages; one forked from a master that had them holds them shared.
    shared_ok = bool(w_ready) and all(w["private"] < 0.25 * app_mb for w in w_ready)
    workers = res["http"]["workers"] if res.get("http") else len(w_ready)
    lines = [
        "No numeric target is set for this section.",
        "",
        f"- Start: from launching `triage serve --workers {workers}` to the first `/readyz` 200: "
        f"**{s['ready_s']:.2f} s** (first answer on the port after {s['listening_s']:.2f} s; all {workers} workers "
        f"forked after {s['forked_s']:.2f} s; polled every 20 ms). Where it goes, measured in a fresh process: "
        f"importing triage and its libraries {ab['import_s']:.2f} s, loading and verifying the model "
        f"{ab['model_load_s']:.2f} s, `create_app()` (store, model again, blueprints) {ab['create_app_s']:.2f} s; "
        "the rest is the interpreter, gunicorn and the fork.",
        f"- Model loaded before fork: **{'yes' if shared_ok else 'not shown'}** — at ready each worker holds "
        + ", ".join(f"{w['private']:.0f} MB private and {w['shared']:.0f} MB shared" for w in w_ready)
        + f"; the app with its model takes {app_mb:.0f} MB in a process of its own. The loaded model holds "
        f"{model_mb:.0f} MB of objects (tracemalloc; {ab['model_file_kb'] / 1024:.1f} MB compressed on disk), and "
        f"its first load grew the process by {first_load_mb:.0f} MB (modules imported by unpickling, allocator "
        "slack). A worker that loaded them itself would hold all of that privately.",
        f"- All processes together: RSS {ready['total_rss']:.0f} MB but PSS {ready['total_pss']:.0f} MB at ready "
        f"(RSS counts a shared page in every process, PSS divides it among them); after the load phases RSS "
        f"{loaded['total_rss']:.0f} MB, PSS {loaded['total_pss']:.0f} MB.",
        "",
    ]
    rows = []
    for when, m in (("ready", ready), ("after load", loaded)):
        for name, p in [("master", m["master"])] + [(f"worker {i + 1}", w) for i, w in enumerate(m["workers"])]:
            rows.append([when, name, _f(p["rss"], 1), _f(p["pss"], 1), _f(p["shared"], 1), _f(p["private"], 1)])
    lines += _table(["when", "process", "RSS MB", "PSS MB", "shared MB", "private MB"], rows)
    grow = [b["private"] - a["private"] for a, b in zip(ready["workers"], loaded["workers"], strict=False)]
    if grow:
        lines += ["", "Under load each worker's private memory grew by "
                  + ", ".join(f"{g:.0f} MB" for g in grow)
                  + f" and the master's by {loaded['master']['private'] - ready['master']['private']:.0f} MB: pages "
                    "once shared become private when a worker writes to them (copy-on-write: Python's reference "
                    "counts and garbage collector write to the objects the master built), and each worker builds "
                    "its own MeCab tagger and per-request buffers. When every worker has copied a page, the "
                    "master's original counts as its private memory."]
    lines += _img(res, "start", "memory.png")
    return lines


def _profile(res: dict[str, Any]) -> list[str]:
    lines = ["Top functions by own time (cProfile adds overhead; compare shares, not absolute times)."]
    for name, prof in (res.get("profile") or {}).items():
        shares = ", ".join(f"{k} {v:.0%}" for k, v in prof["package_shares"].items())
        lines += ["", f"**{name}** — {prof['total_ms_per_text']:.3f} ms per inquiry under the profiler "
                      f"({prof['texts']} inquiries). Own time by package: {shares}.", ""]
        lines += _table(["function", "calls", "own ms/inquiry", "cum ms/inquiry", "own share"],
                        [[f"`{r['function']}`", f"{r['calls']:,}", _f(r["own_ms_per_text"], 3),
                          _f(r["cum_ms_per_text"], 3), f"{r['own_share']:.1%}"] for r in prof["top"]])
    hp = (res.get("http") or {}).get("profile")
    if hp:
        total = hp["profiled_ms_per_request"]
        lines += ["", f"**`POST /api/v1/classify` in process** (Flask test client, same settings as the server, "
                      f"{hp['requests']} requests; no socket, no gunicorn): {total:.2f} ms per request under the "
                      "profiler. Cumulative time of its parts:", ""]
        lines += _table(["part", "ms per request", "share"],
                        [[label.replace("  ", "↳ "), _f(ms, 3), f"{ms / total:.0%}"]
                         for label, ms in hp["parts_ms"].items() if ms])
        lines += ["", "Own time by package: " + ", ".join(f"{k} {v:.2f} ms" for k, v in hp["packages_ms"].items())
                  + "."]
    return lines


def _findings(res: dict[str, Any]) -> list[str]:
    """What the figures of this run point at in triage/ (suggestions; the benchmark changes no triage code)."""
    from bench.common import source_mentions

    out: list[str] = []
    fl, prof, http, sc, st = (res.get(k) for k in ("floor", "profile", "http", "scaling", "start"))
    if fl:
        s = fl["single"]
        costs = {"Router.predict": s["predict"]["median"], "Router.explain": s["explain"]["median"],
                 "KnowledgeBase.suggest": s["suggest"]["median"]}
        top = max(costs, key=costs.__getitem__)
        line = (f"**The costliest step of a single request is `{top}`** ({costs[top]:.3f} ms median; "
                + ", ".join(f"`{k}` {v:.3f} ms" for k, v in costs.items() if k != top) + ").")
        sg = next((v for k, v in (prof or {}).items() if "suggest alone" in k), None)
        if sg:
            overhead = sum(v for k, v in sg["package_shares"].items()
                           if k in ("sklearn", "scipy", "stdlib: inspect", "narwhals"))
            if overhead > 0.3:
                line += (f" {overhead:.0%} of `suggest`'s profiled time is scikit-learn/SciPy validation and sparse "
                         "set-up of `TfidfVectorizer.transform` on one text; compiling the FAQ index the way "
                         "`Router` compiles the model removes it.")
        out.append(line)
        r = fl["stage_ratios"]
        out.append(
            f"**The batch pipeline is the sum of its stages**: normalise "
            f"{r.get('normalize (NFKC, PII placeholders)', 0):.2f}×, word TF-IDF with the tokenizer "
            f"{r.get('word 1-2-gram TF-IDF (tokenizer included)', 0):.2f}× (the tokenizer alone "
            f"{r.get('JapaneseTokenizer alone (lemmas, POS filter)', 0):.2f}×), char TF-IDF "
            f"{r.get('char 1-3-gram TF-IDF', 0):.2f}× the floor; the classifier is negligible. "
            + ("Two vectorizer passes that count n-grams in Python leave little room under a 2.5× budget: "
               "meeting it means counting both n-gram kinds in one pass and without per-token Python work."
               if not fl["targets"]["batch"]["met"] else "Within the 2.5× budget."))
    if sc and sc.get("speedups"):
        worst = max(sc["speedups"])
        already = source_mentions("model.py", "threadpool_limits")
        if worst >= 1.3:
            line = (f"**OpenBLAS threads made a fit up to {worst:.1f}× slower** in this run (against "
                    "`OPENBLAS_NUM_THREADS=1`): the solver's BLAS calls work on vectors too small to split, so the "
                    "threads mostly wait, for each other and for cores other processes hold. ")
        else:
            line = (f"**BLAS threads made no consistent difference to a fit in this run** ({_range(sc['speedups'])}× "
                    "against `OPENBLAS_NUM_THREADS=1`); their cost is waiting for cores, so it shows when other "
                    "processes hold them. ")
        line += ("`triage.model.train` limits BLAS to one thread (`threadpool_limits`), which is never worse here."
                 if already and min(sc["speedups"]) >= 0.9 else
                 "`triage.model.train` limits BLAS to one thread (`threadpool_limits`)." if already else
                 "Limiting BLAS to one thread around `triage.model.train` (`threadpoolctl.threadpool_limits(1, "
                 "'blas')`) removes that risk.")
        out.append(line)
    if http and http.get("profile"):
        parts = {k.strip(): v for k, v in http["profile"]["parts_ms"].items() if v and not k.startswith("  ")}
        total = http["profile"]["profiled_ms_per_request"]
        inside = parts.pop("whole request inside Flask (wsgi_app)", total)
        cpu = _server_cpu(http)
        ana = parts.get("intake.analyse (route, explain, FAQ)", 0.0)
        rest = cpu * (1 - ana / total) if total else float("nan")
        out.append(
            "**Where a classify request goes** (profiled in process): "
            + ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(parts.items(), key=lambda kv: -kv[1]))
            + f"; Flask, Werkzeug, metrics and the rest {max(0.0, inside - sum(parts.values())) / total:.0%}. "
            f"On the server a classify request costs {cpu:.1f} ms of CPU; with analysis free the remaining "
            f"~{rest:.1f} ms would still cap two workers near {2000 / rest:,.0f} requests/s"
            + (f", below the {http['target']['limit']:,} targeted." if 2000 / rest < http["target"]["limit"]
               else "."))
    if http:
        c = http["phases"]["POST /api/v1/classify"][0]
        out.append(
            f"**No keep-alive:** {c['connects'] / max(1, c['requests']):.2f} TCP connections per request: "
            "gunicorn's sync workers close every connection, so each API call pays a connect. Contact systems "
            "that send many requests would keep connections with `worker_class='gthread'`.")
    if st:
        ready, loaded = st["memory_ready"], st["memory_after_load"]
        grow = [b["private"] - a["private"] for a, b in zip(ready["workers"], loaded["workers"], strict=False)]
        todo = []
        if not source_mentions("serve.py", "gc.freeze"):
            todo.append("calling `gc.freeze()` in the master just before it forks (a gunicorn `pre_fork` hook) "
                        "keeps the garbage collector from writing to, and so copying, every object the master "
                        "built")
        if not source_mentions("__init__.py", "get_kb"):
            todo.append("building the FAQ index in `create_app` (before the fork) shares it and spares each "
                        "worker's first faq request the build")
        if grow:
            out.append(f"**Shared memory decays under load:** each worker's private memory grew by "
                       f"{max(grow):.0f} MB during the load phases" + (": " + "; ".join(todo) + "." if todo else "."))
    if not out:
        return ["No findings: the sections they rest on did not run."]
    return [f"{i}. {text}" for i, text in enumerate(out, 1)]


def _server_cpu(http: dict[str, Any]) -> float:
    vals = [p["server_cpu_ms_per_request"] for p in http["phases"]["POST /api/v1/classify"]]
    vals = [v for v in vals if v == v]
    return min(vals) if vals else float("nan")


def _method(res: dict[str, Any]) -> list[str]:
    return [
        "- One process runs sections 1 and 2 in order; the HTTP client of section 3 runs in the same process "
        "as the orchestration (idle while it measures); training sizes run in subprocesses one at a time.",
        "- Ratios in section 1 are paired: for each chunk of 100 texts, raw tokenization, the batch pipeline and "
        "each stage run back to back in a rotating order, so that load from other processes hits both sides of "
        "a ratio alike; the verdict uses the median of the per-chunk ratios (the ratio of total times and of the "
        "fastest chunks are given beside it). Single-call figures are medians of individually timed calls, "
        "which a preemption rarely hits; their p99 mostly measures the machine's other load.",
        "- Each section states how many cores other processes kept busy while it ran (/proc/stat minus the "
        "benchmark's own CPU time): on this machine that was often more than the benchmark itself had.",
        "- Percentiles use linear interpolation; with few samples p99 is close to the maximum.",
        "- The machine has few, shared cores: in section 3 the client, the gunicorn master and two workers "
        "share them (with any other load), so requests/s under-states what two workers do on dedicated cores; "
        "server CPU per request depends much less on that and is the better figure for capacity planning "
        "(contention still inflates it somewhat: shared caches, preempted lock holders).",
        "- Section 5's breakdown of the start comes from a separate fresh process, so it ran under different "
        "momentary load than the timed start.",
    ]
