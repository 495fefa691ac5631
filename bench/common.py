"""Settings of a run, the shared inquiries, statistics and /proc readers."""

from __future__ import annotations

import os
import platform
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as pkg_version
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SEED = 0


@dataclass
class Settings:
    """What one run measures and how long each part may take."""

    out: Path
    quick: bool
    train_csv: Path
    test_csv: Path
    # Section 1: texts repeated to this count; timed rounds (raw and pipeline alternate).
    count: int
    rounds: int
    single_calls: int
    profile_calls: int
    # The model (and the peers) are trained on at most this many rows (None: all).
    train_rows: int | None
    # Section 2: at most this many test rows are scored (None: all); timed repeats.
    peer_test_rows: int | None
    peer_repeats: int
    # Section 3.
    workers: int
    concurrency: tuple[int, ...]
    phase_seconds: float
    ceiling_seconds: float
    batch_items: int
    # Section 4.
    sizes: tuple[int, ...]
    one_thread_sizes: tuple[int, ...]
    size_timeout: float
    cv_check: bool
    notes: list[str] = field(default_factory=list)

    @classmethod
    def make(cls, out: Path, quick: bool, train_csv: Path, test_csv: Path, **overrides: Any) -> Settings:
        """Return the settings of a quick (under two minutes) or a full run."""
        if quick:
            values: dict[str, Any] = dict(
                count=400, rounds=3, single_calls=200, profile_calls=100, train_rows=600, peer_test_rows=150,
                peer_repeats=1, workers=2, concurrency=(8, 32), phase_seconds=2.5, ceiling_seconds=1.5,
                batch_items=100, sizes=(400, 800, 1600), one_thread_sizes=(400,), size_timeout=120.0,
                cv_check=False,
            )
        else:
            values = dict(
                count=3000, rounds=9, single_calls=3000, profile_calls=600, train_rows=None, peer_test_rows=None,
                peer_repeats=3, workers=2, concurrency=(8, 32), phase_seconds=15.0, ceiling_seconds=5.0,
                batch_items=100, sizes=(1000, 5000, 20000, 50000), one_thread_sizes=(1000, 5000, 20000, 50000),
                size_timeout=1800.0, cv_check=True,
            )
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "sizes" in overrides and overrides["sizes"] is not None:
            values["one_thread_sizes"] = values["sizes"] if not quick else values["sizes"][:1]
        return cls(out=out, quick=quick, train_csv=train_csv, test_csv=test_csv, **values)


@dataclass
class Inquiries:
    """The training rows and the evaluation rows every section shares."""

    train_texts: list[str]
    train_labels: list[str]
    test_texts: list[str]
    test_labels: list[str]
    test_source: str
    train_source: str
    all_train_rows: int


def load_inquiries(settings: Settings) -> Inquiries:
    """Read the training CSV and the test CSV (or hold out part of the training CSV when it is missing)."""
    from triage import dataset

    train = dataset.read(settings.train_csv)
    texts = [r.text for r in train.rows]
    labels = [r.label or "" for r in train.rows]
    all_rows = len(texts)
    if settings.test_csv.is_file():
        test = dataset.read(settings.test_csv)
        test_texts = [r.text for r in test.rows]
        test_labels = [r.label or "" for r in test.rows]
        held = set(test_texts)
        keep = [i for i, t in enumerate(texts) if t not in held]
        texts, labels = [texts[i] for i in keep], [labels[i] for i in keep]
        test_source = f"{_rel(settings.test_csv)} ({len(test_texts)} rows)"
    else:
        # No separately written test set yet: hold out a fifth of the training rows.
        order = list(range(len(texts)))
        random.Random(SEED).shuffle(order)
        cut = len(order) // 5
        test_idx, train_idx = order[:cut], order[cut:]
        test_texts, test_labels = [texts[i] for i in test_idx], [labels[i] for i in test_idx]
        texts, labels = [texts[i] for i in train_idx], [labels[i] for i in train_idx]
        test_source = (f"{_rel(settings.test_csv)} does not exist: a random fifth of {_rel(settings.train_csv)} "
                       f"held out ({len(test_texts)} rows)")
        settings.notes.append(test_source)
    if settings.train_rows is not None and settings.train_rows < len(texts):
        idx = stratified_sample(labels, settings.train_rows)
        texts, labels = [texts[i] for i in idx], [labels[i] for i in idx]
    train_source = f"{_rel(settings.train_csv)} ({len(texts)} of {all_rows} rows)"
    return Inquiries(texts, labels, test_texts, test_labels, test_source, train_source, all_rows)


def stratified_sample(labels: list[str], n: int, seed: int = SEED) -> list[int]:
    """Return n row indices (without replacement) keeping each label's share."""
    rng = random.Random(seed)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    out: list[int] = []
    for label, idx in sorted(by_label.items()):
        k = max(1, round(n * len(idx) / len(labels)))
        out += rng.sample(idx, min(k, len(idx)))
    rng.shuffle(out)
    return sorted(out[:n])


def repeat_to(texts: list[str], count: int) -> list[str]:
    """Return the texts cycled to exactly ``count`` items."""
    return [texts[i % len(texts)] for i in range(count)]


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


# -- statistics -----------------------------------------------------------


def dist(seconds: list[float] | np.ndarray) -> dict[str, float]:
    """Return n, p10, median, p90, p99 and mean of durations, in milliseconds."""
    a = np.asarray(seconds, dtype=float) * 1e3
    if not len(a):
        return {"n": 0, "p10": float("nan"), "median": float("nan"), "p90": float("nan"), "p99": float("nan"),
                "mean": float("nan")}
    p10, p50, p90, p99 = np.percentile(a, [10, 50, 90, 99])
    return {"n": int(len(a)), "p10": float(p10), "median": float(p50), "p90": float(p90), "p99": float(p99),
            "mean": float(a.mean())}


def median(values: list[float]) -> float:
    """Return the median (NaN for no values)."""
    return float(np.median(values)) if values else float("nan")


def verdict(ok: bool) -> str:
    """Return the word the report uses for a target."""
    return "MET" if ok else "NOT MET"


class Stopwatch:
    """Wall time of a block: ``with Stopwatch() as sw: ...; sw.seconds``."""

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


# -- the machine ----------------------------------------------------------


def package_version(name: str) -> str:
    """Return an installed distribution's version, or 'not installed'."""
    try:
        return pkg_version(name)
    except PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, Any]:
    """Describe the machine and the library versions the figures depend on."""
    cpu = "unknown"
    mhz = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and cpu == "unknown":
                cpu = value.strip()
            if key.strip() == "cpu MHz" and not mhz:
                mhz = value.strip()
    except OSError:
        pass
    mem_kb = meminfo().get("MemTotal", 0)
    libs = ["scikit-learn", "numpy", "scipy", "fugashi", "unidic-lite", "flask", "gunicorn", "sqlalchemy",
            "janome", "sudachipy", "sudachidict-core", "matplotlib"]
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu + (f" ({float(mhz):.0f} MHz)" if mhz else ""),
        "cores_online": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "libraries": {name: package_version(name) for name in libs},
        "loadavg_at_start": os.getloadavg(),
    }


def meminfo() -> dict[str, int]:
    """Return /proc/meminfo in kB."""
    out: dict[str, int] = {}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, value = line.partition(":")
            out[key] = int(value.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return out


# -- processes ------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """Return user + system CPU seconds a process has used (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the command name: state is field 3, utime 14 and stime 15 (1-based).
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def smaps_rollup(pid: int) -> dict[str, int]:
    """Return a process's memory summary in kB (Rss, Pss, Shared_*, Private_*)."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, value = line.partition(":")
        parts = value.split()
        if parts and parts[0].isdigit():
            out[key.strip()] = int(parts[0])
    return out





def rss_kb(field: str = "VmRSS") -> int:
    """Return this process's resident set size (or its peak, ``VmHWM``) in kB.

    VmHWM, unlike ``ru_maxrss``, starts afresh at exec: a subprocess's
    ru_maxrss includes the RSS its parent had when it forked.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def system_busy_seconds() -> float:
    """Return the CPU seconds all cores have spent busy since boot (/proc/stat, steal included)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return 0.0
    # user nice system idle iowait irq softirq steal ...: idle and iowait are not busy.
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLOCK_TICKS


class CpuWatch:
    """How many cores this process and everything else kept busy during a block.

    On a small shared machine the figures of a section mean little without
    knowing whether other processes were competing for the same cores.
    """

    def __enter__(self) -> CpuWatch:
        self.t0 = time.perf_counter()
        self.busy0 = system_busy_seconds()
        self.own0 = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self.t0
        own = time.process_time() - self.own0
        busy = system_busy_seconds() - self.busy0
        self.wall = wall
        self.own_cores = own / wall if wall else 0.0
        self.other_cores = max(0.0, busy - own) / wall if wall else 0.0

    def summary(self) -> dict[str, float]:
        """Return wall seconds, cores used by this process and by all others."""
        return {"wall_s": self.wall, "own_cores": self.own_cores, "other_cores": self.other_cores,
                "loadavg_1min": os.getloadavg()[0]}


def one_blas_thread():  # noqa: ANN201 - a context manager
    """Limit BLAS to one thread for the benchmark's own model fits.

    Section 4 shows that OpenBLAS's threads make a fit several times slower on
    a small busy machine; the benchmark fits its models (sections 1-2) with one
    thread to stay short. The server of section 3 and the fits timed in
    section 4 run with triage's defaults.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def package_of(file: str, func: str) -> str:
    """Return the package a profiled function belongs to (for grouping cProfile rows)."""
    if file == "~":
        for name in ("sqlite3", "fugashi", "numpy", "scipy", "_json", "re.Pattern"):
            if name in func:
                return f"{name} (C)"
        return "other C built-ins"
    parts = Path(file).parts
    if "site-packages" in parts:
        i = parts.index("site-packages")
        return parts[i + 1].split(".")[0] if i + 1 < len(parts) else "site-packages"
    if "triage" in parts and str(ROOT) in file:
        return "triage"
    return "stdlib: " + Path(file).stem


def source_digest() -> str:
    """Return a short SHA-256 over triage/'s sources: a run's figures belong to one version of the code."""
    import hashlib

    h = hashlib.sha256()
    for path in sorted((ROOT / "triage").rglob("*.py")):
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def source_mentions(module: str, needle: str) -> bool:
    """Return True if a triage module's source contains ``needle`` (to word a suggestion the code already follows)."""
    try:
        return needle in (ROOT / "triage" / module).read_text(encoding="utf-8")
    except OSError:
        return False
