"""Markdown for the figures of one `python -m bench` run (results.json holds the same figures, unrounded).

The unique figures (targets, the floor ratio, the tokenizer comparison, the exactly-once check) get tables
of their own; for the rest the report quotes what pytest-benchmark, locust and bench.loadgen print.
"""

from __future__ import annotations

from typing import Any

HEADINGS = ("## 1. In process", "## 2. Tokenizers on the same features", "## 3. HTTP",
            "## 4. Webhooks exactly once under load")


def _bench(r: dict[str, Any], name: str) -> dict[str, Any] | None:
    return r.get("timings", {}).get("benchmarks", {}).get(name)


def _ratio(a: dict[str, Any] | None, b: dict[str, Any] | None, key: str = "median") -> float | None:
    return a[key] / b[key] if a and b and b[key] else None


def _failed(section: dict[str, Any] | None) -> list[str] | None:
    """Why a section has no figures, or None when it has them."""
    if section is None:
        return ["Not run: an earlier step failed (see above)."]
    if "not_run" in section:  # left out with --only
        return [section["not_run"]]
    return ["**This section failed:**", "", "```", section["error"].rstrip(), "```"] if "error" in section else None


def targets(r: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met or None when not measured) for every target of the issues."""
    single = _bench(r, "test_single_predict")
    floor = _ratio(_bench(r, "test_floor_predict_many"), _bench(r, "test_floor_raw_tokenize"))
    claims = _ratio(_bench(r, "test_claims_extract"), _bench(r, "test_claims_answer"), "mean")
    phases = {p["endpoint"]: p for p in r.get("http", {}).get("phases", [])}
    shares = {e: (s, _ratio(phases.get(e), phases.get("GET /healthz"), "rps"))
              for e, s in (("POST /api/v1/classify", 0.5), ("POST /api/v1/webhooks/inquiries", 0.4))}
    rows: list[tuple[str, Any, str, Any]] = [
        ("single-inquiry `predict` median ≤ 0.5 ms, in process (issue 10)", single and single["median"],
         "{:.3f} ms", single and single["median"] <= 0.5),
        ("batch `predict_many` ≤ 2.5× raw tokenization (issue 10)", floor, "{:.2f}×", floor and floor <= 2.5),
        ("claims extraction ≤ 20% of the classify work per inquiry (issue 15; `test_claims_*` of `bench/timings.py`, mean/mean)",
         claims, "{:.1%}", claims is not None and claims <= 0.2),
        *((f"`{e}` ≥ {s:.0%} of `/healthz` requests/s, keep-alive, concurrency 8 (issue 17)", got, "{:.0%}",
           got is not None and got >= s) for e, (s, got) in shares.items()),
    ]
    out = [(t, fmt.format(got) if got is not None else "not measured", bool(ok) if got is not None else None)
           for t, got, fmt, ok in rows]
    if phases:
        worst = max(phases.values(), key=lambda p: p["p99_ms"])
        errors = sum(p["failures"] for p in phases.values())
        out += [("p99 < 50 ms at concurrency 8, every endpoint (issue 17)",
                 f"{worst['p99_ms']:.0f} ms at worst (`{worst['endpoint']}`)", worst["p99_ms"] < 50),
                ("zero errors at concurrency 8 (issue 17)", f"{errors} failed requests", errors == 0)]
    if load := r.get("http", {}).get("load"):
        w = load["webhooks"]
        out.append(("every acknowledged webhook stored exactly once under load (`bench/loadgen.py`)",
                    f"{w['acknowledged']} acknowledged: {w['lost']} lost, {w['doubled']} doubled, "
                    f"{w['mismatched']} mismatched; {load['summary']['unexpected']} unexpected answers",
                    load["result"] == "OK"))
    return out


def _in_process(r: dict[str, Any]) -> list[str]:
    t = r.get("timings")
    if (failed := _failed(t)) is not None:
        return failed
    lines = ["pytest-benchmark (`bench/timings.py`), pedantic mode: one call per round, each round on the next "
             "inquiry (or batch) of the test CSV, so the median is the median call:", "", "```", t["table"], "```"]
    raw, batch = _bench(r, "test_floor_raw_tokenize"), _bench(r, "test_floor_predict_many")
    if raw and batch:
        n = raw["texts_per_round"]
        lines += ["", f"The floor: batches of {n} inquiries, ms per inquiry.", "",
                  "| path | min | median | × raw (median) | × raw (min) |", "|---|---:|---:|---:|---:|",
                  f"| `raw_tokenize` of each raw text | {raw['min'] / n:.3f} | {raw['median'] / n:.3f} | 1.00× | 1.00× |",
                  (f"| **`predict_many`** | {batch['min'] / n:.3f} | {batch['median'] / n:.3f} | "
                   f"**{_ratio(batch, raw):.2f}×** | {_ratio(batch, raw, 'min'):.2f}× |")]
    extract = _bench(r, "test_claims_extract")
    if extract:
        lines += ["", "Claims extraction (`claims.extract`) as a share of the same inquiries' classify work, mean/mean: "
                  f"{_ratio(extract, _bench(r, 'test_single_predict'), 'mean'):.1%} of `predict` (the bare route), "
                  f"{_ratio(extract, _bench(r, 'test_claims_answer'), 'mean'):.1%} of a classify answer "
                  "(`predict_explained` plus FAQ suggestions for faq routes)."]
    return lines + [f"\nSkipped: {s}" for s in t["skipped"]]


def _tokenizers(r: dict[str, Any]) -> list[str]:
    t = r.get("timings")
    if (failed := _failed(t)) is not None:
        return failed
    measured = {n: (_bench(r, f"test_tokenizer_model[{n}]"), _bench(r, f"test_tokenizer_alone[{n}]"))
                for n in t["tokenizers"]}
    info = next((m for m, _ in measured.values() if m), None)
    if info is None:
        return ["Not measured (see the skipped lines of section 1)."]
    lines = [(f"Each tokenizer feeds the same `triage.features.Featurizer` (`bench/tokenizers.py`); each model is "
             f"`triage.model.train` on the same {info['train_rows']:,} training rows with the shipped lexicon and is "
             f"scored on the same {info['test_rows']:,} test rows (routed labels). ms per inquiry: medians over "
             f"batches of {info['texts_per_round']}; the tokenizer alone reads the normalized text."), "",
             ("| tokenizer | packages | tokenizer ms | `predict_many` ms | × fugashi | macro-F1 | accuracy | "
             "escalation recall | train s | word features |"), "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    base = measured.get("fugashi", (None, None))[0]
    for n, (m, alone) in measured.items():
        if m is None or alone is None:
            lines.append(f"| {n} | {t['tokenizers'][n]} |" + " – |" * 8)
            continue
        k, rel = m["texts_per_round"], _ratio(m, base)
        lines.append(f"| {n} | {m['tokenizer']} | {alone['median'] / k:.3f} | {m['median'] / k:.3f} | "
                     f"{rel:.2f}× | {m['macro_f1']:.3f} | {m['accuracy']:.3f} | {m['escalation_recall']:.3f} | "
                     f"{m['train_seconds']:.1f} | {m['words']:,} |")
    return lines


def _http(r: dict[str, Any]) -> list[str]:
    h = r.get("http")
    if (failed := _failed(h)) is not None:
        return failed
    kept = "yes" if h["keep_alive"] else "**no**: it answers `Connection: close`, so every request pays a connect"
    threads = f" with TRIAGE_THREADS={h['threads']}" if h.get("threads") else ""
    lines = [(f"`triage serve --workers {h['workers']}`{threads} (the test suite's launcher, `tests/servers.py`); locust "
             f"(`bench/locustfile.py`, FastHttpUser) with {h['concurrency']} users, each back to back on a kept "
             f"connection, {h['seconds']:g} s per endpoint after a warm-up; keep-alive: {kept}. Server CPU: the "
             "master's and workers' user + system time; client CPU: locust's, start-up included. locust rounds "
             "times below 100 ms to whole milliseconds."), "",
             ("| endpoint | requests | req/s | × /healthz | p50 ms | p90 ms | p99 ms | max ms | errors | "
              "server CPU ms/req | client CPU ms/req |"), "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for p in h["phases"]:
        n = max(1, p["requests"])
        lines.append(f"| `{p['endpoint']}` | {p['requests']:,} | {p['rps']:,.0f} | "
                     f"{_ratio(p, h['phases'][0], 'rps'):.0%} | {p['p50_ms']:.0f} | {p['p90_ms']:.0f} | "
                     f"{p['p99_ms']:.0f} | {p['max_ms']:.0f} | {p['failures']} | {1e3 * p['server_cpu_s'] / n:.2f} | "
                     f"{1e3 * p['client_cpu_s'] / n:.2f} |")
    return [*lines, "", f"Server still up after sections 3 and 4: {'yes' if h['server_alive'] else '**no**'}."]


def _load(r: dict[str, Any]) -> list[str]:
    h = r.get("http")
    if h is None or "load" not in h:
        return _failed(h) or ["Not run."]
    load = h["load"]
    return [(f"`{load['command']}` against the same server, exit status {load['exit_status']}: open loop (locust's "
             "`OpenLoop` user of `bench/locustfile.py`: each request leaves at its scheduled time whatever the server "
             "does, and its latency counts from that time), agent form, classify, batch of 20 and signed webhooks, "
             "then every acknowledged webhook is looked up in the database, and the check must report a corrupted "
             "copy of the acknowledgements (self-test)."), "", "```", load["printed"], "```"]


def _model_line(model: dict[str, Any]) -> str:
    if model.get("copied"):  # --models-dir: a version trained elsewhere
        return (f"Model: version `{model['version']}` ({model['csv']}, trained on {model['rows']:,} rows; macro-F1 "
                f"{model['cv_macro_f1']:.3f} in its own training report).")
    return (f"Model: version `{model['version']}`, `triage.lifecycle.train_version` on {model['rows']:,} rows "
            f"({model['csv']}) with the shipped lexicon, {model['seconds']:.0f} s; cross-validated macro-F1 "
            f"{model['cv_macro_f1']:.3f}.")


def render(r: dict[str, Any]) -> str:
    """Return report.md for the results of one run."""
    m, model = r["machine"], r.get("model", {})
    loads = [" / ".join(f"{x:.2f}" for x in m.get(k, ())) for k in ("load_average_start", "load_average_end")]
    lines = ["# triage benchmark report", "",
             (f"`{r['command']}`: {r['mode']} mode, {r['started']}, {r.get('seconds', 0)} s in all, commit "
             f"`{m['commit']}`, one model and the same inquiries (`{r['test_csv']}`) throughout. Absolute times "
             "move with the machine's other load; ratios measured side by side much less. Quick mode trains on "
             "samples and runs fewer rounds and 4 s phases: take figures from a full run."), "", "## Machine", "",
             (f"{m['cpu']}, {m['cores']} usable cores shared by client and server, kernel {m['kernel']}, Python "
             f"{m['python']}; load average {loads[0]} at the start and {loads[1]} at the end (1, 5, 15 minutes; "
             f"above {m['cores']}: other processes competed for the cores)."), "",
             ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + ".", "",
             *(_failed(model) or [_model_line(model)]),
             "", "## Targets", "", "| target | measured | verdict |", "|---|---|---|"]
    verdict = {True: "MET", False: "**NOT MET**", None: "skipped"}
    lines += [f"| {t} | {got} | {verdict[ok]} |" for t, got, ok in targets(r)]
    for heading, part in zip(HEADINGS, (_in_process, _tokenizers, _http, _load), strict=True):
        lines += ["", heading, "", *part(r)]
    return "\n".join(lines) + "\n"
