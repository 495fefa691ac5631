"""Markdown for the figures of one `python -m bench` run (results.json holds the same figures, unrounded)."""

from __future__ import annotations

from typing import Any

HEADINGS = ("## 1. In process", "## 2. Tokenizers on the same features", "## 3. HTTP",
            "## 4. Webhooks exactly once under load")
SINGLE = {  # pytest-benchmark test -> what it times
    "test_single_predict": "`InquiryModel.predict` (route + probabilities)",
    "test_single_predict_explained": "`InquiryModel.predict_explained` (route + explanation: what classify runs)",
    "test_single_raw_tokenize": "`triage.text.raw_tokenize` (MeCab alone)",
    "test_single_claims": "claims extraction (`triage.claims`)",
}


def _bench(r: dict[str, Any], name: str) -> dict[str, Any] | None:
    return r.get("timings", {}).get("benchmarks", {}).get(name)


def _ratio(a: dict[str, Any] | None, b: dict[str, Any] | None, key: str = "median") -> float | None:
    return a[key] / b[key] if a and b and b[key] else None


def _failed(section: dict[str, Any] | None) -> list[str]:
    if section is None:
        return ["Not run: an earlier step failed (see above)."]
    return ["**This section failed:**", "", "```", section["error"].rstrip(), "```"] if "error" in section else []


def targets(r: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met or None when not measured) for every target of the issues."""
    single = _bench(r, "test_single_predict")
    floor = _ratio(_bench(r, "test_floor_predict_many"), _bench(r, "test_floor_raw_tokenize"))
    claims = _ratio(_bench(r, "test_single_claims"), _bench(r, "test_single_predict_explained"))
    rows: list[tuple[str, str, bool | None]] = [
        ("single-inquiry `predict` median ≤ 0.5 ms, in process (issue 10)",
         f"{single['median']:.3f} ms" if single else "not measured", single["median"] <= 0.5 if single else None),
        ("batch `predict_many` ≤ 2.5× raw tokenization (issue 10)",
         f"{floor:.2f}×" if floor else "not measured", floor <= 2.5 if floor else None),
        ("claims extraction ≤ 20% of the classify work per inquiry (issue 15)",
         f"{claims:.0%}" if claims is not None else "skipped: no `triage.claims` extractor in this tree",
         claims <= 0.2 if claims is not None else None),
    ]
    phases = {p["endpoint"]: p for p in r.get("http", {}).get("phases", [])}
    for endpoint, share in (("POST /api/v1/classify", 0.5), ("POST /api/v1/webhooks/inquiries", 0.4)):
        got = _ratio(phases.get(endpoint), phases.get("GET /healthz"), "rps")
        rows.append((f"`{endpoint}` ≥ {share:.0%} of `/healthz` requests/s, keep-alive, concurrency 8 (issue 17)",
                     f"{got:.0%}" if got is not None else "not measured", got >= share if got is not None else None))
    if phases:
        worst = max(phases.values(), key=lambda p: p["p99_ms"])
        errors = sum(p["failures"] for p in phases.values())
        rows += [("p99 < 50 ms at concurrency 8, every endpoint (issue 17)",
                  f"{worst['p99_ms']:.0f} ms at worst (`{worst['endpoint']}`)", worst["p99_ms"] < 50),
                 ("zero errors at concurrency 8 (issue 17)", f"{errors} failed requests", errors == 0)]
    load = r.get("http", {}).get("load")
    if load:
        w = load["webhooks"]
        rows.append(("every acknowledged webhook stored exactly once under load (`bench/loadgen.py`)",
                     (f"{w['acknowledged']} acknowledged: {w['lost']} lost, {w['doubled']} doubled, "
                     f"{w['mismatched']} mismatched; {load['summary']['all']['unexpected']} unexpected answers"),
                     load["result"] == "OK"))
    return rows


def _in_process(r: dict[str, Any]) -> list[str]:
    t = r.get("timings")
    if not t or "error" in t:
        return _failed(t)
    lines = [("Timed by pytest-benchmark (`bench/timings.py`) in pedantic mode: one call per round, each round on the "
             "next inquiry of the test CSV, so the median is the median call (garbage collection on). Figures in ms; "
             "q1–q3 hold the middle half of the rounds, min is the least disturbed call. Meanwhile other "
             f"processes kept {t['other_cores']:.2f} of the machine's cores busy on average."), "",
             "| call | min | q1 | median | q3 | rounds |", "|---|---:|---:|---:|---:|---:|"]
    for name, what in SINGLE.items():
        if b := _bench(r, name):
            lines.append(f"| {what} | {b['min']:.3f} | {b['q1']:.3f} | **{b['median']:.3f}** | {b['q3']:.3f} | "
                         f"{b['rounds']} |")
    raw, batch = _bench(r, "test_floor_raw_tokenize"), _bench(r, "test_floor_predict_many")
    if raw and batch:
        n = raw["texts_per_round"]
        lines += ["", f"The floor: each round is one batch of {n} inquiries; ms per inquiry.", "",
                  "| path | min | median | × raw (median) | × raw (min) |", "|---|---:|---:|---:|---:|",
                  (f"| raw tokenization (`raw_tokenize` of each raw text) | {raw['min'] / n:.3f} | "
                  f"{raw['median'] / n:.3f} | 1.00× | 1.00× |"),
                  (f"| **`predict_many`** (normalise, sentences, features, TF-IDF, scores, policy) | "
                  f"{batch['min'] / n:.3f} | {batch['median'] / n:.3f} | **{_ratio(batch, raw):.2f}×** | "
                  f"{_ratio(batch, raw, 'min'):.2f}× |")]
    return lines + [f"\nSkipped: {s}" for s in t["skipped"]]


def _tokenizers(r: dict[str, Any]) -> list[str]:
    t = r.get("timings")
    if not t or "error" in t:
        return _failed(t)
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
    if not h or "error" in h:
        return _failed(h)
    kept = "yes" if h["keep_alive"] else "**no**: it answers `Connection: close`, so every request pays a connect"
    lines = [(f"`triage serve --workers {h['workers']}` (started by the test suite's launcher, `tests/servers.py`) on "
             f"a free 127.0.0.1 port; locust (`bench/locustfile.py`, FastHttpUser) with {h['concurrency']} users, "
             f"each sending back to back on a connection it keeps, {h['seconds']:g} s per endpoint after a warm-up. "
             f"Does the server keep connections alive? {kept}. Server CPU: the master's and workers' user + system "
             "time (/proc); client CPU: locust's, start-up included; other processes' cores: the machine's busy "
             "time (/proc/stat) less both, over the phase."), "",
             ("| endpoint | requests | req/s | × /healthz | p50 ms | p90 ms | p99 ms | max ms | errors | "
              "server CPU ms/req | client CPU ms/req | other processes' cores |"),
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    health = h["phases"][0]
    for p in h["phases"]:
        n = max(1, p["requests"])
        lines.append(f"| `{p['endpoint']}` | {p['requests']:,} | {p['rps']:,.0f} | {_ratio(p, health, 'rps'):.0%} | "
                     f"{p['p50_ms']:.0f} | {p['p90_ms']:.0f} | {p['p99_ms']:.0f} | {p['max_ms']:.0f} | "
                     f"{p['failures']} | {1e3 * p['server_cpu_s'] / n:.2f} | {1e3 * p['client_cpu_s'] / n:.2f} | "
                     f"{p['other_cores']:.2f} |")
    up = "yes" if h["server_alive"] else "**no**"
    note = f"locust rounds response times below 100 ms to whole milliseconds. Server still up after sections 3 and 4: {up}."
    return [*lines, "", note]


def _load(r: dict[str, Any]) -> list[str]:
    h = r.get("http")
    if not h or "load" not in h:
        return _failed(h)
    load, w = h["load"], h["load"]["webhooks"]
    lines = [(f"`{load['command']}` against the same server: open loop (each request leaves at its scheduled time "
             "whatever the server does; latency counts from that time), a mix of agent form, classify, batch of 20 "
             f"and signed webhooks; exit status {load['exit_status']}."), "",
             "| phase | target/s | sent/s | scheduled | not sent in time | unexpected | p50 ms | p95 ms | p99 ms |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for plan in load["plan"]:
        p = load["summary"]["phases"][plan["phase"]]
        lines.append(f"| {plan['phase']} | {plan['rate']:g} | {p['sent_rps']:.1f} | {p['scheduled']} | "
                     f"{p['not_sent_in_time']} | {p['unexpected']} | {p['p50_ms']:.0f} | {p['p95_ms']:.0f} | "
                     f"{p['p99_ms']:.0f} |")
    test = {True: "passed", False: "**FAILED**", None: "not run"}[w["self_test"]]
    return [*lines, "", (f"Webhooks: {w['acknowledged']} acknowledged; in the database {w['stored']} stored, "
            f"{w['lost']} lost, {w['doubled']} doubled, {w['mismatched']} under another inquiry id; "
            f"{w['answered_duplicate']} answered as duplicates. Self-test of the check (a corrupted copy of the "
            f"acknowledgements must be reported): {test}. Result: **{load['result']}**.")]


def render(r: dict[str, Any]) -> str:
    """Return report.md for the results of one run."""
    m, model = r["machine"], r.get("model", {})
    loads = [" / ".join(f"{x:.2f}" for x in m.get(k, ())) for k in ("load_average_start", "load_average_end")]
    lines = ["# triage benchmark report", "",
             (f"`{r['command']}`: {r['mode']} mode, {r['started']}, {r.get('seconds', 0)} s in all, commit "
             f"`{m['commit']}`. Everything below comes from this one run, on one model and the same inquiries "
             f"(`{r['test_csv']}`). Absolute times move with the machine's other load; ratios measured side by side "
             "move much less."), "", "## Machine", "",
             (f"{m['cpu']}, {m['cores']} usable cores, kernel {m['kernel']}, Python {m['python']}; load average "
             f"{loads[0]} at the start and {loads[1]} at the end (1, 5, 15 minutes; above {m['cores']} means other "
             "processes competed for the cores)."), "", ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + ".",
             "", *(_failed(model) if "error" in model else [
                 (f"Model: version `{model['version']}`, `triage.lifecycle.train_version` on {model['rows']:,} rows "
                 f"({model['csv']}) with the shipped lexicon, {model['seconds']:.0f} s; cross-validated macro-F1 "
                 f"{model['cv_macro_f1']:.3f}.")]),
             "", "## Targets", "", "| target | measured | verdict |", "|---|---|---|"]
    verdict = {True: "MET", False: "**NOT MET**", None: "skipped"}
    lines += [f"| {t} | {got} | {verdict[ok]} |" for t, got, ok in targets(r)]
    for heading, part in zip(HEADINGS, (_in_process, _tokenizers, _http, _load), strict=True):
        lines += ["", heading, "", *part(r)]
    lines += ["", "## Method and caveats", "",
              ("- One command runs it all in order: training, the in-process timings (a pytest subprocess), then one "
              "server with its locust phases and the open-loop run. Nothing else of the benchmark runs while a "
              "figure is taken; other processes on the machine may (see the load average)."),
              ("- Client and server share the machine's two cores: requests/s under-state what the workers do on "
              "cores of their own, and the client's CPU per request is given so that it can be taken out."),
              ("- Quick mode (`--quick`) trains on samples of the training rows, runs fewer rounds and 4 s phases: "
              "it shows that everything runs. Take figures from a full run.")]
    return "\n".join(lines) + "\n"
