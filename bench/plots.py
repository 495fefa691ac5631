"""PNG plots of the results (skipped, with the reason in the report, when matplotlib is missing)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def available() -> str | None:
    """Return None if plots can be drawn, else why not."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot  # noqa: F401
    except ImportError as exc:
        return f"{type(exc).__name__}: {exc} (install the bench extra: pip install -e '.[bench]')"
    return None


def _save(fig: Any, path: Path) -> str:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def floor(result: dict[str, Any], out: Path) -> list[str]:
    """Per-text time of raw tokenization, pipeline stages, batch and single calls; latency distributions."""
    import matplotlib.pyplot as plt

    files = []
    stages = result["stages_ms_per_text"]
    single = result["single"]
    names = ["raw fugashi tokenize (floor)", *stages.keys(), "batch pipeline (predict_many)",
             "single: Router.predict (median)", "single: explain (median)", "single: suggest (median)",
             "single: intake.analyse, full request (median)"]
    values = [result["raw_ms_per_text"], *stages.values(), result["batch_ms_per_text"],
              single["predict"]["median"], single["explain"]["median"], single["suggest"]["median"],
              single["full"]["median"]]
    fig, ax = plt.subplots(figsize=(9, 5))
    colors = ["#555555"] + ["#9ecae1"] * len(stages) + ["#3182bd", "#e6550d", "#fdae6b", "#fdae6b", "#a63603"]
    ax.barh(range(len(names)), values, color=colors)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.axvline(result["raw_ms_per_text"] * result["targets"]["batch"]["limit"], color="#3182bd", ls="--", lw=1,
               label=f"batch target ({result['targets']['batch']['limit']}x raw)")
    ax.axvline(result["targets"]["single"]["limit"], color="#e6550d", ls=":", lw=1,
               label=f"single target ({result['targets']['single']['limit']} ms)")
    ax.set_xlabel("ms per inquiry")
    ax.set_title("Pipeline vs raw tokenization (same texts, one run)")
    ax.legend(loc="center right", fontsize=8)
    files.append(_save(fig, out / "floor.png"))

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for key, label in (("predict", "Router.predict"), ("full", "triage.intake.analyse (full per-request work)")):
        xs = np.sort(np.asarray(single["samples_ms"][key]))
        ax.plot(xs, np.arange(1, len(xs) + 1) / len(xs), label=label)
    ax.axvline(result["targets"]["single"]["limit"], color="k", ls=":", lw=1, label="0.5 ms target")
    ax.set_xscale("log")
    ax.set_xlabel("ms per call (log)")
    ax.set_ylabel("fraction of calls")
    ax.set_title("Single-inquiry latency, in process")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    files.append(_save(fig, out / "single_latency.png"))
    return files


def peers(result: dict[str, Any], out: Path) -> list[str]:
    """Time per inquiry against macro-F1 of each tokenizer choice."""
    import matplotlib.pyplot as plt

    rows = [r for r in result["rows"] if not r["skipped"]]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    names = [r["name"] for r in rows]
    ax1.barh(range(len(rows)), [r["ms_per_inquiry"] for r in rows], color="#3182bd")
    ax1.set_yticks(range(len(rows)), names)
    ax1.invert_yaxis()
    ax1.set_xlabel("ms per inquiry, batch predict_proba")
    for r in rows:
        ax2.scatter(r["ms_per_inquiry"], r["macro_f1"], s=40)
        ax2.annotate(r["name"], (r["ms_per_inquiry"], r["macro_f1"]), fontsize=8, xytext=(4, 4),
                     textcoords="offset points")
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ax2.set_xscale("log")
    ax2.xaxis.set_major_formatter(ScalarFormatter())
    ax2.xaxis.set_minor_formatter(NullFormatter())
    ax2.set_xlabel("ms per inquiry (log scale)")
    ax2.set_ylabel(f"macro-F1 on {result['test_rows']} test rows")
    ax2.grid(alpha=0.3)
    fig.suptitle("Peers: same pipeline, other tokenizers")
    return [_save(fig, out / "peers.png")]


def http(result: dict[str, Any], out: Path) -> list[str]:
    """Requests/s and latency per endpoint and concurrency."""
    import matplotlib.pyplot as plt

    phases = result["phases"]
    names = list(phases)
    conc = [p["concurrency"] for p in next(iter(phases.values()))]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.8 / len(conc)
    for j, c in enumerate(conc):
        xs = np.arange(len(names)) + j * width
        ax1.bar(xs, [phases[n][j]["rps"] for n in names], width, label=f"concurrency {c}")
        ax2.bar(xs, [phases[n][j]["p50_ms"] for n in names], width, label=f"p50, c={c}")
        ax2.scatter(xs, [phases[n][j]["p99_ms"] for n in names], marker="_", s=200, color="k",
                    label="p99" if j == 0 else None)
    ceiling = max(p["rps"] for p in result["ceiling"])
    ax1.axhline(ceiling, color="grey", ls=":", label="client ceiling (stub server)")
    ax1.axhline(result["target"]["limit"], color="red", ls="--", lw=1, label="classify target")
    short = [n.split(" ")[1].replace("/api/v1/", "") + (" (100)" if "batch" in n else "") for n in names]
    for ax in (ax1, ax2):
        ax.set_xticks(np.arange(len(names)) + width * (len(conc) - 1) / 2, short, fontsize=8)
        ax.legend(fontsize=7)
    ax1.set_ylabel("requests/s (2xx), log scale")
    ax1.set_yscale("log")
    ax2.set_ylabel("ms")
    ax2.set_yscale("log")
    fig.suptitle(f"triage serve, {result['workers']} sync workers, loopback")
    return [_save(fig, out / "http.png")]


def scaling(result: dict[str, Any], out: Path) -> list[str]:
    """Log-log training time (default BLAS threads and one thread) and peak memory against rows."""
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    drawn = False
    for key, series, label, color in (("fit_default", result["points"], "default BLAS threads", "#3182bd"),
                                      ("fit_one_thread", result["points_one_thread"], "OPENBLAS_NUM_THREADS=1",
                                       "#31a354")):
        ok = [p for p in series if "error" not in p]
        if not ok or key not in result:
            continue
        drawn = True
        rows = np.array([p["rows"] for p in ok], dtype=float)
        fit = result[key]
        ax1.loglog(rows, [p["seconds"] for p in ok], "o-", color=color, label=label)
        if len(ok) > 1:
            ax1.loglog(rows, fit["time_a"] * rows ** fit["time_exponent"], "--", color=color, alpha=0.6,
                       label=f"least squares: t ~ n^{fit['time_exponent']:.2f}")
        if key == "fit_default":
            ax2.loglog(rows, [p["peak_rss_kb"] / 1024 for p in ok], "o-", color="#e6550d", label="peak RSS")
            ax2.loglog(rows, [max(0.1, (p["peak_rss_kb"] - p["baseline_rss_kb"]) / 1024) for p in ok], "s--",
                       color="#fdae6b", label=f"peak - baseline (n^{fit['memory_exponent']:.2f})")
    if not drawn:
        plt.close(fig)
        return []
    ax1.set_xlabel("training rows")
    ax1.set_ylabel("seconds, build_pipeline().fit")
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3, which="both")
    ax2.set_xlabel("training rows")
    ax2.set_ylabel("MB")
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3, which="both")
    fig.suptitle("Training scaling (one process per size)")
    return [_save(fig, out / "training_scaling.png")]


def memory(result: dict[str, Any], out: Path) -> list[str]:
    """Shared and private memory of the master and each worker, at ready and after load."""
    import matplotlib.pyplot as plt

    labels, shared, private = [], [], []
    for when, key in (("ready", "memory_ready"), ("after load", "memory_after_load")):
        m = result[key]
        for name, proc in [("master", m["master"])] + [(f"worker {i + 1}", w) for i, w in enumerate(m["workers"])]:
            labels.append(f"{name}\n{when}")
            shared.append(proc["shared"])
            private.append(proc["private"])
    fig, ax = plt.subplots(figsize=(9, 4.2))
    xs = np.arange(len(labels))
    ax.bar(xs, shared, label="shared with other processes (copy-on-write pages)", color="#9ecae1")
    ax.bar(xs, private, bottom=shared, label="private", color="#e6550d")
    ax.set_xticks(xs, labels, fontsize=8)
    ax.set_ylabel("MB resident")
    ax.set_title("triage serve memory (smaps_rollup)")
    ax.legend(fontsize=8)
    return [_save(fig, out / "memory.png")]
