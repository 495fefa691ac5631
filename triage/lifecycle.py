"""Training a version end to end: validate, train, evaluate, save, gate, activate."""

from __future__ import annotations

import fcntl
import platform
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version as pkg_version
from pathlib import Path
from typing import Any

from . import dataset
from .dataset import LABELS
from .export import csv_text
from .features import read_lexicon
from .model import InquiryModel, Progress, metrics, train
from .registry import Registry, RegistryError
from .text import TOKENIZER_VERSION, dictionary_version

# The quality gate refuses a candidate only for a drop that the size of the
# held-out set shows is real: an exact McNemar test on the rows where the two
# models disagree, one-sided, at this level. One row more or less is noise.
GATE_ALPHA = 0.05
GATE_RECALL_LABELS = ("escalation", "compensation")
# Rows shown with a verdict: where the candidate is wrong and the active model right.
GATE_ROWS_SHOWN = 10


@dataclass
class GateResult:
    """The quality gate's verdict with the figures behind it."""

    passed: bool
    reasons: list[str]
    candidate: dict[str, Any] | None = None
    active: dict[str, Any] | None = None
    active_version: str | None = None
    gate_csv: str | None = None
    # Rows where the candidate is wrong and the active model right (masked, shortened).
    decisive: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the verdict as stored in metadata and the audit log."""
        return {
            "passed": self.passed,
            "reasons": self.reasons,
            "gate_csv": self.gate_csv,
            "active_version": self.active_version,
            "candidate": _gate_figures(self.candidate),
            "active": _gate_figures(self.active),
            "decisive": self.decisive,
        }


def _gate_figures(m: dict[str, Any] | None) -> dict[str, float] | None:
    if m is None:
        return None
    per = m["per_class"]
    return {
        "n": m["n"],
        "macro_f1": round(m["macro_f1"], 4),
        **{f"{label}_recall": round(per[label]["recall"], 4) for label in LABELS},
    }


@dataclass
class TrainOutcome:
    """What `triage train` did."""

    version: str
    report: dict[str, Any]
    gate: GateResult
    activated: bool
    data: dataset.TrainingSet
    held_out_dropped: int = 0


def library_versions() -> dict[str, str]:
    """Return the versions that decide whether a saved model still loads the same."""
    return {
        "python": platform.python_version(),
        "scikit-learn": pkg_version("scikit-learn"),
        "fugashi": pkg_version("fugashi"),
        "dictionary": dictionary_version(),
        "tokenizer": TOKENIZER_VERSION,
    }


def evaluate_router(router: InquiryModel, texts: list[str], labels: list[str]) -> dict[str, Any]:
    """Score a model with its routing policy on labelled texts."""
    predicted = [p.label for p in router.predict_many(texts)]
    return dict(metrics(labels, predicted), predicted=predicted)


def paired_drop(active_right: list[bool], candidate_right: list[bool]) -> tuple[int, int, float]:
    """Return (rows only the active model gets right, rows only the candidate gets right, one-sided p).

    The exact McNemar test: under "no difference" each disagreement is a coin
    toss, so p is the chance of the candidate losing at least this many of them.
    """
    from scipy.stats import binomtest

    worse = sum(a and not c for a, c in zip(active_right, candidate_right, strict=True))
    better = sum(c and not a for a, c in zip(active_right, candidate_right, strict=True))
    p = binomtest(worse, worse + better, 0.5, alternative="greater").pvalue if worse + better else 1.0
    return worse, better, float(p)


def gate(
    registry: Registry, candidate: InquiryModel, gate_csv: str | Path | None
) -> GateResult:
    """Compare the candidate with the active model on the same held-out rows."""
    active_version = registry.active()
    if active_version is None:
        return GateResult(True, ["no active model yet: the first model is activated"], active_version=None)
    if gate_csv is None or not Path(gate_csv).is_file():
        return GateResult(
            False,
            [f"no held-out CSV to compare on ({gate_csv or 'TRIAGE_GATE_CSV is unset'}); "
             "set TRIAGE_GATE_CSV or activate by hand with `triage activate VERSION`"],
            active_version=active_version,
        )
    table = dataset.read(gate_csv)
    texts = [r.text for r in table.rows]
    labels = [r.label or "" for r in table.rows]
    cand = evaluate_router(candidate, texts, labels)
    try:
        active = registry.load(active_version)
    except RegistryError as exc:
        return GateResult(True, [f"the active model cannot be loaded ({exc}); the candidate replaces it"],
                          candidate=cand, active_version=active_version, gate_csv=str(gate_csv))
    act = evaluate_router(active.router, texts, labels)
    a_ok = [p == y for p, y in zip(act.pop("predicted"), labels, strict=True)]
    c_ok = [p == y for p, y in zip(cand["predicted"], labels, strict=True)]
    reasons = []
    checks = [("all rows", list(range(len(labels))))] + [
        (f"{label} rows", [i for i, y in enumerate(labels) if y == label]) for label in GATE_RECALL_LABELS]
    for name, idx in checks:
        worse, better, p = paired_drop([a_ok[i] for i in idx], [c_ok[i] for i in idx])
        if worse > better and p < GATE_ALPHA:
            reasons.append(f"{name}: the candidate gets {worse} wrong that the active model gets right and "
                           f"{better} the other way (p = {p:.3f} < {GATE_ALPHA}): a real drop")
    passed = not reasons
    if passed:
        reasons.append(f"macro-F1 {act['macro_f1']:.3f} → {cand['macro_f1']:.3f}; no drop beyond what "
                       f"{len(labels)} held-out rows can tell from chance (McNemar, p ≥ {GATE_ALPHA})")
    else:
        reasons.append("what to do: read the rows below; add training rows of their kind and train again, "
                       "keep the active model, or activate anyway with `--force REASON`")
    from .redact import redact

    decisive = [{"text": redact(texts[i])[:120], "label": labels[i], "candidate": cand["predicted"][i]}
                for i in range(len(labels)) if a_ok[i] and not c_ok[i]][:GATE_ROWS_SHOWN]
    cand.pop("predicted")
    return GateResult(passed, reasons, cand, act, active_version, str(gate_csv), decisive)


_held = threading.local()


@contextmanager
def training_lock(root: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Serialise trainings in one models directory (two processes, one registry).

    Re-entrant within a thread: ``ensure_model`` holds it around "is there a
    model?" and the training that follows, and ``train_version`` takes it
    again. A second flock on a new file description of the same process
    would wait for itself forever. ``on_wait`` is called once if another
    training holds the lock.
    """
    key = str(Path(root).resolve())
    held: dict[str, int] = _held.__dict__.setdefault("roots", {})
    if held.get(key):
        held[key] += 1
        try:
            yield
        finally:
            held[key] -= 1
        return
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".train.lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(f, fcntl.LOCK_EX)
        held[key] = 1
        try:
            yield
        finally:
            held[key] = 0
            fcntl.flock(f, fcntl.LOCK_UN)


def train_version(
    paths: list[str | Path],
    registry: Registry,
    gate_csv: str | Path | None = None,
    activate: str = "gate",
    actor: str = "cli",
    reason: str = "",
    progress: Progress | None = None,
    lexicon_csv: str | Path | None = None,
) -> TrainOutcome:
    """Train on CSV files, save the version, and activate it per ``activate``.

    ``activate`` is "gate" (only if the quality gate passes), "force" or "no".
    ``lexicon_csv`` (concept,term) is baked into the model: retrain after editing it.
    Takes the training lock of the registry itself, for the whole run.
    """
    say = progress or (lambda _msg: None)
    with training_lock(registry.root, on_wait=lambda: say("waiting for another training of this registry to end")):
        return _train_version(paths, registry, gate_csv, activate, actor, reason, say, lexicon_csv)


def _train_version(paths: list[str | Path], registry: Registry, gate_csv: str | Path | None, activate: str,
                   actor: str, reason: str, say: Progress, lexicon_csv: str | Path | None) -> TrainOutcome:
    say(f"reading {', '.join(str(p) for p in paths)}")
    data = dataset.load_training(list(paths))
    held_out_dropped = 0
    if gate_csv is not None and Path(gate_csv).is_file():
        # Rows of the held-out set must not be trained on, or the gate flatters.
        held = {r.text for r in dataset.read(gate_csv).rows}
        keep = [i for i, t in enumerate(data.texts) if t not in held]
        held_out_dropped = len(data.texts) - len(keep)
        if held_out_dropped:
            data.texts = [data.texts[i] for i in keep]
            data.labels = [data.labels[i] for i in keep]
            data.groups = [data.groups[i] for i in keep]
    lexicon = read_lexicon(lexicon_csv) if lexicon_csv is not None and Path(lexicon_csv).is_file() else None
    counts = data.counts()
    say(f"{len(data.texts)} rows ({', '.join(f'{k} {v}' for k, v in counts.items())})")
    result = train(data.texts, data.labels, groups=data.groups, lexicon=lexicon, progress=say)
    router = result.model
    say("scoring against the active model")
    verdict = gate(registry, router, gate_csv)
    misclassified = _misclassified_csv(data.texts, data.labels, result.oof_labels)
    n_wrong = sum(a != b for a, b in zip(data.labels, result.oof_labels, strict=True))
    report = dict(result.report, misclassified=n_wrong)
    meta = {
        "training_files": data.sources,
        "rows": len(data.texts),
        "rows_per_label": counts,
        "duplicates_dropped": data.duplicates_dropped,
        "overridden_by_later_files": data.overridden,
        "held_out_rows_dropped": held_out_dropped,
        "metrics": report,
        "gate": verdict.to_dict(),
        "versions": library_versions(),
        "lexicon": {"path": str(lexicon_csv), "sha256": lexicon.sha256, "terms": len(lexicon.terms)}
        if lexicon else None,
    }
    version = registry.save(
        result.model,
        meta,
        files={"report.txt": format_report(report, router.policy.to_dict()), "misclassified.csv": misclassified},
    )
    registry.audit("train", actor, version=version, data=[s["sha256"] for s in data.sources],
                   gate=verdict.to_dict(), mode=activate, reason=reason)
    activated = False
    if activate == "force" or (activate == "gate" and verdict.passed):
        registry.activate(version, actor=actor, reason=reason or "; ".join(verdict.reasons),
                          action="force-activate" if activate == "force" and not verdict.passed else "activate")
        activated = True
    return TrainOutcome(version, report, verdict, activated, data, held_out_dropped)


def _misclassified_csv(texts: list[str], labels: list[str], predicted: list[str]) -> str:
    # Opened in Excel by ops and kept beside the model: masked and formula-safe like every CSV we write.
    return csv_text(["text", "label", "predicted"],
                    ([t, y, p] for t, y, p in zip(texts, labels, predicted, strict=True) if y != p))


def format_report(report: dict[str, Any], thresholds: dict[str, float] | None = None) -> str:
    """Render a metrics report as the plain-text table `triage train` prints."""
    lines = [f"{'label':<14}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for label, m in report["per_class"].items():
        lines.append(
            f"{label:<14}{m['precision']:>10.3f}{m['recall']:>10.3f}{m['f1']:>10.3f}{m['support']:>10d}"
        )
    lines.append(f"{'macro-F1':<14}{report['macro_f1']:>30.3f}")
    lines.append(f"{'accuracy':<14}{report['accuracy']:>30.3f}   (n = {report['n']})")
    labels = report["confusion"]["labels"]
    lines.append("")
    lines.append("confusion (rows: true, columns: predicted)")
    lines.append(" " * 14 + "".join(f"{lab[:12]:>14}" for lab in labels))
    for lab, row in zip(labels, report["confusion"]["matrix"], strict=True):
        lines.append(f"{lab:<14}" + "".join(f"{v:>14d}" for v in row))
    if "misclassified" in report:
        lines.append(f"\nmisclassified rows: {report['misclassified']}")
    if "needs_review_rate" in report:
        lines.append(f"marked 要確認 (needs review): {report['needs_review_rate']:.1%}")
    if "calibration_error" in report:
        lines.append(f"calibration error (0 = confidence means what it says): {report['calibration_error']:.3f}")
    if thresholds:
        lines.append(
            f"thresholds: escalation ≥ {thresholds['escalation_threshold']:.2f}, "
            f"review below {thresholds['review_threshold']:.2f}"
            + (f", 要確認 when escalation ≥ {thresholds['escalation_review_threshold']:.2f}"
               if "escalation_review_threshold" in thresholds else "")
        )
    errors = report.get("confident_errors")
    if errors:
        lines.append(f"\nconfident errors (wrong with confidence ≥ {errors['threshold']}): {errors['total']}")
        for label, entry in errors["per_label"].items():
            lines.append(f"  {label:<13} {entry['count']:>4} of {entry['support']}")
            for ex in entry["examples"][:3]:
                lines.append(f"      → {ex['routed']} {ex['confidence']:.2f}  {ex['text'][:70]!r}")
    return "\n".join(lines) + "\n"


def format_gate(gate: Any) -> str:
    """Render a quality-gate decision as `triage train` prints it."""
    lines: list[str] = []
    lines.append(f"\nQuality gate: {'passed' if gate.passed else 'REFUSED'}")
    for reason in gate.reasons:
        lines.append(f"  - {reason}")
    if gate.candidate and gate.active:
        d = gate.to_dict()
        lines.append(f"  on {d['gate_csv']} (n = {d['candidate']['n']}):")
        for who in ("active", "candidate"):
            f = d[who]
            lines.append(f"    {who:<10} macro-F1 {f['macro_f1']:.3f}  escalation recall {f['escalation_recall']:.3f}"
                         f"  compensation recall {f['compensation_recall']:.3f}")
        if gate.decisive:
            lines.append("  rows the candidate gets wrong and the active model right:")
            for row in gate.decisive:
                lines.append(f"    {row['label']} → {row['candidate']}: {row['text']}")
    return "\n".join(lines) + "\n"


def ensure_model(registry: Registry, data_dir: Path, gate_csv: str | Path | None, progress: Progress | None = None
                 ) -> tuple[str, bool]:
    """Return the active version, training the bundled default first if there is none."""
    with training_lock(registry.root), registry.exclusive():
        active = registry.active()
        if active is not None:
            return active, False
        versions = registry.versions()
        if versions:
            raise RegistryError(
                f"no active model in {registry.describe()} although {len(versions)} version(s) exist; "
                "choose one with `triage models` and `triage activate VERSION`."
            )
        default = data_dir / "inquiries.csv"
        if not default.is_file():
            raise RegistryError(
                f"no model in {registry.describe()} and no training data at {default}; "
                "run `triage train path/to/inquiries.csv`."
            )
        outcome = train_version([default], registry, gate_csv=gate_csv, activate="gate",
                                actor="first-run", reason="first run: default model", progress=progress,
                                lexicon_csv=data_dir / "lexicon.csv")
        return outcome.version, True
